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
//    batches). Training continues from the last iterate w_T. The sum is kept lazily.
//    With w_t = s_t v(t), P_t = s_1 + ... + s_t and D_j(t) the change step t makes to v_j,
//
//      sum_t s_t v_j(t) = v_j(0) P_T + sum_t D_j(t) (P_T - P_{t-1})
//                       = v_j(T) P_T - u_j,    u_j = sum_t D_j(t) P_{t-1},
//
//    since a change made at step t is in every iterate from t to T. So each touch of
//    column j adds D P_{t-1} to u_j beside adding D to v_j, and the epoch's end reads
//    w_bar_j = (v_j P_T - u_j) / T. Column j's v_j (float32) and u_j (float64) sit side
//    by side in one 16-byte record, so a touched column costs one cache miss, not two,
//    and four records share a cache line. With features hashed into 2^22 buckets most
//    touches of the rarer n-grams are misses, and they are what an epoch waits on.
//
// With dropout (BackendData.dropout), both loops apply the mask of logistic.ts on the fly:
// z_i = s (1/(1-p)) sum_{kept q} x_q v_q + b, and only kept columns are updated, with
// x~_q = x_q / (1-p). Row i is the row's index in the loaded training set. The forward
// pass copies the batch's kept entries (column and value) side by side, and the update
// walks those copies; without a mask every entry is kept, and both read the rows in place.

