// The recorded runs the pages show: the shipped model's model.json and the sweep in
// records/sweep.json, checked on arrival, and the facts derived from them (best epochs,
// why the shipped settings were chosen, metrics at chosen epochs). Nothing here is typed
// in: every figure comes from these records.

import type { BinaryMetrics } from "../core/metrics.ts";
import type { SentimentModel, TrainingInfo } from "../core/model-format.ts";
import type { EpochRecord, SetMetrics } from "../core/train.ts";
import type { FeatureConfig } from "../core/features.ts";
import type { SweepRecords, SweepRun } from "../node/sweep.ts";
import { formatPercent, formatSetting } from "./format.ts";

export type { SweepRecords, SweepRun };

/** A record file is missing or is not what it claims to be. */
export class RecordsError extends Error {
  override name = "RecordsError";
}

/** What the pages read from a model.json (everything but the weight arrays). */
export interface ModelInfo {
  createdAt: string;
  features: FeatureConfig;
  training: TrainingInfo;
  metrics: { test?: BinaryMetrics; validation?: BinaryMetrics };
  history: SentimentModel["history"];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === "object" && !Array.isArray(x);
}

function isHistory(x: unknown): x is EpochRecord[] {
  return Array.isArray(x) && x.every((r) => isObject(r) && typeof r.epoch === "number" && typeof r.trainLoss === "number");
}

/** Read the display facts from model.json's text; throws RecordsError naming the problem. */
export function parseModelInfo(json: string, where = "model.json"): ModelInfo {
  let m: unknown;
  try {
    m = JSON.parse(json);
  } catch (e) {
    throw new RecordsError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(m) || m.format !== "moviesentiments-model") throw new RecordsError(`${where} is not a MovieSentiments model`);
  if (!isObject(m.training) || !isObject(m.training.config)) throw new RecordsError(`${where} has no training settings`);
  if (!isObject(m.features)) throw new RecordsError(`${where} has no feature settings`);
  const history = isObject(m.history) ? m.history : {};
  return {
    createdAt: typeof m.createdAt === "string" ? m.createdAt : "",
    features: m.features as unknown as FeatureConfig,
    training: m.training as unknown as TrainingInfo,
    metrics: isObject(m.metrics) ? (m.metrics as ModelInfo["metrics"]) : {},
    history: {
      selection: isHistory(history.selection) ? history.selection : [],
      final: isHistory(history.final) ? history.final : [],
    },
  };
}

/** Check records/sweep.json's parsed content. */
export function parseSweepRecords(json: string, where = "records/sweep.json"): SweepRecords {
  let s: unknown;
  try {
    s = JSON.parse(json);
  } catch (e) {
    throw new RecordsError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(s) || s.kind !== "moviesentiments-sweep") throw new RecordsError(`${where} is not a MovieSentiments sweep record`);
  if (!Array.isArray(s.runs)) throw new RecordsError(`${where} has no runs`);
  for (const [i, r] of s.runs.entries()) {
    if (!isObject(r) || typeof r.lr !== "number" || typeof r.l2 !== "number" || !isHistory(r.history))
      throw new RecordsError(`${where}: run ${i + 1} is malformed (needs lr, l2 and a history of epochs)`);
  }
  return s as unknown as SweepRecords;
}

// ---- facts derived from a history ------------------------------------------------

export interface BestEpoch {
  epoch: number;
  validation: SetMetrics;
  test?: SetMetrics;
}

/**
 * The epoch with the best validation score, by the rule the training loop uses: higher
 * accuracy, then lower loss; the earliest such epoch.
 */
export function bestValidationEpoch(history: readonly EpochRecord[]): BestEpoch | null {
  let best: BestEpoch | null = null;
  for (const r of history) {
    const v = r.validation;
    if (!v) continue;
    if (!best || v.accuracy > best.validation.accuracy || (v.accuracy === best.validation.accuracy && v.loss < best.validation.loss))
      best = { epoch: r.epoch, validation: v, test: r.test };
  }
  return best;
}

