// v_j <- foldScale * v_j over every weight: folds the L2 shrink factor s back into v
// when it gets small (see webgpu-backend.ts), one thread per weight, 2-D grid.

@group(0) @binding(0) var<uniform> params: BatchParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;

@compute @workgroup_size(WG)
fn scale_weights(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let j = linearGroup(wid, nwg) * WG + lid;
  if (j >= arrayLength(&weights)) {
    return;
  }
  weights[j] = params.foldScale * weights[j];
}
