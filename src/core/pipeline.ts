// The training pipeline, shared by the CLI and the browser: reviews -> hashed counts ->
// (validation split) -> weighting -> training -> model. With a validation split, the
// epoch count is chosen on a seeded, stratified split of train/ and the final model is
// then retrained on all of train/ for that many epochs; without one (the shipped
// recipe), the final model trains the configured count on all of train/. Either way the
// final model may be the mean of several runs with different seeds (trainAveraged).
// The test set is only ever evaluated for display.
//
// For speed, the pipeline renumbers the hashed columns by how many training reviews use
// them (most used first) right after hashing, works in that numbering, and maps the
// weights and feature scales back before it returns the model. Every per-column number is
// computed exactly as before (a renaming of columns changes no sum: rows keep their
// entries in order), so the model is bit for bit the same; but the columns that most
// rows touch now share a few megabytes instead of being spread over the 2^hashBits
// arrays, and the weight, scale and count arrays are read from cache far more often.

import { stratifiedSplit } from "./dataset.ts";
import { sigmoid, sumsFromLogits } from "../cpu-reference/logistic.ts";
import {
  applyFeatureWeights,
  countClasses,
  DEFAULT_FEATURES,
  fitFeatureWeights,
  nbRowFactor,
  newFloat32Array,
  newUint32Array,
  NgramHasher,
  selectRows,
  transposeCsr,
  validateFeatureConfig,
  weighRows,
  weightsFromClassCounts,
  type FeatureConfig,
  type FeatureWeights,
} from "./features.ts";
import { binaryMetrics, metricsFromSums } from "./metrics.ts";
import { roundToHalf, type SentimentModel } from "./model-format.ts";
import {
  aTurn,
  betterValidation,
  DEFAULT_TRAIN,
  InvalidSettingsError,
  trainLoop,
  validateTrainConfig,
  type EpochRecord,
  type SetMetrics,
  type TrainConfig,
  type TrainHooks,
  type TrainSets,
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
  /**
   * the final model is the mean of this many runs that differ only in their seed
   * (seed, seed + 1, ...; see trainAveraged); absent = 1
   */
  seeds?: number;
}

/**
 * The shipped recipe: no validation split; the final model trains DEFAULT_TRAIN.epochs
 * epochs on all of train/, twice with different seeds, averaged. The epoch count and the
 * averaging of two runs were chosen by cross-validation on train/, which also showed
 * that choosing the count on one 20% split with early stopping picked too few epochs
 * from its noise (README, "Results"). The selection stays available
 * (validationFraction > 0), and the app's in-browser runs use it.
 */
export const DEFAULT_PIPELINE: PipelineOptions = {
  features: DEFAULT_FEATURES,
  training: DEFAULT_TRAIN,
  validationFraction: 0,
  refit: true,
  seeds: 2,
};

export type PipelineStage = "featurize" | "select" | "refit" | "evaluate";

export interface PipelineHooks {
  onStage?: (stage: PipelineStage, detail: string) => void;
  /** progress of featurizing, in documents */
  onFeaturize?: (done: number, total: number) => void;
  onEpoch?: (stage: "select" | "refit", record: EpochRecord) => void;
  /** averaged runs (seeds > 1): these records, passed to onEpoch without scores, now have them */
  onScores?: (stage: "select" | "refit", records: readonly EpochRecord[]) => void;
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
   * Put train/'s rows (hashed, then weighed for the retraining) in SharedArrayBuffers
   * from the start: for backends on other threads, which then get them without a copy.
   */
  sharedMemory?: boolean;
  /**
   * Another thread (given sharedMemory, so that it reads and writes the same rows) to
   * split the passes over train/ between hashing and training with: it does half of each
   * (the upper half of the columns' class counts, the second half of the rows renumbered
   * and weighed; see Alongside), and renumbers the test set's columns.
   */
  alongside?: Alongside;
  /**
   * Hash the test set's texts somewhere else (another thread) while this one hashes
   * train/. Must give exactly NgramHasher.hashDocuments' rows for `features`.
   */
  hashElsewhere?: (texts: string[], features: FeatureConfig) => Promise<Csr>;
  /**
   * Start laying out a set's transpose somewhere else (another thread): the test set's
   * counts, as soon as they are numbered, for scoring the averaged runs' means by column
   * (see trainAveraged). `weighed(weights, features)` then gives the transpose of the
   * counts weighed: exactly transposeCsr(applyFeatureWeights(counts, weights, features)),
   * for `weights` of the kind `weighting` says (NB needs less of the layout).
   */
  transposeElsewhere?: (counts: Csr, weighting: FeatureWeights["kind"]) => { weighed(weights: FeatureWeights, features: FeatureConfig): Promise<Csr> };
  /**
   * probabilitiesOfCounts somewhere else: the final measurement of the test set (the
   * stored float16 model on its counts weighed with the stored float16 feature weights),
   * while this thread scores the last epochs' means. Must give exactly its numbers.
   */
  probabilitiesElsewhere?: (counts: Csr, featureWeights: FeatureWeights, features: FeatureConfig, weights: Float32Array, bias: number) => Promise<Float64Array>;
}

