// trainAveraged: the final model as the mean of runs that differ only in their seed.
// It must be exactly the mean of what trainLoop gives for each seed, whatever order the
// runs finish their epochs in, and each epoch's record must describe that mean.
import { beforeAll, describe, expect, it } from "vitest";
import { loadImdbFromTarGz } from "../src/core/dataset.ts";
import { DEFAULT_FEATURES, fitFeatureWeights, applyFeatureWeights } from "../src/core/features.ts";
import { metricsFromSums } from "../src/core/metrics.ts";
import { DEFAULT_PIPELINE, hashReviews, trainAveraged, trainPipeline, validatePipelineOptions, type PipelineOptions } from "../src/core/pipeline.ts";
import { DEFAULT_TRAIN, trainLoop, type EpochRecord, type TrainConfig, type TrainSets } from "../src/core/train.ts";
import { mulberry32 } from "../src/core/random.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { evaluateCsr } from "../src/cpu-reference/logistic.ts";
import type { SentimentModel } from "../src/core/model-format.ts";
import type { Review } from "../src/core/types.ts";
import { makeImdbArchive, streamOf } from "./helpers/make-archive.ts";

let data: { train: Review[]; test: Review[] };
let sets: TrainSets;
const config: TrainConfig = { ...DEFAULT_TRAIN, epochs: 5, patience: 0, lr: 8, dropout: 0.5, seed: 11 };

beforeAll(async () => {
  data = await loadImdbFromTarGz(streamOf(makeImdbArchive(40, 2)));
  const f = { ...DEFAULT_FEATURES, hashBits: 10 };
  const train = hashReviews(data.train, f);
  const test = hashReviews(data.test, f);
  const fw = fitFeatureWeights(train.counts, train.labels, f);
  sets = {
    train: { name: "train", x: applyFeatureWeights(train.counts, fw, f), y: train.labels },
    test: { name: "test", x: applyFeatureWeights(test.counts, fw, f), y: test.labels },
  };
});

/** A CPU backend whose epochs end after a seeded random delay, to vary which run reports first. */
class SlowBackend extends CpuBackend {
  constructor(private readonly rng: () => number) {
    super();
  }
  override async trainEpoch(order: Uint32Array, lr: number, l2: number): Promise<number> {
    await new Promise((r) => setTimeout(r, this.rng() * 12));
    return super.trainEpoch(order, lr, l2);
  }
}

/** The runs trainLoop gives alone, seeds config.seed + k, for `epochs` epochs. */
async function separateRuns(n: number, epochs = config.epochs) {
  const out = [];
  for (let k = 0; k < n; k++) out.push(await trainLoop(new CpuBackend(), { train: sets.train }, { ...config, epochs, seed: config.seed + k }));
  return out;
}

/** Their mean, taken in float64 in run order and stored as float32. */
function meanOf(runs: { weights: Float32Array; bias: number }[]) {
  const d = runs[0]!.weights.length;
  const weights = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (const r of runs) s += r.weights[j]!;
    weights[j] = s / runs.length;
  }
  let b = 0;
  for (const r of runs) b += r.bias;
  return { weights, bias: b / runs.length };
}

const withoutTimes = (h: EpochRecord[]) => h.map(({ seconds: _s, trainSeconds: _t, ...rest }) => rest);

