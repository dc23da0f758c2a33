// Feature dropout: the mask (a hash of epoch seed, row and column), the plain statement
// of a masked step (plainStep with x~), and the CPU backend's on-the-fly masking, with
// and without iterate averaging, against it. The GPU kernels are checked against the
// CPU backend in tests/gpu.
import { describe, expect, it } from "vitest";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import {
  dropoutHash,
  dropoutKeeps,
  dropoutRows,
  dropoutScale,
  dropoutThreshold,
  epochDropoutSeed,
  plainStep,
} from "../src/cpu-reference/logistic.ts";
import { selectRows } from "../src/core/features.ts";
import { BatchSchedule, DEFAULT_TRAIN, InvalidSettingsError, validateTrainConfig } from "../src/core/train.ts";
import { tinyProblem } from "./helpers/tiny-data.ts";

describe("the dropout mask", () => {
  it("keeps about 1 - p of the features, the same ones every time for the same (seed, row, column)", () => {
    for (const p of [0.1, 0.5, 0.8]) {
      const threshold = dropoutThreshold(p);
      let kept = 0;
      const n = 200 * 300;
      for (let row = 0; row < 200; row++) {
        for (let col = 0; col < 300; col++) {
          const k = dropoutKeeps(1234, row, col, threshold);
          expect(dropoutKeeps(1234, row, col, threshold)).toBe(k);
          if (k) kept++;
        }
      }
      // binomial: 4 standard deviations of n (1 - p) p
      expect(Math.abs(kept - n * (1 - p))).toBeLessThan(4 * Math.sqrt(n * p * (1 - p)));
    }
  });

  it("differs between epochs, rows and columns (no two neighbouring masks alike)", () => {
    const threshold = dropoutThreshold(0.5);
    const mask = (seed: number, rowShift: number, colShift: number) =>
      Array.from({ length: 4000 }, (_, k) => dropoutKeeps(seed, (k % 40) + rowShift, Math.floor(k / 40) + colShift, threshold));
    const base = mask(epochDropoutSeed(42, 1), 0, 0);
    for (const other of [mask(epochDropoutSeed(42, 2), 0, 0), mask(epochDropoutSeed(43, 1), 0, 0), mask(epochDropoutSeed(42, 1), 1, 0), mask(epochDropoutSeed(42, 1), 0, 1)]) {
      const agree = base.filter((b, k) => b === other[k]).length;
      expect(agree / base.length).toBeGreaterThan(0.45);
      expect(agree / base.length).toBeLessThan(0.55);
    }
  });

  it("hashes with 32-bit integer steps only (values a WGSL u32 reproduces)", () => {
    expect(Number.isInteger(dropoutHash(0xffffffff, 0xffffffff, 0xffffffff))).toBe(true);
    expect(dropoutHash(1, 2, 3)).toBeGreaterThanOrEqual(0);
    expect(dropoutHash(1, 2, 3)).toBeLessThan(2 ** 32);
    expect(dropoutThreshold(0)).toBe(0);
    expect(dropoutScale(0.5)).toBe(2);
  });

  it("dropoutRows zeroes dropped values, scales kept ones by 1/(1-p), and leaves other rows alone", () => {
    const p = tinyProblem({ nRows: 30, nCols: 50, density: 0.3, seed: 1 });
    const seed = epochDropoutSeed(3, 1);
    const x = dropoutRows(p.x, 10, 20, seed, 0.4);
    const threshold = dropoutThreshold(0.4);
    let zeroed = 0;
    for (let i = 0; i < p.x.nRows; i++) {
      for (let k = p.x.rowPtr[i]!; k < p.x.rowPtr[i + 1]!; k++) {
        const inBatch = i >= 10 && i < 20;
        const keep = dropoutKeeps(seed, i, p.x.colIdx[k]!, threshold);
        const want = !inBatch ? p.x.values[k]! : keep ? Math.fround(p.x.values[k]! * dropoutScale(0.4)) : 0;
        expect(x.values[k]).toBe(want);
        if (inBatch && !keep) zeroed++;
      }
    }
    expect(zeroed).toBeGreaterThan(0);
  });
});

