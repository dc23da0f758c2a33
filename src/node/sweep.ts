// The learning-rate / L2 sweep of the original project (lr 0.1 vs 0.01, L2 1e-2 vs
// 1e-3), run on our features, every run's full per-epoch history recorded to JSON. The
// records feed the app's Training Progress and Epoch Metrics pages.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { hashReviews, selectionSets, type PipelineOptions } from "../core/pipeline.ts";
import { InvalidSettingsError, trainLoop, type EpochRecord } from "../core/train.ts";
import type { Review, TrainingBackend } from "../core/types.ts";

export interface SweepRun {
  lr: number;
  l2: number;
  batchSize: number;
  epochs: number;
  backend: { kind: string; deviceName: string };
  history: EpochRecord[];
}

export interface SweepRecords {
  kind: "moviesentiments-sweep";
  version: 1;
  createdAt: string;
  command: string;
  features: PipelineOptions["features"];
  validationFraction: number;
  seed: number;
  runs: SweepRun[];
}

export const SWEEP_GRID = { lr: [0.1, 0.01], l2: [1e-2, 1e-3] };
/** The share of train/ the sweep holds out to compare its runs on (the recorded sweep's). */
export const SWEEP_VALIDATION_FRACTION = 0.2;

export async function runSweep(
  data: { train: Review[]; test: Review[] },
  options: PipelineOptions,
  opts: { outFile: string; epochs: number; log: (s: string) => void; makeBackend: () => Promise<TrainingBackend> },
): Promise<SweepRecords> {
  if (!(options.validationFraction > 0)) throw new InvalidSettingsError("the sweep needs a validation split: a validation fraction above 0");
  const f = options.features;
  const seed = options.training.seed;
  const train = hashReviews(data.train, f);
  const test = hashReviews(data.test, f);
  const sets = selectionSets(train, test, f, options.validationFraction, seed);
  const records: SweepRecords = {
    kind: "moviesentiments-sweep",
    version: 1,
    createdAt: new Date().toISOString(),
    command:
      `moviesentiments sweep --epochs ${opts.epochs} --batch-size ${options.training.batchSize}` +
      (options.training.dropout ? ` --dropout ${options.training.dropout}` : "") +
      (f.negationScope ? ` --negation-scope ${f.negationScope}` : "") +
      (options.validationFraction !== SWEEP_VALIDATION_FRACTION ? ` --validation-fraction ${options.validationFraction}` : ""),
    features: f,
    validationFraction: options.validationFraction,
    seed,
    runs: [],
  };
  for (const lr of SWEEP_GRID.lr) {
    for (const l2 of SWEEP_GRID.l2) {
      const backend = await opts.makeBackend();
      try {
        const res = await trainLoop(
          backend,
          sets,
          { ...options.training, lr, l2, lrDecay: 0, epochs: opts.epochs, patience: 0 },
          {
            onEpoch: (r) => {
              if (r.epoch % 10 === 0 || r.epoch === 1)
                opts.log(`lr ${lr} l2 ${l2} epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} val acc ${r.validation!.accuracy.toFixed(4)}`);
            },
          },
        );
        records.runs.push({ lr, l2, batchSize: options.training.batchSize, epochs: opts.epochs, backend: res.backend, history: res.history });
      } finally {
        backend.dispose();
      }
    }
  }
  mkdirSync(dirname(opts.outFile), { recursive: true });
  const tmp = `${opts.outFile}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(records) + "\n");
  renameSync(tmp, opts.outFile);
  opts.log(`wrote ${records.runs.length} runs to ${opts.outFile}`);
  return records;
}
