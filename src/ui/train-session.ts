// Training in the browser, without the browser: the work the training worker does,
// written against plain streams and a backend factory so it runs (and is tested) in
// Node too. It keeps the reviews of the last archive read, so a run with other
// settings or on the other backend does not read the archive again.
//
// One run is the shared pipeline (src/core/pipeline.ts) with its backend wrapped to
// time the upload and to yield to the event loop between steps, so a Stop message can
// arrive while an epoch is running.

import { ArchiveError } from "../core/archive.ts";
import { DatasetError, loadImdbFromTarGz } from "../core/dataset.ts";
import { applyFeatureWeights, DEFAULT_FEATURES, type FeatureConfig } from "../core/features.ts";
import { calibration, type ReliabilityBin } from "../core/metrics.ts";
import { encodeModel, type EncodedModel } from "../core/model-format.ts";
import { DEFAULT_PIPELINE, hashReviews, probabilities, trainPipeline, type PipelineOptions, type PipelineStage } from "../core/pipeline.ts";
import { DEFAULT_TRAIN, DivergedError, InvalidSettingsError, type EpochRecord } from "../core/train.ts";
import type { Csr, Review, TrainingBackend } from "../core/types.ts";

export type BackendKind = "webgpu" | "cpu";

export interface BrowserTrainSettings {
  backend: BackendKind;
  lr: number;
  /** eta_e = lr / (1 + lrDecay (e - 1)) */
  lrDecay: number;
  l2: number;
  epochs: number;
  batchSize: number;
  /** early stopping on validation accuracy (0 = off) */
  patience: number;
  /** share of train/ held out to choose the epoch count (0 = train all epochs, no validation) */
  validationFraction: number;
  /** retrain on all of train/ for the chosen number of epochs (as the shipped model) */
  refit: boolean;
  /** use each epoch's mean iterate (Polyak-Ruppert averaging) rather than its last */
  average: boolean;
  /** feature dropout rate while training (0 = off) */
  dropout: number;
  seed: number;
  features: FeatureConfig;
}

/** The shipped model's recipe, with fewer epochs so a run in the browser stays short. */
export const DEFAULT_BROWSER_SETTINGS: BrowserTrainSettings = {
  backend: "webgpu",
  lr: DEFAULT_TRAIN.lr,
  lrDecay: DEFAULT_TRAIN.lrDecay,
  l2: DEFAULT_TRAIN.l2,
  epochs: 4,
  batchSize: DEFAULT_TRAIN.batchSize,
  patience: DEFAULT_TRAIN.patience,
  // a run in the browser is there to be watched: it holds out a validation split, chooses
  // the epoch count on it, then retrains (the shipped model's fixed count and two averaged
  // seeds are the CLI's; see DEFAULT_PIPELINE)
  validationFraction: 0.2,
  refit: DEFAULT_PIPELINE.refit,
  average: DEFAULT_TRAIN.average ?? false,
  dropout: DEFAULT_TRAIN.dropout ?? 0,
  seed: DEFAULT_TRAIN.seed,
  features: DEFAULT_FEATURES,
};

export function pipelineOptions(s: BrowserTrainSettings): PipelineOptions {
  return {
    features: s.features,
    training: {
      lr: s.lr,
      lrDecay: s.lrDecay,
      l2: s.l2,
      epochs: s.epochs,
      batchSize: s.batchSize,
      seed: s.seed,
      patience: s.patience,
      average: s.average,
      dropout: s.dropout,
    },
    validationFraction: s.validationFraction,
    refit: s.validationFraction > 0 && s.refit,
  };
}

export interface DatasetSummary {
  name: string;
  compressedBytes: number;
  nTrain: number;
  nTest: number;
  /** gunzip + tar parsing + UTF-8 decoding */
  readSeconds: number;
}

/** Where a run's time went, in seconds. */
export interface RunTimings {
  /** hashing n-grams and fitting/applying the feature weights (both passes) */
  featurize: number;
  /** creating the backend (for WebGPU: adapter, device, kernels) */
  backendInit: number;
  /** backend.load: uploading the sets and building the per-batch layouts */
  upload: number;
  /** each epoch: training step alone, and with evaluation of validation and test */
  epochTrain: number[];
  epochTotal: number[];
  /** scoring the stored (float16) model on the test set */
  evaluate: number;
  /** from the start of the run until the model files were ready */
  total: number;
}

