// The CPU training backend: the maths of logistic.ts, run at full speed.
//
// Two things differ from plainStep, neither in the maths:
//
// 1. How the weights are stored. The L2 term shrinks every weight each step,
//    w <- (1 - eta lambda) w - (eta/n) X_B^T r, and doing that over all 2^hashBits
//    weights per batch would dominate an epoch. So the backend keeps w = s * v: the
//    shrink is s <- s (1 - eta lambda) (one multiply) and the data term touches only the
//    batch's columns, v_j <- v_j - (eta / (n s)) (X_B^T r)_j. The same update, exactly;
//    s is folded back into v when it gets small.
//
// 2. Iterate averaging (when BackendData.average is set). The weights an epoch reports
//    (for evaluation, prediction and the saved model) are the mean of the iterates it
//    visited, w_bar = (1/T) sum_{t=1..T} w_t, w_t the weights after step t of the epoch
//    (Polyak-Ruppert averaging: it cancels much of the step-to-step noise of small
//    batches). Training continues from the last iterate w_T. The sum is kept lazily:
//    between two touches of column j, v_j is constant and w_j(t) = s_t v_j, so the
//    missing terms are v_j (P_now - P_then) with P_t = s_1 + ... + s_t. Each touch
//    settles column j's account first; the epoch's end settles all columns. Each
//    column's weight v_j (float32), running sum (float64) and settle point sit side by
//    side in one 16-byte record, so a touched column costs one cache miss, not two or
//    three, and four records share a cache line. The settle point is kept as the step
//    number t at which the column was last settled; P_t itself is read from a table of
//    the epoch's prefix sums, one float64 per step, small enough to stay in cache. With
//    features hashed into 2^22 buckets most touches of the rarer n-grams are misses, and
//    they are what an epoch waits on.
//
// With dropout (BackendData.dropout), both loops apply the mask of logistic.ts on the fly:
// z_i = s (1/(1-p)) sum_{kept q} x_q v_q + b, and only kept columns are updated, with
// x~_q = x_q / (1-p). Row i is the row's index in the loaded training set.

import type { BackendData, Csr, EvalSums, LabelledSet, TrainingBackend } from "../core/types.ts";
import {
  binaryCrossEntropyWithLogits,
  dropoutKeeps,
  dropoutScale,
  dropoutThreshold,
  epochDropoutSeed,
  evaluateCsr,
  predictCsr,
  sigmoid,
} from "./logistic.ts";

/** This epoch's dropout mask parameters, or null without dropout. */
interface EpochMask {
  seed: number;
  threshold: number;
  keepScale: number;
}

/**
 * The forward product of training row i, x_i . w, with w_j read at w[stride j] (1 for
 * the plain weights, 4 for the averaging records). With a dropout mask only the kept
 * features count, the row's mask is written to kept[q] for the update to read back, and
 * the sum is scaled by 1/(1-p): x~_i . w.
 */
function rowDot(x: Csr, i: number, w: Float32Array, stride: number, mask: EpochMask | null, kept: Uint8Array): number {
  const { rowPtr, colIdx, values } = x;
  const qEnd = rowPtr[i + 1]!;
  let acc = 0;
  if (mask === null) {
    for (let q = rowPtr[i]!; q < qEnd; q++) acc += values[q]! * w[stride * colIdx[q]!]!;
    return acc;
  }
  const { seed, threshold } = mask;
  for (let q = rowPtr[i]!; q < qEnd; q++) {
    const j = colIdx[q]!;
    const keep = dropoutKeeps(seed, i, j, threshold);
    kept[q] = keep ? 1 : 0;
    if (keep) acc += values[q]! * w[stride * j]!;
  }
  return acc * mask.keepScale;
}

export class CpuBackend implements TrainingBackend {
  readonly kind = "cpu" as const;
  readonly deviceName = "CPU (TypeScript reference)";
  private data: BackendData | null = null;
  /** the iterate's v when not averaging */
  private v = new Float32Array(0);
  private s = 1;
  private b = 0;
  private r = new Float32Array(0);
  /** sum of the last forward pass's residuals */
  private rSum = 0;
  // averaging state (see 2. above)
  /**
   * When averaging, column j's 16-byte record, read through three views of one buffer:
   * colV[4j] = v_j, colStep[4j+1] = the step of the epoch at which j was last settled,
   * colSum[2j+1] = the running sum of w_j.
   */
  private colV = new Float32Array(0);
  private colStep = new Uint32Array(0);
  private colSum = new Float64Array(0);
  /** prefixAt[t] = P after t steps of this epoch (since the last fold, if any) */
  private prefixAt = new Float64Array(0);
  private prefixScale = 0;
  private avgW: Float32Array | null = null;
  private avgB = 0;
  /** epochs trained since load (numbers the dropout masks) */
  private epoch = 0;
  /** with dropout: the current step's mask, one byte per non-zero of the training set */
  private kept = new Uint8Array(0);

