// Experiment: CpuBackend with per-epoch iterate averaging (lazy sums).
import type { BackendData, EvalSums, TrainingBackend } from "../src/core/types.ts";
import { binaryCrossEntropyWithLogits, evaluateCsr, predictCsr, sigmoid } from "../src/cpu-reference/logistic.ts";

export class AvgCpuBackend implements TrainingBackend {
  readonly kind = "cpu" as const;
  readonly deviceName = "avg";
  private data!: BackendData;
  private v = new Float32Array(0);
  private s = 1;
  private b = 0;
  private acc = new Float64Array(0);
  private pAt = new Float64Array(0);
  private avgW = new Float32Array(0);
  private avgB = 0;
  constructor(private startEpoch = 1, private reset = true) {}
  private epoch = 0;
  async load(data: BackendData) {
    this.data = data;
    const d = data.train.x.nCols;
    this.v = new Float32Array(d);
    this.acc = new Float64Array(d);
    this.pAt = new Float64Array(d);
    this.avgW = new Float32Array(d);
  }
  async trainEpoch(order: Uint32Array, lr: number, l2: number) {
    this.epoch++;
    const { x, y } = this.data.train;
    const { rowPtr, colIdx, values } = x;
    const v = this.v, acc = this.acc, pAt = this.pAt;
    const averaging = this.epoch >= this.startEpoch;
    if (averaging && (this.reset || this.epoch === this.startEpoch)) { acc.fill(0); pAt.fill(0); this.P = 0; this.T = 0; this.bSum = 0; }
    let lossTotal = 0;
    const B = this.data.batchSize;
    for (let k = 0; k < order.length; k++) {
      const start = order[k]! * B, end = Math.min(start + B, x.nRows), n = end - start;
      const r: number[] = [];
      let rSum = 0, lossSum = 0;
      for (let i = start; i < end; i++) {
        let a = 0;
        for (let q = rowPtr[i]!; q < rowPtr[i + 1]!; q++) a += values[q]! * v[colIdx[q]!]!;
        const z = this.s * a + this.b;
        const ri = sigmoid(z) - y[i]!;
        r.push(ri); rSum += ri; lossSum += binaryCrossEntropyWithLogits(z, y[i]!);
      }
      lossTotal += lossSum / n;
      this.s *= 1 - lr * l2;
      const step = lr / (n * this.s);
      const Pprev = this.P;
      for (let i = start; i < end; i++) {
        const c = step * r[i - start]!;
        for (let q = rowPtr[i]!; q < rowPtr[i + 1]!; q++) {
          const j = colIdx[q]!;
          if (averaging) { acc[j]! += v[j]! * (Pprev - pAt[j]!); pAt[j] = Pprev; }
          v[j]! -= c * values[q]!;
        }
      }
      this.b -= (lr * rSum) / n;
      if (averaging) { this.P += this.s; this.T++; this.bSum += this.b; }
    }
    if (averaging) {
      for (let j = 0; j < v.length; j++) this.avgW[j] = (acc[j]! + v[j]! * (this.P - pAt[j]!)) / this.T;
      this.avgB = this.bSum / this.T;
    }
    return lossTotal / order.length;
  }
  private P = 0; private T = 0; private bSum = 0;
  private cur() {
    if (this.epoch >= this.startEpoch) return { weights: this.avgW.slice(), bias: this.avgB };
    const w = new Float32Array(this.v.length); for (let j = 0; j < w.length; j++) w[j] = this.s * this.v[j]!;
    return { weights: w, bias: this.b };
  }
  async evaluate(name: string): Promise<EvalSums> { const set = this.data.evalSets.find((s) => s.name === name)!; const c = this.cur(); return evaluateCsr(set.x, set.y, c.weights, c.bias); }
  async predict(name: string) { const set = this.data.evalSets.find((s) => s.name === name)!; const c = this.cur(); return predictCsr(set.x, c.weights, c.bias); }
  async readWeights() { return this.cur(); }
  dispose() {}
}