describe("trainAveraged", () => {
  it("returns the mean of the runs trainLoop gives with seeds s, s+1, s+2, and records the mean's scores", async () => {
    const runs = await separateRuns(3);
    const expected = meanOf(runs);
    // the runs really differ, or the mean would prove nothing
    expect(Array.from(runs[1]!.weights)).not.toEqual(Array.from(runs[0]!.weights));
    const res = await trainAveraged([new CpuBackend(), new CpuBackend(), new CpuBackend()], sets, config);
    expect(Array.from(res.weights)).toEqual(Array.from(expected.weights));
    expect(res.bias).toBe(expected.bias);
    expect(res.bestEpoch).toBe(config.epochs);
    expect(res.history.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5]);
    for (const r of res.history) {
      const losses = runs.map((run) => run.history[r.epoch - 1]!.trainLoss);
      expect(r.trainLoss).toBeCloseTo((losses[0]! + losses[1]! + losses[2]!) / 3, 12);
    }
    // the last record scores the returned (mean) weights; an earlier one, the mean after that epoch
    const last = res.history.at(-1)!;
    expect(last.test).toEqual(metricsFromSums(evaluateCsr(sets.test!.x, sets.test!.y, expected.weights, expected.bias)));
    const atTwo = meanOf(await separateRuns(3, 2));
    expect(res.history[1]!.test).toEqual(metricsFromSums(evaluateCsr(sets.test!.x, sets.test!.y, atTwo.weights, atTwo.bias)));
  });

  it("scores every epoch's mean, across scoring groups, and hands records out before their scores", async () => {
    // 10 epochs: two groups of scored epochs (8 + 2)
    const epochs = 10;
    const seen: { epoch: number; scored: boolean }[] = [];
    const scoredLater: number[][] = [];
    const res = await trainAveraged([new CpuBackend(), new CpuBackend()], sets, { ...config, epochs }, {
      onEpoch: (r) => seen.push({ epoch: r.epoch, scored: r.test !== undefined }),
      onScores: (rs) => scoredLater.push(rs.map((r) => r.epoch)),
    });
    expect(seen).toEqual(Array.from({ length: epochs }, (_, k) => ({ epoch: k + 1, scored: false })));
    expect(scoredLater).toEqual([[1, 2, 3, 4, 5, 6, 7, 8], [9, 10]]);
    for (const e of [1, 8, 9, 10]) {
      const mean = meanOf(await separateRuns(2, e));
      expect(res.history[e - 1]!.test, `epoch ${e}`).toEqual(metricsFromSums(evaluateCsr(sets.test!.x, sets.test!.y, mean.weights, mean.bias)));
    }
  });

  it("does not depend on which run finishes an epoch first", async () => {
    const inline = await trainAveraged([new CpuBackend(), new CpuBackend()], sets, config);
    for (const seed of [1, 2, 3]) {
      const rng = mulberry32(seed);
      const res = await trainAveraged([new SlowBackend(rng), new SlowBackend(rng)], sets, config);
      expect(Array.from(res.weights)).toEqual(Array.from(inline.weights));
      expect(res.bias).toBe(inline.bias);
      expect(withoutTimes(res.history)).toEqual(withoutTimes(inline.history));
    }
  });

  it("with one backend is trainLoop", async () => {
    const alone = await trainLoop(new CpuBackend(), sets, config);
    const res = await trainAveraged([new CpuBackend()], sets, config);
    expect(Array.from(res.weights)).toEqual(Array.from(alone.weights));
    expect(withoutTimes(res.history)).toEqual(withoutTimes(alone.history));
  });

  it("stops every run where beforeEpoch says no, and returns the mean at that point", async () => {
    const rng = mulberry32(4);
    const res = await trainAveraged([new SlowBackend(rng), new SlowBackend(rng)], sets, config, { beforeEpoch: (e) => e <= 3 });
    expect(res.history).toHaveLength(3);
    const expected = meanOf(await separateRuns(2, 3));
    expect(Array.from(res.weights)).toEqual(Array.from(expected.weights));
    expect(res.bias).toBe(expected.bias);
  });

  it("stopped by the user before an epoch ends, it returns as trainLoop does: no records, the weights as they stand", async () => {
    const res = await trainAveraged([new CpuBackend(), new CpuBackend()], sets, config, { shouldStop: () => true });
    const alone = await trainLoop(new CpuBackend(), sets, config, { shouldStop: () => true });
    expect(res.stoppedByUser).toBe(true);
    expect(res.history).toEqual([]);
    expect(Array.from(res.weights)).toEqual(Array.from(alone.weights));
    expect(res.bias).toBe(alone.bias);
  });

  it("a failing run is what it throws, and stops the others", async () => {
    class Failing extends CpuBackend {
      override async trainEpoch(): Promise<number> {
        throw new Error("the device went away");
      }
    }
    let epochsRun = 0;
    class Counting extends SlowBackend {
      override async trainEpoch(order: Uint32Array, lr: number, l2: number): Promise<number> {
        epochsRun++;
        return super.trainEpoch(order, lr, l2);
      }
    }
    await expect(trainAveraged([new Counting(mulberry32(2)), new Failing()], sets, config)).rejects.toThrow("the device went away");
    // the other run stopped at its next epoch instead of running all 5
    expect(epochsRun).toBeLessThan(config.epochs);
  });
});

describe("the pipeline with seeds", () => {
  const options: PipelineOptions = {
    ...DEFAULT_PIPELINE,
    features: { ...DEFAULT_PIPELINE.features, hashBits: 10 },
    training: { ...DEFAULT_PIPELINE.training, epochs: 6, patience: 0, lr: 8 },
  };
  const comparable = (m: SentimentModel) => ({
    weights: Array.from(m.weights),
    bias: m.bias,
    training: { ...m.training, seconds: 0 },
    metrics: m.metrics,
    selection: withoutTimes(m.history.selection),
    final: withoutTimes(m.history.final),
  });

  it("records the seeds, trains the fixed epoch count on all of train/ without a split, and makes one backend per run", async () => {
    let made = 0;
    const model = await trainPipeline(data, { ...options, validationFraction: 0, seeds: 3 }, () => (made++, new CpuBackend()));
    expect(made).toBe(3);
    expect(model.training.seeds).toBe(3);
    expect(model.training.bestEpoch).toBe(6);
    expect(model.training.refit).toBe(false);
    expect(model.training.nTrain).toBe(data.train.length);
    expect(model.history.selection).toEqual([]);
    expect(model.history.final.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(model.metrics.test?.n).toBe(data.test.length);
    const one = await trainPipeline(data, { ...options, validationFraction: 0, seeds: 1 }, () => new CpuBackend());
    expect(one.training.seeds).toBeUndefined();
    expect(Array.from(one.weights)).not.toEqual(Array.from(model.weights));
  });

  it("with a selection, the averaged refit alongside it gives the model it gives in order", async () => {
    const withSelection = { ...options, validationFraction: 0.25, seeds: 2 };
    const inOrder = await trainPipeline(data, withSelection, () => new CpuBackend());
    expect(inOrder.history.selection.length).toBeGreaterThan(0);
    const rng = mulberry32(8);
    const together = await trainPipeline(data, withSelection, () => new SlowBackend(rng), {}, { concurrentRefit: true });
    expect(comparable(together)).toEqual(comparable(inOrder));
  });

  it("refuses a seed count that is not a whole number from 1 to 16", () => {
    for (const seeds of [0, 1.5, 17, Number.NaN]) expect(() => validatePipelineOptions({ ...options, seeds })).toThrow(/seeds must be an integer from 1 to 16/);
    expect(() => validatePipelineOptions({ ...options, seeds: 16 })).not.toThrow();
  });
});