describe("CpuBackend with dropout against plainStep on x~", () => {
  const p = tinyProblem({ nRows: 150, nCols: 40, density: 0.25, seed: 8 });
  for (const { batchSize, lr, l2, average } of [
    { batchSize: 1, lr: 0.3, l2: 0, average: false },
    { batchSize: 6, lr: 0.5, l2: 0.2, average: false }, // folds the scale
    { batchSize: 1, lr: 0.5, l2: 1e-3, average: true },
    { batchSize: 4, lr: 0.5, l2: 0.3, average: true },
  ]) {
    it(`batch ${batchSize}, lr ${lr}, L2 ${l2}${average ? ", averaged" : ""}`, async () => {
      const rate = 0.5;
      const seed = 17;
      const schedule = new BatchSchedule(p.x.nRows, batchSize, 9);
      const x = selectRows(p.x, schedule.rowOrder);
      const y = Uint8Array.from(schedule.rowOrder, (i) => p.y[i]!);
      const backend = new CpuBackend();
      await backend.load({ train: { name: "train", x, y }, batchSize, evalSets: [], average, dropout: { rate, seed } });
      const plain = new CpuBackend();
      await plain.load({ train: { name: "train", x, y }, batchSize, evalSets: [], average });
      const state = { w: new Float32Array(x.nCols), b: 0 };
      let maxVsPlain = 0;
      for (let epoch = 1; epoch <= 3; epoch++) {
        const order = schedule.nextEpoch();
        const backendLoss = await backend.trainEpoch(order, lr, l2);
        await plain.trainEpoch(order, lr, l2);
        const mask = { epochSeed: epochDropoutSeed(seed, epoch), rate };
        const sum = new Float64Array(x.nCols);
        let bSum = 0;
        let loss = 0;
        for (const k of order) {
          loss += plainStep(x, y, k * batchSize, Math.min((k + 1) * batchSize, x.nRows), state, lr, l2, mask);
          for (let j = 0; j < sum.length; j++) sum[j]! += state.w[j]!;
          bSum += state.b;
        }
        expect(Math.abs(backendLoss - loss / order.length)).toBeLessThan(1e-5 * (1 + backendLoss));
        const got = await backend.readWeights();
        const want = average ? Array.from(sum, (s) => s / order.length) : Array.from(state.w);
        const wantB = average ? bSum / order.length : state.b;
        for (let j = 0; j < want.length; j++) expect(Math.abs(got.weights[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want[j]!));
        expect(got.bias).toBeCloseTo(wantB, 5);
        const other = await plain.readWeights();
        for (let j = 0; j < want.length; j++) maxVsPlain = Math.max(maxVsPlain, Math.abs(other.weights[j]! - got.weights[j]!));
      }
      // the mask changed the run (so the comparison above tested the masked path)
      expect(maxVsPlain).toBeGreaterThan(1e-3);
    });
  }
});

describe("CpuBackend's mask at the threshold", () => {
  // A hash whose top 24 bits equal the threshold is kept (dropoutKeeps: not below it).
  // The backend tests that with a sign bit, not a comparison; an off-by-one there drops
  // such entries, which the random problems above almost never contain (2^-24 a draw).
  it("keeps an entry whose hash equals the threshold, as dropoutKeeps does", async () => {
    const seed = 5;
    const cols = [3, 11, 20, 37];
    const values = [0.5, -1.25, 2, 0.75];
    for (let at = 0; at < cols.length; at++) {
      const h = dropoutHash(epochDropoutSeed(seed, 1), 0, cols[at]!) >>> 8;
      const rate = h / 2 ** 24; // so that dropoutThreshold(rate) is h itself
      expect(dropoutThreshold(rate)).toBe(h);
      expect(dropoutKeeps(epochDropoutSeed(seed, 1), 0, cols[at]!, h)).toBe(true);
      const x = { nRows: 1, nCols: 40, rowPtr: Uint32Array.of(0, cols.length), colIdx: Uint32Array.from(cols), values: Float32Array.from(values) };
      const y = Uint8Array.of(1);
      for (const average of [false, true]) {
        const backend = new CpuBackend();
        await backend.load({ train: { name: "train", x, y }, batchSize: 1, evalSets: [], average, dropout: { rate, seed } });
        await backend.trainEpoch(Uint32Array.of(0), 0.5, 0);
        const state = { w: new Float32Array(x.nCols), b: 0 };
        plainStep(x, y, 0, 1, state, 0.5, 0, { epochSeed: epochDropoutSeed(seed, 1), rate });
        const got = await backend.readWeights();
        expect(state.w[cols[at]!]).not.toBe(0);
        for (let j = 0; j < x.nCols; j++) expect(got.weights[j]).toBeCloseTo(state.w[j]!, 6);
      }
    }
  });
});

describe("dropout settings", () => {
  it("the shipped configuration uses dropout, and the rate is checked before any work", () => {
    expect(DEFAULT_TRAIN.dropout).toBeGreaterThan(0);
    for (const bad of [-0.1, 0.96, 1, Number.NaN]) {
      expect(() => validateTrainConfig({ ...DEFAULT_TRAIN, dropout: bad })).toThrow(InvalidSettingsError);
    }
    expect(() => validateTrainConfig({ ...DEFAULT_TRAIN, dropout: 0 })).not.toThrow();
  });
});

describe("CpuBackend given a row order (BackendData.rowOrder)", () => {
  const p = tinyProblem({ nRows: 90, nCols: 30, density: 0.3, seed: 21 });
  for (const { batchSize, average, dropout } of [
    { batchSize: 1, average: true, dropout: 0.5 },
    { batchSize: 4, average: false, dropout: 0.5 },
    { batchSize: 3, average: true, dropout: 0 },
  ]) {
    it(`trains exactly as on the rows selected in that order (batch ${batchSize}${average ? ", averaged" : ""}, dropout ${dropout})`, async () => {
      const schedule = new BatchSchedule(p.x.nRows, batchSize, 13);
      const order = schedule.rowOrder;
      const selected = new CpuBackend();
      await selected.load({ train: { name: "train", x: selectRows(p.x, order), y: Uint8Array.from(order, (i) => p.y[i]!) }, batchSize, evalSets: [], average, dropout: { rate: dropout, seed: 3 } });
      const ordered = new CpuBackend();
      await ordered.load({ train: { name: "train", x: p.x, y: p.y }, rowOrder: order, batchSize, evalSets: [], average, dropout: { rate: dropout, seed: 3 } });
      for (let e = 0; e < 3; e++) {
        const batches = schedule.nextEpoch();
        expect(await ordered.trainEpoch(batches, 0.7, 1e-3)).toBe(await selected.trainEpoch(batches, 0.7, 1e-3));
        expect(await ordered.readWeights()).toEqual(await selected.readWeights());
        expect(await ordered.evaluate("train")).toEqual(await selected.evaluate("train"));
        expect(Array.from(await ordered.predict("train"))).toEqual(Array.from(await selected.predict("train")));
      }
    });
  }

  it("refuses an order that is not one of the training rows", async () => {
    const train = { name: "train", x: p.x, y: p.y };
    const backend = new CpuBackend();
    await expect(backend.load({ train, rowOrder: new Uint32Array(5), batchSize: 1, evalSets: [] })).rejects.toThrow(/rowOrder has 5 rows/);
    const bad = Uint32Array.from({ length: p.x.nRows }, (_, k) => k);
    bad[7] = p.x.nRows;
    await expect(backend.load({ train, rowOrder: bad, batchSize: 1, evalSets: [] })).rejects.toThrow(/rowOrder\[7\]/);
  });
});
