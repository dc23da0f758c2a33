// The training loop (src/core/train.ts): settings refused before any work, early
// stopping, divergence, seeds, user stop, best-epoch selection on validation only.

import { describe, expect, it } from "vitest";
import {
  BatchSchedule,
  DEFAULT_TRAIN,
  DivergedError,
  InvalidSettingsError,
  learningRateAt,
  trainLoop,
  validateTrainConfig,
  type EpochRecord,
  type TrainConfig,
} from "../src/core/train.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import type { Csr } from "../src/core/types.ts";
import { FakeBackend, tinyProblem } from "./helpers/tiny-data.ts";

const base: TrainConfig = { lr: 0.5, lrDecay: 0, l2: 0.001, epochs: 5, batchSize: 10, seed: 1, patience: 0 };
const p = tinyProblem({ nRows: 120, nCols: 30, density: 0.25, seed: 3, weightScale: 2 });
const train = { name: "train", x: p.x, y: p.y };
const flipped = { name: "validation", x: p.x, y: p.y.map((v) => 1 - v) };
const validation = { name: "validation", x: p.x, y: p.y };

describe("invalid settings are refused before the backend is touched", () => {
  const cases: [string, Partial<TrainConfig>, RegExp][] = [
    ["lr = 0", { lr: 0 }, /learning rate/],
    ["lr < 0", { lr: -0.1 }, /learning rate/],
    ["lr NaN", { lr: NaN }, /learning rate/],
    ["lr infinite", { lr: Infinity }, /learning rate/],
    ["epochs = 0", { epochs: 0 }, /epochs/],
    ["epochs fractional", { epochs: 2.5 }, /epochs/],
    ["negative L2", { l2: -1e-4 }, /L2/],
    ["L2 NaN", { l2: NaN }, /L2/],
    ["lr x L2 = 1", { lr: 2, l2: 0.5 }, /learning rate x L2/],
    ["lr x L2 > 1", { lr: 10, l2: 1 }, /learning rate x L2/],
    ["batch size fractional", { batchSize: 1.5 }, /batch size/],
    ["batch size 0", { batchSize: 0 }, /batch size/],
    ["negative lr decay", { lrDecay: -1 }, /decay/],
    ["negative patience", { patience: -1 }, /patience/],
    ["fractional seed", { seed: 0.5 }, /seed/],
  ];
  it.each(cases)("%s", async (_name, change, message) => {
    const backend = new FakeBackend();
    const config = { ...base, ...change };
    await expect(trainLoop(backend, { train }, config)).rejects.toThrow(InvalidSettingsError);
    await expect(trainLoop(backend, { train }, config)).rejects.toThrow(message);
    expect(() => validateTrainConfig(config)).toThrow(InvalidSettingsError);
    expect(backend.calls).toEqual([]); // load was never called
  });

  it("an empty training set is refused before load", async () => {
    const backend = new FakeBackend();
    const empty: Csr = { nRows: 0, nCols: 4, rowPtr: new Uint32Array(1), colIdx: new Uint32Array(0), values: new Float32Array(0) };
    await expect(trainLoop(backend, { train: { name: "train", x: empty, y: new Uint8Array(0) } }, base)).rejects.toThrow(InvalidSettingsError);
    expect(backend.calls).toEqual([]);
  });

  it("the defaults and edge-valid settings are accepted", () => {
    expect(() => validateTrainConfig(DEFAULT_TRAIN)).not.toThrow();
    expect(() => validateTrainConfig({ ...base, l2: 0, lrDecay: 0, patience: 0, epochs: 1, batchSize: 1 })).not.toThrow();
    expect(() => validateTrainConfig({ ...base, lr: 1.99, l2: 0.5 })).not.toThrow();
  });
});

