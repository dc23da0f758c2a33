// Runs trained in this browser: their state as the worker reports it, the lines they
// add to the live charts, their timing summaries, and pairing a WebGPU run with a CPU
// run of the same settings for the side-by-side comparison.

import type { ReliabilityBin } from "../core/metrics.ts";
import type { EncodedModel } from "../core/model-format.ts";
import type { EpochRecord } from "../core/train.ts";
import { PALETTE, SPLIT_DASH, type HistoryMetric, type SeriesStyle } from "./chart-data.ts";
import { formatSetting } from "./format.ts";
import { parseModelInfo, type ModelInfo } from "./records.ts";
import { emptyTimings, type BackendKind, type BrowserTrainSettings, type DatasetSummary, type RunTimings, type TrainEvent } from "./train-session.ts";

export type RunStatus = "running" | "done" | "stopped" | "failed";

export interface BrowserRun {
  id: string;
  /** 1, 2, ... in the order runs were started */
  number: number;
  settings: BrowserTrainSettings;
  dataset: DatasetSummary;
  status: RunStatus;
  /** what the run is doing now, for the progress line */
  stage: string;
  /** 0..1 through the run's known work (featurizing, then epochs) */
  progress: number;
  deviceName: string | null;
  select: EpochRecord[];
  refit: EpochRecord[];
  timings: RunTimings;
  model: { encoded: EncodedModel; info: ModelInfo } | null;
  calibration: { bins: ReliabilityBin[]; ece: number; n: number } | null;
  /** why the run ended without a model, or how it was stopped */
  message: string | null;
  /** a WebGPU run that failed because WebGPU could not start, or its device was lost mid-run */
  webgpuFailure: "unavailable" | "lost" | null;
}

export function newRun(id: string, number: number, settings: BrowserTrainSettings, dataset: DatasetSummary): BrowserRun {
  return {
    id,
    number,
    settings,
    dataset,
    status: "running",
    stage: "starting",
    progress: 0,
    deviceName: null,
    select: [],
    refit: [],
    timings: emptyTimings(),
    model: null,
    calibration: null,
    message: null,
    webgpuFailure: null,
  };
}

export function backendName(kind: BackendKind): string {
  return kind === "webgpu" ? "WebGPU" : "CPU";
}

export function runTitle(run: BrowserRun): string {
  return `Run ${run.number} · ${backendName(run.settings.backend)}`;
}

export function settingsSummary(s: BrowserTrainSettings): string {
  const parts = [`lr ${formatSetting(s.lr)}`];
  if (s.lrDecay > 0) parts.push(`decay ${formatSetting(s.lrDecay)}`);
  parts.push(`L2 ${formatSetting(s.l2)}`, `${s.epochs} epochs`, `batch ${s.batchSize}`);
  if (s.dropout > 0) parts.push(`dropout ${formatSetting(s.dropout)}`);
  if (s.average) parts.push("averaged");
  if (s.validationFraction > 0) parts.push(`${Math.round(s.validationFraction * 100)}% validation${s.refit ? " + refit" : ""}`);
  return parts.join(", ");
}

/** Share of the run done: featurizing counts as the first tenth, epochs the rest. */
function runProgress(run: BrowserRun): number {
  const s = run.settings;
  const phases = s.validationFraction > 0 && s.refit ? 2 : 1;
  const epochs = run.select.length + run.refit.length;
  return Math.min(1, 0.1 + (0.9 * epochs) / (phases * s.epochs));
}

/** Fold one worker event into the run (in place; returns the run). */
export function applyTrainEvent(run: BrowserRun, e: TrainEvent): BrowserRun {
  switch (e.type) {
    case "stage":
      run.stage =
        e.stage === "start"
          ? `starting on ${e.detail}`
          : e.stage === "featurize"
            ? `featurizing ${e.detail}`
            : e.stage === "select"
              ? "training, choosing the number of epochs on the validation split"
              : e.stage === "refit"
                ? `retraining: ${e.detail}`
                : "scoring the test set";
      break;
    case "featurize-progress":
      run.progress = 0.1 * (e.total > 0 ? e.done / e.total : 0);
      break;
    case "backend":
      run.deviceName = e.deviceName;
      break;
    case "epoch":
      (e.phase === "select" ? run.select : run.refit).push(e.record);
      run.timings = e.timings;
      run.progress = runProgress(run);
      run.stage = `${e.phase === "refit" ? "retraining" : "training"}: epoch ${e.record.epoch} done`;
      break;
    case "model":
      run.model = { encoded: e.encoded, info: parseModelInfo(e.encoded.metaJson) };
      run.timings = e.timings;
      run.status = e.stoppedByUser ? "stopped" : "done";
      run.message = e.stoppedByUser ? "stopped by you; the model keeps the best epoch so far" : null;
      run.progress = 1;
      run.stage = "done";
      break;
    case "calibration":
      run.calibration = { bins: e.bins, ece: e.ece, n: e.n };
      break;
    case "ended":
      run.status = e.outcome;
      run.message = e.message;
      run.timings = e.timings;
      run.stage = e.outcome;
      run.webgpuFailure = e.webgpuFailure ?? null;
      break;
  }
  return run;
}

