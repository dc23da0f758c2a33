// P(positive) = sigmoid(z_i) for every row of a set, from the logits spmv_csr wrote.

@group(0) @binding(0) var<uniform> evalParams: EvalParams;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> prob: array<f32>;

@compute @workgroup_size(WG)
fn sigmoid_rows(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = linearGroup(wid, nwg) * WG + lid;
  if (i >= evalParams.n) {
    return;
  }
  prob[i] = sigmoidStable(z[i]);
}
