// Logistic regression in plain TypeScript: the readable truth the GPU kernels are checked
// against. Each exported function mirrors one kernel in src/shaders, with the same name
// and Float32Array layouts, so the parity tests can be table-driven.
//
// Model and objective, for a batch B of n = |B| rows x_i (sparse) with labels y_i in {0,1}:
//
//   z_i = w . x_i + b                                   (logit; spmvCsr)
//   p_i = sigma(z_i) = 1 / (1 + exp(-z_i))              (sigmoid)
//   l_i = -y_i log p_i - (1 - y_i) log(1 - p_i)         (binary cross-entropy)
//       = max(z_i, 0) - y_i z_i + log(1 + exp(-|z_i|))  (the same, without overflow)
//   J(w, b) = (1/n) sum_i l_i + (lambda/2) ||w||^2      (bias not penalised)
//
// Gradient ("backpropagation" through the one layer): dl_i/dz_i = p_i - y_i = r_i, so
//
//   dJ/dw = (1/n) X_B^T r + lambda w                    (gradientCsr + updateWeights)
//   dJ/db = (1/n) sum_i r_i
//
// Update (gradient descent with learning rate eta; L2 acts in the update itself):
//
//   w <- w - eta (dJ/dw) = (1 - eta lambda) w - (eta/n) X_B^T r
//   b <- b - eta (dJ/db)
//
// Feature dropout (training only, rate p; Wager, Wang & Liang 2013, "Dropout training as
// adaptive regularization"). Each step draws a mask m_ij ~ Bernoulli(1 - p) over the
// batch's non-zeros and runs the step above on
//
//   x~_ij = m_ij x_ij / (1 - p)                         (E[x~_ij] = x_ij; dropoutRows)
//
// in place of x: z_i = w . x~_i + b, dJ/dw = (1/n) X~_B^T r + lambda w. Evaluation and
// prediction use x itself. In expectation this adds a penalty that grows with
// p_i (1 - p_i) x_ij^2 w_j^2: it shrinks the weights of features the model leans on
// where it is unsure, more than plain L2 does. The mask is a hash of (epoch seed, row,
// column), not a stream of random numbers, so a GPU kernel that walks rows (forward) and
// one that walks columns (gradient) draw the same mask without storing it.

import type { Csr, EvalSums } from "../core/types.ts";

/** Numerically stable logistic function: never evaluates exp of a large positive number. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Binary cross-entropy of label y in {0,1} given the logit z, stable for any z. */
export function binaryCrossEntropyWithLogits(z: number, y: number): number {
  return Math.max(z, 0) - y * z + Math.log1p(Math.exp(-Math.abs(z)));
}

// ---- dropout masks ----------------------------------------------------------------

