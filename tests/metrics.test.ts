// Metrics (src/core/metrics.ts) against hand-computed cases.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  binaryMetrics,
  calibration,
  confusionMatrix,
  countMetrics,
  logLoss,
  metricsFromSums,
  rocAuc,
} from "../src/core/metrics.ts";

describe("confusion-matrix metrics", () => {
  // 10 examples, threshold 0.5 (p >= 0.5 is positive):
  //   y = 1: 0.9 0.8 | 0.4 0.2          -> tp 2, fn 2
  //   y = 0: 0.7 0.55 0.6 | 0.1 0.3 0.05 -> fp 3, tn 3
  const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  const probs = [0.9, 0.8, 0.4, 0.2, 0.7, 0.55, 0.1, 0.3, 0.6, 0.05];

  it("counts and derived metrics by hand", () => {
    const c = confusionMatrix(labels, probs);
    expect(c).toEqual({ tp: 2, fn: 2, fp: 3, tn: 3 });
    const m = countMetrics(c);
    expect(m.accuracy).toBeCloseTo(5 / 10, 15);
    expect(m.precision).toBeCloseTo(2 / 5, 15);
    expect(m.recall).toBeCloseTo(2 / 4, 15);
    expect(m.f1).toBeCloseTo((2 * 0.4 * 0.5) / (0.4 + 0.5), 15); // 4/9
  });

  it("p = 0.5 exactly counts as positive", () => {
    expect(confusionMatrix([1, 0], [0.5, 0.5])).toEqual({ tp: 1, fn: 0, fp: 1, tn: 0 });
  });

  it("binaryMetrics puts it together", () => {
    const m = binaryMetrics(labels, probs);
    expect(m.n).toBe(10);
    expect(m.confusion).toEqual({ tp: 2, fn: 2, fp: 3, tn: 3 });
    expect(m.accuracy).toBeCloseTo(0.5, 15);
    expect(m.f1).toBeCloseTo(4 / 9, 15);
    // AUC: positives {0.9, 0.8, 0.4, 0.2} vs negatives {0.7, 0.55, 0.6, 0.1, 0.3, 0.05}:
    // 0.9 and 0.8 beat all 6; 0.4 beats 0.1, 0.3, 0.05; 0.2 beats 0.1, 0.05 -> 17 / 24
    expect(m.roc_auc).toBeCloseTo(17 / 24, 15);
    expect(m.log_loss).toBeCloseTo(logLoss(labels, probs), 15);
  });

  it("degenerate cases: no positive predictions -> precision 0 (and F1 0), no positives -> recall 0", () => {
    expect(countMetrics({ tp: 0, fp: 0, tn: 3, fn: 2 })).toEqual({ accuracy: 0.6, precision: 0, recall: 0, f1: 0 });
    expect(countMetrics({ tp: 0, fp: 2, tn: 3, fn: 0 })).toEqual({ accuracy: 0.6, precision: 0, recall: 0, f1: 0 });
    expect(countMetrics({ tp: 4, fp: 0, tn: 0, fn: 0 })).toEqual({ accuracy: 1, precision: 1, recall: 1, f1: 1 });
    expect(countMetrics({ tp: 0, fp: 0, tn: 0, fn: 0 }).accuracy).toBe(0);
    const m = binaryMetrics([1, 0, 1], [0.1, 0.2, 0.3]);
    expect(m.precision).toBe(0);
    expect(m.f1).toBe(0);
    expect(Number.isNaN(m.precision)).toBe(false);
  });

  it("metricsFromSums: mean loss and counts from a backend's sums", () => {
    const m = metricsFromSums({ n: 10, lossSum: 4.2, tp: 2, fn: 2, fp: 3, tn: 3 });
    expect(m.loss).toBeCloseTo(0.42, 15);
    expect(m.precision).toBeCloseTo(0.4, 15);
    expect(Number.isNaN(metricsFromSums({ n: 0, lossSum: 0, tp: 0, fn: 0, fp: 0, tn: 0 }).loss)).toBe(true);
  });
});

