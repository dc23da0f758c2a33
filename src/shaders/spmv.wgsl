// Forward product z_i = s (v . x_i) + b for the rows of one batch (training) or of one
// segment of a set (evaluation, prediction); x is CSR, v the unscaled weights.
//
// One workgroup per row: its WG threads stride over the row's nonzeros and a tree
// reduction adds their partial sums. Reviews range from a handful to thousands of
// nonzeros, so a thread per row would leave most lanes idle behind the longest review;
// a workgroup per row keeps the lanes of long rows busy and reads colIdx/values
// contiguously. Row i is workgroup i of a (possibly 2-D) grid.

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
  let i = linearGroup(wid, nwg);
  if (i >= params.nRows) {
    return;
  }
  let begin = rowPtr[params.rowStart + i];
  let end = rowPtr[params.rowStart + i + 1u];
  var acc = 0.0;
  for (var k = begin + lid; k < end; k += WG) {
    acc += values[k] * v[colIdx[k]];
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    z[params.firstRow + i] = params.scale * partial[0] + state[0];
  }
}