describe("early stopping and best-epoch selection", () => {
  it("fires on real training when validation gets worse (validation labels flipped, patience 2)", async () => {
    const res = await trainLoop(new CpuBackend(), { train, validation: flipped }, { ...base, epochs: 30, patience: 2 });
    expect(res.stoppedEarly).toBe(true);
    expect(res.history.length).toBeLessThan(30);
    expect(res.history.length).toBe(res.bestEpoch + 2);
    // the validation score really did get worse after the best epoch
    const best = res.history[res.bestEpoch - 1]!.validation!;
    for (const r of res.history.slice(res.bestEpoch)) {
      expect(r.validation!.accuracy < best.accuracy || (r.validation!.accuracy === best.accuracy && r.validation!.loss >= best.loss)).toBe(true);
    }
  });

  it("does not fire when validation keeps improving (same labels)", async () => {
    const res = await trainLoop(new CpuBackend(), { train, validation }, { ...base, lr: 0.05, epochs: 6, patience: 2 });
    expect(res.stoppedEarly).toBe(false);
    expect(res.history).toHaveLength(6);
  });

  it("returns the best validation epoch's weights; stops after `patience` epochs without improvement", async () => {
    const backend = new FakeBackend({ accuracy: { validation: [0.6, 0.7, 0.65, 0.64, 0.9] } });
    const res = await trainLoop(backend, { train, validation }, { ...base, epochs: 5, patience: 2 });
    expect(res.history.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(res.stoppedEarly).toBe(true);
    expect(res.bestEpoch).toBe(2);
    expect(Array.from(res.weights)).toEqual([2, 2, 2, 2]);
    expect(res.bias).toBeCloseTo(0.2, 12);
    expect(backend.calls[0]).toBe("load");
  });

  it("breaks accuracy ties by validation loss", async () => {
    const backend = new FakeBackend({
      accuracy: { validation: [0.7, 0.7, 0.7, 0.7] },
      loss: { validation: [0.5, 0.4, 0.45, 0.41] },
    });
    const res = await trainLoop(backend, { train, validation }, { ...base, epochs: 4, patience: 0 });
    expect(res.bestEpoch).toBe(2);
    expect(Array.from(res.weights)).toEqual([2, 2, 2, 2]);
  });

  it("patience 0 never stops early, but still returns the best epoch", async () => {
    const backend = new FakeBackend({ accuracy: { validation: [0.9, 0.5, 0.5, 0.5, 0.5, 0.5] } });
    const res = await trainLoop(backend, { train, validation }, { ...base, epochs: 6, patience: 0 });
    expect(res.history).toHaveLength(6);
    expect(res.stoppedEarly).toBe(false);
    expect(res.bestEpoch).toBe(1);
    expect(Array.from(res.weights)).toEqual([1, 1, 1, 1]);
  });

  it("the test set is recorded for display but never chooses anything", async () => {
    const test = { name: "test", x: p.x, y: p.y };
    const backend = new FakeBackend({
      accuracy: { validation: [0.8, 0.6, 0.6, 0.6], test: [0.1, 0.99, 0.99, 0.99] },
    });
    const res = await trainLoop(backend, { train, validation, test }, { ...base, epochs: 4, patience: 3 });
    expect(res.bestEpoch).toBe(1);
    expect(res.history).toHaveLength(4);
    expect(res.history[1]!.test!.accuracy).toBeCloseTo(0.99, 12);
    expect(backend.calls.filter((c) => c === "evaluate(test)")).toHaveLength(4);
  });

  it("without validation the last epoch's weights are returned", async () => {
    const res = await trainLoop(new FakeBackend(), { train }, { ...base, epochs: 3 });
    expect(res.bestEpoch).toBe(3);
    expect(Array.from(res.weights)).toEqual([3, 3, 3, 3]);
    expect(res.stoppedEarly).toBe(false);
  });
});

describe("divergence", () => {
  it.each([NaN, Infinity, -Infinity])("a loss of %d stops training with DivergedError and a clear message", async (bad) => {
    const backend = new FakeBackend({ losses: [0.6, 0.5, bad, 0.1] });
    const records: EpochRecord[] = [];
    const err = await trainLoop(backend, { train, validation }, { ...base, epochs: 4 }, { onEpoch: (r) => records.push(r) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergedError);
    const message = (err as Error).message;
    expect(message).toMatch(/diverged at epoch 3/);
    expect(message).toContain(String(bad));
    expect(message).toMatch(/smaller learning rate/);
    expect(records).toHaveLength(2);
    expect(backend.calls.filter((c) => c.startsWith("trainEpoch"))).toHaveLength(3);
  });

  it("a huge learning rate on unnormalized features really diverges in the CPU backend", async () => {
    const big = tinyProblem({ nRows: 100, nCols: 10, density: 0.5, seed: 8, valueScale: 1e18 });
    const err = await trainLoop(new CpuBackend(), { train: { name: "train", x: big.x, y: big.y } }, { ...base, lr: 1e25, l2: 0, epochs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergedError);
    expect((err as Error).message).toMatch(/training diverged at epoch \d+: the loss became (NaN|Infinity)/);
  });
});

describe("seeds, user stop, records", () => {
  it("the same seed gives identical weights; another seed different ones", async () => {
    const run = (seed: number) => trainLoop(new CpuBackend(), { train, validation }, { ...base, seed, epochs: 3 });
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(b.weights).toEqual(a.weights);
    expect(b.bias).toBe(a.bias);
    expect(b.history.map((r) => r.trainLoss)).toEqual(a.history.map((r) => r.trainLoss));
    expect(c.weights).not.toEqual(a.weights);
  });

  it("shouldStop is respected between epochs and the best weights so far are kept", async () => {
    let epochsSeen = 0;
    const backend = new FakeBackend({ accuracy: { validation: [0.7, 0.6, 0.9, 0.9] } });
    const res = await trainLoop(
      backend,
      { train, validation },
      { ...base, epochs: 10 },
      { onEpoch: () => epochsSeen++, shouldStop: () => epochsSeen >= 2 },
    );
    expect(res.stoppedByUser).toBe(true);
    expect(res.stoppedEarly).toBe(false);
    expect(res.history).toHaveLength(2);
    expect(backend.calls.filter((c) => c.startsWith("trainEpoch"))).toHaveLength(2);
    expect(res.bestEpoch).toBe(1);
    expect(Array.from(res.weights)).toEqual([1, 1, 1, 1]);
  });

  it("shouldStop before the first epoch trains nothing", async () => {
    const backend = new FakeBackend();
    const res = await trainLoop(backend, { train }, base, { shouldStop: () => true });
    expect(res.stoppedByUser).toBe(true);
    expect(res.history).toEqual([]);
    expect(backend.calls.some((c) => c.startsWith("trainEpoch"))).toBe(false);
  });

  it("records each epoch: number, decayed lr, train loss, metrics, times", async () => {
    let t = 0;
    const records: EpochRecord[] = [];
    const backend = new FakeBackend({ losses: [0.7, 0.6, 0.5], accuracy: { validation: [0.6, 0.7, 0.8] } });
    const config = { ...base, lr: 2, lrDecay: 0.5, epochs: 3 };
    const res = await trainLoop(backend, { train, validation }, config, { onEpoch: (r) => records.push(r), now: () => (t += 250) });
    expect(records).toEqual(res.history);
    expect(res.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(res.history.map((r) => r.lr)).toEqual([2, 2 / 1.5, 1]);
    expect(res.history.map((r) => learningRateAt(config, r.epoch))).toEqual([2, 2 / 1.5, 1]);
    expect(res.history.map((r) => r.trainLoss)).toEqual([0.7, 0.6, 0.5]);
    expect(res.history[2]!.validation).toMatchObject({ accuracy: 0.8, loss: expect.closeTo(0.2, 12) });
    expect(res.history[0]!.trainSeconds).toBeCloseTo(0.25, 12);
    expect(res.history[0]!.seconds).toBeGreaterThan(res.history[0]!.trainSeconds);
    expect(res.backend).toEqual({ kind: "cpu", deviceName: "fake" });
    // batch count handed to the backend: ceil(120 / 10)
    expect(backend.calls.filter((c) => c.startsWith("trainEpoch"))).toEqual(["trainEpoch(12)", "trainEpoch(12)", "trainEpoch(12)"]);
  });

  it("the backend gets the training rows in one seeded order, labels kept with their rows", async () => {
    const backend = new FakeBackend();
    await trainLoop(backend, { train }, { ...base, epochs: 1, seed: 5 });
    const schedule = new BatchSchedule(p.x.nRows, base.batchSize, 5);
    const got = backend.data!.train;
    expect(got.x.nRows).toBe(p.x.nRows);
    for (let k = 0; k < got.x.nRows; k++) {
      const i = schedule.rowOrder[k]!;
      expect(got.y[k]).toBe(p.y[i]);
      expect(Array.from(got.x.colIdx.subarray(got.x.rowPtr[k], got.x.rowPtr[k + 1]))).toEqual(
        Array.from(p.x.colIdx.subarray(p.x.rowPtr[i], p.x.rowPtr[i + 1])),
      );
    }
    expect(backend.data!.batchSize).toBe(base.batchSize);
  });

  it("a backend that takes a row order gets the rows as they are, with the run's order", async () => {
    const backend = Object.assign(new FakeBackend(), { takesRowOrder: true });
    await trainLoop(backend, { train }, { ...base, epochs: 1, seed: 5 });
    const schedule = new BatchSchedule(p.x.nRows, base.batchSize, 5);
    expect(backend.data!.train).toBe(train);
    expect(Array.from(backend.data!.rowOrder!)).toEqual(Array.from(schedule.rowOrder));
    const plain = new FakeBackend();
    await trainLoop(plain, { train }, { ...base, epochs: 1, seed: 5 });
    expect(plain.data!.rowOrder).toBeUndefined();
  });

  it("BatchSchedule: rows and batches are seeded permutations", () => {
    const a = new BatchSchedule(23, 5, 9);
    const b = new BatchSchedule(23, 5, 9);
    expect(a.nBatches).toBe(5);
    expect([...a.rowOrder].sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(a.rowOrder).toEqual(b.rowOrder);
    const e1 = a.nextEpoch();
    expect(e1).toEqual(b.nextEpoch());
    expect([...e1].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(new BatchSchedule(23, 5, 10).rowOrder).not.toEqual(a.rowOrder);
  });
});