  async load(data: BackendData): Promise<void> {
    this.data = data;
    this.epoch = 0;
    this.kept = new Uint8Array(0);
    const d = data.train.x.nCols;
    this.s = 1;
    this.b = 0;
    this.r = new Float32Array(data.batchSize);
    this.avgW = null;
    if (data.average) {
      this.v = new Float32Array(0);
      this.setRecords(new ArrayBuffer(16 * d));
    } else {
      this.v = new Float32Array(d);
      this.setRecords(new ArrayBuffer(0));
    }
  }

  async trainEpoch(batchOrder: Uint32Array, lr: number, l2: number): Promise<number> {
    const data = this.requireData();
    this.epoch++;
    const d = data.dropout;
    const mask = d && d.rate > 0 ? { seed: epochDropoutSeed(d.seed, this.epoch), threshold: dropoutThreshold(d.rate), keepScale: dropoutScale(d.rate) } : null;
    return data.average === true ? this.trainEpochAveraged(data, batchOrder, lr, l2, mask) : this.trainEpochPlain(data, batchOrder, lr, l2, mask);
  }

  private setRecords(buffer: ArrayBuffer): void {
    this.colV = new Float32Array(buffer);
    this.colStep = new Uint32Array(buffer);
    this.colSum = new Float64Array(buffer);
  }

  /** The kept-feature bytes for this epoch's masks (one per non-zero of the training set). */
  private maskBytes(nnz: number): Uint8Array {
    if (this.kept.length < nnz) this.kept = new Uint8Array(nnz);
    return this.kept;
  }

  /**
   * The forward pass of batch rows [start, end), shared by both step loops:
   * z_i = s (w . x~_i) + b (w_j at w[stride j], see rowDot), r_i = sigma(z_i) - y_i into
   * this.r; returns the batch's summed loss and leaves sum_i r_i in this.rSum.
   */
  private forward(x: Csr, y: Uint8Array, start: number, end: number, w: Float32Array, stride: number, mask: EpochMask | null, kept: Uint8Array): number {
    const r = this.r;
    let lossSum = 0;
    let rSum = 0;
    for (let i = start; i < end; i++) {
      const zi = this.s * rowDot(x, i, w, stride, mask, kept) + this.b;
      const ri = sigmoid(zi) - y[i]!;
      r[i - start] = ri;
      rSum += ri;
      lossSum += binaryCrossEntropyWithLogits(zi, y[i]!);
    }
    this.rSum = rSum;
    return lossSum;
  }

  /** Plain steps; with a dropout mask, dropped features are skipped in both passes. */
  private trainEpochPlain(data: BackendData, batchOrder: Uint32Array, lr: number, l2: number, mask: EpochMask | null): number {
    const { x, y } = data.train;
    const { rowPtr, colIdx, values } = x;
    const keepScale = mask?.keepScale ?? 1;
    const masked = mask !== null;
    const kept = masked ? this.maskBytes(colIdx.length) : this.kept;
    const v = this.v;
    const r = this.r;
    let lossTotal = 0;
    for (let k = 0; k < batchOrder.length; k++) {
      const start = batchOrder[k]! * data.batchSize;
      const end = Math.min(start + data.batchSize, x.nRows);
      const n = end - start;
      lossTotal += this.forward(x, y, start, end, v, 1, mask, kept) / n;
      const rSum = this.rSum;
      // update: s <- s (1 - eta lambda); v_j <- v_j - eta/(n s) (X_B^T r)_j; b <- b - eta mean(r)
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      for (let i = start; i < end; i++) {
        const c = step * r[i - start]! * keepScale;
        const qEnd = rowPtr[i + 1]!;
        if (masked) {
          for (let q = rowPtr[i]!; q < qEnd; q++) if (kept[q] !== 0) v[colIdx[q]!]! -= c * values[q]!;
        } else {
          for (let q = rowPtr[i]!; q < qEnd; q++) v[colIdx[q]!]! -= c * values[q]!;
        }
      }
      this.b -= (lr * rSum) / n;
      if (this.s < 1e-3) this.foldScale();
    }
    return lossTotal / batchOrder.length;
  }

