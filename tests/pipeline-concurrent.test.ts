// The refit run alongside the selection (PipelineExecution.concurrentRefit) must give the
// model the pipeline gives in order, whatever the interleaving, and must never start a
// refit epoch the selection could still rule out.
import { beforeAll, describe, expect, it } from "vitest";
import { loadImdbFromTarGz } from "../src/core/dataset.ts";
import {
  DEFAULT_PIPELINE,
  EpochGate,
  middleRow,
  probabilitiesOfCounts,
  renumberColumns,
  trainPipeline,
  type Alongside,
  type PipelineOptions,
} from "../src/core/pipeline.ts";
import type { SentimentModel } from "../src/core/model-format.ts";
import type { Review, TrainingBackend } from "../src/core/types.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { applyFeatureWeights, countClasses, NgramHasher, transposeLayout, weighRows, withValues } from "../src/core/features.ts";
import { roundToHalf } from "../src/core/model-format.ts";
import { mulberry32 } from "../src/core/random.ts";
import { makeImdbArchive, streamOf } from "./helpers/make-archive.ts";

let data: { train: Review[]; test: Review[] };
beforeAll(async () => {
  data = await loadImdbFromTarGz(streamOf(makeImdbArchive(40, 2)));
});

const options: PipelineOptions = {
  ...DEFAULT_PIPELINE,
  features: { ...DEFAULT_PIPELINE.features, hashBits: 10 },
  // patience 0: all 8 epochs run; on this data the best epoch moves to 1, 2 and 4, and
  // epoch 8 ties epoch 4's accuracy with a higher loss
  training: { ...DEFAULT_PIPELINE.training, epochs: 8, patience: 0, lr: 8, dropout: 0.5 },
  validationFraction: 0.25,
};

/** A CPU backend whose calls finish after a seeded random delay, to vary the interleaving. */
class SlowBackend extends CpuBackend {
  constructor(
    private readonly rng: () => number,
    private readonly maxDelayMs: number,
    private readonly log?: (event: string) => void,
    private readonly failAtEpoch?: number,
  ) {
    super();
  }
  private epochsRun = 0;
  override async trainEpoch(order: Uint32Array, lr: number, l2: number): Promise<number> {
    this.epochsRun++;
    this.log?.(`start ${this.epochsRun}`);
    if (this.epochsRun === this.failAtEpoch) throw new Error("the device went away");
    await new Promise((r) => setTimeout(r, this.rng() * this.maxDelayMs));
    return super.trainEpoch(order, lr, l2);
  }
}

/** The model without its wall-clock fields. */
function comparable(m: SentimentModel) {
  const strip = (h: SentimentModel["history"]["final"]) => h.map(({ seconds: _s, trainSeconds: _t, ...rest }) => rest);
  return {
    weights: Array.from(m.weights),
    scale: Array.from(m.featureWeights.scale),
    bias: m.bias,
    training: { ...m.training, seconds: 0 },
    metrics: m.metrics,
    selection: strip(m.history.selection),
    final: strip(m.history.final),
  };
}