export function runLabel(run: { lr: number; l2: number }): string {
  return `lr ${formatSetting(run.lr)}, L2 ${formatSetting(run.l2)}`;
}

/** The sweep's runs with their best validation epoch, best first. */
export function rankSweepRuns(sweep: SweepRecords): { run: SweepRun; best: BestEpoch }[] {
  const ranked: { run: SweepRun; best: BestEpoch }[] = [];
  for (const run of sweep.runs) {
    const best = bestValidationEpoch(run.history);
    if (best) ranked.push({ run, best });
  }
  return ranked.sort(
    (a, b) => b.best.validation.accuracy - a.best.validation.accuracy || a.best.validation.loss - b.best.validation.loss,
  );
}

function bestAccuracyWhere(sweep: SweepRecords, keep: (r: SweepRun) => boolean): number | null {
  let best: number | null = null;
  for (const { run, best: b } of rankSweepRuns(sweep)) {
    if (keep(run) && (best === null || b.validation.accuracy > best)) best = b.validation.accuracy;
  }
  return best;
}

function distinct(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => b - a);
}

/**
 * Sentences saying why the final settings were chosen, each drawn from the records:
 * the sweep's ranking on validation accuracy, the trends it shows, and the shipped
 * model's own selection run.
 */
export function explainChoice(sweep: SweepRecords | null, model: ModelInfo | null): string[] {
  const out: string[] = [];
  if (sweep && sweep.runs.length > 0) {
    const ranked = rankSweepRuns(sweep);
    const top = ranked[0];
    if (top) {
      const lastEpoch = top.run.history.at(-1)?.epoch ?? top.best.epoch;
      out.push(
        `Of the ${ranked.length} sweep runs, ${runLabel(top.run)} reached the highest validation accuracy, ` +
          `${formatPercent(top.best.validation.accuracy)} at epoch ${top.best.epoch} of ${lastEpoch}` +
          (top.best.epoch === lastEpoch ? " (still improving when the run ended)." : "."),
      );
    }
    const lrs = distinct(sweep.runs.map((r) => r.lr));
    if (lrs.length === 2) {
      const [hi, lo] = lrs as [number, number];
      const aHi = bestAccuracyWhere(sweep, (r) => r.lr === hi);
      const aLo = bestAccuracyWhere(sweep, (r) => r.lr === lo);
      if (aHi !== null && aLo !== null && aHi !== aLo)
        out.push(
          `The ${aHi > aLo ? "larger" : "smaller"} learning rate did better: best validation accuracy ` +
            `${formatPercent(aHi)} at lr ${formatSetting(hi)} against ${formatPercent(aLo)} at lr ${formatSetting(lo)}.`,
        );
    }
    const l2s = distinct(sweep.runs.map((r) => r.l2));
    if (l2s.length === 2) {
      const [strong, weak] = l2s as [number, number];
      const aStrong = bestAccuracyWhere(sweep, (r) => r.l2 === strong);
      const aWeak = bestAccuracyWhere(sweep, (r) => r.l2 === weak);
      if (aStrong !== null && aWeak !== null && aStrong !== aWeak)
        out.push(
          `The ${aWeak > aStrong ? "weaker" : "stronger"} L2 penalty did better: ${formatPercent(aWeak)} with L2 ` +
            `${formatSetting(weak)} against ${formatPercent(aStrong)} with L2 ${formatSetting(strong)}.`,
        );
    }
  }
  if (model) {
    const c = model.training.config;
    const decay = c.lrDecay > 0 ? `, decaying as ${formatSetting(c.lr)} / (1 + ${formatSetting(c.lrDecay)} × (epoch − 1))` : "";
    out.push(
      `The shipped model was trained with learning rate ${formatSetting(c.lr)}${decay}, L2 ${formatSetting(c.l2)}` +
        (c.dropout ? `, feature dropout ${formatSetting(c.dropout)}` : "") +
        ` and batch size ${c.batchSize}, for ${model.training.validationFraction > 0 ? "at most " : ""}${c.epochs} epochs` +
        (c.average ? ", using each epoch's average of the weights it visited (Polyak–Ruppert averaging)." : "."),
    );
    const best = bestValidationEpoch(model.history.selection);
    if (best) {
      const sweepTop = sweep ? rankSweepRuns(sweep)[0] : undefined;
      const compare = sweepTop
        ? `, ${best.validation.accuracy >= sweepTop.best.validation.accuracy ? "above" : "below"} the best sweep run's ${formatPercent(sweepTop.best.validation.accuracy)}`
        : "";
      out.push(
        `On its validation split (${formatPercent(model.training.validationFraction, 0)} of train/, never used for fitting) ` +
          `it peaked at epoch ${best.epoch} with ${formatPercent(best.validation.accuracy)} accuracy${compare}` +
          (model.training.stoppedEarly ? `; early stopping ended the run after ${model.history.selection.length} epochs.` : "."),
      );
    }
    const t = model.training;
    const runs = (t.seeds ?? 1) > 1 ? `, as the average of ${t.seeds} runs with different seeds` : "";
    if (t.refit)
      out.push(
        `The final model was then retrained on all ${t.nTrain.toLocaleString("en-US")} train/ reviews for ` +
          `${t.bestEpoch} epochs${runs}; the test split was only ever scored for display.`,
      );
    else if (t.validationFraction === 0)
      out.push(
        `It was trained on all ${t.nTrain.toLocaleString("en-US")} train/ reviews for a fixed ${t.bestEpoch} epochs, with no validation split ` +
          `(the shipped recipe's count was chosen by cross-validation on train/; see the README)${runs}; the test split was only ever scored for display.`,
      );
  }
  return out;
}