export function emptyTimings(): RunTimings {
  return { featurize: 0, backendInit: 0, upload: 0, epochTrain: [], epochTotal: [], evaluate: 0, total: 0 };
}

export type RunPhase = "select" | "refit";

export type TrainEvent =
  | { type: "stage"; stage: PipelineStage | "start"; detail: string }
  | { type: "featurize-progress"; done: number; total: number }
  | { type: "backend"; kind: BackendKind; deviceName: string }
  | { type: "epoch"; phase: RunPhase; record: EpochRecord; timings: RunTimings }
  /** the run ended with a usable model, encoded exactly as the CLI writes it */
  | { type: "model"; encoded: EncodedModel; timings: RunTimings; stoppedByUser: boolean }
  | { type: "calibration"; bins: ReliabilityBin[]; ece: number; n: number; seconds: number }
  /**
   * the run ended without a model (stopped before an epoch finished, or failed);
   * webgpuFailure: WebGPU could not start ("unavailable") or its device was lost
   * after the run had started on it ("lost"): the same settings can run on the CPU
   */
  | { type: "ended"; outcome: "stopped" | "failed"; message: string; timings: RunTimings; webgpuFailure?: "unavailable" | "lost" };

/** A message for the page from any error a load or a run can throw. */
export function describeError(error: unknown): string {
  if (error instanceof ArchiveError || error instanceof DatasetError || error instanceof InvalidSettingsError || error instanceof DivergedError)
    return error.message;
  if (error instanceof Error) {
    if (error.name === "WebGpuUnavailableError")
      return /\bCPU\b/.test(error.message) ? error.message : `${error.message.replace(/\.$/, "")}. Choose the CPU backend instead.`;
    if (error instanceof RangeError && /allocation|memory/i.test(error.message))
      return `the browser ran out of memory (${error.message}); close other tabs or train with fewer hash bits`;
    return `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** A WebGPU failure's reason without its closing advice to use the CPU (for pages that give that advice themselves). */
export function gpuReason(reason: string): string {
  return reason.replace(/[;:,.]?\s*(use|choose) the CPU backend( instead)?\.?$/i, "");
}

/** What the page says when the GPU device went away in the middle of a run. */
export function deviceLostMessage(error: Error): string {
  const why = /device was lost \(([^)]*)\)/i.exec(error.message)?.[1];
  return (
    `The GPU device was lost in the middle of the run${why ? ` (${why})` : ""}, as happens when the GPU is reset ` +
    "or its driver crashes. The weights it held are gone, so this run kept no model; its curves so far stay. " +
    "Train on the CPU instead (same settings, from the first epoch), or try WebGPU again."
  );
}

function isWebGpuUnavailable(error: unknown): error is Error {
  return error instanceof Error && error.name === "WebGpuUnavailableError";
}

const now = (): number => performance.now();

/** Let queued messages (a Stop) run before the next step. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The backend with load timed and a yield after each call that can take long. */
function instrument(inner: TrainingBackend, onUpload: (seconds: number) => void): TrainingBackend {
  return {
    kind: inner.kind,
    deviceName: inner.deviceName,
    async load(data) {
      const t0 = now();
      await inner.load(data);
      onUpload((now() - t0) / 1000);
      await yieldToEventLoop();
    },
    async trainEpoch(order, lr, l2) {
      const loss = await inner.trainEpoch(order, lr, l2);
      await yieldToEventLoop();
      return loss;
    },
    async evaluate(name) {
      const sums = await inner.evaluate(name);
      await yieldToEventLoop();
      return sums;
    },
    predict: (name) => inner.predict(name),
    readWeights: () => inner.readWeights(),
    dispose: () => inner.dispose(),
  };
}

export class TrainSession {
  private data: { summary: DatasetSummary; train: Review[]; test: Review[] } | null = null;
  private testCounts: { key: string; counts: Csr; labels: Uint8Array } | null = null;

  get dataset(): DatasetSummary | null {
    return this.data?.summary ?? null;
  }

  /**
   * Read an IMDB archive. On failure the reviews read before (if any) stay loaded.
   * @throws ArchiveError, DatasetError with messages for the page
   */
  async loadArchive(
    stream: ReadableStream<Uint8Array>,
    source: { name: string; bytes: number },
    onProgress?: (bytesRead: number) => void,
  ): Promise<DatasetSummary> {
    const t0 = now();
    const data = await loadImdbFromTarGz(stream, { onProgress });
    const summary: DatasetSummary = {
      name: source.name,
      compressedBytes: source.bytes,
      nTrain: data.train.length,
      nTest: data.test.length,
      readSeconds: (now() - t0) / 1000,
    };
    this.data = { summary, train: data.train, test: data.test };
    this.testCounts = null;
    return summary;
  }

  /**
   * Train on the loaded reviews. Events go to `emit`; `stopRequested` is polled between
   * epochs. Never throws: failures end with an "ended" event.
   */
  async train(
    settings: BrowserTrainSettings,
    makeBackend: (kind: BackendKind) => Promise<TrainingBackend>,
    emit: (event: TrainEvent, transfer?: Transferable[]) => void,
    stopRequested: () => boolean,
  ): Promise<void> {
    const timings = emptyTimings();
    const t0 = now();
    let backendsMade = 0;
    let stageStart = t0;
    let stage: PipelineStage | "start" = "start";
    const closeStage = () => {
      if (stage === "featurize" || stage === "select" || stage === "refit") timings.featurize += (now() - stageStart) / 1000;
      else if (stage === "evaluate") timings.evaluate += (now() - stageStart) / 1000;
    };
    try {
      const data = this.data;
      if (!data) throw new DatasetError("no archive has been read yet: drop aclImdb_v1.tar.gz first");
      const options = pipelineOptions(settings);
      emit({ type: "stage", stage: "start", detail: `${data.summary.nTrain + data.summary.nTest} reviews from ${data.summary.name}` });
      const model = await trainPipeline(
        { train: data.train, test: data.test },
        options,
        async () => {
          // time before a backend exists in a stage is featurizing (hashing, weighting)
          closeStage();
          stage = "start";
          const t = now();
          const backend = await makeBackend(settings.backend);
          backendsMade++;
          timings.backendInit += (now() - t) / 1000;
          emit({ type: "backend", kind: settings.backend, deviceName: backend.deviceName });
          return instrument(backend, (s) => (timings.upload += s));
        },
        {
          onStage: (s, detail) => {
            closeStage();
            stage = s;
            stageStart = now();
            emit({ type: "stage", stage: s, detail });
          },
          onFeaturize: (done, total) => emit({ type: "featurize-progress", done, total }),
          onEpoch: (phase, record) => {
            timings.epochTrain.push(record.trainSeconds);
            timings.epochTotal.push(record.seconds);
            emit({ type: "epoch", phase, record, timings: { ...timings, epochTrain: [...timings.epochTrain], epochTotal: [...timings.epochTotal] } });
          },
          shouldStop: stopRequested,
        },
      );
      closeStage();
      const produced = options.validationFraction > 0 && !options.refit ? model.history.selection : model.history.final;
      const stopped = stopRequested();
      if (produced.length === 0) {
        timings.total = (now() - t0) / 1000;
        emit({
          type: "ended",
          outcome: "stopped",
          message:
            model.history.selection.length > 0
              ? "stopped before the final model was retrained on all of train/: no model was kept (the curves so far stay)"
              : "stopped before the first epoch finished: no model was kept",
          timings,
        });
        return;
      }
      const encoded = encodeModel(model);
      timings.total = (now() - t0) / 1000;
      emit(
        { type: "model", encoded, timings, stoppedByUser: stopped },
        encoded.files.map((f) => f.bytes.buffer as ArrayBuffer),
      );
      // calibration on the test split, from the stored (float16) weights
      const tc = now();
      const key = JSON.stringify(settings.features);
      if (this.testCounts?.key !== key) this.testCounts = { key, ...hashReviews(data.test, settings.features) };
      const x = applyFeatureWeights(this.testCounts.counts, model.featureWeights, model.features);
      const probs = probabilities(x, model.weights, model.bias);
      const cal = calibration(this.testCounts.labels, probs, 10);
      emit({ type: "calibration", bins: cal.bins, ece: cal.ece, n: probs.length, seconds: (now() - tc) / 1000 });
    } catch (error) {
      timings.total = (now() - t0) / 1000;
      if (settings.backend === "webgpu" && isWebGpuUnavailable(error)) {
        const lost = backendsMade > 0;
        emit({
          type: "ended",
          outcome: "failed",
          message: lost ? deviceLostMessage(error) : describeError(error),
          timings,
          webgpuFailure: lost ? "lost" : "unavailable",
        });
      } else emit({ type: "ended", outcome: "failed", message: describeError(error), timings });
    }
  }
}
