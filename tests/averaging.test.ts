// The CPU backend's lazy iterate averaging against a dense, step-by-step average of
// plainStep's iterates.
import { describe, expect, it } from "vitest";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { plainStep } from "../src/cpu-reference/logistic.ts";
import { BatchSchedule } from "../src/core/train.ts";
import { selectRows } from "../src/core/features.ts";
import { tinyProblem } from "./helpers/tiny-data.ts";

describe("iterate averaging", () => {
  // lr * l2 large enough that the scale folds several times during the run
  for (const { lr, l2, batchSize } of [
    { lr: 0.5, l2: 0, batchSize: 7 },
    { lr: 0.5, l2: 1e-3, batchSize: 1 },
    { lr: 0.5, l2: 0.3, batchSize: 4 },
  ]) {
    it(`matches a dense running mean (lr ${lr}, l2 ${l2}, batch ${batchSize})`, async () => {
      const p = tinyProblem({ nRows: 120, nCols: 40, density: 0.2, seed: 3 });
      const schedule = new BatchSchedule(p.x.nRows, batchSize, 9);
      const x = selectRows(p.x, schedule.rowOrder);
      const y = Uint8Array.from(schedule.rowOrder, (i) => p.y[i]!);
      const backend = new CpuBackend();
      await backend.load({ train: { name: "train", x, y }, batchSize, evalSets: [], average: true });
      const state = { w: new Float32Array(x.nCols), b: 0 };
      for (let epoch = 0; epoch < 3; epoch++) {
        const order = schedule.nextEpoch();
        await backend.trainEpoch(order, lr, l2);
        const sum = new Float64Array(x.nCols);
        let bSum = 0;
        for (const k of order) {
          plainStep(x, y, k * batchSize, Math.min((k + 1) * batchSize, x.nRows), state, lr, l2);
          for (let j = 0; j < sum.length; j++) sum[j]! += state.w[j]!;
          bSum += state.b;
        }
        const got = await backend.readWeights();
        for (let j = 0; j < sum.length; j++) {
          const want = sum[j]! / order.length;
          expect(Math.abs(got.weights[j]! - want)).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want));
        }
        expect(got.bias).toBeCloseTo(bSum / order.length, 5);
      }
    });
  }

  it("without averaging reports the last iterate", async () => {
    const p = tinyProblem({ nRows: 50, nCols: 10, density: 0.3, seed: 4 });
    const backend = new CpuBackend();
    await backend.load({ train: { name: "train", x: p.x, y: p.y }, batchSize: 5, evalSets: [] });
    const state = { w: new Float32Array(10), b: 0 };
    const order = Uint32Array.from({ length: 10 }, (_, i) => i);
    await backend.trainEpoch(order, 0.3, 0.01);
    for (const k of order) plainStep(p.x, p.y, k * 5, k * 5 + 5, state, 0.3, 0.01);
    const got = await backend.readWeights();
    for (let j = 0; j < 10; j++) expect(got.weights[j]).toBeCloseTo(state.w[j]!, 5);
  });
});

describe("CpuBackend's shared weights (a backend on a thread of its own)", () => {
  it("hands out each epoch's average in a new SharedArrayBuffer that later epochs leave alone; the same numbers", async () => {
    const p = tinyProblem({ nRows: 60, nCols: 25, density: 0.3, seed: 3 });
    const schedule = new BatchSchedule(p.x.nRows, 2, 4);
    const x = selectRows(p.x, schedule.rowOrder);
    const y = Uint8Array.from(schedule.rowOrder, (i) => p.y[i]!);
    const data = { train: { name: "train", x, y }, batchSize: 2, evalSets: [], average: true, dropout: { rate: 0.5, seed: 9 } };
    const shared = new CpuBackend({ sharedWeights: true });
    const plain = new CpuBackend();
    await shared.load(data);
    await plain.load(data);
    const reported: { weights: Float32Array; copy: number[] }[] = [];
    for (let e = 0; e < 3; e++) {
      const order = schedule.nextEpoch();
      await shared.trainEpoch(order, 0.5, 1e-3);
      await plain.trainEpoch(order, 0.5, 1e-3);
      const got = await shared.readWeights();
      expect(got.weights.buffer instanceof SharedArrayBuffer).toBe(true);
      expect(await shared.readWeights()).toEqual(got);
      expect(Array.from(got.weights)).toEqual(Array.from((await plain.readWeights()).weights));
      reported.push({ weights: got.weights, copy: Array.from(got.weights) });
    }
    expect(new Set(reported.map((r) => r.weights.buffer)).size).toBe(3);
    for (const r of reported) expect(Array.from(r.weights)).toEqual(r.copy);
  });
});

