// What the GPU test page (harness.ts) exposes on window, shared with the Node test.

export const GPU_CHECKS = [
  "spmv_csr",
  "spmv_csr and scale_weights on 2-D grids",
  "loss_residual",
  "gather_gradient",
  "gather_update + scale_weights",
  "evaluate",
  "predict",
  "training run vs CpuBackend",
  "training with L2 folds vs CpuBackend",
  "averaged training vs CpuBackend",
  "averaged training, batch size 1 with L2 folds, split buffers",
  "split buffers give identical training",
  "training with dropout vs CpuBackend",
  "averaged training with dropout, batch size 1, split buffers",
  "device loss",
  "kernel timestamps",
] as const;

export type GpuCheckName = (typeof GPU_CHECKS)[number];

export interface GpuCheckResult {
  name: string;
  /** empty when the check passed */
  failures: string[];
  /** validation (and internal) errors popped from the device's error scopes */
  validationErrors: string[];
  /** largest |gpu - cpu| per compared quantity */
  maxAbsDiff: Record<string, number>;
  /** the tolerance rule used */
  tolerance: string;
  /** anything else worth printing: timings, sizes */
  notes: string[];
  ms: number;
}

export interface GpuProbe {
  /** adapter description, or null when none was found */
  adapter: string | null;
  reason?: string;
  features: string[];
}

/** A timing run on a synthetic problem (not part of the checks; for benchmarks). */
export interface GpuBenchOptions {
  nTrain: number;
  nCols: number;
  batchSize: number;
  epochs: number;
  meanNnz?: number;
  lr?: number;
  l2?: number;
  kernelTimestamps?: boolean;
  /** also time CpuBackend on the same batches (default true) */
  cpu?: boolean;
  /** iterate averaging (BackendData.average; default false) */
  average?: boolean;
}

export interface GpuBenchResult {
  device: string;
  nnz: number;
  nBatches: number;
  loadMs: number;
  gpuEpochMs: number[];
  cpuEpochMs: number[];
  /** GPU ms per kernel, summed over the epochs (with kernelTimestamps) */
  kernelMs?: Record<string, number>;
  gpuLoss: number[];
  cpuLoss: number[];
}

export interface GpuHarness {
  probe(): Promise<GpuProbe>;
  runCheck(name: GpuCheckName): Promise<GpuCheckResult>;
  bench(options: GpuBenchOptions): Promise<GpuBenchResult>;
}

declare global {
  interface Window {
    gpuHarness?: GpuHarness;
  }
}
