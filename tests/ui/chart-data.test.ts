import { describe, expect, it } from "vitest";
import type { EpochRecord } from "../../src/core/train.ts";
import { alignSeries, hasPoints, historyChart, historyPoints } from "../../src/ui/chart-data.ts";

const rec = (epoch: number, trainLoss: number, val?: number, test?: number): EpochRecord => ({
  epoch,
  lr: 0.1,
  trainLoss,
  trainSeconds: 0.1,
  seconds: 0.2,
  ...(val === undefined ? {} : { validation: { loss: 1 - val, accuracy: val, precision: val, recall: val, f1: val } }),
  ...(test === undefined ? {} : { test: { loss: 1 - test, accuracy: test, precision: test, recall: test, f1: test } }),
});

describe("chart data", () => {
  it("aligns series of different lengths on the union of their x values", () => {
    expect(
      alignSeries([
        [
          { x: 1, y: 10 },
          { x: 2, y: 20 },
        ],
        [
          { x: 2, y: 5 },
          { x: 4, y: NaN },
          { x: 3, y: 6 },
        ],
      ]),
    ).toEqual([
      [1, 2, 3, 4],
      [10, 20, null, null],
      [null, 5, 6, null],
    ]);
  });

  it("reads per-epoch metrics, skipping epochs without them", () => {
    const h = [rec(1, 0.6, 0.8), rec(2, 0.4), rec(3, 0.3, 0.9, 0.85)];
    expect(historyPoints(h, "trainLoss")).toEqual([
      { x: 1, y: 0.6 },
      { x: 2, y: 0.4 },
      { x: 3, y: 0.3 },
    ]);
    expect(historyPoints(h, "validationAccuracy")).toEqual([
      { x: 1, y: 0.8 },
      { x: 3, y: 0.9 },
    ]);
    expect(historyPoints(h, "testAccuracy")).toEqual([{ x: 3, y: 0.85 }]);
  });

  it("builds a chart's columns and styles together", () => {
    const c = historyChart([
      { history: [rec(1, 0.5), rec(2, 0.25)], metric: "trainLoss", style: { label: "a", color: "#000" } },
      { history: [rec(1, 0.7)], metric: "trainLoss", style: { label: "b", color: "#111" } },
    ]);
    expect(c.data).toEqual([
      [1, 2],
      [0.5, 0.25],
      [0.7, null],
    ]);
    expect(c.series.map((s) => s.label)).toEqual(["a", "b"]);
    expect(hasPoints(c.data)).toBe(true);
    expect(hasPoints(alignSeries([[]]))).toBe(false);
  });
});
