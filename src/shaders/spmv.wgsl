// Forward product z_i = s (v . x_i) + b for the rows of one batch (training) or of one
// segment of a set (evaluation, prediction); x is CSR, v the unscaled weights. A training
// step with dropout uses x~_i (the masked, rescaled row) in place of x_i.
//
// ROW_THREADS threads per row, WG / ROW_THREADS rows per workgroup ("CSR-vector"):
// the threads of a row stride over its nonzeros, so reads of colIdx/values are
// contiguous, and a tree reduction over the row's lanes adds their partial sums.
// Reviews range from a handful of nonzeros to thousands: a thread per row would leave
// most lanes idle behind the longest review of the warp, while a whole workgroup per
// short row wastes most of its threads (and, on software GPUs, pays a barrier per
// level for each row). Row i is slot i % rowsPerGroup of workgroup i / rowsPerGroup of a
// (possibly 2-D) grid.

// Threads per row; set from SPMV_ROW_THREADS in common.ts. A power of two dividing WG.
override ROW_THREADS: u32 = 16u;

@group(0) @binding(0) var<uniform> params: BatchParams;
@group(0) @binding(1) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(2) var<storage, read> colIdx: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read> state: array<f32>;
@group(0) @binding(6) var<storage, read_write> z: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn spmv_csr(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let rowsPerGroup = WG / ROW_THREADS;
  let firstOfGroup = linearGroup(wid, nwg) * rowsPerGroup;
  if (firstOfGroup >= params.nRows) {
    return;
  }
  let i = firstOfGroup + lid / ROW_THREADS;
  let lane = lid % ROW_THREADS;
  var acc = 0.0;
  if (i < params.nRows) {
    let begin = rowPtr[params.rowStart + i];
    let end = rowPtr[params.rowStart + i + 1u];
    if (params.dropThreshold == 0u) {
      for (var k = begin + lane; k < end; k += ROW_THREADS) {
        acc += values[k] * v[colIdx[k]];
      }
    } else {
      // a training step with dropout: x~ = m x / (1 - p)
      let row = params.firstRow + i;
      for (var k = begin + lane; k < end; k += ROW_THREADS) {
        let j = colIdx[k];
        if (dropoutKeeps(params.dropSeed, params.dropThreshold, row, j)) {
          acc += values[k] * v[j];
        }
      }
      acc *= params.keepScale;
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lane == 0u && i < params.nRows) {
    z[params.firstRow + i] = params.scale * partial[lid] + state[0];
  }
}
