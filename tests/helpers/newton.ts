// An independent float64 solver of the training objective, to check that mini-batch
// gradient descent reaches the true minimum:
//
//   J(w, b) = (1/n) sum_i [log(1 + e^{z_i}) - y_i z_i] + (lambda/2) ||w||^2,  z_i = w.x_i + b
//
// Newton's method on theta = (w, b): with p_i = sigma(z_i), r_i = p_i - y_i, x~_i = (x_i, 1),
//   gradient  g = (1/n) sum_i r_i x~_i + lambda (w, 0)
//   Hessian   H = (1/n) sum_i p_i (1 - p_i) x~_i x~_i^T + lambda diag(1, ..., 1, 0)
// step theta <- theta - t H^{-1} g, H^{-1} g by a dense Cholesky solve, t by backtracking
// (Armijo). For lambda > 0 J is strictly convex in w; the bias is unpenalised. Shares no
// code with src/ beyond the Csr type.

import type { Csr } from "../../src/core/types.ts";
import { objective64 } from "./tiny-data.ts";

export interface NewtonResult {
  w: Float64Array;
  b: number;
  /** J at the solution */
  loss: number;
  /** max |gradient| at the solution */
  gradInf: number;
  iterations: number;
}

function sigmoid64(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Solve A x = rhs for symmetric positive definite A (m x m, row-major), by Cholesky. */
export function choleskySolve(a: Float64Array, m: number, rhs: Float64Array): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j]!;
      for (let k = 0; k < j; k++) s -= l[i * m + k]! * l[j * m + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: matrix not positive definite (pivot ${s} at ${i})`);
        l[i * m + i] = Math.sqrt(s);
      } else {
        l[i * m + j] = s / l[j * m + j]!;
      }
    }
  }
  // L u = rhs, then L^T x = u
  const u = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= l[i * m + k]! * u[k]!;
    u[i] = s / l[i * m + i]!;
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = u[i]!;
    for (let k = i + 1; k < m; k++) s -= l[k * m + i]! * x[k]!;
    x[i] = s / l[i * m + i]!;
  }
  return x;
}

/** Gradient (w part then b) and Hessian of J at (w, b), in float64. */
export function gradientAndHessian(
  x: Csr,
  y: ArrayLike<number>,
  w: Float64Array,
  b: number,
  l2: number,
): { g: Float64Array; h: Float64Array } {
  const d = x.nCols;
  const m = d + 1;
  const n = x.nRows;
  const g = new Float64Array(m);
  const h = new Float64Array(m * m);
  for (let i = 0; i < n; i++) {
    const a = x.rowPtr[i]!;
    const e = x.rowPtr[i + 1]!;
    let z = b;
    for (let k = a; k < e; k++) z += x.values[k]! * w[x.colIdx[k]!]!;
    const p = sigmoid64(z);
    const r = (p - y[i]!) / n;
    const c = (p * (1 - p)) / n;
    // sparse x~_i = (x_i, 1): entries (colIdx[k], values[k]) and (d, 1)
    for (let k = a; k <= e; k++) {
      const jk = k < e ? x.colIdx[k]! : d;
      const vk = k < e ? x.values[k]! : 1;
      g[jk]! += r * vk;
      for (let q = a; q <= e; q++) {
        const jq = q < e ? x.colIdx[q]! : d;
        const vq = q < e ? x.values[q]! : 1;
        h[jk * m + jq]! += c * vk * vq;
      }
    }
  }
  for (let j = 0; j < d; j++) {
    g[j]! += l2 * w[j]!;
    h[j * m + j]! += l2;
  }
  return { g, h };
}

/** Minimise J by Newton's method with backtracking, from zero. */
export function newtonSolve(
  x: Csr,
  y: ArrayLike<number>,
  l2: number,
  opts: { tol?: number; maxIter?: number } = {},
): NewtonResult {
  const tol = opts.tol ?? 1e-12;
  const maxIter = opts.maxIter ?? 100;
  const d = x.nCols;
  let w = new Float64Array(d);
  let b = 0;
  let loss = objective64(x, y, w, b, l2);
  for (let it = 0; it < maxIter; it++) {
    const { g, h } = gradientAndHessian(x, y, w, b, l2);
    let gradInf = 0;
    for (const v of g) gradInf = Math.max(gradInf, Math.abs(v));
    if (gradInf < tol) return { w, b, loss, gradInf, iterations: it };
    const step = choleskySolve(h, d + 1, g);
    let slope = 0;
    for (let j = 0; j <= d; j++) slope -= g[j]! * step[j]!;
    let t = 1;
    for (;;) {
      const wNew = w.map((v, j) => v - t * step[j]!);
      const bNew = b - t * step[d]!;
      const lossNew = objective64(x, y, wNew, bNew, l2);
      if (lossNew <= loss + 1e-4 * t * slope || t < 1e-10) {
        w = wNew;
        b = bNew;
        loss = lossNew;
        break;
      }
      t /= 2;
    }
  }
  const { g } = gradientAndHessian(x, y, w, b, l2);
  let gradInf = 0;
  for (const v of g) gradInf = Math.max(gradInf, Math.abs(v));
  if (gradInf > 1e-8) throw new Error(`newtonSolve did not converge in ${maxIter} iterations (|g| = ${gradInf})`);
  return { w, b, loss, gradInf, iterations: maxIter };
}
