// The training pipeline, shared by the CLI and the browser: reviews -> hashed counts ->
// (validation split) -> weighting -> training -> model. Epochs are chosen on a seeded,
// stratified validation split of train/; the final model is then retrained on all of
// train/ for that many epochs. The test set is only ever evaluated for display.
//
// For speed, the pipeline renumbers the hashed columns by how many training reviews use
// them (most used first) right after hashing, works in that numbering, and maps the
// weights and feature scales back before it returns the model. Every per-column number is
// computed exactly as before (a renaming of columns changes no sum: rows keep their
// entries in order), so the model is bit for bit the same; but the columns that most
// rows touch now share a few megabytes instead of being spread over the 2^hashBits
// arrays, and the weight, scale and count arrays are read from cache far more often.

import { stratifiedSplit } from "./dataset.ts";
import { sigmoid } from "../cpu-reference/logistic.ts";
import {
  applyFeatureWeights,
  DEFAULT_FEATURES,
  fitFeatureWeights,
  NgramHasher,
  selectRows,
  validateFeatureConfig,
  type FeatureConfig,
} from "./features.ts";
import { binaryMetrics } from "./metrics.ts";
import { roundToHalf, type SentimentModel } from "./model-format.ts";
import {
  betterValidation,
  DEFAULT_TRAIN,
  InvalidSettingsError,
  trainLoop,
  validateTrainConfig,
  type EpochRecord,
  type SetMetrics,
  type TrainConfig,
  type TrainResult,
} from "./train.ts";
import type { Csr, LabelledSet, Review, TrainingBackend } from "./types.ts";

export interface PipelineOptions {
  features: FeatureConfig;
  training: TrainConfig;
  /** share of train/ held out for choosing the epoch count (0 = no selection: train `epochs`) */
  validationFraction: number;
  /** retrain on all of train/ for the chosen number of epochs */
  refit: boolean;
}

export const DEFAULT_PIPELINE: PipelineOptions = {
  features: DEFAULT_FEATURES,
  training: DEFAULT_TRAIN,
  validationFraction: 0.2,
  refit: true,
};

export type PipelineStage = "featurize" | "select" | "refit" | "evaluate";

export interface PipelineHooks {
  onStage?: (stage: PipelineStage, detail: string) => void;
  /** progress of featurizing, in documents */
  onFeaturize?: (done: number, total: number) => void;
  onEpoch?: (stage: "select" | "refit", record: EpochRecord) => void;
  shouldStop?: () => boolean;
  now?: () => number;
}

/** How the pipeline runs: nothing here changes the model it returns. */
export interface PipelineExecution {
  /**
   * Run the refit alongside the selection, not after it: worth it when each backend has
   * a thread (or device) of its own. Refit epoch e starts once the selection has found a
   * best epoch >= e (the epoch count it ends up choosing can only be larger), and the
   * refit stops when the selection has ended and e is past its choice. So the refit runs
   * exactly the epochs it runs in order, and the model is the same, bit for bit.
   */
  concurrentRefit?: boolean;
  /**
   * Hash the test set's texts somewhere else (another thread) while this one hashes
   * train/. Must give exactly NgramHasher.hashDocuments' rows for `features`.
   */
  hashElsewhere?: (texts: string[], features: FeatureConfig) => Promise<Csr>;
}

/**
 * Lets refit epoch e start when the selection running alongside is sure to choose at
 * least e epochs; answers false for the epochs past its final choice.
 */
export class EpochGate {
  private bestSoFar = 0;
  private chosen: number | null = null;
  private waiting: (() => void)[] = [];

  /** the selection's best epoch so far (it only moves forward) */
  best(epoch: number): void {
    this.bestSoFar = Math.max(this.bestSoFar, epoch);
    this.wake();
  }

  /** the selection has ended and chose this many epochs (0: it failed, run nothing more) */
  end(chosen: number): void {
    this.chosen = chosen;
    this.wake();
  }

