// Test helpers: small random sparse classification problems, and plain float64
// versions of the objective for checking the CPU reference against.

import { mulberry32, type Rng } from "../../src/core/random.ts";
import type { Csr, EvalSums, LabelledSet, TrainingBackend, BackendData } from "../../src/core/types.ts";

/** A standard normal deviate (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export interface TinyProblemOptions {
  nRows: number;
  nCols: number;
  /** chance that an entry is present */
  density: number;
  seed: number;
  /** scale of the planted weights (larger: more separable) */
  weightScale?: number;
  /** scale of the feature values */
  valueScale?: number;
}

export interface TinyProblem {
  x: Csr;
  y: Uint8Array;
  /** the planted weights and bias the labels were drawn from */
  trueW: Float64Array;
  trueB: number;
}

/**
 * A random sparse problem: each row has each column with probability `density`, with a
 * float32-representable N(0, valueScale^2) value; labels are drawn from a planted
 * logistic model, so the classes overlap and the unregularised optimum is finite.
 */
export function tinyProblem(o: TinyProblemOptions): TinyProblem {
  const rng = mulberry32(o.seed);
  const trueW = Float64Array.from({ length: o.nCols }, () => gaussian(rng) * (o.weightScale ?? 1));
  const trueB = 0.3 * gaussian(rng);
  const rowPtr = new Uint32Array(o.nRows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  const y = new Uint8Array(o.nRows);
  for (let i = 0; i < o.nRows; i++) {
    let z = trueB;
    // at least one entry per row, so no row is empty
    const forced = Math.floor(rng() * o.nCols);
    for (let j = 0; j < o.nCols; j++) {
      if (j !== forced && rng() >= o.density) continue;
      const v = Math.fround(gaussian(rng) * (o.valueScale ?? 1));
      cols.push(j);
      vals.push(v);
      z += v * trueW[j]!;
    }
    rowPtr[i + 1] = cols.length;
    y[i] = rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return {
    x: { nRows: o.nRows, nCols: o.nCols, rowPtr, colIdx: Uint32Array.from(cols), values: Float32Array.from(vals) },
    y,
    trueW,
    trueB,
  };
}

/** The rows of a CSR as dense float64 rows (tests only: tiny matrices). */
export function toDense(x: Csr): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let i = 0; i < x.nRows; i++) {
    const r = new Float64Array(x.nCols);
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) r[x.colIdx[k]!]! += x.values[k]!;
    rows.push(r);
  }
  return rows;
}

/** A CSR from dense rows (zeros left out). */
export function fromDense(rows: readonly (readonly number[])[], nCols = rows[0]?.length ?? 0): Csr {
  const rowPtr = new Uint32Array(rows.length + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  rows.forEach((r, i) => {
    r.forEach((v, j) => {
      if (v !== 0) {
        cols.push(j);
        vals.push(v);
      }
    });
    rowPtr[i + 1] = cols.length;
  });
  return { nRows: rows.length, nCols, rowPtr, colIdx: Uint32Array.from(cols), values: Float32Array.from(vals) };
}

/** Stable log(1 + exp(t)) in float64. */
export function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/**
 * The objective in float64, written independently of src/:
 *   J(w, b) = (1/n) sum_i [log(1 + e^{z_i}) - y_i z_i] + (lambda/2) ||w||^2,  z_i = w.x_i + b
 * (log(1 + e^z) - y z is the cross-entropy of sigma(z) against y).
 */
export function objective64(x: Csr, y: ArrayLike<number>, w: ArrayLike<number>, b: number, l2: number): number {
  let data = 0;
  for (let i = 0; i < x.nRows; i++) {
    let z = b;
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) z += x.values[k]! * w[x.colIdx[k]!]!;
    data += softplus(z) - y[i]! * z;
  }
  let norm2 = 0;
  for (let j = 0; j < w.length; j++) norm2 += w[j]! * w[j]!;
  return data / x.nRows + (l2 / 2) * norm2;
}

/** A labelled set with a name. */
export function labelled(name: string, x: Csr, y: Uint8Array): LabelledSet {
  return { name, x, y };
}

/** Scripted per-epoch behaviour for FakeBackend. */
export interface FakeScript {
  /** training loss returned by epoch e (1-based): losses[e - 1]; default 0.5 */
  losses?: number[];
  /** validation/test accuracy reported after epoch e; loss is 1 - accuracy unless given */
  accuracy?: Record<string, number[]>;
  loss?: Record<string, number[]>;
}

/**
 * A backend that trains nothing: it counts calls, returns scripted losses and metrics,
 * and its "weights" after epoch e are [e, e, ...] with bias e / 10, so a test can tell
 * which epoch's weights the loop returned.
 */
export class FakeBackend implements TrainingBackend {
  readonly kind = "cpu" as const;
  readonly deviceName = "fake";
  calls: string[] = [];
  epoch = 0;
  data: BackendData | null = null;
  constructor(private readonly script: FakeScript = {}) {}

  async load(data: BackendData): Promise<void> {
    this.calls.push("load");
    this.data = data;
    this.epoch = 0;
  }

  async trainEpoch(batchOrder: Uint32Array): Promise<number> {
    this.calls.push(`trainEpoch(${batchOrder.length})`);
    this.epoch++;
    return this.script.losses?.[this.epoch - 1] ?? 0.5;
  }

  async evaluate(setName: string): Promise<EvalSums> {
    this.calls.push(`evaluate(${setName})`);
    const n = 1000;
    const acc = this.script.accuracy?.[setName]?.[this.epoch - 1] ?? 0.5;
    const loss = this.script.loss?.[setName]?.[this.epoch - 1] ?? 1 - acc;
    const correct = Math.round(acc * n);
    // half of the correct ones positive, the wrong ones all false positives
    const tp = Math.floor(correct / 2);
    return { n, lossSum: loss * n, tp, tn: correct - tp, fp: n - correct, fn: 0 };
  }

  async predict(): Promise<Float32Array> {
    return new Float32Array(0);
  }

  async readWeights(): Promise<{ weights: Float32Array; bias: number }> {
    this.calls.push("readWeights");
    return { weights: new Float32Array(4).fill(this.epoch), bias: this.epoch / 10 };
  }

  dispose(): void {
    this.calls.push("dispose");
  }
}
