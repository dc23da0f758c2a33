// One training loop over any backend: seeded batch order, per-epoch records, best epoch
// on validation, early stopping, and a clear stop on a non-finite loss.

import { selectRows } from "./features.ts";
import { metricsFromSums } from "./metrics.ts";
import { mulberry32, shuffleInPlace } from "./random.ts";
import type { LabelledSet, TrainingBackend } from "./types.ts";

export interface TrainConfig {
  /** learning rate eta at epoch 1 */
  lr: number;
  /** eta_e = lr / (1 + lrDecay (e - 1)) for epoch e = 1, 2, ... (0 = constant) */
  lrDecay: number;
  /** L2 strength lambda (bias not penalised) */
  l2: number;
  /** maximum number of epochs */
  epochs: number;
  batchSize: number;
  seed: number;
  /** stop after this many epochs without a better validation score (0 = never) */
  patience: number;
  /** report each epoch's mean iterate (Polyak-Ruppert averaging) rather than its last (default false) */
  average?: boolean;
  /**
   * feature dropout rate p in [0, 1) (default 0): each training step keeps each non-zero
   * feature with probability 1 - p, scaled by 1/(1 - p); evaluation uses every feature
   */
  dropout?: number;
}

/** The shipped configuration (chosen on the validation split; see README). */
export const DEFAULT_TRAIN: TrainConfig = {
  lr: 4,
  lrDecay: 0,
  l2: 1e-7,
  epochs: 13,
  batchSize: 1,
  seed: 42,
  patience: 5,
  average: true,
  dropout: 0.5,
};

/** Thrown for settings that make no sense, before any work starts. */
export class InvalidSettingsError extends Error {
  override name = "InvalidSettingsError";
}

/** Thrown when the loss stops being a finite number. */
export class DivergedError extends Error {
  override name = "DivergedError";
}

export function validateTrainConfig(c: TrainConfig): void {
  const bad = (msg: string) => {
    throw new InvalidSettingsError(msg);
  };
  if (!(Number.isFinite(c.lr) && c.lr > 0)) bad(`learning rate must be a number > 0 (got ${c.lr})`);
  if (!(Number.isFinite(c.lrDecay) && c.lrDecay >= 0)) bad(`learning-rate decay must be >= 0 (got ${c.lrDecay})`);
  if (!(Number.isFinite(c.l2) && c.l2 >= 0)) bad(`L2 strength must be a number >= 0 (got ${c.l2})`);
  if (c.lr * c.l2 >= 1) bad(`learning rate x L2 must be < 1, or the L2 step overshoots (got ${c.lr * c.l2})`);
  if (!(Number.isInteger(c.epochs) && c.epochs >= 1)) bad(`epochs must be an integer >= 1 (got ${c.epochs})`);
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1)) bad(`batch size must be an integer >= 1 (got ${c.batchSize})`);
  if (!Number.isInteger(c.seed)) bad(`seed must be an integer (got ${c.seed})`);
  if (!(Number.isInteger(c.patience) && c.patience >= 0)) bad(`patience must be an integer >= 0 (got ${c.patience})`);
  if (c.average !== undefined && typeof c.average !== "boolean") bad(`average must be true or false (got ${String(c.average)})`);
  if (c.dropout !== undefined && !(Number.isFinite(c.dropout) && c.dropout >= 0 && c.dropout <= 0.95))
    bad(`dropout must be a number from 0 to 0.95 (got ${c.dropout})`);
}

export interface SetMetrics {
  loss: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  /** mean over batches of the batch's cross-entropy before its update */
  trainLoss: number;
  validation?: SetMetrics;
  /** kept for display only: never used to choose anything */
  test?: SetMetrics;
  /** wall time of the epoch's training step alone, and with evaluation */
  trainSeconds: number;
  seconds: number;
}

export interface TrainResult {
  history: EpochRecord[];
  /** the epoch whose weights are returned (best validation accuracy, or the last without validation) */
  bestEpoch: number;
  stoppedEarly: boolean;
  stoppedByUser: boolean;
  weights: Float32Array;
  bias: number;
  backend: { kind: string; deviceName: string };
}

export interface TrainSets {
  train: LabelledSet;
  validation?: LabelledSet;
  test?: LabelledSet;
}

export interface TrainHooks {
  onEpoch?: (record: EpochRecord) => void;
  /**
   * trainAveraged only: these records (already passed to onEpoch without their
   * validation and test scores) now have them
   */
  onScores?: (records: readonly EpochRecord[]) => void;
  /** polled between epochs; return true to stop (the best weights so far are kept) */
  shouldStop?: () => boolean;
  /**
   * awaited before each epoch; false ends the run before that epoch, as if `epochs` had
   * been the epoch before (used to run a refit alongside the selection that sizes it)
   */
  beforeEpoch?: (epoch: number) => Promise<boolean> | boolean;
  now?: () => number;
}

export function learningRateAt(c: TrainConfig, epoch: number): number {
  return c.lr / (1 + c.lrDecay * (epoch - 1));
}

