// The CPU training backend: the maths of logistic.ts, run at full speed.
//
// The one change from plainStep is how the weights are stored. The L2 term shrinks
// every weight each step, w <- (1 - eta lambda) w - (eta/n) X_B^T r, and doing that
// over all 2^hashBits weights per batch would dominate an epoch. So the backend keeps
// w = s * v: the shrink is s <- s (1 - eta lambda) (one multiply) and the data term
// touches only the batch's columns, v_j <- v_j - (eta / (n s)) (X_B^T r)_j. This is the
// same update, exactly; s is folded back into v when it gets small.

import type { BackendData, EvalSums, LabelledSet, TrainingBackend } from "../core/types.ts";
import { binaryCrossEntropyWithLogits, evaluateCsr, predictCsr, sigmoid } from "./logistic.ts";

export class CpuBackend implements TrainingBackend {
  readonly kind = "cpu" as const;
  readonly deviceName = "CPU (TypeScript reference)";
  private data: BackendData | null = null;
  private v = new Float32Array(0);
  private s = 1;
  private b = 0;
  private z = new Float32Array(0);
  private r = new Float32Array(0);

  async load(data: BackendData): Promise<void> {
    this.data = data;
    this.v = new Float32Array(data.train.x.nCols);
    this.s = 1;
    this.b = 0;
    this.z = new Float32Array(data.batchSize);
    this.r = new Float32Array(data.batchSize);
  }

  async trainEpoch(batchOrder: Uint32Array, lr: number, l2: number): Promise<number> {
    const data = this.requireData();
    const { x, y } = data.train;
    const { rowPtr, colIdx, values } = x;
    const v = this.v;
    const z = this.z;
    const r = this.r;
    let lossTotal = 0;
    for (let k = 0; k < batchOrder.length; k++) {
      const start = batchOrder[k]! * data.batchSize;
      const end = Math.min(start + data.batchSize, x.nRows);
      const n = end - start;
      // forward: z_i = s (v . x_i) + b, then r_i = sigma(z_i) - y_i and the batch loss
      let lossSum = 0;
      let rSum = 0;
      for (let i = start; i < end; i++) {
        let acc = 0;
        for (let q = rowPtr[i]!; q < rowPtr[i + 1]!; q++) acc += values[q]! * v[colIdx[q]!]!;
        const zi = this.s * acc + this.b;
        z[i - start] = zi;
        const ri = sigmoid(zi) - y[i]!;
        r[i - start] = ri;
        rSum += ri;
        lossSum += binaryCrossEntropyWithLogits(zi, y[i]!);
      }
      lossTotal += lossSum / n;
      // update: s <- s (1 - eta lambda); v_j <- v_j - eta/(n s) (X_B^T r)_j; b <- b - eta mean(r)
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      for (let i = start; i < end; i++) {
        const c = step * r[i - start]!;
        if (c === 0) continue;
        for (let q = rowPtr[i]!; q < rowPtr[i + 1]!; q++) v[colIdx[q]!]! -= c * values[q]!;
      }
      this.b -= (lr * rSum) / n;
      if (this.s < 1e-3) this.foldScale();
    }
    return lossTotal / batchOrder.length;
  }

  async evaluate(setName: string): Promise<EvalSums> {
    const set = this.requireSet(setName);
    const { weights, bias } = this.currentWeights();
    return evaluateCsr(set.x, set.y, weights, bias);
  }

  async predict(setName: string): Promise<Float32Array> {
    const set = this.requireSet(setName);
    const { weights, bias } = this.currentWeights();
    return predictCsr(set.x, weights, bias);
  }

  async readWeights(): Promise<{ weights: Float32Array; bias: number }> {
    return this.currentWeights();
  }

  dispose(): void {
    this.data = null;
    this.v = new Float32Array(0);
  }

  private currentWeights(): { weights: Float32Array; bias: number } {
    const w = new Float32Array(this.v.length);
    const s = this.s;
    for (let j = 0; j < w.length; j++) w[j] = s * this.v[j]!;
    return { weights: w, bias: this.b };
  }

  private foldScale(): void {
    const s = this.s;
    for (let j = 0; j < this.v.length; j++) this.v[j] = s * this.v[j]!;
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

