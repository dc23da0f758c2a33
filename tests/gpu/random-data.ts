// Seeded random sparse data for the GPU checks: awkward CSR matrices for the kernel
// checks, and a small learnable problem for whole training runs. Runs in the browser
// and in Node.

import type { Csr, LabelledSet } from "../../src/core/types.ts";
import { mulberry32, type Rng } from "../../src/core/random.ts";

export { mulberry32 };

/** A standard normal sample (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function gaussianArray(rng: Rng, n: number, sd = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sd * gaussian(rng);
  return out;
}

export interface RandomCsrOptions {
  nRows: number;
  nCols: number;
  /** nonzeros per row are uniform in [0, 2 meanNnz] */
  meanNnz: number;
  /** every emptyEvery-th row is empty (0: none) */
  emptyEvery?: number;
  /** rows given exactly longNnz nonzeros */
  longRows?: number[];
  longNnz?: number;
  /** probability that an entry repeats a column already in its row */
  repeatProbability?: number;
  /** columns are drawn as floor(nCols u^skew): > 1 makes low columns common (long CSC columns) */
  skew?: number;
}

/** A random CSR matrix with empty rows, very long rows and repeated columns within rows. */
export function randomCsr(rng: Rng, o: RandomCsrOptions): Csr {
  const lengths = new Uint32Array(o.nRows);
  const long = new Set(o.longRows ?? []);
  for (let i = 0; i < o.nRows; i++) {
    if (o.emptyEvery && i % o.emptyEvery === 0) lengths[i] = 0;
    else if (long.has(i)) lengths[i] = o.longNnz ?? 5000;
    else lengths[i] = Math.floor(rng() * (2 * o.meanNnz + 1));
  }
  const rowPtr = new Uint32Array(o.nRows + 1);
  for (let i = 0; i < o.nRows; i++) rowPtr[i + 1] = rowPtr[i]! + lengths[i]!;
  const nnz = rowPtr[o.nRows]!;
  const colIdx = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  const skew = o.skew ?? 1;
  const repeat = o.repeatProbability ?? 0.05;
  for (let i = 0; i < o.nRows; i++) {
    const start = rowPtr[i]!;
    for (let k = start; k < rowPtr[i + 1]!; k++) {
      colIdx[k] =
        k > start && rng() < repeat
          ? colIdx[start + Math.floor(rng() * (k - start))]!
          : Math.min(o.nCols - 1, Math.floor(o.nCols * Math.pow(rng(), skew)));
      values[k] = rng() * 3 - 1;
    }
  }
  return { nRows: o.nRows, nCols: o.nCols, rowPtr, colIdx, values };
}

export function randomLabels(rng: Rng, n: number): Uint8Array {
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) y[i] = rng() < 0.5 ? 1 : 0;
  return y;
}

export interface SyntheticProblem {
  train: LabelledSet;
  test: LabelledSet;
  trueWeights: Float32Array;
}

/**
 * A learnable sparse problem shaped like bag-of-n-grams reviews: skewed column
 * frequencies, count-like values scaled by 1/sqrt(length), a few empty rows and one very
 * long row, labels drawn from a sparse true logistic model.
 */
export function syntheticProblem(
  seed: number,
  nTrain: number,
  nTest: number,
  nCols: number,
  shape: { meanNnz?: number; longNnz?: number } = {},
): SyntheticProblem {
  const rng = mulberry32(seed);
  const trueWeights = new Float32Array(nCols);
  for (let j = 0; j < nCols; j++) if (rng() < 0.15) trueWeights[j] = 2 * gaussian(rng);
  const make = (name: string, n: number): LabelledSet => {
    const x = randomCsr(rng, {
      nRows: n,
      nCols,
      meanNnz: shape.meanNnz ?? 30,
      emptyEvery: 97,
      longRows: [Math.floor(n / 2)],
      longNnz: shape.longNnz ?? 3000,
      repeatProbability: 0.1,
      skew: 2,
    });
    for (let i = 0; i < n; i++) {
      const a = x.rowPtr[i]!;
      const b = x.rowPtr[i + 1]!;
      const norm = 1 / Math.sqrt(Math.max(1, b - a));
      for (let k = a; k < b; k++) x.values[k] = (1 + Math.floor(rng() * 3)) * norm;
    }
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) z += trueWeights[x.colIdx[k]!]! * x.values[k]!;
      y[i] = rng() < 1 / (1 + Math.exp(-3 * z)) ? 1 : 0;
    }
    return { name, x, y };
  };
  return { train: make("train", nTrain), test: make("test", nTest), trueWeights };
}