describe("refit alongside selection", () => {
  it("gives the same model, bit for bit, as selection then refit, under several interleavings", async () => {
    const inOrder = await trainPipeline(data, options, () => new CpuBackend());
    expect(inOrder.training.bestEpoch).toBe(4);
    expect(inOrder.history.final).toHaveLength(inOrder.training.bestEpoch);
    for (const seed of [1, 2, 3]) {
      const rng = mulberry32(seed);
      const together = await trainPipeline(data, options, () => new SlowBackend(rng, 15), {}, { concurrentRefit: true });
      expect(comparable(together)).toEqual(comparable(inOrder));
    }
  });

  it("starts refit epoch e only once the selection's best epoch so far is at least e", async () => {
    const events: { epoch: number; bestSoFar: number; selectionDone: number }[] = [];
    let made = 0;
    const rng = mulberry32(5);
    let bestSoFar = 0;
    let best: { accuracy: number; loss: number } | undefined;
    let selectionDone = 0;
    const model = await trainPipeline(
      data,
      options,
      () => {
        // the first backend made is the selection's; make the refit's much faster, so it
        // would run ahead if the gate let it
        const isRefit = made++ === 1;
        return new SlowBackend(rng, isRefit ? 1 : 40, isRefit ? (e) => events.push({ epoch: Number(e.split(" ")[1]), bestSoFar, selectionDone }) : undefined);
      },
      {
        onEpoch: (stage, r) => {
          if (stage !== "select") return;
          selectionDone = r.epoch;
          const v = r.validation!;
          if (!best || v.accuracy > best.accuracy || (v.accuracy === best.accuracy && v.loss < best.loss)) {
            best = v;
            bestSoFar = r.epoch;
          }
        },
      },
      { concurrentRefit: true },
    );
    expect(model.training.bestEpoch).toBe(4);
    expect(events.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    // each refit epoch started once the selection had a best epoch at least that late
    for (const e of events) expect(e.epoch).toBeLessThanOrEqual(e.bestSoFar);
    // epochs 3 and 4 had to wait for the selection's epoch 4
    expect(events[2]!.selectionDone).toBeGreaterThanOrEqual(4);
  });

  it("a failure on one side stops the other and is what the pipeline throws", async () => {
    const started: number[] = [];
    let made = 0;
    const rng = mulberry32(9);
    const run = trainPipeline(
      data,
      options,
      () => (made++ === 1 ? new SlowBackend(rng, 5, undefined, 2) : new SlowBackend(rng, 20, (e) => started.push(Number(e.split(" ")[1])))),
      {},
      { concurrentRefit: true },
    );
    await expect(run).rejects.toThrow("the device went away");
    // the selection noticed and stopped well before its 8 epochs
    expect(Math.max(...started)).toBeLessThan(8);
  });
});

describe("test set hashed elsewhere (PipelineExecution.hashElsewhere)", () => {
  it("gives the same model; the hasher is handed the test texts", async () => {
    const inOrder = await trainPipeline(data, options, () => new CpuBackend());
    const handed: string[][] = [];
    const elsewhere = await trainPipeline(data, options, () => new CpuBackend(), {}, {
      concurrentRefit: true,
      hashElsewhere: async (texts, f) => {
        handed.push(texts);
        await new Promise((r) => setTimeout(r, 5));
        return new NgramHasher(f.ngramMax, f.hashBits, f.negationScope ?? 0).hashDocuments(texts);
      },
    });
    expect(handed).toEqual([data.test.map((r) => r.text)]);
    expect(comparable(elsewhere)).toEqual(comparable(inOrder));
  });

  it("its failure is what the pipeline throws", async () => {
    const run = trainPipeline(data, options, () => new CpuBackend(), {}, { hashElsewhere: async () => Promise.reject(new Error("thread lost")) });
    await expect(run).rejects.toThrow("thread lost");
  });
});

describe("the test set's work done elsewhere (PipelineExecution.transposeElsewhere, probabilitiesElsewhere)", () => {
  const averaged: PipelineOptions = { ...options, validationFraction: 0, seeds: 2, training: { ...options.training, epochs: 3 } };
  const later = <T>(value: T) => new Promise<T>((r) => setTimeout(() => r(value), 5));

  it("gives the same model: the transpose laid out and weighed there, and the final measurement made there with the float16 model", async () => {
    const inOrder = await trainPipeline(data, averaged, () => new CpuBackend());
    const calls: string[] = [];
    const measured: { rows: number; scale: Float32Array; weights: Float32Array; bias: number }[] = [];
    let scored: Float32Array | undefined;
    const elsewhere = await trainPipeline(data, averaged, () => new CpuBackend(), {}, {
      transposeElsewhere: (counts) => {
        calls.push(`layout ${counts.nRows}`);
        const layout = transposeLayout(counts);
        return {
          weighed: async (weights, f) => {
            calls.push("weighed");
            scored = weights.scale;
            return later(withValues(await layout, applyFeatureWeights(counts, weights, f).values));
          },
        };
      },
      probabilitiesElsewhere: (counts, fw, f, weights, bias) => {
        calls.push(`measure ${counts.nRows}`);
        measured.push({ rows: counts.nRows, scale: fw.scale, weights, bias });
        return later(probabilitiesOfCounts(counts, fw, f, weights, bias));
      },
    });
    expect(comparable(elsewhere)).toEqual(comparable(inOrder));
    const n = data.test.length;
    expect(calls).toEqual([`layout ${n}`, "weighed", `measure ${n}`]);
    // the final measurement is of what is stored: the float16 copies of the feature weights
    // the means were scored with, and of the model's weights (here in the pipeline's column
    // numbering: the same values, sorted), and its bias
    expect(Array.from(measured[0]!.scale)).toEqual(Array.from(roundToHalf(scored!)));
    expect(Array.from(measured[0]!.scale)).not.toEqual(Array.from(scored!));
    const sorted = (a: Float32Array) => Array.from(a).sort((p, q) => p - q);
    expect(sorted(measured[0]!.weights)).toEqual(sorted(inOrder.weights));
    expect(measured[0]!.bias).toBe(inOrder.bias);
  });

  it("their failures are what the pipeline throws", async () => {
    await expect(
      trainPipeline(data, averaged, () => new CpuBackend(), {}, { transposeElsewhere: () => ({ weighed: () => Promise.reject(new Error("layout lost")) }) }),
    ).rejects.toThrow("layout lost");
    await expect(
      trainPipeline(data, averaged, () => new CpuBackend(), {}, { probabilitiesElsewhere: () => Promise.reject(new Error("measure lost")) }),
    ).rejects.toThrow("measure lost");
  });
});

describe("EpochGate", () => {
  it("waits until the best epoch reaches e, or the selection ends", async () => {
    const gate = new EpochGate();
    const answers: [number, boolean][] = [];
    const ask = (e: number) => gate.allows(e).then((ok) => answers.push([e, ok]));
    const waits = [ask(1), ask(3), ask(5)];
    await Promise.resolve();
    expect(answers).toEqual([]);
    gate.best(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(answers).toEqual([[1, true]]);
    gate.best(3);
    await new Promise((r) => setTimeout(r, 0));
    expect(answers).toEqual([
      [1, true],
      [3, true],
    ]);
    gate.end(4);
    await Promise.all(waits);
    expect(answers).toEqual([
      [1, true],
      [3, true],
      [5, false],
    ]);
    expect(await gate.allows(4)).toBe(true);
    expect(await gate.allows(2)).toBe(true);
  });

  it("end(0) (a failure) allows nothing more", async () => {
    const gate = new EpochGate();
    const pending = gate.allows(1);
    gate.end(0);
    expect(await pending).toBe(false);
  });
});

describe("the passes over train/ split with a thread alongside (PipelineExecution.alongside)", () => {
  /** An Alongside that does its halves here, later, on copies of nothing: the rows are shared as in the CLI. */
  function inProcess(calls: string[]): Alongside {
    const later = () => new Promise<void>((r) => setTimeout(r, 3));
    return {
      classCounts: async (counts, labels, pos, neg, colFrom, colTo) => {
        calls.push(`classCounts ${colFrom}-${colTo}`);
        await later();
        countClasses(counts, labels, pos, neg, colFrom, colTo);
      },
      renumber: async (x, newId, from, to) => {
        calls.push(`renumber ${x.nRows} ${from}-${to}`);
        await later();
        renumberColumns(x, newId, from, to);
      },
      weigh: async (counts, weights, features, values, from, to) => {
        calls.push(`weigh ${from}-${to}`);
        await later();
        weighRows(counts, weights, features, values, from, to);
      },
    };
  }

  for (const [name, opts] of [
    ["the refit alone, two runs averaged", { ...options, validationFraction: 0, seeds: 2, training: { ...options.training, epochs: 3 } }],
    ["selection and refit", options],
  ] as const) {
    it(`gives the same model, bit for bit (${name})`, async () => {
      const inOrder = await trainPipeline(data, opts, () => new CpuBackend());
      const calls: string[] = [];
      const split = await trainPipeline(data, opts, () => new CpuBackend(), {}, { sharedMemory: true, alongside: inProcess(calls) });
      expect(comparable(split)).toEqual(comparable(inOrder));
      const d = 2 ** opts.features.hashBits;
      const n = data.train.length;
      expect(calls[0]).toBe(`classCounts ${d / 2}-${d}`);
      expect(calls[1]).toMatch(new RegExp(`^renumber ${n} \\d+-${n}$`));
      expect(calls[2]).toBe(`renumber ${data.test.length} 0-${data.test.length}`);
      if (opts.validationFraction === 0) expect(calls[3]).toMatch(new RegExp(`^weigh \\d+-${n}$`));
    });
  }

  it("middleRow splits the entries in two: the first row that starts at or past the middle entry", () => {
    const rowPtr = Uint32Array.from([0, 5, 6, 7, 20, 21]);
    const x = { nRows: 5, nCols: 30, rowPtr, colIdx: new Uint32Array(21), values: new Float32Array(21) };
    expect(middleRow(x)).toBe(4); // row 4 starts at entry 20, past 10.5; row 3 at 7
    expect(middleRow({ ...x, rowPtr: Uint32Array.from([0, 2, 4, 6, 8, 10]), colIdx: new Uint32Array(10) })).toBe(3);
    expect(middleRow({ ...x, nRows: 0, rowPtr: Uint32Array.from([0]) })).toBe(0);
  });
});
