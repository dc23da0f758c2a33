import { describe, expect, it } from "vitest";
import type { EpochRecord } from "../../src/core/train.ts";
import { comparisonPair, newRun, otherBackend, runChartLines, runTestHistory, sameSettings, settingsSummary, type BrowserRun } from "../../src/ui/runs.ts";
import { DEFAULT_BROWSER_SETTINGS, type BrowserTrainSettings } from "../../src/ui/train-session.ts";

const DATA = { name: "aclImdb_v1.tar.gz", compressedBytes: 1, nTrain: 25000, nTest: 25000, readSeconds: 2 };

function rec(epoch: number, withVal: boolean): EpochRecord {
  const m = { loss: 0.3, accuracy: 0.9, precision: 0.9, recall: 0.9, f1: 0.9 };
  return { epoch, lr: 1, trainLoss: 0.5, ...(withVal ? { validation: m } : {}), test: m, trainSeconds: 1, seconds: 1.2 };
}

function run(n: number, settings: Partial<BrowserTrainSettings>, status: BrowserRun["status"] = "done"): BrowserRun {
  const r = newRun(`r${n}`, n, { ...DEFAULT_BROWSER_SETTINGS, ...settings }, DATA);
  r.status = status;
  r.select = [rec(1, true), rec(2, true)];
  r.refit = [rec(1, false)];
  r.timings.epochTotal = [1.2, 1.2, 1.2];
  r.timings.epochTrain = [1, 1, 1];
  return r;
}

describe("runs", () => {
  it("summarises settings for people", () => {
    const s = { ...DEFAULT_BROWSER_SETTINGS, lr: 0.1, lrDecay: 0, l2: 1e-3, epochs: 25, batchSize: 32, average: false, dropout: 0 };
    expect(settingsSummary(s)).toBe("lr 0.1, L2 0.001, 25 epochs, batch 32, 20% validation + refit");
    expect(settingsSummary({ ...s, lrDecay: 1, average: true, validationFraction: 0 })).toBe("lr 0.1, decay 1, L2 0.001, 25 epochs, batch 32, averaged");
    expect(settingsSummary({ ...s, dropout: 0.5 })).toBe("lr 0.1, L2 0.001, 25 epochs, batch 32, dropout 0.5, 20% validation + refit");
  });

  it("draws each split of each phase, coloured by run", () => {
    const lines = runChartLines([run(1, {}), run(2, { backend: "cpu" })], "loss");
    expect(lines.map((l) => l.style.label)).toEqual([
      "Run 1 · WebGPU: train loss",
      "Run 1 · WebGPU: validation loss",
      "Run 1 · WebGPU: test loss",
      "Run 1 · WebGPU (refit): train loss",
      "Run 1 · WebGPU (refit): test loss",
      "Run 2 · CPU: train loss",
      "Run 2 · CPU: validation loss",
      "Run 2 · CPU: test loss",
      "Run 2 · CPU (refit): train loss",
      "Run 2 · CPU (refit): test loss",
    ]);
    expect(new Set(lines.slice(0, 5).map((l) => l.style.color)).size).toBe(1);
    expect(lines[0]!.style.color).not.toBe(lines[5]!.style.color);
    expect(runChartLines([run(1, {})], "accuracy").map((l) => l.metric)).toEqual(["validationAccuracy", "testAccuracy", "testAccuracy"]);
  });

  it("pairs the newest runs of the same settings on the two backends", () => {
    const a = run(1, { backend: "webgpu" });
    const b = run(2, { backend: "cpu", lr: 0.5 });
    const c = run(3, { backend: "cpu" });
    const d = run(4, { backend: "webgpu" }, "running");
    expect(sameSettings(a, c)).toBe(true);
    expect(sameSettings(a, b)).toBe(false);
    expect(comparisonPair([a, b])).toBeNull();
    const pair = comparisonPair([a, b, c, d]);
    expect(pair?.webgpu.id).toBe("r1");
    expect(pair?.cpu.id).toBe("r3");
    expect(otherBackend(a.settings)).toEqual({ ...a.settings, backend: "cpu" });
  });

  it("reads test metrics from the phase that made the model", () => {
    const r = run(1, {});
    expect(runTestHistory(r)).toBe(r.refit);
    r.refit = [];
    expect(runTestHistory(r)).toBe(r.select);
  });
});
