// Data term of the gradient, (X_B^T r)_j, for the distinct columns j of one batch, read
// from a CSC copy of that batch built once on the CPU (csc.ts).
//
// Why a gather over a per-batch CSC copy rather than a scatter over the CSR rows: a
// scatter makes every nonzero add into w[col] with float atomics (emulated with a
// compare-exchange loop in WGSL), which is slow on hot columns and adds in a different
// order each run. X never changes and batch k is always rows [k B, (k+1) B), so the
// transpose of each batch can be built once. Then one thread owns one distinct column,
// sums r_i x_ij down it in row order, and writes its weight: no atomics, no races, and
// the same summation order every run. Columns are sorted, so neighbouring threads touch
// nearby weights. A common n-gram's column holds up to B entries while most hold one;
// with B in the hundreds that imbalance costs less than splitting long columns would.

@group(0) @binding(0) var<uniform> params: BatchParams;
@group(0) @binding(1) var<storage, read> colPtr: array<u32>;
@group(0) @binding(2) var<storage, read> cols: array<u32>;
@group(0) @binding(3) var<storage, read> cscRows: array<u32>;
@group(0) @binding(4) var<storage, read> cscValues: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> weights: array<f32>;
// gather_update_avg only (iterate averaging, see average.wgsl): per column j,
// (sumW_j, settled_j) side by side, so settling costs one more cache line, not two
@group(0) @binding(7) var<storage, read_write> account: array<vec2f>;

// sum over the column's entries of r_i x_ij, in row order (with dropout, of r_i x~_ij:
// the mask the forward pass drew for the same (row, column), times 1 / (1 - p))
fn columnDot(c: u32) -> f32 {
  var acc = 0.0;
  if (params.dropThreshold == 0u) {
    for (var e = colPtr[c]; e < colPtr[c + 1u]; e++) {
      acc += residual[params.firstRow + cscRows[e]] * cscValues[e];
    }
    return acc;
  }
  let j = cols[c];
  for (var e = colPtr[c]; e < colPtr[c + 1u]; e++) {
    let row = params.firstRow + cscRows[e];
    if (dropoutKeeps(params.dropSeed, params.dropThreshold, row, j)) {
      acc += residual[row] * cscValues[e];
    }
  }
  return acc * params.keepScale;
}

// Training: v_j <- v_j - lr/(n s') (X_B^T r)_j, the data part of the scaled update.
@compute @workgroup_size(WG)
fn gather_update(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let k = linearGroup(wid, nwg) * WG + lid;
  if (k >= params.nCols) {
    return;
  }
  let c = params.colStart + k;
  let j = cols[c];
  weights[j] = weights[j] - params.stepW * columnDot(c);
}

// Training with iterate averaging: the same update, but first column j's running sum is
// settled. v_j has been constant since the step it was last touched, so the iterates in
// between added v_j (s_{t0+1} + ... + s_{t-1}) = v_j (P_{t-1} - settled_j) to sum_t w_j(t).
@compute @workgroup_size(WG)
fn gather_update_avg(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let k = linearGroup(wid, nwg) * WG + lid;
  if (k >= params.nCols) {
    return;
  }
  let c = params.colStart + k;
  let j = cols[c];
  let vj = weights[j];
  let a = account[j];
  account[j] = vec2f(a.x + vj * (params.prefixPrev - a.y), params.prefixPrev);
  weights[j] = vj - params.stepW * columnDot(c);
}

// Checks: gradW_j = stepW (X_B^T r)_j (stepW = 1/n gives gradientCsr); untouched
// columns keep what the buffer held.
@compute @workgroup_size(WG)
fn gather_gradient(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let k = linearGroup(wid, nwg) * WG + lid;
  if (k >= params.nCols) {
    return;
  }
  let c = params.colStart + k;
  weights[cols[c]] = params.stepW * columnDot(c);
}
