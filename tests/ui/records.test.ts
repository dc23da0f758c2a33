import { describe, expect, it } from "vitest";
import type { EpochRecord } from "../../src/core/train.ts";
import {
  bestValidationEpoch,
  epochMetricRows,
  explainChoice,
  parseEpochList,
  parseModelInfo,
  parseSweepRecords,
  rankSweepRuns,
  RecordsError,
  testMetricsAt,
  type SweepRecords,
} from "../../src/ui/records.ts";

const m = (acc: number, loss = 1 - acc) => ({ loss, accuracy: acc, precision: acc, recall: acc, f1: acc });

/** A history whose validation accuracy follows `val` and test accuracy is val - 0.01. */
function history(val: number[], losses?: number[]): EpochRecord[] {
  return val.map((v, i) => ({
    epoch: i + 1,
    lr: 0.1,
    trainLoss: 0.7 - i * 0.01,
    validation: m(v, losses?.[i]),
    test: m(v - 0.01),
    trainSeconds: 1,
    seconds: 1.5,
  }));
}

function sweep(): SweepRecords {
  return {
    kind: "moviesentiments-sweep",
    version: 1,
    createdAt: "2025-01-01T00:00:00Z",
    command: "moviesentiments sweep --epochs 4",
    features: { ngramMax: 3, hashBits: 22, weighting: "nb", nbAlpha: 1, sublinearTf: false, normalize: true },
    validationFraction: 0.2,
    seed: 42,
    runs: [
      { lr: 0.1, l2: 1e-2, batchSize: 32, epochs: 4, backend: { kind: "cpu", deviceName: "cpu" }, history: history([0.8, 0.82, 0.83, 0.83]) },
      { lr: 0.1, l2: 1e-3, batchSize: 32, epochs: 4, backend: { kind: "cpu", deviceName: "cpu" }, history: history([0.85, 0.88, 0.9, 0.89]) },
      { lr: 0.01, l2: 1e-2, batchSize: 32, epochs: 4, backend: { kind: "cpu", deviceName: "cpu" }, history: history([0.6, 0.7, 0.75, 0.78]) },
      { lr: 0.01, l2: 1e-3, batchSize: 32, epochs: 4, backend: { kind: "cpu", deviceName: "cpu" }, history: history([0.62, 0.72, 0.77, 0.8]) },
    ],
  };
}

function modelJson(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: "moviesentiments-model",
    formatVersion: 1,
    createdAt: "2025-01-02T00:00:00Z",
    features: { ngramMax: 3, hashBits: 22, weighting: "nb", nbAlpha: 1, sublinearTf: false, normalize: true },
    training: {
      config: { lr: 8, lrDecay: 1, l2: 1e-7, epochs: 10, batchSize: 1, seed: 42, patience: 3 },
      validationFraction: 0.2,
      bestEpoch: 3,
      stoppedEarly: true,
      refit: true,
      backend: { kind: "cpu", deviceName: "CPU" },
      nTrain: 25000,
      seconds: 50,
    },
    metrics: { test: { n: 4, accuracy: 0.75, precision: 1, recall: 0.5, f1: 2 / 3, roc_auc: 0.9, log_loss: 0.3, confusion: { tp: 1, fp: 0, tn: 2, fn: 1 } } },
    history: { selection: history([0.91, 0.915, 0.92, 0.918, 0.917, 0.916]), final: history([0.9, 0.91, 0.915]) },
    ...overrides,
  });
}

describe("parsing records", () => {
  it("reads model.json's facts", () => {
    const info = parseModelInfo(modelJson());
    expect(info.training.bestEpoch).toBe(3);
    expect(info.metrics.test?.accuracy).toBe(0.75);
    expect(info.history.selection).toHaveLength(6);
  });

  it.each([
    ["not json", /not valid JSON/],
    [JSON.stringify({ format: "other" }), /not a MovieSentiments model/],
    [modelJson({ training: null }), /no training settings/],
  ])("rejects a bad model.json (%s)", (text, message) => {
    expect(() => parseModelInfo(text)).toThrow(RecordsError);
    expect(() => parseModelInfo(text)).toThrow(message);
  });

  it("tolerates a model.json without history or metrics", () => {
    const info = parseModelInfo(modelJson({ history: undefined, metrics: undefined }));
    expect(info.history).toEqual({ selection: [], final: [] });
    expect(info.metrics).toEqual({});
  });

  it("reads sweep records and rejects malformed runs", () => {
    expect(parseSweepRecords(JSON.stringify(sweep())).runs).toHaveLength(4);
    expect(() => parseSweepRecords(JSON.stringify({ kind: "moviesentiments-sweep", runs: [{ lr: 1 }] }))).toThrow(/run 1 is malformed/);
    expect(() => parseSweepRecords("{}")).toThrow(/not a MovieSentiments sweep/);
  });
});