describe("CpuBackend's averaged epoch and columns no training row uses", () => {
  it("leaves their averages 0 and the others as without them, across epochs and folds of the scale", async () => {
    const p = tinyProblem({ nRows: 40, nCols: 12, density: 0.4, seed: 8 });
    const wide = { ...p.x, nCols: 20 }; // columns 12..19 unused
    const results: Float32Array[][] = [];
    // found in the rows, or told (columnsUsed: exactly, or a bound past it)
    const variants = [{ x: p.x }, { x: wide }, { x: wide, columnsUsed: 12 }, { x: wide, columnsUsed: 16 }];
    for (const { x, columnsUsed } of variants) {
      const backend = new CpuBackend();
      await backend.load({ train: { name: "train", x, y: p.y, columnsUsed }, batchSize: 2, evalSets: [], average: true });
      const schedule = new BatchSchedule(x.nRows, 2, 5);
      const epochs: Float32Array[] = [];
      // L2 0.4 at lr 0.5 shrinks the scale by 0.8 a step: it folds every 31 steps
      for (let e = 0; e < 3; e++) {
        await backend.trainEpoch(schedule.nextEpoch(), 0.5, 0.4);
        epochs.push((await backend.readWeights()).weights);
      }
      results.push(epochs);
    }
    for (let e = 0; e < 3; e++) {
      for (const r of results.slice(1)) {
        expect(Array.from(r[e]!.subarray(0, 12))).toEqual(Array.from(results[0]![e]!));
        expect(Array.from(r[e]!.subarray(12))).toEqual(new Array(8).fill(0));
      }
    }
  });
});

describe("CpuBackend's prepared records (a thread that pages them in before its data arrives)", () => {
  it("trains in the buffer it was given when it fits, once; the same numbers as without", async () => {
    const p = tinyProblem({ nRows: 50, nCols: 30, density: 0.3, seed: 12 });
    const schedule = new BatchSchedule(p.x.nRows, 1, 6);
    const x = selectRows(p.x, schedule.rowOrder);
    const y = Uint8Array.from(schedule.rowOrder, (i) => p.y[i]!);
    const data = { train: { name: "train", x, y }, batchSize: 1, evalSets: [], average: true, dropout: { rate: 0.5, seed: 2 } };
    const fits = new ArrayBuffer(16 * 30);
    const misfit = new ArrayBuffer(16 * 29);
    const backends = [new CpuBackend(), new CpuBackend({ records: fits }), new CpuBackend({ records: misfit })];
    for (const b of backends) await b.load(data);
    const orders = [schedule.nextEpoch(), schedule.nextEpoch()];
    const weights: number[][] = [];
    for (const b of backends) {
      for (const order of orders) await b.trainEpoch(order, 0.5, 1e-3);
      weights.push(Array.from((await b.readWeights()).weights));
    }
    expect(weights[1]).toEqual(weights[0]);
    expect(weights[2]).toEqual(weights[0]);
    // the fitting buffer holds the records now; the other was left alone
    expect(new Float32Array(fits).some((v) => v !== 0)).toBe(true);
    expect(new Float32Array(misfit).every((v) => v === 0)).toBe(true);
    // a second load starts from fresh zeros, not from the buffer it has trained in
    await backends[1]!.load(data);
    for (const order of orders) await backends[1]!.trainEpoch(order, 0.5, 1e-3);
    expect(Array.from((await backends[1]!.readWeights()).weights)).toEqual(weights[0]);
  });
});