/**
 * Passes over a range of a set's rows (or, for the class counts, of its columns) in
 * shared memory, done on another thread: each gives exactly what the same function gives
 * for that range here (countClasses, renumberColumns, weighRows), so that splitting a
 * pass changes no number.
 */
export interface Alongside {
  classCounts(counts: Csr, labels: Uint8Array, pos: Uint32Array, neg: Uint32Array, colFrom: number, colTo: number): Promise<void>;
  renumber(x: Csr, newId: Uint32Array, from: number, to: number): Promise<void>;
  weigh(counts: Csr, weights: FeatureWeights, features: FeatureConfig, values: Float32Array, from: number, to: number): Promise<void>;
}

/** The row that splits x's entries in two halves (as near as rows allow). */
export function middleRow(x: Csr): number {
  const half = x.rowPtr[x.nRows]! / 2;
  let lo = 0;
  let hi = x.nRows;
  // the first row whose start is at or past half
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (x.rowPtr[m]! < half) lo = m + 1;
    else hi = m;
  }
  return lo;
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
  const seeds = o.seeds ?? 1;
  if (!(Number.isInteger(seeds) && seeds >= 1 && seeds <= 16))
    throw new InvalidSettingsError(`seeds must be an integer from 1 to 16 (got ${seeds})`);
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
  const used = new Uint32Array(counts.nCols);
  const colIdx = counts.colIdx;
  for (let k = 0; k < colIdx.length; k++) used[colIdx[k]!]!++;
  return columnsByUse(used);
}

/**
 * columnsByFrequency from the number of rows that use each column (`used`, which becomes
 * newId: it is taken over).
 */
