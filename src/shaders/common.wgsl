// Shared by every kernel (prepended to each shader module by common.ts): the workgroup
// size, the per-step parameter record and the numerically stable logistic maths.

// Threads per workgroup; set from WORKGROUP_SIZE in common.ts. A power of two, because
// the tree reductions halve it.
override WG: u32 = 64u;

// One record per training step (or per segment of an evaluated set), 256 bytes apart in
// a uniform buffer and picked with a dynamic offset, so a whole epoch is recorded up
// front and the host writes no buffer between batches. Layout mirrors writeBatchParams.
struct BatchParams {
  rowStart: u32,   // first row of the batch, as an index into the bound segment's rowPtr
  firstRow: u32,   // first row of the batch, as an index into the set-wide y, z, r, loss
  nRows: u32,      // rows in the batch
  colStart: u32,   // first of the batch's distinct columns in the segment's CSC arrays
  nCols: u32,      // distinct columns the batch touches
  scale: f32,      // s before this step: the weights are w = s * v
  stepW: f32,      // factor of (X_B^T r)_j in v_j's update: lr / (n s'), s' = s after the shrink
  stepB: f32,      // factor of sum_i r_i in the bias update: lr / n
  slot: u32,       // index of this step's mean loss in batchLoss
  foldScale: f32,  // factor scale_weights multiplies v by when s is folded back into v
  // Iterate averaging only (average.wgsl): P = s_1 + ... + s_t, the running sum of the
  // scales after each step since the epoch's start or the last fold.
  prefixPrev: f32, // P after the previous step: gather_update_avg settles touched columns to it
  prefixNow: f32,  // P after this step: fold_average settles every column to it. In the
                   // record average_finish reads, P_T, with slot = T (the epoch's steps)
  // Feature dropout (training steps only; every other record leaves dropThreshold 0,
  // which keeps every feature): see dropoutKeeps in src/cpu-reference/logistic.ts.
  dropSeed: u32,      // the epoch's mask seed
  dropThreshold: u32, // round(p 2^24): a feature is kept when its hash's top 24 bits are not below
  keepScale: f32,     // 1 / (1 - p), as float32
  pad: u32,
}

// The dropout mask's hash of (epoch seed, row, column): the integer steps of dropoutHash
// in logistic.ts (u32 products wrap like Math.imul).
fn dropoutHash(seed: u32, row: u32, col: u32) -> u32 {
  var h = seed ^ (row * 0x9e3779b1u);
  h = (h ^ (h >> 16u)) * 0x85ebca6bu;
  h = h ^ (col * 0xc2b2ae35u);
  h = (h ^ (h >> 13u)) * 0x27d4eb2fu;
  h = (h ^ (h >> 16u)) * 0x85ebca6bu;
  return h ^ (h >> 15u);
}

// m_ij for a training row (its index in the training set) and column, given the step's
// dropSeed and dropThreshold.
fn dropoutKeeps(seed: u32, threshold: u32, row: u32, col: u32) -> bool {
  return (dropoutHash(seed, row, col) >> 8u) >= threshold;
}

// Parameters of a whole-set evaluation or prediction (one per set, not per step).
struct EvalParams {
  n: u32,          // rows in the set
  nPartials: u32,  // workgroups of eval_partials
  pad0: u32,
  pad1: u32,
}

// Large dispatches are 2-D (x at most maxComputeWorkgroupsPerDimension); this is the
// workgroup's position in the flattened grid.
fn linearGroup(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// 1 / (1 + exp(-z)) without ever evaluating exp of a large positive number.
fn sigmoidStable(z: f32) -> f32 {
  if (z >= 0.0) {
    return 1.0 / (1.0 + exp(-z));
  }
  let e = exp(z);
  return e / (1.0 + e);
}

// log(1 + x) for x in [0, 1], accurate for small x (WGSL has no log1p): the rounding
// error of 1 + x is cancelled by dividing by the rounded (u - 1).
fn log1pSmall(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return log(u) * (x / (u - 1.0));
}

// Binary cross-entropy of label y in {0, 1} given the logit z, stable for any z:
// max(z, 0) - y z + log(1 + exp(-|z|)).
fn bceWithLogits(z: f32, y: f32) -> f32 {
  return max(z, 0.0) - y * z + log1pSmall(exp(-abs(z)));
}