import { selectRows } from "../core/features.ts";
import type { BackendData, Csr, EvalSums, LabelledSet, TrainingBackend } from "../core/types.ts";
import {
  binaryCrossEntropyWithLogits,
  dropoutHashAt,
  dropoutRowKey,
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
 * Copies the entries of training row i (row `row` of x) that the mask keeps, column and
 * value, to cols and vals from index n; returns the new end. The kept test is
 * dropoutKeeps(seed, i, j, threshold), with the row's part of the hash taken once.
 */
function copyKept(x: Csr, row: number, i: number, mask: EpochMask, cols: Uint32Array, vals: Float32Array, n: number): number {
  const { colIdx, values } = x;
  const { threshold } = mask;
  const rowKey = dropoutRowKey(mask.seed, i);
  for (let q = x.rowPtr[row]!, qEnd = x.rowPtr[row + 1]!; q < qEnd; q++) {
    // written always, kept by advancing n: no branch on a coin flip. Kept means
    // h >= threshold for h = the hash's top 24 bits, i.e. threshold - 1 - h < 0, so n
    // advances by that difference's sign bit (both are below 2^24, so no overflow). A
    // comparison here compiles to a branch that mispredicts half the time: the sign bit
    // made an epoch about 30% faster (scripts/epoch-bench.ts, 342 -> 243 ms).
    const j = colIdx[q]!;
    cols[n] = j;
    vals[n] = values[q]!;
    n += (threshold - 1 - (dropoutHashAt(rowKey, j) >>> 8)) >>> 31;
  }
  return n;
}

export class CpuBackend implements TrainingBackend {
  readonly kind = "cpu" as const;
  readonly deviceName = "CPU (TypeScript reference)";
  readonly takesRowOrder = true;
  private data: BackendData | null = null;
  /** BackendData.rowOrder: training row i is row order[i] of data.train (null: row i) */
  private order: Uint32Array | null = null;
  /** the training set in its order, built when it is scored (see requireSet) */
  private trainInOrder: LabelledSet | null = null;
  /**
   * With sharedWeights (a backend on a thread of its own), each averaged epoch writes its
   * average into a new SharedArrayBuffer, never written again, and readWeights hands that
   * array out as it is: posted to another thread it is shared, not copied.
   */
  constructor(
    private readonly options: {
      sharedWeights?: boolean;
      /**
       * A zeroed buffer for the records of the first averaged load it fits exactly (16
       * bytes a column), its pages already written once: a thread that prepares it while
       * it waits for its data saves its first epoch the page faults (about 60 ms on 2^22
       * columns). Used once.
       */
      records?: ArrayBuffer;
    } = {},
  ) {}
  /** the iterate's v when not averaging */
  private v = new Float32Array(0);
  private s = 1;
  private b = 0;
  private r = new Float32Array(0);
  /** sum of the last forward pass's residuals */
  private rSum = 0;
  // averaging state (see 2. above)
  /**
   * When averaging, column j's 16-byte record, read through two views of one buffer:
   * colV[4j] = v_j, colU[2j+1] = u_j.
   */
  private colV = new Float32Array(0);
  private colU = new Float64Array(0);
  /** one past the last column any training row uses (the others stay 0) */
  private usedCols = 0;
  /** P = s_1 + ... + s_t over this epoch's steps so far (since the last fold, if any) */
  private prefixScale = 0;
  private avgW: Float32Array | null = null;
  private avgB = 0;
  /** epochs trained since load (numbers the dropout masks) */
  private epoch = 0;
  /**
   * With a mask, the current batch's kept entries, as the forward pass leaves them for
   * the update: columns and values side by side (see copyKept). Batch row i's are at
   * [keptFrom[i - start], keptTo[i - start]) of these, or of the training set's own
   * colIdx and values without a mask (keptEntries gives the right pair).
   */
  private keptCols = new Uint32Array(0);
  private keptVals = new Float32Array(0);
  private keptFrom = new Int32Array(0);
  private keptTo = new Int32Array(0);

  async load(data: BackendData): Promise<void> {
    const order = data.rowOrder ?? null;
    if (order) {
      const n = data.train.x.nRows;
      if (order.length !== n) throw new RangeError(`CpuBackend: rowOrder has ${order.length} rows, the training set ${n}`);
      for (let k = 0; k < n; k++) if (!(order[k]! < n)) throw new RangeError(`CpuBackend: rowOrder[${k}] = ${order[k]} is not a row of the training set`);
    }
    this.order = order;
    this.trainInOrder = null;
    this.data = data;
    const { x } = data.train;
    let used = data.train.columnsUsed ?? 0;
    if (data.train.columnsUsed === undefined) for (let k = 0, nnz = x.rowPtr[x.nRows]!; k < nnz; k++) if (x.colIdx[k]! >= used) used = x.colIdx[k]! + 1;
    this.usedCols = Math.min(used, x.nCols);
    this.epoch = 0;
    const d = data.train.x.nCols;
    this.s = 1;
    this.b = 0;
    this.r = new Float32Array(data.batchSize);
    this.keptFrom = new Int32Array(data.batchSize);
    this.keptTo = new Int32Array(data.batchSize);
    this.avgW = null;
    if (data.average) {
      this.v = new Float32Array(0);
      const ready = this.options.records;
      if (ready && ready.byteLength === 16 * d) {
        this.options.records = undefined;
        this.setRecords(ready);
      } else this.setRecords(new ArrayBuffer(16 * d));
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
    this.colU = new Float64Array(buffer);
  }

  /** The arrays the current batch's kept entries are in (see keptCols). */
  private keptEntries(x: Csr, mask: EpochMask | null): { cols: Uint32Array; vals: Float32Array } {
    return mask === null ? { cols: x.colIdx, vals: x.values } : { cols: this.keptCols, vals: this.keptVals };
  }

  /**
   * The forward pass of batch rows [start, end), shared by both step loops:
   * z_i = s (w . x~_i) + b (w_j at w[stride j]; only the kept entries, which it leaves
   * for the update, see keptCols), r_i = sigma(z_i) - y_i into this.r; returns the
   * batch's summed loss and leaves sum_i r_i in this.rSum.
   */
  private forward(x: Csr, y: Uint8Array, start: number, end: number, w: Float32Array, stride: number, mask: EpochMask | null): number {
    const from = this.keptFrom;
    const to = this.keptTo;
    const order = this.order;
    if (mask === null) {
      for (let i = start; i < end; i++) {
        const row = order === null ? i : order[i]!;
        from[i - start] = x.rowPtr[row]!;
        to[i - start] = x.rowPtr[row + 1]!;
      }
    } else {
      let need = 0;
      for (let i = start; i < end; i++) {
        const row = order === null ? i : order[i]!;
        need += x.rowPtr[row + 1]! - x.rowPtr[row]!;
      }
      if (this.keptCols.length < need) {
        const size = Math.max(need, 2 * this.keptCols.length);
        this.keptCols = new Uint32Array(size);
        this.keptVals = new Float32Array(size);
      }
      for (let i = start, n = 0; i < end; i++) {
        from[i - start] = n;
        n = copyKept(x, order === null ? i : order[i]!, i, mask, this.keptCols, this.keptVals, n);
        to[i - start] = n;
      }
    }
    const { cols, vals } = this.keptEntries(x, mask);
    const keepScale = mask?.keepScale ?? 1;
    const r = this.r;
    let lossSum = 0;
    let rSum = 0;
    for (let i = start; i < end; i++) {
      let acc = 0;
      for (let k = from[i - start]!, kEnd = to[i - start]!; k < kEnd; k++) acc += vals[k]! * w[stride * cols[k]!]!;
      const yi = y[order === null ? i : order[i]!]!;
      const zi = this.s * (acc * keepScale) + this.b;
      const ri = sigmoid(zi) - yi;
      r[i - start] = ri;
      rSum += ri;
      lossSum += binaryCrossEntropyWithLogits(zi, yi);
    }
    this.rSum = rSum;
    return lossSum;
  }

  /** Plain steps; with a dropout mask, dropped features are skipped in both passes. */
  private trainEpochPlain(data: BackendData, batchOrder: Uint32Array, lr: number, l2: number, mask: EpochMask | null): number {
    const { x, y } = data.train;
    const keepScale = mask?.keepScale ?? 1;
    const v = this.v;
    const r = this.r;
    let lossTotal = 0;
    for (let k = 0; k < batchOrder.length; k++) {
      const start = batchOrder[k]! * data.batchSize;
      const end = Math.min(start + data.batchSize, x.nRows);
      const n = end - start;
      lossTotal += this.forward(x, y, start, end, v, 1, mask) / n;
      const { cols, vals } = this.keptEntries(x, mask);
      const from = this.keptFrom;
      const to = this.keptTo;
      const rSum = this.rSum;
      // update: s <- s (1 - eta lambda); v_j <- v_j - eta/(n s) (X~_B^T r)_j; b <- b - eta mean(r)
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      for (let i = start; i < end; i++) {
        const c = step * r[i - start]! * keepScale;
        for (let k = from[i - start]!, kEnd = to[i - start]!; k < kEnd; k++) v[cols[k]!]! -= c * vals[k]!;
      }
      this.b -= (lr * rSum) / n;
      if (this.s < 1e-3) this.foldScale();
    }
    return lossTotal / batchOrder.length;
  }

  /**
   * The same steps as trainEpochPlain, keeping the lazy sum of the iterates (2. above):
   * a touch of column j changes v_j by D and u_j by D P_{t-1}.
   */
  private trainEpochAveraged(data: BackendData, batchOrder: Uint32Array, lr: number, l2: number, mask: EpochMask | null): number {
    const { x, y } = data.train;
    const keepScale = mask?.keepScale ?? 1;
    const v = this.colV;
    const u = this.colU;
    const r = this.r;
    const T = batchOrder.length;
    // every sum starts the epoch empty: P = 0, and u = 0 (as allocated, and as the last
    // epoch's end left it)
    this.prefixScale = 0;
    let biasSum = 0;
    let lossTotal = 0;
    for (let k = 0; k < T; k++) {
      const start = batchOrder[k]! * data.batchSize;
      const end = Math.min(start + data.batchSize, x.nRows);
      const n = end - start;
      lossTotal += this.forward(x, y, start, end, v, 4, mask) / n;
      const { cols, vals } = this.keptEntries(x, mask);
      const from = this.keptFrom;
      const to = this.keptTo;
      const rSum = this.rSum;
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      // P_{t-1}: the sum of the scales before this step
      const P = this.prefixScale;
      for (let i = start; i < end; i++) {
        // D_j = -c x_ij for each kept entry of row i
        const c = step * r[i - start]! * keepScale;
        const cP = c * P;
        for (let k = from[i - start]!, kEnd = to[i - start]!; k < kEnd; k++) {
          const j = cols[k]!;
          const xk = vals[k]!;
          v[4 * j] = v[4 * j]! - c * xk;
          u[2 * j + 1] = u[2 * j + 1]! - cP * xk;
        }
      }
      this.b -= (lr * rSum) / n;
      this.prefixScale += this.s;
      biasSum += this.b;
      if (this.s < 1e-3) this.foldScale();
    }
    const P = this.prefixScale;
    const d = v.length >>> 2;
    const avg = this.options.sharedWeights ? new Float32Array(new SharedArrayBuffer(4 * d)) : (this.avgW ?? new Float32Array(d));
    // Columns from usedCols on are in no training row: v = u = 0 there, and their average
    // is the 0 a new array holds (or this one kept). u restarts at 0 for the next epoch.
    for (let j = 0; j < this.usedCols; j++) {
      avg[j] = (v[4 * j]! * P - u[2 * j + 1]!) / T;
      u[2 * j + 1] = 0;
    }
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
    this.order = null;
    this.trainInOrder = null;
    this.v = new Float32Array(0);
    this.setRecords(new ArrayBuffer(0));
    this.keptCols = new Uint32Array(0);
    this.keptVals = new Float32Array(0);
    this.avgW = null;
  }

  /** The epoch's averaged weights when averaging, else the current iterate w = s v. */
  private reportedWeights(copy: boolean): { weights: Float32Array; bias: number } {
    if (this.avgW) return { weights: copy && !this.options.sharedWeights ? this.avgW.slice() : this.avgW, bias: this.avgB };
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
   * v <- s v, s <- 1. With averaging, the sum so far, S_j = v_j P - u_j, is carried over:
   * after the fold P restarts at 0 and u_j = -S_j, so v_j P - u_j still reads S_j plus
   * whatever the later steps add (only differences of P are used, and restarting keeps P
   * from growing by 1/s at every fold).
   */
  private foldScale(): void {
    const s = this.s;
    if (this.data?.average) {
      const P = this.prefixScale;
      const v = this.colV;
      const u = this.colU;
      for (let j = 0; j < this.usedCols; j++) {
        const vj = v[4 * j]!;
        u[2 * j + 1] = u[2 * j + 1]! - vj * P;
        v[4 * j] = s * vj;
      }
      this.prefixScale = 0;
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
    if (name === data.train.name) {
      if (!this.order) return data.train;
      // scored in the training order, so the sums add up in the same order as for the selected rows
      const order = this.order;
      this.trainInOrder ??= { name, x: selectRows(data.train.x, order), y: Uint8Array.from(order, (i) => data.train.y[i]!) };
      return this.trainInOrder;
    }
    const set = data.evalSets.find((s) => s.name === name);
    if (!set) throw new Error(`CpuBackend: no set named "${name}" was loaded`);
    return set;
  }
}