/** The seed of epoch e's masks (e = 1, 2, ...), from the run's seed. */
export function epochDropoutSeed(seed: number, epoch: number): number {
  let h = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash of (epoch seed, row, column); the same integer steps as dropout_hash in WGSL. */
export function dropoutHash(epochSeed: number, row: number, col: number): number {
  return dropoutHashAt(dropoutRowKey(epochSeed, row), col);
}

/** The first steps of dropoutHash, which depend on the row alone (computed once per row). */
export function dropoutRowKey(epochSeed: number, row: number): number {
  const h = (epochSeed ^ Math.imul(row, 0x9e3779b1)) >>> 0;
  return Math.imul(h ^ (h >>> 16), 0x85ebca6b);
}

/** The rest of dropoutHash: the column mixed into the row's key. */
export function dropoutHashAt(rowKey: number, col: number): number {
  let h = (rowKey ^ Math.imul(col, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Masks compare the hash's top 24 bits with round(p 2^24): kept when not below it. */
export function dropoutThreshold(rate: number): number {
  return Math.round(rate * 2 ** 24);
}

/** m_ij: is feature (row, col) kept in the epoch with this seed? */
export function dropoutKeeps(epochSeed: number, row: number, col: number, threshold: number): boolean {
  return dropoutHash(epochSeed, row, col) >>> 8 >= threshold;
}

/** 1/(1 - p) as the float32 both backends multiply by. */
export function dropoutScale(rate: number): number {
  return Math.fround(1 / (1 - rate));
}

/**
 * x~: a copy of x whose rows [rowStart, rowEnd) carry the epoch's dropout mask, each kept
 * value scaled by 1/(1 - p) and each dropped one set to 0 (the plain statement of the
 * masked step; the backends apply the mask on the fly).
 */
export function dropoutRows(x: Csr, rowStart: number, rowEnd: number, epochSeed: number, rate: number): Csr {
  const values = x.values.slice();
  const threshold = dropoutThreshold(rate);
  const keepScale = dropoutScale(rate);
  for (let i = rowStart; i < rowEnd; i++) {
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) {
      values[k] = dropoutKeeps(epochSeed, i, x.colIdx[k]!, threshold) ? values[k]! * keepScale : 0;
    }
  }
  return { ...x, values };
}

/** z[i - rowStart] = b + sum_k values[k] * w[colIdx[k]] for rows [rowStart, rowEnd). */
export function spmvCsr(
  x: Csr,
  rowStart: number,
  rowEnd: number,
  w: Float32Array,
  b: number,
  z: Float32Array,
): void {
  const { rowPtr, colIdx, values } = x;
  for (let i = rowStart; i < rowEnd; i++) {
    let acc = 0;
    for (let k = rowPtr[i]!; k < rowPtr[i + 1]!; k++) acc += values[k]! * w[colIdx[k]!]!;
    z[i - rowStart] = acc + b;
  }
}

/**
 * From logits z and labels y (rows [rowStart, rowEnd) of the set): residual r_i = p_i - y_i
 * and per-row loss l_i. Returns the summed loss.
 */
export function lossAndResidual(
  z: Float32Array,
  y: Uint8Array,
  rowStart: number,
  n: number,
  residual: Float32Array,
  loss?: Float32Array,
): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const zi = z[i]!;
    const yi = y[rowStart + i]!;
    residual[i] = sigmoid(zi) - yi;
    const li = binaryCrossEntropyWithLogits(zi, yi);
    if (loss) loss[i] = li;
    sum += li;
  }
  return sum;
}

/**
 * Data part of the gradient for rows [rowStart, rowEnd): gradW = (1/n) X_B^T r (dense,
 * overwritten), and returns gradB = (1/n) sum_i r_i.
 */
export function gradientCsr(
  x: Csr,
  rowStart: number,
  rowEnd: number,
  residual: Float32Array,
  gradW: Float32Array,
): number {
  const n = rowEnd - rowStart;
  gradW.fill(0);
  let gradB = 0;
  for (let i = rowStart; i < rowEnd; i++) {
    const r = residual[i - rowStart]! / n;
    gradB += r;
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) gradW[x.colIdx[k]!]! += r * x.values[k]!;
  }
  return gradB;
}

/** w <- w - lr (gradW + l2 w); the bias is updated by the caller without penalty. */
export function updateWeights(w: Float32Array, gradW: Float32Array, lr: number, l2: number): void {
  for (let j = 0; j < w.length; j++) w[j] = w[j]! - lr * (gradW[j]! + l2 * w[j]!);
}

/**
 * One mini-batch step written exactly as the maths above, with dense buffers: slow, but
 * the plainest statement of the algorithm. Returns the batch's mean loss before the step.
 */
export function plainStep(
  x: Csr,
  y: Uint8Array,
  rowStart: number,
  rowEnd: number,
  state: { w: Float32Array; b: number },
  lr: number,
  l2: number,
  dropout?: { epochSeed: number; rate: number },
): number {
  if (dropout) x = dropoutRows(x, rowStart, rowEnd, dropout.epochSeed, dropout.rate);
  const n = rowEnd - rowStart;
  const z = new Float32Array(n);
  const r = new Float32Array(n);
  spmvCsr(x, rowStart, rowEnd, state.w, state.b, z);
  const lossSum = lossAndResidual(z, y, rowStart, n, r);
  const gradW = new Float32Array(state.w.length);
  const gradB = gradientCsr(x, rowStart, rowEnd, r, gradW);
  updateWeights(state.w, gradW, lr, l2);
  state.b -= lr * gradB;
  return lossSum / n;
}

/** Loss sum and confusion counts of all rows; a row is predicted positive when z >= 0. */
export function evaluateCsr(x: Csr, y: Uint8Array, w: Float32Array, b: number): EvalSums {
  const z = new Float32Array(x.nRows);
  spmvCsr(x, 0, x.nRows, w, b, z);
  return sumsFromLogits(z, y);
}

/** Loss sum and confusion counts from every row's logit z_i and label y_i (see evaluateCsr). */
export function sumsFromLogits(z: Float32Array, y: Uint8Array): EvalSums {
  const s: EvalSums = { n: z.length, lossSum: 0, tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < z.length; i++) {
    const zi = z[i]!;
    const yi = y[i]!;
    s.lossSum += binaryCrossEntropyWithLogits(zi, yi);
    if (zi >= 0) {
      if (yi === 1) s.tp++;
      else s.fp++;
    } else if (yi === 1) s.fn++;
    else s.tn++;
  }
  return s;
}

/** P(positive) for all rows. */
export function predictCsr(x: Csr, w: Float32Array, b: number): Float32Array {
  const z = new Float32Array(x.nRows);
  spmvCsr(x, 0, x.nRows, w, b, z);
  for (let i = 0; i < z.length; i++) z[i] = sigmoid(z[i]!);
  return z;
}
