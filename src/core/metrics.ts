// Binary classification metrics from labels and predicted probabilities.

import type { EvalSums } from "./types.ts";

export interface ConfusionMatrix {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface BinaryMetrics {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  roc_auc: number;
  log_loss: number;
  confusion: ConfusionMatrix;
}

/** Metrics computable from confusion counts (precision of no positive predictions is 0). */
export function countMetrics(c: ConfusionMatrix): { accuracy: number; precision: number; recall: number; f1: number } {
  const n = c.tp + c.fp + c.tn + c.fn;
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { accuracy: n > 0 ? (c.tp + c.tn) / n : 0, precision, recall, f1 };
}

/** Confusion counts at threshold 0.5 (p >= 0.5 is positive). */
export function confusionMatrix(labels: ArrayLike<number>, probs: ArrayLike<number>): ConfusionMatrix {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const pos = probs[i]! >= 0.5;
    if (labels[i] === 1) pos ? c.tp++ : c.fn++;
    else pos ? c.fp++ : c.tn++;
  }
  return c;
}

/**
 * ROC AUC as the Mann-Whitney statistic: the probability that a random positive scores
 * above a random negative, counting ties as one half (tied scores share their mean rank).
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const meanRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        nPos++;
        rankSumPos += meanRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Mean binary cross-entropy of probabilities, clipped to [eps, 1 - eps]. */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-15): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(probs[i]!, eps), 1 - eps);
    s -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return labels.length > 0 ? s / labels.length : NaN;
}

export function binaryMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>): BinaryMetrics {
  const confusion = confusionMatrix(labels, probs);
  return {
    n: labels.length,
    ...countMetrics(confusion),
    roc_auc: rocAuc(labels, probs),
    log_loss: logLoss(labels, probs),
    confusion,
  };
}

/** Per-epoch metrics from a backend's reduced sums. */
export function metricsFromSums(s: EvalSums): {
  loss: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
} {
  return { loss: s.n > 0 ? s.lossSum / s.n : NaN, ...countMetrics(s) };
}

export interface ReliabilityBin {
  /** bin covers [lo, hi) (the last bin includes 1) */
  lo: number;
  hi: number;
  count: number;
  meanPredicted: number;
  observedPositive: number;
}

/**
 * Reliability diagram bins (predicted P(positive) against the observed positive rate)
 * and the expected calibration error: sum over bins of (count/n) |observed - predicted|.
 */
export function calibration(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  nBins = 10,
): { bins: ReliabilityBin[]; ece: number } {
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  for (let i = 0; i < labels.length; i++) {
    const p = probs[i]!;
    const b = Math.min(nBins - 1, Math.max(0, Math.floor(p * nBins)));
    count[b]!++;
    sumP[b]! += p;
    sumY[b]! += labels[i] === 1 ? 1 : 0;
  }
  const bins: ReliabilityBin[] = [];
  let ece = 0;
  for (let b = 0; b < nBins; b++) {
    const c = count[b]!;
    const meanPredicted = c > 0 ? sumP[b]! / c : NaN;
    const observedPositive = c > 0 ? sumY[b]! / c : NaN;
    bins.push({ lo: b / nBins, hi: (b + 1) / nBins, count: c, meanPredicted, observedPositive });
    if (c > 0) ece += (c / labels.length) * Math.abs(observedPositive - meanPredicted);
  }
  return { bins, ece };
}