/** The seeded order of training rows (fixed for the run) and of batches (each epoch). */
export class BatchSchedule {
  readonly rowOrder: Uint32Array;
  readonly nBatches: number;
  private readonly rng: () => number;

  constructor(nRows: number, batchSize: number, seed: number) {
    this.rng = mulberry32(seed);
    this.rowOrder = Uint32Array.from({ length: nRows }, (_, i) => i);
    shuffleInPlace(this.rowOrder, this.rng);
    this.nBatches = Math.ceil(nRows / batchSize);
  }

  nextEpoch(): Uint32Array {
    const order = Uint32Array.from({ length: this.nBatches }, (_, i) => i);
    shuffleInPlace(order, this.rng);
    return order;
  }
}

/** Whether validation metrics a beat the best so far, b: higher accuracy, then lower loss. */
export function betterValidation(a: SetMetrics, b: SetMetrics | undefined): boolean {
  if (!b) return true;
  if (a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  return a.loss < b.loss;
}

/**
 * Train a logistic regression on `sets.train` with mini-batch gradient descent.
 * Rows are shuffled once (seeded) into fixed batches; each epoch visits the batches
 * in a new seeded order. After each epoch the validation and test sets are evaluated;
 * the returned weights are those of the best validation epoch.
 */
export async function trainLoop(
  backend: TrainingBackend,
  sets: TrainSets,
  config: TrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  validateTrainConfig(config);
  if (sets.train.x.nRows === 0) throw new InvalidSettingsError("the training set is empty");
  const now = hooks.now ?? (() => performance.now());
  const schedule = new BatchSchedule(sets.train.x.nRows, config.batchSize, config.seed);
  const evalSets = [sets.validation, sets.test].filter((s): s is LabelledSet => !!s);
  const dropout = config.dropout ? { rate: config.dropout, seed: config.seed } : undefined;
  const common = { batchSize: config.batchSize, evalSets, average: config.average === true, dropout };
  if (backend.takesRowOrder) {
    // the backend reads the rows in the run's order where they are (runs share them)
    await backend.load({ ...common, train: sets.train, rowOrder: schedule.rowOrder });
  } else {
    const train: LabelledSet = {
      name: sets.train.name,
      x: selectRows(sets.train.x, schedule.rowOrder),
      y: sets.train.y.map((_, k) => sets.train.y[schedule.rowOrder[k]!]!),
    };
    await backend.load({ ...common, train });
  }

  const history: EpochRecord[] = [];
  let best: { epoch: number; val?: SetMetrics; weights: Float32Array; bias: number } | null = null;
  let sinceBest = 0;
  let stoppedEarly = false;
  let stoppedByUser = false;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    // give the event loop a turn (a CPU backend never yields), so that a stop request
    // such as Ctrl-C in the CLI or a Stop button can arrive
    if (hooks.shouldStop) await aTurn();
    if (hooks.shouldStop?.()) {
      stoppedByUser = true;
      break;
    }
    if (hooks.beforeEpoch && !(await hooks.beforeEpoch(epoch))) break;
    const t0 = now();
    const lr = learningRateAt(config, epoch);
    const trainLoss = await backend.trainEpoch(schedule.nextEpoch(), lr, config.l2);
    const t1 = now();
    if (!Number.isFinite(trainLoss)) {
      throw new DivergedError(
        `training diverged at epoch ${epoch}: the loss became ${trainLoss}. Try a smaller learning rate (now ${lr}).`,
      );
    }
    const record: EpochRecord = { epoch, lr, trainLoss, trainSeconds: 0, seconds: 0 };
    if (sets.validation) record.validation = metricsFromSums(await backend.evaluate(sets.validation.name));
    if (sets.test) record.test = metricsFromSums(await backend.evaluate(sets.test.name));
    record.trainSeconds = (t1 - t0) / 1000;
    record.seconds = (now() - t0) / 1000;
    history.push(record);
    hooks.onEpoch?.(record);

    if (!sets.validation) continue;
    if (betterValidation(record.validation!, best?.val)) {
      const { weights, bias } = await backend.readWeights();
      best = { epoch, val: record.validation, weights, bias };
      sinceBest = 0;
    } else if (config.patience > 0 && ++sinceBest >= config.patience && epoch < config.epochs) {
      stoppedEarly = true;
      break;
    }
  }
  if (!best) {
    // without validation the last epoch's weights are the result
    const { weights, bias } = await backend.readWeights();
    best = { epoch: history.length, weights, bias };
  }
  return {
    history,
    bestEpoch: best.epoch,
    stoppedEarly,
    stoppedByUser,
    weights: best.weights,
    bias: best.bias,
    backend: { kind: backend.kind, deviceName: backend.deviceName },
  };
}

/**
 * A turn of the event loop: setImmediate where there is one (Node), which does not wait
 * out setTimeout's minimum delay (1 ms in Node, up to 4 ms in a browser) at every call.
 */
export const aTurn: () => Promise<void> =
  typeof setImmediate === "function" ? () => new Promise<void>((resolve) => setImmediate(resolve)) : () => new Promise<void>((resolve) => setTimeout(resolve, 0));
