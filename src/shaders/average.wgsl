// Iterate averaging (BackendData.average): the dense parts of the lazy running sums.
//
// An epoch reports w_bar = (1/T) sum_{t=1..T} w_t, w_t = s_t v the weights after step t.
// Column j's sum is kept lazily, as in CpuBackend: between two touches v_j is constant,
// so those iterates add v_j (P_now - P_then), P the running sum of the scales s_t.
// gather_update_avg (gradient.wgsl) settles a column before each touch; these kernels
// settle every column at once, one thread per weight on a 2-D grid:
//
//   fold_average    the fold v <- s v, s <- 1 (instead of scale_weights): settle every
//                   column to P (prefixNow), then restart the account with P = 0 and
//                   settled_j = 0. That is CpuBackend.foldScale's restatement of P in
//                   units of the new scale with its origin moved to the fold: every
//                   column is settled there, so only differences of P matter, and
//                   restarting at 0 keeps P small in f32 however many folds an epoch has.
//   average_finish  avg_j = (sumW_j + v_j (P_T - settled_j)) / T at the epoch's end
//                   (prefixNow = P_T, slot = T); the accounts are cleared by the host
//                   when the next epoch starts.

@group(0) @binding(0) var<uniform> params: BatchParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;
// per column j: (sumW_j, settled_j), the running sum and the P it was last settled to
@group(0) @binding(2) var<storage, read_write> account: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> avg: array<f32>;

@compute @workgroup_size(WG)
fn fold_average(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let j = linearGroup(wid, nwg) * WG + lid;
  if (j >= min(arrayLength(&weights), arrayLength(&account))) {
    return;
  }
  let vj = weights[j];
  let a = account[j];
  account[j] = vec2f(a.x + vj * (params.prefixNow - a.y), 0.0);
  weights[j] = params.foldScale * vj;
}

@compute @workgroup_size(WG)
fn average_finish(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let j = linearGroup(wid, nwg) * WG + lid;
  if (j >= min(arrayLength(&weights), arrayLength(&account))) {
    return;
  }
  let a = account[j];
  avg[j] = (a.x + weights[j] * (params.prefixNow - a.y)) / f32(params.slot);
}