describe("derived facts", () => {
  it("picks the best validation epoch as the training loop does: accuracy, then loss, then earliest", () => {
    expect(bestValidationEpoch(history([0.8, 0.9, 0.85]))?.epoch).toBe(2);
    expect(bestValidationEpoch(history([0.9, 0.9, 0.9], [0.3, 0.2, 0.2]))?.epoch).toBe(2);
    expect(bestValidationEpoch([])).toBeNull();
  });

  it("ranks the sweep runs by their best validation accuracy", () => {
    const ranked = rankSweepRuns(sweep());
    expect(ranked.map((r) => [r.run.lr, r.run.l2, r.best.epoch])).toEqual([
      [0.1, 1e-3, 3],
      [0.1, 1e-2, 3],
      [0.01, 1e-3, 4],
      [0.01, 1e-2, 4],
    ]);
  });

  it("explains the choice from the records alone", () => {
    const lines = explainChoice(sweep(), parseModelInfo(modelJson()));
    const text = lines.join("\n");
    expect(text).toContain("lr 0.1, L2 0.001 reached the highest validation accuracy, 90.00% at epoch 3 of 4.");
    expect(text).toContain("The larger learning rate did better: best validation accuracy 90.00% at lr 0.1 against 80.00% at lr 0.01.");
    expect(text).toContain("The weaker L2 penalty did better: 90.00% with L2 0.001 against 83.00% with L2 0.01.");
    expect(text).toContain("learning rate 8, decaying as 8 / (1 + 1 × (epoch − 1)), L2 1e-7 and batch size 1, for at most 10 epochs.");
    expect(text).toContain("it peaked at epoch 3 with 92.00% accuracy, above the best sweep run's 90.00%; early stopping ended the run after 6 epochs.");
    expect(text).toContain("retrained on all 25,000 train/ reviews for 3 epochs");
  });

  it("says how a model without a validation split got its epoch count, and that it averages its seeds", () => {
    const info = parseModelInfo(modelJson({ history: { selection: [], final: history([0.9, 0.91, 0.915]) } }));
    Object.assign(info.training, { validationFraction: 0, refit: false, stoppedEarly: false, bestEpoch: 10, seeds: 2 });
    const text = explainChoice(null, info).join("\n");
    expect(text).toContain("and batch size 1, for 10 epochs.");
    expect(text).toContain(
      "It was trained on all 25,000 train/ reviews for a fixed 10 epochs, with no validation split (the shipped recipe's count was chosen by cross-validation on train/; see the README), as the average of 2 runs with different seeds;",
    );
    expect(text).not.toContain("peaked");
    expect(text).not.toContain("retrained");
  });

  it("mentions averaging when the model used it", () => {
    const info = parseModelInfo(modelJson());
    info.training.config.average = true;
    expect(explainChoice(null, info).join(" ")).toContain("for at most 10 epochs, using each epoch's average of the weights it visited");
  });

  it("says a run was still improving when its best epoch is its last", () => {
    const s = sweep();
    s.runs = [s.runs[3]!];
    expect(explainChoice(s, null)[0]).toContain("at epoch 4 of 4 (still improving when the run ended)");
  });

  it("has nothing to say without records", () => {
    expect(explainChoice(null, null)).toEqual([]);
  });
});

describe("metrics at chosen epochs", () => {
  it.each([
    ["10, 25, 50, 100, 200", [10, 25, 50, 100, 200]],
    ["200 10;10 ,25", [10, 25, 200]],
    ["  7 ", [7]],
  ])("parses %j", (text, epochs) => expect(parseEpochList(text)).toEqual({ epochs, error: null }));

  it.each([
    ["", /at least one/],
    ["10, x", /"x"/],
    ["0", /"0"/],
    ["1.5", /"1.5"/],
    ["-3", /"-3"/],
  ])("rejects %j", (text, message) => {
    const r = parseEpochList(text);
    expect(r.epochs).toEqual([]);
    expect(r.error).toMatch(message);
  });

  it("reads test metrics where the run reached the epoch and null elsewhere", () => {
    const h = history([0.8, 0.9]);
    expect(testMetricsAt(h, [1, 2, 3]).map((x) => x?.accuracy ?? null)).toEqual([0.79, 0.89, null]);
  });

  it("gives one row per run and epoch, larger learning rates first", () => {
    const rows = epochMetricRows(
      [
        { name: "slow", lr: 0.01, l2: 1e-3, history: history([0.5, 0.6]) },
        { name: "fast", lr: 0.1, l2: 1e-3, history: history([0.7]) },
      ],
      [1, 2],
    );
    expect(rows.map((r) => [r.source, r.epoch, r.test?.accuracy ?? null])).toEqual([
      ["fast", 1, 0.69],
      ["fast", 2, null],
      ["slow", 1, 0.49],
      ["slow", 2, 0.59],
    ]);
  });
});