// ---- charts -----------------------------------------------------------------------

export type ChartKind = "loss" | "accuracy";

const LINES: Record<ChartKind, { metric: HistoryMetric; split: "train" | "validation" | "test"; name: string }[]> = {
  loss: [
    { metric: "trainLoss", split: "train", name: "train loss" },
    { metric: "validationLoss", split: "validation", name: "validation loss" },
    { metric: "testLoss", split: "test", name: "test loss" },
  ],
  accuracy: [
    { metric: "validationAccuracy", split: "validation", name: "validation accuracy" },
    { metric: "testAccuracy", split: "test", name: "test accuracy" },
  ],
};

/**
 * The lines runs add to a live chart: colour is the run, dash is the split. The
 * retraining phase (refit) gets its own lines, drawn with points.
 */
export function runChartLines(
  runs: readonly BrowserRun[],
  kind: ChartKind,
): { history: EpochRecord[]; metric: HistoryMetric; style: SeriesStyle }[] {
  const out: { history: EpochRecord[]; metric: HistoryMetric; style: SeriesStyle }[] = [];
  for (const run of runs) {
    const color = PALETTE[(run.number - 1) % PALETTE.length]!;
    for (const [phase, history] of [
      ["", run.select],
      [" (refit)", run.refit],
    ] as const) {
      if (history.length === 0) continue;
      for (const line of LINES[kind]) {
        if (!history.some((r) => (line.split === "validation" ? r.validation : line.split === "test" ? r.test : true))) continue;
        out.push({
          history,
          metric: line.metric,
          style: { label: `${runTitle(run)}${phase}: ${line.name}`, color, dash: SPLIT_DASH[line.split], points: phase !== "" },
        });
      }
    }
  }
  return out;
}

// ---- timing -------------------------------------------------------------------------

export interface TimingSummary {
  read: number;
  featurize: number;
  backendInit: number;
  upload: number;
  epochs: number;
  /** sum of the training steps alone (no evaluation) */
  epochsTrainOnly: number;
  meanEpoch: number;
  meanEpochTrainOnly: number;
  evaluate: number;
  /** the run, from its start to its model files */
  total: number;
  /** reading the archive plus the run */
  endToEnd: number;
}

function sum(a: readonly number[]): number {
  return a.reduce((s, x) => s + x, 0);
}

export function summarizeTimings(run: BrowserRun): TimingSummary {
  const t = run.timings;
  const n = t.epochTotal.length;
  return {
    read: run.dataset.readSeconds,
    featurize: t.featurize,
    backendInit: t.backendInit,
    upload: t.upload,
    epochs: sum(t.epochTotal),
    epochsTrainOnly: sum(t.epochTrain),
    meanEpoch: n > 0 ? sum(t.epochTotal) / n : NaN,
    meanEpochTrainOnly: n > 0 ? sum(t.epochTrain) / n : NaN,
    evaluate: t.evaluate,
    total: t.total,
    endToEnd: run.dataset.readSeconds + t.total,
  };
}

/** Same data and settings, backend aside. */
export function sameSettings(a: BrowserRun, b: BrowserRun): boolean {
  const { backend: _a, ...sa } = a.settings;
  const { backend: _b, ...sb } = b.settings;
  return a.dataset.name === b.dataset.name && a.dataset.nTrain === b.dataset.nTrain && JSON.stringify(sa) === JSON.stringify(sb);
}

/**
 * The newest pair of finished runs (model or stopped with epochs) with the same
 * settings on the two backends, WebGPU first; null when there is none yet.
 */
export function comparisonPair(runs: readonly BrowserRun[]): { webgpu: BrowserRun; cpu: BrowserRun } | null {
  const ended = runs.filter((r) => r.status !== "running" && r.timings.epochTotal.length > 0);
  for (let i = ended.length - 1; i >= 0; i--) {
    const a = ended[i]!;
    for (let j = i - 1; j >= 0; j--) {
      const b = ended[j]!;
      if (a.settings.backend !== b.settings.backend && sameSettings(a, b)) {
        return a.settings.backend === "webgpu" ? { webgpu: a, cpu: b } : { webgpu: b, cpu: a };
      }
    }
  }
  return null;
}

/** The settings with the backend swapped, for "run the same on the other backend". */
export function otherBackend(settings: BrowserTrainSettings): BrowserTrainSettings {
  return { ...settings, backend: settings.backend === "webgpu" ? "cpu" : "webgpu" };
}

/** A run's test metrics per epoch, for the Epoch Metrics page: the phase that made the model. */
export function runTestHistory(run: BrowserRun): EpochRecord[] {
  return run.refit.length > 0 ? run.refit : run.select;
}
