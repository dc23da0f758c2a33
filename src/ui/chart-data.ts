// Columnar chart data for uPlot: [x values, series 1, series 2, ...], with null where a
// series has no point at that x (runs of different lengths share one x axis).

import type { EpochRecord } from "../core/train.ts";

export type Columns = [number[], ...(number | null)[][]];

export interface Point {
  x: number;
  y: number;
}

/** Line style of one series; the chart component turns it into uPlot options. */
export interface SeriesStyle {
  label: string;
  color: string;
  dash?: number[];
  /** draw point markers (for sparse series) */
  points?: boolean;
}

/** Merge point lists onto the sorted union of their x values. */
export function alignSeries(series: readonly Point[][]): Columns {
  const xs = [...new Set(series.flatMap((s) => s.map((p) => p.x)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols: (number | null)[][] = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of s) if (Number.isFinite(p.y)) col[index.get(p.x)!] = p.y;
    return col;
  });
  return [xs, ...cols];
}

/** The per-epoch quantities a history records. */
export type HistoryMetric =
  | "trainLoss"
  | "validationLoss"
  | "testLoss"
  | "validationAccuracy"
  | "testAccuracy"
  | "testPrecision"
  | "testRecall"
  | "testF1";

export function historyValue(r: EpochRecord, metric: HistoryMetric): number | undefined {
  switch (metric) {
    case "trainLoss":
      return r.trainLoss;
    case "validationLoss":
      return r.validation?.loss;
    case "testLoss":
      return r.test?.loss;
    case "validationAccuracy":
      return r.validation?.accuracy;
    case "testAccuracy":
      return r.test?.accuracy;
    case "testPrecision":
      return r.test?.precision;
    case "testRecall":
      return r.test?.recall;
    case "testF1":
      return r.test?.f1;
  }
}

/** (epoch, value) points of one metric; epochs without it are left out. */
export function historyPoints(history: readonly EpochRecord[], metric: HistoryMetric): Point[] {
  const out: Point[] = [];
  for (const r of history) {
    const y = historyValue(r, metric);
    if (y !== undefined && Number.isFinite(y)) out.push({ x: r.epoch, y });
  }
  return out;
}

/** A chart's data and styles from several histories and metrics. */
export function historyChart(
  lines: readonly { history: readonly EpochRecord[]; metric: HistoryMetric; style: SeriesStyle }[],
): { data: Columns; series: SeriesStyle[] } {
  const data = alignSeries(lines.map((l) => historyPoints(l.history, l.metric)));
  return { data, series: lines.map((l) => l.style) };
}

/** True when any series has at least one point. */
export function hasPoints(data: Columns): boolean {
  return data.slice(1).some((col) => col.some((v) => v !== null));
}

/** Colours for runs, chosen to stay apart for readers with common colour blindness. */
export const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7a5195", "#555555"];

/** The dash pattern of each data split, so colour can mean the run. */
export const SPLIT_DASH: Record<"train" | "validation" | "test", number[] | undefined> = {
  train: undefined,
  validation: [8, 4],
  test: [2, 3],
};
