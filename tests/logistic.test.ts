// The CPU reference (src/cpu-reference): loss and gradient against finite differences
// and a naive dense computation, numerical stability at extreme logits, the scaled-weight
// CpuBackend against plainStep, and mini-batch gradient descent against an independent
// float64 Newton solver of the same objective.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { trainLoop, BatchSchedule } from "../src/core/train.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import {
  binaryCrossEntropyWithLogits,
  evaluateCsr,
  gradientCsr,
  lossAndResidual,
  plainStep,
  predictCsr,
  sigmoid,
  spmvCsr,
  updateWeights,
} from "../src/cpu-reference/logistic.ts";
import { mulberry32 } from "../src/core/random.ts";
import type { Csr } from "../src/core/types.ts";
import { gradientAndHessian, newtonSolve } from "./helpers/newton.ts";
import { fromDense, gaussian, objective64, tinyProblem, toDense } from "./helpers/tiny-data.ts";

// ---- the objective, written here in float64 with dense loops -----------------------

/** Naive sigma, as in a textbook (overflows for very negative z: fine for |z| < 700). */
const naiveSigma = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * J(w, b) = (1/n) sum_{i in rows} -[y_i log sigma(z_i) + (1 - y_i) log sigma(-z_i)] + (lambda/2) ||w||^2
 * with z_i = sum_j X_ij w_j + b, by dense loops over float64 arrays.
 */
function objectiveDense(
  xDense: Float64Array[],
  y: ArrayLike<number>,
  w: Float64Array,
  b: number,
  l2: number,
  rowStart = 0,
  rowEnd = xDense.length,
): number {
  let sum = 0;
  for (let i = rowStart; i < rowEnd; i++) {
    let z = b;
    for (let j = 0; j < w.length; j++) z += xDense[i]![j]! * w[j]!;
    sum -= y[i]! * Math.log(naiveSigma(z)) + (1 - y[i]!) * Math.log(naiveSigma(-z));
  }
  let norm2 = 0;
  for (let j = 0; j < w.length; j++) norm2 += w[j]! * w[j]!;
  return sum / (rowEnd - rowStart) + (l2 / 2) * norm2;
}

/** The analytic gradient as the reference computes it: gradientCsr + lambda w, and gradB. */
function referenceGradient(
  x: Csr,
  y: Uint8Array,
  w: Float32Array,
  b: number,
  l2: number,
  rowStart = 0,
  rowEnd = x.nRows,
): { gw: Float64Array; gb: number; lossSum: number } {
  const n = rowEnd - rowStart;
  const z = new Float32Array(n);
  const r = new Float32Array(n);
  spmvCsr(x, rowStart, rowEnd, w, b, z);
  const lossSum = lossAndResidual(z, y, rowStart, n, r);
  const gradW = new Float32Array(x.nCols);
  const gb = gradientCsr(x, rowStart, rowEnd, r, gradW);
  const gw = Float64Array.from(gradW, (g, j) => g + l2 * w[j]!);
  return { gw, gb, lossSum };
}

/** Random float32 weights (so the float32 and float64 paths see the same numbers). */
function randomWeights(d: number, seed: number, scale = 0.5): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: d }, () => gaussian(rng) * scale);
}

const problem = tinyProblem({ nRows: 60, nCols: 12, density: 0.35, seed: 11 });