describe("ROC AUC", () => {
  it("all scores tied -> 0.5", () => {
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 1, 1, 0], [0.2, 0.2, 0.2, 0.2])).toBe(0.5);
  });

  it("perfect, reversed", () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])).toBe(0);
  });

  it("a hand-worked case with partial ties", () => {
    // positives {0.9, 0.5, 0.3}, negatives {0.9, 0.5, 0.1}; pairs (pos, neg):
    // 0.9: tie 0.9 (1/2), beats 0.5, 0.1      -> 2.5
    // 0.5: loses to 0.9, tie 0.5 (1/2), beats 0.1 -> 1.5
    // 0.3: loses, loses, beats 0.1              -> 1
    // AUC = 5 / 9
    const labels = [1, 0, 1, 0, 1, 0];
    const scores = [0.9, 0.9, 0.5, 0.5, 0.3, 0.1];
    expect(rocAuc(labels, scores)).toBeCloseTo(5 / 9, 15);
    // order of the input does not matter
    expect(rocAuc([0, 1, 0, 1, 0, 1], [0.1, 0.3, 0.5, 0.5, 0.9, 0.9])).toBeCloseTo(5 / 9, 15);
  });

  it("one class only -> NaN (undefined), not a number that looks real", () => {
    expect(rocAuc([1, 1], [0.2, 0.8])).toBeNaN();
    expect(rocAuc([0, 0], [0.2, 0.8])).toBeNaN();
    expect(rocAuc([], [])).toBeNaN();
  });

  it("equals the pairwise count with ties as 1/2, on random data with many ties (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 5 })), { minLength: 2, maxLength: 60 }),
        (rows) => {
          const labels = rows.map((r) => r[0]);
          const scores = rows.map((r) => r[1] / 5);
          let wins = 0;
          let pairs = 0;
          for (let i = 0; i < rows.length; i++) {
            if (labels[i] !== 1) continue;
            for (let j = 0; j < rows.length; j++) {
              if (labels[j] !== 0) continue;
              pairs++;
              wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
            }
          }
          const auc = rocAuc(labels, scores);
          if (pairs === 0) return Number.isNaN(auc);
          return Math.abs(auc - wins / pairs) < 1e-12;
        },
      ),
    );
  });
});

describe("log loss", () => {
  it("by hand", () => {
    expect(logLoss([1, 0], [0.8, 0.4])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 15);
    expect(logLoss([1], [0.5])).toBeCloseTo(Math.LN2, 15);
  });

  it("clips certain mistakes to [1e-15, 1 - 1e-15] instead of returning infinity", () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 10);
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1e-15), 1);
    expect(Number.isFinite(logLoss([0], [1]))).toBe(true);
    expect(logLoss([1, 0], [1, 0])).toBeLessThan(1e-14);
  });

  it("empty -> NaN", () => {
    expect(logLoss([], [])).toBeNaN();
  });
});

describe("calibration", () => {
  it("bins and ECE by hand", () => {
    // 10 bins: 0.05 -> bin 0 (y 0); 0.15, 0.12 -> bin 1 (y 1, 0); 0.85 -> bin 8 (y 1); 0.95 -> bin 9 (y 1)
    // ECE = (1 |0 - 0.05| + 2 |0.5 - 0.135| + 1 |1 - 0.85| + 1 |1 - 0.95|) / 5 = 0.98 / 5
    const { bins, ece } = calibration([0, 1, 0, 1, 1], [0.05, 0.15, 0.12, 0.85, 0.95]);
    expect(bins).toHaveLength(10);
    expect(bins.map((b) => b.count)).toEqual([1, 2, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(bins[1]!.meanPredicted).toBeCloseTo(0.135, 15);
    expect(bins[1]!.observedPositive).toBe(0.5);
    expect(bins[1]!.lo).toBe(0.1);
    expect(bins[1]!.hi).toBe(0.2);
    expect(bins[3]!.meanPredicted).toBeNaN();
    expect(ece).toBeCloseTo(0.196, 14);
  });

  it("p = 1 lands in the last bin, p = 0.5 in the upper half", () => {
    const { bins } = calibration([1, 1], [1, 0.5], 4);
    expect(bins.map((b) => b.count)).toEqual([0, 0, 1, 1]);
  });

  it("perfectly calibrated bins -> ECE 0", () => {
    const { ece } = calibration([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]);
    expect(ece).toBe(0);
  });
});