  async allows(epoch: number): Promise<boolean> {
    for (;;) {
      if (this.chosen !== null) return epoch <= this.chosen;
      if (this.bestSoFar >= epoch) return true;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

export function validatePipelineOptions(o: PipelineOptions): void {
  validateTrainConfig(o.training);
  try {
    validateFeatureConfig(o.features);
  } catch (e) {
    throw new InvalidSettingsError((e as Error).message);
  }
  if (!(o.validationFraction >= 0 && o.validationFraction < 1))
    throw new InvalidSettingsError(`validation fraction must be in [0, 1) (got ${o.validationFraction})`);
}

/**
 * A renumbering of columns, most used first: newId[j] is the new number of column j,
 * oldId its inverse.
 */
export interface ColumnOrder {
  newId: Uint32Array;
  oldId: Uint32Array;
}

/**
 * Columns ordered by the number of rows of `counts` that use them, most first; columns
 * used equally often keep their relative order. A counting sort: linear time.
 */
export function columnsByFrequency(counts: Csr): ColumnOrder {
  const d = counts.nCols;
  const used = new Uint32Array(d);
  const colIdx = counts.colIdx;
  for (let k = 0; k < colIdx.length; k++) used[colIdx[k]!]!++;
  let most = 0;
  for (let j = 0; j < d; j++) if (used[j]! > most) most = used[j]!;
  // next[c] = the next free position for a column used by c rows (descending c)
  const next = new Float64Array(most + 1);
  for (let j = 0; j < d; j++) next[used[j]!]!++;
  let at = 0;
  for (let c = most; c >= 0; c--) {
    const n = next[c]!;
    next[c] = at;
    at += n;
  }
  const newId = used; // reused in place: used[j] is read just before newId[j] is written
  const oldId = new Uint32Array(d);
  for (let j = 0; j < d; j++) {
    const id = next[used[j]!]!++;
    newId[j] = id;
    oldId[id] = j;
  }
  return { newId, oldId };
}

/** Renames the columns of `x` in place: column j becomes newId[j]. */
export function renumberColumns(x: Csr, newId: Uint32Array): void {
  const colIdx = x.colIdx;
  for (let k = 0; k < colIdx.length; k++) colIdx[k] = newId[colIdx[k]!]!;
}

/** out[j] = a[newId[j]]: an array indexed by new column numbers, back in the original numbering. */
function inOriginalOrder(a: Float32Array, newId: Uint32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let j = 0; j < out.length; j++) out[j] = a[newId[j]!]!;
  return out;
}

/** Hashed count rows and labels for a list of reviews. */
export function hashReviews(
  reviews: readonly Review[],
  features: FeatureConfig,
  onProgress?: (done: number) => void,
): { counts: Csr; labels: Uint8Array } {
  const hasher = new NgramHasher(features.ngramMax, features.hashBits, features.negationScope ?? 0);
  const counts = hasher.hashDocuments(
    reviews.map((r) => r.text),
    onProgress,
  );
  return { counts, labels: Uint8Array.from(reviews, (r) => r.label) };
}

function weighted(name: string, counts: Csr, labels: Uint8Array, fw: ReturnType<typeof fitFeatureWeights>, f: FeatureConfig): LabelledSet {
  return { name, x: applyFeatureWeights(counts, fw, f), y: labels };
}

/**
 * The selection stage's data: a seeded, stratified validation split of train/'s hashed
 * counts, feature weights (NB ratios or idf) fitted on the fit rows alone, and the fit,
 * validation and test sets weighted with them. `oldId` as for fitFeatureWeights (columns
 * renumbered by columnsByFrequency).
 */
export function selectionSets(
  train: { counts: Csr; labels: Uint8Array },
  test: { counts: Csr; labels: Uint8Array } | null,
  f: FeatureConfig,
  validationFraction: number,
  seed: number,
  oldId?: Uint32Array,
): { fw: ReturnType<typeof fitFeatureWeights>; train: LabelledSet; validation: LabelledSet; test?: LabelledSet } {
  const split = stratifiedSplit(train.labels, validationFraction, seed);
  const fitCounts = selectRows(train.counts, split.fit);
  const fitLabels = Uint8Array.from(split.fit, (i) => train.labels[i]!);
  const fw = fitFeatureWeights(fitCounts, fitLabels, f, oldId);
  return {
    fw,
    train: weighted("train", fitCounts, fitLabels, fw, f),
    validation: weighted("validation", selectRows(train.counts, split.validation), Uint8Array.from(split.validation, (i) => train.labels[i]!), fw, f),
    test: test ? weighted("test", test.counts, test.labels, fw, f) : undefined,
  };
}

/**
 * Train a model from reviews. `makeBackend` is called once per training run (selection,
 * then refit), so each run starts from fresh zero weights.
 */
export async function trainPipeline(
  data: { train: readonly Review[]; test?: readonly Review[] },
  options: PipelineOptions,
  makeBackend: () => Promise<TrainingBackend> | TrainingBackend,
  hooks: PipelineHooks = {},
  execution: PipelineExecution = {},
): Promise<SentimentModel> {
  validatePipelineOptions(options);
  const now = hooks.now ?? (() => performance.now());
  const t0 = now();
  const f = options.features;
  const total = data.train.length + (data.test?.length ?? 0);
  hooks.onStage?.("featurize", `${total} reviews`);
  const testData = data.test;
  const testElsewhere =
    testData && execution.hashElsewhere
      ? execution.hashElsewhere(testData.map((r) => r.text), f).then((counts) => ({ counts, labels: Uint8Array.from(testData, (r) => r.label) }))
      : undefined;
  // a failure there is reported by the await below, not as an unhandled rejection now
  testElsewhere?.catch(() => {});
  const train = hashReviews(data.train, f, (d) => hooks.onFeaturize?.(d, total));
  const test = testElsewhere
    ? await testElsewhere
    : testData
      ? hashReviews(testData, f, (d) => hooks.onFeaturize?.(data.train.length + d, total))
      : null;
  if (testElsewhere) hooks.onFeaturize?.(total, total);
  // work in columns numbered by use (see the top of this file); the counts are ours to change
  const order = columnsByFrequency(train.counts);
  renumberColumns(train.counts, order.newId);
  if (test) renumberColumns(test.counts, order.newId);

  let bestEpoch = options.training.epochs;
  let stoppedEarly = false;
  let selection: EpochRecord[] = [];
  let validationMetrics: SentimentModel["metrics"]["validation"];
  let backendInfo = { kind: "", deviceName: "" };

  if (options.validationFraction > 0) {
    hooks.onStage?.("select", "choosing the number of epochs on the validation split");
    const { fw, ...sets } = selectionSets(train, test, f, options.validationFraction, options.training.seed, order.oldId);
    const valSet = sets.validation;
    if (execution.concurrentRefit && options.refit) {
      hooks.onStage?.("refit", `training on all ${train.counts.nRows} reviews of train/ alongside, for the number of epochs the selection chooses`);
      const both = await selectAndRefitTogether(sets);
      selection = both.selection.history;
      bestEpoch = Math.max(1, both.selection.bestEpoch);
      stoppedEarly = both.selection.stoppedEarly;
      validationMetrics = binaryMetrics(valSet.y, probabilities(valSet.x, both.selection.weights, both.selection.bias));
      backendInfo = both.refit.backend;
      return finish(both.refit.weights, both.refit.bias, both.refitFw, both.refit.history, train.counts.nRows, true);
    }
    const backend = await makeBackend();
    try {
      const res = await trainLoop(backend, sets, options.training, {
        onEpoch: (r) => hooks.onEpoch?.("select", r),
        shouldStop: hooks.shouldStop,
        now,
      });
      selection = res.history;
      bestEpoch = Math.max(1, res.bestEpoch);
      stoppedEarly = res.stoppedEarly;
      backendInfo = res.backend;
      if (!options.refit) {
        return finish(res.weights, res.bias, fw, [], sets.train.x.nRows, false);
      }
      const valProbs = probabilities(valSet.x, res.weights, res.bias);
      validationMetrics = binaryMetrics(valSet.y, valProbs);
    } finally {
      backend.dispose();
    }
  }

  hooks.onStage?.("refit", `training on all ${train.counts.nRows} reviews of train/ for ${bestEpoch} epochs`);
  const fw = fitFeatureWeights(train.counts, train.labels, f, order.oldId);
  const backend = await makeBackend();
  try {
    const res = await trainLoop(
      backend,
      { train: weighted("train", train.counts, train.labels, fw, f), test: test ? weighted("test", test.counts, test.labels, fw, f) : undefined },
      { ...options.training, epochs: bestEpoch },
      { onEpoch: (r) => hooks.onEpoch?.("refit", r), shouldStop: hooks.shouldStop, now },
    );
    backendInfo = res.backend;
    return finish(res.weights, res.bias, fw, res.history, train.counts.nRows, options.validationFraction > 0);
  } finally {
    backend.dispose();
  }

  /** The selection and the refit at once, each on its own backend (see PipelineExecution). */
  async function selectAndRefitTogether(selectionSets: Parameters<typeof trainLoop>[1]) {
    const gate = new EpochGate();
    // a failure on either side stops the other at its next epoch
    let failed = false;
    const shouldStop = () => failed || (hooks.shouldStop?.() ?? false);
    const backends: TrainingBackend[] = [];
    const run = async (sets: Parameters<typeof trainLoop>[1], hooksFor: Parameters<typeof trainLoop>[3]): Promise<TrainResult> => {
      const backend = await makeBackend();
      backends.push(backend);
      return trainLoop(backend, sets, options.training, { ...hooksFor, shouldStop, now });
    };
    let bestVal: SetMetrics | undefined;
    const selecting = run(selectionSets, {
      onEpoch: (r) => {
        hooks.onEpoch?.("select", r);
        // the loop's own rule for a new best, so the gate agrees with its final choice
        if (betterValidation(r.validation!, bestVal)) {
          bestVal = r.validation;
          gate.best(r.epoch);
        }
      },
    }).then(
      (res) => {
        gate.end(Math.max(1, res.bestEpoch));
        return res;
      },
      (e: unknown) => {
        failed = true;
        gate.end(0);
        throw e;
      },
    );
    const refitting = (async () => {
      // a turn of the event loop first: the selection hands its data to its backend and
      // starts training, while this thread weights the retraining's features
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      const refitFw = fitFeatureWeights(train.counts, train.labels, f, order.oldId);
      const refitSets = { train: weighted("train", train.counts, train.labels, refitFw, f), test: test ? weighted("test", test.counts, test.labels, refitFw, f) : undefined };
      const res = await run(refitSets, { onEpoch: (r) => hooks.onEpoch?.("refit", r), beforeEpoch: (e) => gate.allows(e) });
      return { res, refitFw };
    })().catch((e: unknown) => {
      failed = true;
      gate.end(0);
      throw e;
    });
    const [sel, ref] = await Promise.allSettled([selecting, refitting]);
    for (const b of backends) b.dispose();
    if (sel.status === "rejected") throw sel.reason;
    if (ref.status === "rejected") throw ref.reason;
    return { selection: sel.value, refit: ref.value.res, refitFw: ref.value.refitFw };
  }

  function finish(
    trainedWeights: Float32Array,
    bias: number,
    trainedFw: ReturnType<typeof fitFeatureWeights>,
    final: EpochRecord[],
    nTrain: number,
    refit: boolean,
  ): SentimentModel {
    // measure what will be stored: both arrays as float16 (see model-format.ts)
    const weights = roundToHalf(trainedWeights);
    const fw = { kind: trainedFw.kind, scale: roundToHalf(trainedFw.scale) };
    const metrics: SentimentModel["metrics"] = {};
    if (validationMetrics) metrics.validation = validationMetrics;
    if (test) {
      hooks.onStage?.("evaluate", "scoring the test set");
      const x = applyFeatureWeights(test.counts, fw, f);
      metrics.test = binaryMetrics(test.labels, probabilities(x, weights, bias));
    }
    return {
      features: f,
      featureWeights: { kind: fw.kind, scale: inOriginalOrder(fw.scale, order.newId) },
      weights: inOriginalOrder(weights, order.newId),
      bias,
      training: {
        config: options.training,
        validationFraction: options.validationFraction,
        bestEpoch,
        stoppedEarly,
        refit,
        backend: backendInfo,
        nTrain,
        seconds: (now() - t0) / 1000,
      },
      metrics,
      history: { selection, final },
      createdAt: new Date().toISOString(),
    };
  }
}

/** P(positive) for every row, in float64 arithmetic. */
export function probabilities(x: Csr, w: Float32Array, b: number): Float64Array {
  const out = new Float64Array(x.nRows);
  for (let i = 0; i < x.nRows; i++) {
    let z = b;
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) z += x.values[k]! * w[x.colIdx[k]!]!;
    out[i] = sigmoid(z);
  }
  return out;
}
