// Per-row loss and residual for one batch, their batch sums, and the bias update.
//
//   r_i = sigmoid(z_i) - y_i,  l_i = BCE(z_i, y_i),  batchLoss[slot] = (1/n) sum_i l_i,
//   b <- b - (lr/n) sum_i r_i
//
// A batch is a few hundred rows at most, so one workgroup does it: each thread makes a
// strided partial sum, then a tree reduction in workgroup memory. One workgroup also
// makes the bias update race-free. The loss is stored per step (not accumulated) so
// the host sums an epoch's batch means in double precision, in batch order, like the
// CPU backend.

@group(0) @binding(0) var<uniform> params: BatchParams;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read_write> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>;
@group(0) @binding(6) var<storage, read_write> batchLoss: array<f32>;
// loss_residual_avg only: the bias after each step, for the epoch's mean bias (summed on
// the host in double, like the batch losses)
@group(0) @binding(7) var<storage, read_write> biasTrace: array<f32>;

var<workgroup> lossPart: array<f32, WG>;
var<workgroup> resPart: array<f32, WG>;

// Residuals and losses of the batch's rows; their sums end up in lossPart[0], resPart[0].
fn batchSums(lid: u32) {
  var l = 0.0;
  var r = 0.0;
  for (var i = lid; i < params.nRows; i += WG) {
    let row = params.firstRow + i;
    let zi = z[row];
    let yi = f32(y[row]);
    let ri = sigmoidStable(zi) - yi;
    let li = bceWithLogits(zi, yi);
    residual[row] = ri;
    loss[row] = li;
    l += li;
    r += ri;
  }
  lossPart[lid] = l;
  resPart[lid] = r;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      lossPart[lid] += lossPart[lid + stride];
      resPart[lid] += resPart[lid + stride];
    }
    workgroupBarrier();
  }
}

// Thread 0, after batchSums: stores the batch's mean loss, updates the bias, returns it.
fn finishBatch() -> f32 {
  batchLoss[params.slot] = lossPart[0] / f32(max(params.nRows, 1u));
  let b = state[0] - params.stepB * resPart[0];
  state[0] = b;
  return b;
}

@compute @workgroup_size(WG)
fn loss_residual(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  if (wid.x != 0u || wid.y != 0u) {
    return;
  }
  batchSums(lid);
  if (lid == 0u) {
    _ = finishBatch();
  }
}

// The same, also recording the updated bias in biasTrace[slot] (iterate averaging).
@compute @workgroup_size(WG)
fn loss_residual_avg(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  if (wid.x != 0u || wid.y != 0u) {
    return;
  }
  batchSums(lid);
  if (lid == 0u) {
    biasTrace[params.slot] = finishBatch();
  }
}
