// Evaluation of a whole set from its logits z (written by spmv_csr): summed loss and the
// confusion counts, a row being predicted positive iff z >= 0 (as on the CPU).
//
// Two levels of workgroup tree reduction: eval_partials has each of nPartials
// workgroups sum a strided share of the rows into one Partial, then eval_finish (one
// workgroup) sums the partials into result[0]. Only that one record is read back.

struct Partial {
  lossSum: f32,
  counts: vec4u,   // tp, fp, tn, fn
}

@group(0) @binding(0) var<uniform> evalParams: EvalParams;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(4) var<storage, read_write> result: array<Partial>;

var<workgroup> lossPart: array<f32, WG>;
var<workgroup> countPart: array<vec4u, WG>;

fn reduceWorkgroup(lid: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      lossPart[lid] += lossPart[lid + stride];
      countPart[lid] += countPart[lid + stride];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn eval_partials(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let g = linearGroup(wid, nwg);
  if (g >= evalParams.nPartials) {
    return;
  }
  var l = 0.0;
  var c = vec4u(0u);
  for (var i = g * WG + lid; i < evalParams.n; i += evalParams.nPartials * WG) {
    let zi = z[i];
    let yi = y[i];
    l += bceWithLogits(zi, f32(yi));
    let positive = zi >= 0.0;
    if (positive && yi == 1u) {
      c.x += 1u;
    } else if (positive) {
      c.y += 1u;
    } else if (yi == 0u) {
      c.z += 1u;
    } else {
      c.w += 1u;
    }
  }
  lossPart[lid] = l;
  countPart[lid] = c;
  reduceWorkgroup(lid);
  if (lid == 0u) {
    partials[g] = Partial(lossPart[0], countPart[0]);
  }
}

@compute @workgroup_size(WG)
fn eval_finish(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  if (wid.x != 0u || wid.y != 0u) {
    return;
  }
  var l = 0.0;
  var c = vec4u(0u);
  for (var p = lid; p < evalParams.nPartials; p += WG) {
    l += partials[p].lossSum;
    c += partials[p].counts;
  }
  lossPart[lid] = l;
  countPart[lid] = c;
  reduceWorkgroup(lid);
  if (lid == 0u) {
    result[0] = Partial(lossPart[0], countPart[0]);
  }
}
