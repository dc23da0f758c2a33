// What the browser benchmark page (browser-page.ts) exposes on window, shared with the
// Node driver (helper.ts).

export interface BrowserBenchOptions {
  /** URL of aclImdb_v1.tar.gz (served by the driver) */
  archiveUrl: string;
  /** at most this many reviews per split and label (smoke runs); 0 = all */
  limitPerLabel: number;
  /** epochs for this project's backends (stops early once past the target and a patience) */
  maxEpochs: number;
  /** stop a system's run once its training has taken this long (ms, checked between epochs) */
  budgetMs: number;
  /** validation accuracy whose time-to-reach is reported */
  target: number;
  systems: ("webgpu" | "cpu" | "tfjs")[];
  tfjs: { vocab: number; batchSize: number; lr: number; epochs: number; normalize: boolean };
}

export interface EpochTiming {
  epoch: number;
  /** training step alone, and with the validation evaluation (ms) */
  trainMs: number;
  totalMs: number;
  valAccuracy: number;
}

export interface SystemResult {
  system: "webgpu" | "cpu" | "tfjs";
  label: string;
  device: string;
  /** features built for this system alone (tf.js vocabulary and dense rows); ours share `featurizeMs` */
  prepareMs: number;
  /** backend creation and data upload */
  setupMs: number;
  epochs: EpochTiming[];
  /** ms from the start of setup to the end of the first epoch at >= target validation accuracy, or null */
  msToTarget: number | null;
  epochToTarget: number | null;
  bestValAccuracy: number;
  /** test accuracy of the best-validation weights */
  testAccuracy: number;
  stoppedBy: "epochs" | "budget" | "error";
  error?: string;
  notes: string[];
}

export interface BrowserBenchResult {
  userAgent: string;
  adapter: string | null;
  nFit: number;
  nValidation: number;
  nTest: number;
  loadMs: number;
  /** hashing + weighting for this project's systems (once, shared) */
  featurizeMs: number;
  systems: SystemResult[];
}

export interface BrowserBench {
  run(options: BrowserBenchOptions): Promise<BrowserBenchResult>;
  /** the results so far of a run in progress (systems appear as they start) */
  partial(): BrowserBenchResult | undefined;
}

declare global {
  interface Window {
    browserBench?: BrowserBench;
  }
}