export function columnsByUse(used: Uint32Array): ColumnOrder {
  const d = used.length;
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

/** Renames the columns of `x` in place: column j becomes newId[j]. Only rows [from, to) when given. */
export function renumberColumns(x: Csr, newId: Uint32Array, from = 0, to = x.nRows): void {
  const colIdx = x.colIdx;
  for (let k = x.rowPtr[from]!, end = x.rowPtr[to]!; k < end; k++) colIdx[k] = newId[colIdx[k]!]!;
}

/** out[k] = a[oldId[k]]: an array indexed by original column numbers, in the new numbering. */
function inNewOrder(a: Uint32Array, oldId: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  for (let k = 0; k < out.length; k++) out[k] = a[oldId[k]!]!;
  return out;
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
  shared = false,
): { counts: Csr; labels: Uint8Array } {
  const hasher = NgramHasher.forFeatures(features);
  const counts = hasher.hashSet(
    reviews.map((r) => r.text),
    onProgress,
    shared,
  );
  return { counts, labels: Uint8Array.from(reviews, (r) => r.label) };
}

function weighted(name: string, counts: Csr, labels: Uint8Array, fw: ReturnType<typeof fitFeatureWeights>, f: FeatureConfig, shared = false): LabelledSet {
  return { name, x: applyFeatureWeights(counts, fw, f, shared), y: labels };
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
  const seeds = options.seeds ?? 1;
  const total = data.train.length + (data.test?.length ?? 0);
  hooks.onStage?.("featurize", `${total} reviews`);
  const testData = data.test;
  const testElsewhere =
    testData && execution.hashElsewhere
      ? execution.hashElsewhere(testData.map((r) => r.text), f).then((counts) => ({ counts, labels: Uint8Array.from(testData, (r) => r.label) }))
      : undefined;
  // a failure there is reported by the await below, not as an unhandled rejection now
  testElsewhere?.catch(() => {});
  const train = hashReviews(data.train, f, (d) => hooks.onFeaturize?.(d, total), execution.sharedMemory);
  // work in columns numbered by use (see the top of this file); the counts are ours to
  // change. train/'s are renumbered while the test set may still be hashed elsewhere.
  // The rows of each class that use each column give both the numbering and, without a
  // split, the feature weights (fitFeatureWeights' counts, in the new numbering).
  // With a thread alongside, it takes the second half of each pass over train/ (and
  // renumbers the test set), while this one does the first.
  const alongside = execution.alongside;
  const mid = alongside ? middleRow(train.counts) : train.counts.nRows;
  // the class counts: the upper half of the columns alongside (each side increments its
  // own part of the arrays)
  const d = train.counts.nCols;
  const classes = { pos: newUint32Array(d, alongside !== undefined), neg: newUint32Array(d, alongside !== undefined) };
  const theirCounts = alongside?.classCounts(train.counts, train.labels, classes.pos, classes.neg, d >>> 1, d);
  theirCounts?.catch(() => {}); // reported where awaited
  countClasses(train.counts, train.labels, classes.pos, classes.neg, 0, alongside ? d >>> 1 : d);
  await theirCounts;
  const used = newUint32Array(classes.pos.length, execution.sharedMemory === true);
  // how many columns train/ uses: numbered by use, they come first
  let nUsed = 0;
  for (let j = 0; j < used.length; j++) {
    const u = classes.pos[j]! + classes.neg[j]!;
    used[j] = u;
    nUsed += u > 0 ? 1 : 0;
  }
  const order = columnsByUse(used);
  const theirRenumbering = alongside?.renumber(train.counts, order.newId, mid, train.counts.nRows);
  theirRenumbering?.catch(() => {}); // reported where awaited
  renumberColumns(train.counts, order.newId, 0, mid);
  const test = testElsewhere
    ? await testElsewhere
    : testData
      ? hashReviews(testData, f, (d) => hooks.onFeaturize?.(data.train.length + d, total))
      : null;
  if (testElsewhere) hooks.onFeaturize?.(total, total);
  // the test set's counts renumbered: here, or alongside (awaited before they are read here)
  let testRenumbered: Promise<void> = Promise.resolve();
  if (test && alongside) testRenumbered = alongside.renumber(test.counts, order.newId, 0, test.counts.nRows);
  else if (test) renumberColumns(test.counts, order.newId);
  testRenumbered.catch(() => {}); // reported where awaited
  await theirRenumbering;
  // for scoring the averaged runs' means by column (trainAveraged), laid out elsewhere as
  // soon as the counts are renumbered
  const layoutElsewhere = execution.transposeElsewhere;
  const testLayout =
    test && options.validationFraction === 0 && seeds > 1 && layoutElsewhere ? testRenumbered.then(() => layoutElsewhere(test.counts, f.weighting)) : undefined;
  testLayout?.catch(() => {}); // reported where awaited

  let bestEpoch = options.training.epochs;
  let stoppedEarly = false;
  let selection: EpochRecord[] = [];
  let validationMetrics: SentimentModel["metrics"]["validation"];
  let backendInfo = { kind: "", deviceName: "" };

  if (options.validationFraction > 0) {
    hooks.onStage?.("select", "choosing the number of epochs on the validation split");
    await testRenumbered;
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
      return await finish(both.refit.weights, both.refit.bias, both.refitFw, both.refit.history, train.counts.nRows, true);
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
        return await finish(res.weights, res.bias, fw, [], sets.train.x.nRows, false);
      }
      const valProbs = probabilities(valSet.x, res.weights, res.bias);
      validationMetrics = binaryMetrics(valSet.y, valProbs);
    } finally {
      backend.dispose();
    }
  }

  hooks.onStage?.(
    "refit",
    `training on all ${train.counts.nRows} reviews of train/ for ${bestEpoch} epochs` + (seeds > 1 ? `, ${seeds} runs with different seeds, averaged` : ""),
  );
  const fw = refitWeights();
  // With somewhere else to do it, the test set's transpose (laid out there meanwhile) is
  // weighed there, for scoring the runs' means, while this thread weighs train/ and the
  // runs start; and the final measurement is made there (see onLastMean below).
  const testByColumn = test && testLayout ? { y: test.labels, xt: testLayout.then((layout) => layout.weighed(fw, f)) } : undefined;
  testByColumn?.xt.catch(() => {}); // reported where awaited
  const fw16 = { kind: fw.kind, scale: roundToHalf(fw.scale) };
  // train/ weighed: the second half of its rows alongside, into the same array
  const values = newFloat32Array(train.counts.values.length, execution.sharedMemory === true);
  const theirWeighing = alongside?.weigh(train.counts, fw, f, values, mid, train.counts.nRows);
  theirWeighing?.catch(() => {}); // reported where awaited
  weighRows(train.counts, fw, f, values, 0, mid);
  await theirWeighing;
  const c = train.counts;
  const sets: TrainSets = { train: { name: "train", x: { nRows: c.nRows, nCols: c.nCols, rowPtr: c.rowPtr, colIdx: c.colIdx, values }, y: train.labels, columnsUsed: nUsed } };
  await testRenumbered;
  if (test && !testByColumn) sets.test = weighted("test", test.counts, test.labels, fw, f);
  let measured: { of: Float32Array; weights16: Float32Array; probabilities: Promise<Float64Array> } | undefined;
  const backends: TrainingBackend[] = [];
  try {
    for (let k = 0; k < seeds; k++) backends.push(await makeBackend());
    const res = await trainAveraged(
      backends,
      sets,
      { ...options.training, epochs: bestEpoch },
      { onEpoch: (r) => hooks.onEpoch?.("refit", r), onScores: (rs) => hooks.onScores?.("refit", rs), shouldStop: hooks.shouldStop, now },
      {
        byColumn: testByColumn ? { test: testByColumn } : undefined,
        // the final measurement (finish) starts elsewhere while the last epochs are scored here
        onLastMean: (weights, bias) => {
          if (!test || !execution.probabilitiesElsewhere) return;
          const weights16 = roundToHalf(weights);
          const p = execution.probabilitiesElsewhere(test.counts, fw16, f, weights16, bias);
          p.catch(() => {}); // reported where awaited
          measured = { of: weights, weights16, probabilities: p };
        },
      },
    );
    backendInfo = res.backend;
    const early = measured && measured.of === res.weights ? measured : undefined;
    return await finish(res.weights, res.bias, fw, res.history, train.counts.nRows, options.validationFraction > 0, {
      fw16,
      weights16: early?.weights16,
      probabilities: early?.probabilities,
    });
  } finally {
    for (const b of backends) b.dispose();
  }

  /** The retraining's feature weights: fitted on all of train/, from the class counts taken for the numbering. */
  function refitWeights(): FeatureWeights {
    return weightsFromClassCounts(inNewOrder(classes.pos, order.oldId), inNewOrder(classes.neg, order.oldId), train.counts.nRows, f, order.oldId);
  }

  /** The retraining's data: its feature weights, and train/ and the test set weighted with them. */
  function refitData() {
    const fw = refitWeights();
    return { fw, sets: { train: weighted("train", train.counts, train.labels, fw, f), test: test ? weighted("test", test.counts, test.labels, fw, f) : undefined } };
  }

  /** The selection and the refit at once, each on its own backend (see PipelineExecution). */
  async function selectAndRefitTogether(selectionSets: Parameters<typeof trainLoop>[1]) {
    const gate = new EpochGate();
    // a failure on either side stops the other at its next epoch
    let failed = false;
    const shouldStop = () => failed || (hooks.shouldStop?.() ?? false);
    const backends: TrainingBackend[] = [];
    const run = async (sets: Parameters<typeof trainLoop>[1], hooksFor: Parameters<typeof trainLoop>[3], runs = 1): Promise<TrainResult> => {
      const mine: TrainingBackend[] = [];
      for (let k = 0; k < runs; k++) {
        const backend = await makeBackend();
        backends.push(backend);
        mine.push(backend);
      }
      return trainAveraged(mine, sets, options.training, { ...hooksFor, shouldStop, now });
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
      await aTurn();
      const { fw: refitFw, sets: refitSets } = refitData();
      const res = await run(refitSets, { onEpoch: (r) => hooks.onEpoch?.("refit", r), onScores: (rs) => hooks.onScores?.("refit", rs), beforeEpoch: (e) => gate.allows(e) }, seeds);
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

  /**
   * The model, with its test metrics. `stored`, when given: trainedFw's float16 copy, and
   * perhaps the weights' float16 copy and the test set's probabilities under both
   * (computed elsewhere), else those are computed here.
   */
  async function finish(
    trainedWeights: Float32Array,
    bias: number,
    trainedFw: FeatureWeights,
    final: EpochRecord[],
    nTrain: number,
    refit: boolean,
    stored?: { fw16: FeatureWeights; weights16?: Float32Array; probabilities?: Promise<Float64Array> },
  ): Promise<SentimentModel> {
    // measure what will be stored: both arrays as float16 (see model-format.ts)
    const weights = stored?.weights16 ?? roundToHalf(trainedWeights);
    const fw = stored?.fw16 ?? { kind: trainedFw.kind, scale: roundToHalf(trainedFw.scale) };
    const metrics: SentimentModel["metrics"] = {};
    if (validationMetrics) metrics.validation = validationMetrics;
    // the stored arrays, in the original numbering (made here while the test set may
    // still be measured elsewhere)
    const scaleOut = inOriginalOrder(fw.scale, order.newId);
    const weightsOut = inOriginalOrder(weights, order.newId);
    if (test) {
      hooks.onStage?.("evaluate", "scoring the test set");
      const p = stored?.probabilities ? await stored.probabilities : probabilitiesOfCounts(test.counts, fw, f, weights, bias);
      metrics.test = binaryMetrics(test.labels, p);
    }
    return {
      features: f,
      featureWeights: { kind: fw.kind, scale: scaleOut },
      weights: weightsOut,
      bias,
      training: {
        config: options.training,
        validationFraction: options.validationFraction,
        bestEpoch,
        stoppedEarly,
        refit,
        ...(seeds > 1 ? { seeds } : {}),
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

/** Columns averaged, or entries scored, between two turns of the event loop in trainAveraged. */
const SLICE_COLUMNS = 1 << 18;
const SLICE_ENTRIES = 1 << 19;


/**
 * The mean of runs' weights, each summed in float64 in run order and stored as float32,
 * written to out; returns the mean of their biases.
 */
async function meanInSlices(runs: readonly { weights: Float32Array; bias: number }[], out: Float32Array): Promise<number> {
  const m = runs.length;
  const d = runs[0]!.weights.length;
  // a block of columns at a time, run by run: the sums 0 + w_1 + w_2 + ... in that order,
  // as a loop over the runs inside the loop over columns would add them, without that
  // inner loop's cost per column (it made this 4 times slower)
  const sum = new Float64Array(MEAN_BLOCK);
  for (let start = 0; start < d; start += SLICE_COLUMNS) {
    const sliceEnd = Math.min(d, start + SLICE_COLUMNS);
    for (let block = start; block < sliceEnd; block += MEAN_BLOCK) {
      const n = Math.min(MEAN_BLOCK, sliceEnd - block);
      sum.fill(0, 0, n);
      for (const r of runs) {
        const w = r.weights;
        for (let t = 0; t < n; t++) sum[t] = sum[t]! + w[block + t]!;
      }
      for (let t = 0; t < n; t++) out[block + t] = sum[t]! / m;
    }
    await aTurn();
  }
  let bias = 0;
  for (const r of runs) bias += r.bias;
  return bias / m;
}

/** Columns meanInSlices sums run by run. */
const MEAN_BLOCK = 4096;

/** meanInSlices into a new weight array. */
async function meanOfRuns(runs: readonly { weights: Float32Array; bias: number }[]): Promise<{ weights: Float32Array; bias: number }> {
  const weights = new Float32Array(runs[0]!.weights.length);
  const bias = await meanInSlices(runs, weights);
  return { weights, bias };
}

/** Epochs whose averaged weights trainAveraged scores together (see logitsByColumn). */
const SCORE_GROUP = 8;

/**
 * Up to eight models' logits on one set in a single pass over the set's transpose xt
 * (transposeCsr: for each column, the rows that use it): model e's weights are ws[e], its
 * bias biases[e], and its logits go to z[e]. Column j's eight weights are read once, in
 * order, and each entry adds its products to its row's eight float64 sums, which for
 * 25,000 rows fit in the processor's cache (1.6 MB); reading the rows in place would
 * instead fetch eight weights from a random place for every entry. Each z[e][i] is row
 * i's products summed in float64 in increasing column order, plus b, rounded to float32:
 * for a set whose rows list their columns in increasing order, spmvCsr's sums (and so
 * evaluateCsr's) bit for bit; for any other, the same sum in another order. On test/'s
 * rows: about 175 ms for eight models, against 480 ms reading the rows in place with
 * the eight weights interleaved, and 110 ms for one model.
 */
async function logitsByColumn(xt: Csr, ws: readonly Float32Array[], biases: readonly number[], z: readonly Float32Array[]): Promise<void> {
  const nRows = xt.nCols;
  const acc = new Float64Array(SCORE_GROUP * nRows);
  const { rowPtr, colIdx, values } = xt;
  // slots past ws.length repeat ws[0]; their sums are never read
  const w = Array.from({ length: SCORE_GROUP }, (_, e) => ws[e] ?? ws[0]!);
  const [w0, w1, w2, w3, w4, w5, w6, w7] = w as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  let sinceTurn = 0;
  for (let j = 0; j < xt.nRows; j++) {
    const start = rowPtr[j]!;
    const end = rowPtr[j + 1]!;
    if (start === end) continue;
    const c0 = w0[j]!;
    const c1 = w1[j]!;
    const c2 = w2[j]!;
    const c3 = w3[j]!;
    const c4 = w4[j]!;
    const c5 = w5[j]!;
    const c6 = w6[j]!;
    const c7 = w7[j]!;
    for (let k = start; k < end; k++) {
      const xk = values[k]!;
      const o = SCORE_GROUP * colIdx[k]!;
      acc[o] = acc[o]! + xk * c0;
      acc[o + 1] = acc[o + 1]! + xk * c1;
      acc[o + 2] = acc[o + 2]! + xk * c2;
      acc[o + 3] = acc[o + 3]! + xk * c3;
      acc[o + 4] = acc[o + 4]! + xk * c4;
      acc[o + 5] = acc[o + 5]! + xk * c5;
      acc[o + 6] = acc[o + 6]! + xk * c6;
      acc[o + 7] = acc[o + 7]! + xk * c7;
    }
    sinceTurn += end - start;
    if (sinceTurn >= SLICE_ENTRIES) {
      sinceTurn = 0;
      await aTurn();
    }
  }
  for (let e = 0; e < ws.length; e++) {
    const ze = z[e]!;
    const b = biases[e]!;
    for (let i = 0; i < nRows; i++) ze[i] = acc[SCORE_GROUP * i + e]! + b;
  }
}

/**
 * A set trainAveraged scores given by its transpose: its labels, and transposeCsr of its
 * rows (perhaps still being made).
 */
export interface SetByColumn {
  y: Uint8Array;
  xt: Promise<Csr>;
}

/**
 * Train one run per backend, the runs differing only in their seed (config.seed + m for
 * the m-th: its row order, batch order and dropout masks), all at once, and return the
 * mean of their weights and biases. Averaging a few runs removes much of the noise each
 * run's own last steps leave in its weights (README: about +0.1 point of 5-fold
 * cross-validated accuracy on train/ for two runs). The objective is convex, and every
 * run starts from zero on the same features, so the runs land near the same optimum and
 * their mean is a model of the same kind, stored and used like any other.
 *
 * Each epoch's record describes the averaged model: the runs' mean training loss, and
 * the validation and test sets scored with the mean of the runs' weights after that
 * epoch (the runs themselves score nothing). A set may be given by its transpose instead
 * (extra.byColumn, in place of sets.validation or sets.test). The result is the mean
 * after the last epoch (extra.onLastMean hears of it before the last epochs are scored):
 * nothing is chosen on validation here (the pipeline trains its final model for a fixed
 * count). With one backend this is trainLoop, and `extra` is not used.
 * Each run reports its weights after every epoch and goes on; the mean is taken in run
 * order once every run has reported, so it does not depend on which finished first.
 *
 * The scores come a little later than the rest of a record: the means of eight epochs
 * are kept and scored together in one pass over each set (see logitsByColumn), which
 * costs less than twice what scoring one epoch alone does, while the runs train the next
 * epochs. hooks.onEpoch gets each record as its epoch ends, without scores; the scores
 * are then written into those same records (the history returned), and hooks.onScores is
 * called with them.
 */
export async function trainAveraged(
  backends: readonly TrainingBackend[],
  sets: TrainSets,
  config: TrainConfig,
  hooks: TrainHooks = {},
  extra: {
    /** sets given by their transpose, in place of sets.validation or sets.test */
    byColumn?: { validation?: SetByColumn; test?: SetByColumn };
    /** the result's weights and bias, as soon as they are known (before the last epochs are scored) */
    onLastMean?: (weights: Float32Array, bias: number) => void;
  } = {},
): Promise<TrainResult> {
  const byColumn = extra.byColumn ?? {};
  if (backends.length === 1) return trainLoop(backends[0]!, sets, config, hooks);
  if (backends.length === 0) throw new InvalidSettingsError("no backend to train on");
  const now = hooks.now ?? (() => performance.now());
  const m = backends.length;
  // reports[e - 1][r]: run r's record and weights after epoch e
  const reports: (({ record: EpochRecord; weights: Float32Array; bias: number } | undefined)[] | undefined)[] = [];
  const history: EpochRecord[] = [];
  // the runs' weights after the last epoch averaged so far (the result is their mean)
  let lastRow: { weights: Float32Array; bias: number }[] | null = null;
  // their mean, when it was computed for scoring
  let lastMean: { weights: Float32Array; bias: number } | null = null;

  // The mean and its scores are computed on this thread, which also relays every call to
  // the runs' backends (threads, in the CLI); so that work goes in slices with a turn of
  // the event loop between them, and a run that finishes an epoch meanwhile is answered
  // at once instead of waiting for this thread to finish scoring.
  let completing: Promise<void> = Promise.resolve();
  let queued = 0;
  const report = (run: number, record: EpochRecord, weights: Float32Array, bias: number) => {
    const e = record.epoch;
    const row = (reports[e - 1] ??= new Array<undefined>(m).fill(undefined));
    row[run] = { record, weights, bias };
    // epochs complete in order: each run reports its epochs in order
    while (reports[queued]?.every((x) => x !== undefined)) {
      const done = reports[queued]! as { record: EpochRecord; weights: Float32Array; bias: number }[];
      reports[queued++] = undefined; // the runs' weights are no longer needed once averaged
      completing = completing.then(() => completeEpoch(done));
    }
  };

  // The scored sets by column (see logitsByColumn): as given, or transposed here in
  // slices while the runs train their first epochs; and the means waiting to be scored,
  // group[g]'s in slot g.
  const scored = (["validation", "test"] as const).flatMap((key) => {
    const given = byColumn[key];
    const set = sets[key];
    if (!given && !set) return [];
    const y = given?.y ?? set!.y;
    const transposed = given?.xt ?? transposeCsr(set!.x, aTurn);
    transposed.catch(() => {}); // a failure is reported where it is awaited
    return [{ key, y, transposed }];
  });
  const slots: Float32Array[] = [];
  const group: { record: EpochRecord; bias: number }[] = [];
  const scoreGroup = async () => {
    if (group.length === 0) return;
    const records = group.map((g) => g.record);
    const biases = group.map((g) => g.bias);
    const means = slots.slice(0, group.length);
    group.length = 0;
    for (const { key, y, transposed } of scored) {
      const z = records.map(() => new Float32Array(y.length));
      await logitsByColumn(await transposed, means, biases, z);
      records.forEach((r, g) => (r[key] = metricsFromSums(sumsFromLogits(z[g]!, y))));
    }
    hooks.onScores?.(records);
  };

  const completeEpoch = async (row: { record: EpochRecord; weights: Float32Array; bias: number }[]) => {
    const t0 = now();
    lastRow = row;
    lastMean = null;
    let lossSum = 0;
    for (const r of row) lossSum += r.record.trainLoss;
    const record: EpochRecord = {
      epoch: history.length + 1,
      lr: row[0]!.record.lr,
      trainLoss: lossSum / m,
      trainSeconds: Math.max(...row.map((r) => r.record.trainSeconds)),
      seconds: 0,
    };
    if (scored.length > 0) {
      const g = group.length;
      const mean = (slots[g] ??= new Float32Array(sets.train.x.nCols));
      lastMean = { weights: mean, bias: await meanInSlices(row, mean) };
      group.push({ record, bias: lastMean.bias });
    }
    record.seconds = Math.max(...row.map((r) => r.record.seconds)) + (now() - t0) / 1000;
    history.push(record);
    hooks.onEpoch?.(record);
    if (group.length === SCORE_GROUP) await scoreGroup();
  };

  // a failing run stops the others at their next epoch, before their backends go away
  let failed = false;
  const settled = await Promise.allSettled(
    backends.map(async (backend, run) => {
      const records: EpochRecord[] = [];
      let reported = 0;
      const res = await trainLoop(backend, { train: sets.train }, { ...config, seed: config.seed + run }, {
        onEpoch: (r) => records.push(r),
        shouldStop: () => failed || (hooks.shouldStop?.() ?? false),
        now,
        beforeEpoch: async (epoch) => {
          if (epoch > 1) {
            const { weights, bias } = await backend.readWeights();
            reported = epoch - 1;
            report(run, records[epoch - 2]!, weights, bias);
          }
          return hooks.beforeEpoch ? hooks.beforeEpoch(epoch) : true;
        },
      });
      // without a validation set the result is the last epoch's weights
      const last = res.history.length;
      if (reported < last) report(run, records[last - 1]!, res.weights, res.bias);
      return res;
    }).map((p) => p.catch((e: unknown) => {
      failed = true;
      throw e;
    })),
  );
  const failure = settled.find((r) => r.status === "rejected");
  if (failure) {
    completing.catch(() => {}); // the run's failure is the one to report
    throw failure.reason;
  }
  const results = settled.map((r) => (r as PromiseFulfilledResult<TrainResult>).value);
  await completing;
  // (set by completeEpoch, which TypeScript's narrowing does not follow)
  const known = lastMean as { weights: Float32Array; bias: number } | null;
  if (known) extra.onLastMean?.(known.weights, known.bias);
  await scoreGroup();
  // the mean after the last epoch; or, stopped (by the user) before every run had
  // finished an epoch, of the runs' weights as they stand, as trainLoop returns its
  // weights then (the slots are written no more: the last epoch's is the result)
  const final = lastMean ?? (await meanOfRuns(lastRow ?? results));
  return {
    history,
    bestEpoch: history.length,
    stoppedEarly: false,
    stoppedByUser: results.some((r) => r.stoppedByUser),
    weights: final.weights,
    bias: final.bias,
    backend: results[0]!.backend,
  };
}

/**
 * probabilities(applyFeatureWeights(counts, featureWeights, features), weights, bias),
 * without the weighed rows: for NB weights, each row's normalizing factor and then its
 * logit, entry by entry, with applyFeatureWeights' and probabilities' arithmetic (so the
 * same numbers, and no 64 MB of weighed rows for the full test set). tf-idf weighs first.
 */
export function probabilitiesOfCounts(counts: Csr, featureWeights: FeatureWeights, features: FeatureConfig, weights: Float32Array, bias: number): Float64Array {
  if (featureWeights.kind !== "nb") return probabilities(applyFeatureWeights(counts, featureWeights, features), weights, bias);
  // column j's scale and weight side by side: one cache miss an entry, not two (the
  // second pass over a row finds them in cache)
  const sw = new Float32Array(2 * weights.length);
  const { scale } = featureWeights;
  for (let j = 0; j < weights.length; j++) {
    sw[2 * j] = scale[j]!;
    sw[2 * j + 1] = weights[j]!;
  }
  const { rowPtr, colIdx } = counts;
  const out = new Float64Array(counts.nRows);
  for (let i = 0; i < counts.nRows; i++) {
    const start = rowPtr[i]!;
    const end = rowPtr[i + 1]!;
    const factor = nbRowFactor(sw, 2, colIdx, start, end, features.normalize);
    let z = bias;
    for (let k = start; k < end; k++) {
      const o = 2 * colIdx[k]!;
      // the weighed value as applyFeatureWeights stores it (float32)
      z += Math.fround(sw[o]! * factor) * sw[o + 1]!;
    }
    out[i] = sigmoid(z);
  }
  return out;
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