// ---- metrics at chosen epochs ----------------------------------------------------

export const DEFAULT_EPOCHS = [10, 25, 50, 100, 200];

/** "10, 25 50;100" -> [10, 25, 50, 100]; sorted, distinct, positive integers only. */
export function parseEpochList(text: string): { epochs: number[]; error: string | null } {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== "");
  if (parts.length === 0) return { epochs: [], error: "give at least one epoch, e.g. 10, 25, 50" };
  const bad = parts.filter((p) => !/^\d+$/.test(p) || Number(p) < 1);
  if (bad.length > 0) return { epochs: [], error: `not an epoch number: ${bad.map((b) => `"${b}"`).join(", ")} (use whole numbers from 1)` };
  const epochs = [...new Set(parts.map(Number))].sort((a, b) => a - b);
  if (epochs.length > 50) return { epochs: [], error: "at most 50 epochs at once" };
  return { epochs, error: null };
}

/** The test metrics recorded at each requested epoch, or null where the run has no such epoch. */
export function testMetricsAt(history: readonly EpochRecord[], epochs: readonly number[]): (SetMetrics | null)[] {
  const byEpoch = new Map(history.map((r) => [r.epoch, r]));
  return epochs.map((e) => byEpoch.get(e)?.test ?? null);
}

/** A history to read metrics from: a sweep run or a run made in the browser. */
export interface MetricSource {
  name: string;
  lr: number;
  l2: number;
  history: readonly EpochRecord[];
}

export interface EpochMetricRow {
  source: string;
  lr: number;
  l2: number;
  epoch: number;
  /** null when the run did not reach that epoch or recorded no test metrics there */
  test: SetMetrics | null;
}

/** One row per source and chosen epoch, sources ordered by learning rate (largest first). */
export function epochMetricRows(sources: readonly MetricSource[], epochs: readonly number[]): EpochMetricRow[] {
  const ordered = [...sources].sort((a, b) => b.lr - a.lr || b.l2 - a.l2);
  const rows: EpochMetricRow[] = [];
  for (const s of ordered) {
    const at = testMetricsAt(s.history, epochs);
    epochs.forEach((epoch, i) => rows.push({ source: s.name, lr: s.lr, l2: s.l2, epoch, test: at[i] ?? null }));
  }
  return rows;
}