describe("gradient against central finite differences (float64)", () => {
  for (const l2 of [0, 0.1]) {
    it(`matches for L2 = ${l2}, all rows and a sub-range of rows`, () => {
      const xd = toDense(problem.x);
      const w32 = randomWeights(problem.x.nCols, 3);
      const b = Math.fround(0.2);
      const w = Float64Array.from(w32);
      const h = 1e-6;
      for (const [rowStart, rowEnd] of [
        [0, problem.x.nRows],
        [13, 37],
      ] as const) {
        const { gw, gb } = referenceGradient(problem.x, problem.y, w32, b, l2, rowStart, rowEnd);
        const J = (ww: Float64Array, bb: number) => objectiveDense(xd, problem.y, ww, bb, l2, rowStart, rowEnd);
        for (let j = 0; j < w.length; j++) {
          const plus = w.slice();
          const minus = w.slice();
          plus[j]! += h;
          minus[j]! -= h;
          const fd = (J(plus, b) - J(minus, b)) / (2 * h);
          // float32 accumulation in the reference: ~1e-7 relative; FD error ~1e-9
          expect(Math.abs(gw[j]! - fd), `dJ/dw_${j}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(fd));
        }
        const fdB = (J(w, b + h) - J(w, b - h)) / (2 * h);
        expect(Math.abs(gb - fdB), "dJ/db").toBeLessThan(1e-6 + 1e-5 * Math.abs(fdB));
      }
    });
  }

  it("the L2 term adds exactly lambda w and leaves the bias gradient alone", () => {
    const w32 = randomWeights(problem.x.nCols, 5);
    const g0 = referenceGradient(problem.x, problem.y, w32, 0.1, 0);
    const g1 = referenceGradient(problem.x, problem.y, w32, 0.1, 0.3);
    for (let j = 0; j < w32.length; j++) expect(g1.gw[j]! - g0.gw[j]!).toBeCloseTo(0.3 * w32[j]!, 12);
    expect(g1.gb).toBe(g0.gb);
  });

  it("the Newton helper's gradient also matches finite differences (it is a check, so check it)", () => {
    const w = Float64Array.from(randomWeights(problem.x.nCols, 9));
    const b = -0.1;
    const l2 = 0.05;
    const { g, h: hess } = gradientAndHessian(problem.x, problem.y, w, b, l2);
    const step = 1e-6;
    const m = w.length + 1;
    for (let j = 0; j < m; j++) {
      const at = (t: number) => {
        const ww = w.slice();
        let bb = b;
        if (j < w.length) ww[j]! += t;
        else bb += t;
        return { ww, bb };
      };
      const p = at(step);
      const q = at(-step);
      const fd = (objective64(problem.x, problem.y, p.ww, p.bb, l2) - objective64(problem.x, problem.y, q.ww, q.bb, l2)) / (2 * step);
      expect(Math.abs(g[j]! - fd)).toBeLessThan(1e-8);
      // Hessian column j against finite differences of the gradient
      const gp = gradientAndHessian(problem.x, problem.y, p.ww, p.bb, l2).g;
      const gq = gradientAndHessian(problem.x, problem.y, q.ww, q.bb, l2).g;
      for (let k = 0; k < m; k++) expect(Math.abs(hess[k * m + j]! - (gp[k]! - gq[k]!) / (2 * step))).toBeLessThan(1e-7);
    }
  });
});

describe("loss and gradient against a direct, naive computation", () => {
  it("per-row loss, residual, loss sum and gradient agree with dense loops", () => {
    const xd = toDense(problem.x);
    const w32 = randomWeights(problem.x.nCols, 21, 1);
    const b = Math.fround(-0.4);
    const n = problem.x.nRows;
    const z = new Float32Array(n);
    const r = new Float32Array(n);
    const loss = new Float32Array(n);
    spmvCsr(problem.x, 0, n, w32, b, z);
    const lossSum = lossAndResidual(z, problem.y, 0, n, r, loss);
    let naiveSum = 0;
    const naiveGrad = new Float64Array(problem.x.nCols);
    let naiveGradB = 0;
    for (let i = 0; i < n; i++) {
      let zi = b;
      for (let j = 0; j < w32.length; j++) zi += xd[i]![j]! * w32[j]!;
      const p = naiveSigma(zi);
      const yi = problem.y[i]!;
      const li = -(yi * Math.log(p) + (1 - yi) * Math.log(1 - p));
      naiveSum += li;
      expect(z[i]).toBeCloseTo(zi, 5);
      expect(r[i]).toBeCloseTo(p - yi, 6);
      expect(loss[i]).toBeCloseTo(li, 5);
      for (let j = 0; j < w32.length; j++) naiveGrad[j]! += ((p - yi) * xd[i]![j]!) / n;
      naiveGradB += (p - yi) / n;
    }
    expect(lossSum).toBeCloseTo(naiveSum, 4);
    const gradW = new Float32Array(problem.x.nCols);
    const gradB = gradientCsr(problem.x, 0, n, r, gradW);
    for (let j = 0; j < gradW.length; j++) expect(gradW[j]).toBeCloseTo(naiveGrad[j]!, 6);
    expect(gradB).toBeCloseTo(naiveGradB, 6);
  });

  it("binaryCrossEntropyWithLogits equals -log sigma(z) / -log sigma(-z) for moderate z (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), fc.constantFrom(0, 1), (z, y) => {
        const naive = y === 1 ? -Math.log(naiveSigma(z)) : -Math.log(naiveSigma(-z));
        const got = binaryCrossEntropyWithLogits(z, y);
        return Math.abs(got - naive) <= 1e-12 + 1e-9 * Math.abs(naive);
      }),
    );
  });

  it("sigmoid is in [0, 1], symmetric and monotone (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }), (z, dz) => {
        const s = sigmoid(z);
        return s >= 0 && s <= 1 && Math.abs(s + sigmoid(-z) - 1) <= 1e-15 && sigmoid(z + dz) >= s;
      }),
    );
    expect(sigmoid(0)).toBe(0.5);
  });

  it("updateWeights is w - lr (g + lambda w), and plainStep leaves the bias unpenalised", () => {
    const w = Float32Array.from([1, -2, 0.5]);
    updateWeights(w, Float32Array.from([0.1, 0.2, -0.3]), 0.5, 0.2);
    expect(Array.from(w)).toEqual([1 - 0.5 * (0.1 + 0.2), -2 - 0.5 * (0.2 - 0.4), 0.5 - 0.5 * (-0.3 + 0.1)].map(Math.fround));
    // one row, x = [1], y = 1, w = 0, b = 0: r = -0.5, gradW = [-0.5], gradB = -0.5
    const x = fromDense([[1, 0]]);
    const state = { w: Float32Array.from([0, 2]), b: 0 };
    const loss = plainStep(x, Uint8Array.from([1]), 0, 1, state, 0.1, 0.5);
    expect(loss).toBeCloseTo(Math.LN2, 12);
    expect(state.w[0]).toBeCloseTo(0.05, 7);
    expect(state.w[1]).toBeCloseTo(2 * (1 - 0.05), 6); // only the L2 shrink
    expect(state.b).toBeCloseTo(0.05, 12); // no shrink: 0 anyway, so check a non-zero bias too
    state.b = 1;
    plainStep(fromDense([[0, 0]]), Uint8Array.from([0]), 0, 1, state, 0.1, 0.5);
    expect(state.b).toBeCloseTo(1 - 0.1 * sigmoid(1), 7);
  });

  it("a small plainStep lowers the objective", () => {
    const state = { w: randomWeights(problem.x.nCols, 4), b: 0.3 };
    for (let k = 0; k < 5; k++) {
      const before = objective64(problem.x, problem.y, state.w, state.b, 0.1);
      plainStep(problem.x, problem.y, 0, problem.x.nRows, state, 0.1, 0.1);
      expect(objective64(problem.x, problem.y, state.w, state.b, 0.1)).toBeLessThan(before);
    }
  });
});

describe("extreme logits", () => {
  const cases: [number, number, number][] = [
    // [z, y, expected loss]
    [50, 1, Math.exp(-50)],
    [50, 0, 50],
    [-50, 1, 50],
    [-50, 0, Math.exp(-50)],
    [800, 1, 0],
    [800, 0, 800],
    [-800, 1, 800],
    [-800, 0, 0],
    [1e30, 0, 1e30],
    [-1e30, 0, 0],
  ];

  it.each(cases)("z = %d, y = %d: loss %d, finite residual", (z, y, expected) => {
    const l = binaryCrossEntropyWithLogits(z, y);
    expect(Number.isFinite(l)).toBe(true);
    expect(l).toBeGreaterThanOrEqual(0);
    expect(Math.abs(l - expected)).toBeLessThanOrEqual(1e-15 * Math.max(1, expected) + 1e-30);
    const s = sigmoid(z);
    expect(Number.isFinite(s)).toBe(true);
    expect(Math.abs(s - y)).toBeLessThanOrEqual(1); // residual in [-1, 1]
  });

  it("through spmv, loss, gradient, evaluation and prediction: nothing NaN or infinite", () => {
    // rows whose logits come out at +-50 and +-800
    const x = fromDense([[50, 0], [-50, 0], [0, 800], [0, -800], [0, 0]]);
    const y = Uint8Array.from([0, 0, 1, 0, 1]);
    const w = Float32Array.from([1, 1]);
    const z = new Float32Array(5);
    spmvCsr(x, 0, 5, w, 0, z);
    expect(Array.from(z)).toEqual([50, -50, 800, -800, 0]);
    const r = new Float32Array(5);
    const loss = new Float32Array(5);
    const sum = lossAndResidual(z, y, 0, 5, r, loss);
    expect(Array.from(loss).every(Number.isFinite)).toBe(true);
    expect(Array.from(r).every(Number.isFinite)).toBe(true);
    expect(sum).toBeCloseTo(50 + Math.exp(-50) + 0 + 0 + Math.LN2, 5);
    expect(Array.from(r)).toEqual([1, Math.fround(sigmoid(-50)), 0, 0, -0.5]);
    const g = new Float32Array(2);
    const gb = gradientCsr(x, 0, 5, r, g);
    expect(Array.from(g).every(Number.isFinite) && Number.isFinite(gb)).toBe(true);
    const ev = evaluateCsr(x, y, w, 0);
    expect(Number.isFinite(ev.lossSum)).toBe(true);
    expect(ev).toMatchObject({ n: 5, tp: 2, fp: 1, tn: 2, fn: 0 });
    const p = predictCsr(x, w, 0);
    expect(Array.from(p).every((v) => v >= 0 && v <= 1)).toBe(true);
    const state = { w: w.slice(), b: 0 };
    const stepLoss = plainStep(x, y, 0, 5, state, 0.1, 0.01);
    expect(Number.isFinite(stepLoss)).toBe(true);
    expect(Array.from(state.w).every(Number.isFinite) && Number.isFinite(state.b)).toBe(true);
  });
});

// ---- the scaled-weight backend against plainStep -----------------------------------

describe("CpuBackend (w = s v) against plainStep on the same batch order", () => {
  const p = tinyProblem({ nRows: 203, nCols: 40, density: 0.2, seed: 5 });
  const configs = [
    { batchSize: 1, lr: 0.2, l2: 0, epochs: 4 },
    { batchSize: 7, lr: 0.5, l2: 0.01, epochs: 5 }, // last batch partial (203 = 29 x 7)
    { batchSize: 10, lr: 1, l2: 0.3, epochs: 5 }, // s shrinks by 0.7 per step: folds often
    { batchSize: 203, lr: 2, l2: 0.05, epochs: 20 }, // full batch
  ];
  // Both run float32 weights; the backend's different rounding (v, then s v) is the
  // only difference. Stated tolerance: 5e-6 relative to the largest weight
  // (measured: about 3e-7).
  const TOL = 5e-6;

  for (const c of configs) {
    it(`batch ${c.batchSize}, lr ${c.lr}, L2 ${c.l2}, ${c.epochs} epochs: weights within ${TOL} relative`, async () => {
      const backend = new CpuBackend();
      await backend.load({ train: { name: "train", x: p.x, y: p.y }, batchSize: c.batchSize, evalSets: [{ name: "all", x: p.x, y: p.y }] });
      const schedule = new BatchSchedule(p.x.nRows, c.batchSize, 3);
      const state = { w: new Float32Array(p.x.nCols), b: 0 };
      for (let e = 0; e < c.epochs; e++) {
        const order = schedule.nextEpoch();
        const backendLoss = await backend.trainEpoch(order, c.lr, c.l2);
        let plainLoss = 0;
        for (const k of order) plainLoss += plainStep(p.x, p.y, k * c.batchSize, Math.min((k + 1) * c.batchSize, p.x.nRows), state, c.lr, c.l2);
        plainLoss /= order.length;
        expect(Math.abs(backendLoss - plainLoss)).toBeLessThan(1e-5 * (1 + plainLoss));
      }
      const { weights, bias } = await backend.readWeights();
      let maxW = 0;
      let maxDiff = Math.abs(bias - state.b);
      for (let j = 0; j < weights.length; j++) {
        maxW = Math.max(maxW, Math.abs(state.w[j]!));
        maxDiff = Math.max(maxDiff, Math.abs(weights[j]! - state.w[j]!));
      }
      expect(maxW).toBeGreaterThan(0.05); // it learned something
      expect(maxDiff).toBeLessThanOrEqual(TOL * maxW);
      // evaluation and prediction use the same weights
      expect(await backend.evaluate("all")).toEqual(evaluateCsr(p.x, p.y, weights, bias));
      expect(await backend.predict("all")).toEqual(predictCsr(p.x, weights, bias));
      backend.dispose();
    });
  }

  it("refuses to train before load and names an unknown set", async () => {
    const backend = new CpuBackend();
    await expect(backend.trainEpoch(Uint32Array.of(0), 0.1, 0)).rejects.toThrow(/load/);
    await backend.load({ train: { name: "train", x: p.x, y: p.y }, batchSize: 8, evalSets: [] });
    await expect(backend.evaluate("nope")).rejects.toThrow(/nope/);
  });
});

// ---- mini-batch gradient descent reaches the Newton optimum ----------------------

describe("mini-batch gradient descent reaches the float64 Newton optimum", () => {
  // 200 rows x 20 features, ~30% dense, labels from a planted model (classes overlap);
  // L2 > 0, so the optimum is unique.
  const p = tinyProblem({ nRows: 200, nCols: 20, density: 0.3, seed: 7 });
  const train = { name: "train", x: p.x, y: p.y };

  for (const l2 of [0.01, 0.05]) {
    const newton = newtonSolve(p.x, p.y, l2);

    it(`Newton converges (L2 ${l2})`, () => {
      expect(newton.gradInf).toBeLessThan(1e-10);
      expect(newton.iterations).toBeLessThan(20);
    });

    // [batch size, lr, lr decay, epochs, weight tolerance (max abs), objective tolerance]
    const runs: [number, number, number, number, number, number][] = [
      [200, 1, 0, 2000, 1e-5, 1e-10], // full batch: float32 is the only limit
      [20, 0.5, 0.05, 3000, 5e-4, 1e-8], // 10 batches per epoch, decaying lr
      [1, 0.1, 0.05, 1000, 3e-3, 1e-6], // one row per step, decaying lr
    ];
    for (const [batchSize, lr, lrDecay, epochs, tolW, tolJ] of runs) {
      it(`L2 ${l2}, batch ${batchSize}, lr ${lr}/(1 + ${lrDecay}(e-1)), ${epochs} epochs: |w - w*| <= ${tolW}, J - J* <= ${tolJ}`, async () => {
        const res = await trainLoop(new CpuBackend(), { train }, { lr, lrDecay, l2, epochs, batchSize, seed: 1, patience: 0 });
        let maxDiff = Math.abs(res.bias - newton.b);
        for (let j = 0; j < p.x.nCols; j++) maxDiff = Math.max(maxDiff, Math.abs(res.weights[j]! - newton.w[j]!));
        const J = objective64(p.x, p.y, res.weights, res.bias, l2);
        expect(maxDiff).toBeLessThanOrEqual(tolW);
        expect(J - newton.loss).toBeLessThanOrEqual(tolJ);
        expect(J - newton.loss).toBeGreaterThanOrEqual(-1e-12); // Newton's is the minimum
      });
    }
  }
});