  /**
   * The same steps as trainEpochPlain, keeping the lazy sums of the iterates (2. above);
   * with a dropout mask, dropped features are skipped in both passes (keepScale 1 and
   * threshold 0 keep every feature).
   */
  private trainEpochAveraged(data: BackendData, batchOrder: Uint32Array, lr: number, l2: number, mask: EpochMask | null): number {
    const { x, y } = data.train;
    const { rowPtr, colIdx, values } = x;
    const keepScale = mask?.keepScale ?? 1;
    const masked = mask !== null;
    const kept = masked ? this.maskBytes(colIdx.length) : this.kept;
    const v = this.colV;
    const stepOf = this.colStep;
    const sum = this.colSum;
    const r = this.r;
    const T = batchOrder.length;
    if (this.prefixAt.length < T + 1) this.prefixAt = new Float64Array(T + 1);
    const prefixAt = this.prefixAt;
    // every account starts the epoch empty, settled at step 0, where P = 0
    for (let o = 0; o < v.length; o += 4) {
      stepOf[o + 1] = 0;
      sum[(o >>> 1) + 1] = 0;
    }
    this.prefixScale = 0;
    prefixAt[0] = 0;
    let biasSum = 0;
    let lossTotal = 0;
    for (let k = 0; k < batchOrder.length; k++) {
      const start = batchOrder[k]! * data.batchSize;
      const end = Math.min(start + data.batchSize, x.nRows);
      const n = end - start;
      // with dropout, this draws the rows' masks into kept; the update below reads them back
      lossTotal += this.forward(x, y, start, end, v, 4, mask, kept) / n;
      const rSum = this.rSum;
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      // P before this step (prefixAt[k]), the point every touched column is settled to
      const settle = this.prefixScale;
      for (let i = start; i < end; i++) {
        const c = step * r[i - start]! * keepScale;
        const qEnd = rowPtr[i + 1]!;
        for (let q = rowPtr[i]!; q < qEnd; q++) {
          if (masked && kept[q] === 0) continue;
          const o = 4 * colIdx[q]!;
          const vj = v[o]!;
          // settle column j's account up to the step before this one, then update v_j
          sum[(o >>> 1) + 1]! += vj * (settle - prefixAt[stepOf[o + 1]!]!);
          stepOf[o + 1] = k;
          v[o] = vj - c * values[q]!;
        }
      }
      this.b -= (lr * rSum) / n;
      this.prefixScale += this.s;
      prefixAt[k + 1] = this.prefixScale;
      biasSum += this.b;
      if (this.s < 1e-3) this.foldScale(k + 1);
    }
    const P = this.prefixScale;
    const d = v.length >>> 2;
    const avg = this.avgW ?? new Float32Array(d);
    for (let j = 0, o = 0; j < d; j++, o += 4) avg[j] = (sum[(o >>> 1) + 1]! + v[o]! * (P - prefixAt[stepOf[o + 1]!]!)) / T;
    this.avgW = avg;
    this.avgB = biasSum / T;
    return lossTotal / batchOrder.length;
  }

  async evaluate(setName: string): Promise<EvalSums> {
    const set = this.requireSet(setName);
    const { weights, bias } = this.reportedWeights(false);
    return evaluateCsr(set.x, set.y, weights, bias);
  }

  async predict(setName: string): Promise<Float32Array> {
    const set = this.requireSet(setName);
    const { weights, bias } = this.reportedWeights(false);
    return predictCsr(set.x, weights, bias);
  }

  async readWeights(): Promise<{ weights: Float32Array; bias: number }> {
    return this.reportedWeights(true);
  }

  dispose(): void {
    this.data = null;
    this.v = new Float32Array(0);
    this.setRecords(new ArrayBuffer(0));
    this.prefixAt = new Float64Array(0);
    this.kept = new Uint8Array(0);
    this.avgW = null;
  }

  /** The epoch's averaged weights when averaging, else the current iterate w = s v. */
  private reportedWeights(copy: boolean): { weights: Float32Array; bias: number } {
    if (this.avgW) return { weights: copy ? this.avgW.slice() : this.avgW, bias: this.avgB };
    const s = this.s;
    if (this.data?.average) {
      // averaging, but no epoch has run yet
      const v = this.colV;
      const w = new Float32Array(v.length >>> 2);
      for (let j = 0; j < w.length; j++) w[j] = s * v[4 * j]!;
      return { weights: w, bias: this.b };
    }
    const w = new Float32Array(this.v.length);
    for (let j = 0; j < w.length; j++) w[j] = s * this.v[j]!;
    return { weights: w, bias: this.b };
  }

  /**
   * v <- s v, s <- 1. With averaging, every column's account is settled first, since
   * the lazy sums assume v_j only changes when column j is touched; `step` is the number
   * of steps the epoch has taken.
   */
  private foldScale(step = 0): void {
    const s = this.s;
    if (this.data?.average) {
      // settle every column at this step, then start the prefix sum afresh at 0 there:
      // only differences of P are used, and restarting keeps P from growing by 1/s at
      // every fold
      const P = this.prefixScale;
      const prefixAt = this.prefixAt;
      const v = this.colV;
      const stepOf = this.colStep;
      const sum = this.colSum;
      for (let o = 0; o < v.length; o += 4) {
        const vj = v[o]!;
        sum[(o >>> 1) + 1]! += vj * (P - prefixAt[stepOf[o + 1]!]!);
        stepOf[o + 1] = step;
        v[o] = s * vj;
      }
      this.prefixScale = 0;
      prefixAt[step] = 0;
    } else {
      const v = this.v;
      for (let j = 0; j < v.length; j++) v[j] = s * v[j]!;
    }
    this.s = 1;
  }

  private requireData(): BackendData {
    if (!this.data) throw new Error("CpuBackend: load() must be called before training");
    return this.data;
  }

  private requireSet(name: string): LabelledSet {
    const data = this.requireData();
    if (name === data.train.name) return data.train;
    const set = data.evalSets.find((s) => s.name === name);
    if (!set) throw new Error(`CpuBackend: no set named "${name}" was loaded`);
    return set;
  }
}
