// The WebGPU training backend: the maths of cpu-reference/logistic.ts as compute
// kernels, with the data uploaded once and the weights kept on the GPU.
//
// One training step (batch B of n rows, weights w = s v, bias b) is four dispatches,
// recorded for a whole epoch up front and picked per step with a dynamic uniform
// offset, so the host reads nothing back until the epoch's batch losses:
//
//   spmv_csr       z_i = s (v . x_i) + b                         16 threads per row
//   loss_residual  r_i = sigma(z_i) - y_i, mean loss, b -= lr/n sum r   one workgroup
//   gather_update  v_j -= lr/(n s') (X_B^T r)_j, s' = s (1 - lr l2)     one thread per
//                  distinct column of B, over a CSC copy of B built at load (no atomics)
//   scale_weights  v <- s' v, s' <- 1, only on the rare steps where s' < 1e-3
//
// Update scheme: like CpuBackend, the weights are kept as w = s v. The L2 shrink
// w <- (1 - lr l2) w is then one multiply of s on the host, and a step writes only the
// batch's distinct columns (a few thousand) instead of all 2^hashBits weights. A dense
// update would read and write 16 MiB per batch at 2^21 weights: cheap on a discrete GPU
// but the bulk of the step on integrated and software GPUs. And because s follows the
// CPU backend's sequence exactly (it depends only on lr and l2, computed in double on
// the host), both backends fold at the same steps and stay comparable weight by weight.
//
// Iterate averaging (BackendData.average): the epoch's reported weights are the mean of
// its iterates, w_bar = (1/T) sum_t s_t v(t), kept lazily as in CpuBackend. Per column
// the GPU keeps a running sum sumW_j and the prefix sum of scales settled_j it was last
// settled to, side by side in one vec2f "account" (one more cache line per touched
// column, which is what averaging costs a per-example step); the host computes
// P_t = s_1 + ... + s_t in double and passes P_{t-1} and P_t in each step's record.
// Three kernels change on such a run:
//
//   loss_residual_avg  as loss_residual, also storing the bias after the step (the host
//                      averages those in double, with the batch losses)
//   gather_update_avg  sumW_j += v_j (P_{t-1} - settled_j), settled_j = P_{t-1}, then the
//                      update of v_j
//   fold_average       replaces scale_weights: settles every column to P_t and restarts
//                      the account at P = 0 (the fold's restatement in the new scale)
//
// and average_finish writes avg_j = (sumW_j + v_j (P_T - settled_j)) / T at the epoch's
// end. Training continues from v, s and b; evaluate, predict and readWeights use avg and
// the mean bias once an averaged epoch has run. All of it is f32 on the GPU (f64 on the
// CPU): P is at most about T, and the settled differences telescope, so the averages agree
// to a few f32 roundings of the sums (see tests/gpu/harness.ts for the tolerance).

import type { BackendData, Csr, EvalSums, LabelledSet, TrainingBackend } from "../core/types.ts";
import {
  BATCH_PARAMS_STRIDE,
  BufferUsage,
  EVAL_PARAMS_BYTES,
  copyToStaging,
  createBufferWithData,
  createZeroBuffer,
  evalParamsData,
  evalPartialCount,
  readBuffer,
  readStaging,
  writeBatchParams,
} from "./common.ts";
import { dropoutScale, dropoutThreshold, epochDropoutSeed } from "../cpu-reference/logistic.ts";
import { AveragePass } from "./average.ts";
import { buildSegmentCsc, planSegments, segmentRowPtr, type Segment } from "./csc.ts";
import { EvaluatePass, PARTIAL_BYTES, PredictPass, decodePartial } from "./evaluate.ts";
import { GatherPass } from "./gradient.ts";
import { LossPass } from "./loss.ts";
import { ScaleWeightsPass } from "./scale.ts";
import { SpmvPass } from "./spmv.ts";
import { KernelTimer } from "./timing.ts";

/** WebGPU cannot be used here: no navigator.gpu, no adapter, no device, or the device was lost. */
export class WebGpuUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WebGpuUnavailableError";
  }
}

/** Timing of one backend call, for benchmarks and progress displays. */
export interface GpuTiming {
  op: "load" | "trainEpoch" | "evaluate" | "predict";
  /** wall-clock milliseconds from the call until its results were on the host */
  wallMs: number;
  /** GPU milliseconds per kernel (kernelTimestamps on and the adapter has timestamp-query) */
  kernelMs?: Record<string, number>;
  /** trainEpoch: each step's batch mean loss, in visiting order */
  batchLosses?: Float32Array;
}

export interface WebGpuBackendOptions {
  /**
   * Cap in bytes on each segment's CSR/CSC buffers; the device's binding limit applies
   * anyway. Lower it to exercise buffer splitting.
   */
  maxSegmentBytes?: number;
  /** Time each kernel with timestamp queries where the adapter offers them (slower). */
  kernelTimestamps?: boolean;
  /** Called after each load, trainEpoch, evaluate and predict. */
  onTiming?: (timing: GpuTiming) => void;
  powerPreference?: GPUPowerPreference;
}

/** Steps recorded per command buffer (and per write of the parameter records). */
const CHUNK_STEPS = 256;
/** Passes a chunk may time: at most four kernels per step. */
const TIMER_CAPACITY = 4 * CHUNK_STEPS;
/** s is folded into v below this, as in CpuBackend. */
const FOLD_BELOW = 1e-3;

/** A segment of a set on the GPU: its CSR arrays and, for the training set, its CSC. */
interface GpuSegment {
  seg: Segment;
  rowPtr: GPUBuffer;
  colIdx: GPUBuffer;
  values: GPUBuffer;
  /** spmv over the whole segment, reading the set's evaluation records */
  spmvEval: GPUBindGroup;
  /** the same over the averaged weights and bias (averaging runs only) */
  spmvEvalAvg?: GPUBindGroup;
  /** training set only: the per-batch CSC copies (csc.ts) */
  csc?: {
    /** batch b of the segment owns distinct columns [colStart[b], colStart[b+1]) */
    colStart: Uint32Array;
    colPtr: GPUBuffer;
    cols: GPUBuffer;
    rows: GPUBuffer;
    values: GPUBuffer;
  };
}

interface GpuSet {
  name: string;
  nRows: number;
  segments: GpuSegment[];
  y: GPUBuffer;
  z: GPUBuffer;
  prob: GPUBuffer;
  /** one BatchParams record per segment, rewritten with the current s before each use */
  segmentParams: GPUBuffer;
  evalParams: GPUBuffer;
  partials: GPUBuffer;
  result: GPUBuffer;
  nPartials: number;
  evaluate: GPUBindGroup;
  predict: GPUBindGroup;
}

interface TrainState {
  set: GpuSet;
  batchSize: number;
  nBatches: number;
  /** segment index of each batch */
  batchSegment: Uint32Array;
  /** per segment: spmv and gather bind groups reading the step records (gather_update_avg's when averaging) */
  segmentGroups: { spmv: GPUBindGroup; gather: GPUBindGroup }[];
  residual: GPUBuffer;
  loss: GPUBuffer;
  /** the current chunk's BatchParams records */
  stepParams: GPUBuffer;
  batchLoss: GPUBuffer;
  batchLossCapacity: number;
  /** averaging: the bias after each step, batchLossCapacity entries */
  biasTrace: GPUBuffer | null;
  /** loss_residual's, or loss_residual_avg's when averaging */
  lossGroup: GPUBindGroup;
  /** scale_weights', or fold_average's (reading the step records) when averaging */
  scaleGroup: GPUBindGroup;
}

/** The GPU side of iterate averaging (see the header). */
interface AverageState {
  /** per column, as vec2f: sumW_j, the sum over the epoch's steps so far of w_j(t)
   * settled up to settled_j, and settled_j, the prefix sum of scales it was last settled to */
  account: GPUBuffer;
  /** the last averaged epoch's mean weights */
  avgW: GPUBuffer;
  /** [mean bias] for the averaged spmv */
  avgState: GPUBuffer;
  /** one BatchParams record for average_finish */
  finishParams: GPUBuffer;
  finishGroup: GPUBindGroup;
  /** the mean bias, in double */
  bias: number;
  /** whether an averaged epoch has run, so evaluate, predict and readWeights use avgW */
  ready: boolean;
}

/** Hands out compute passes: one shared pass, or one timed pass per kernel. */
class PassRecorder {
  private current: GPUComputePassEncoder | null = null;
  constructor(
    private readonly encoder: GPUCommandEncoder,
    private readonly timer: KernelTimer | null,
  ) {}

  pass(kernel: string): GPUComputePassEncoder {
    if (!this.timer) {
      this.current ??= this.encoder.beginComputePass({ label: "kernels" });
      return this.current;
    }
    this.current?.end();
    this.current = this.encoder.beginComputePass({ label: kernel, timestampWrites: this.timer.timestampWrites(kernel) });
    return this.current;
  }

  end(): void {
    this.current?.end();
    this.current = null;
  }
}

function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return "WebGPU adapter";
  const parts: string[] = [];
  for (const p of [info.vendor, info.architecture, info.description]) {
    if (p && !parts.includes(p)) parts.push(p);
  }
  return parts.length > 0 ? parts.join(" ") : "WebGPU adapter";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class WebGpuBackend implements TrainingBackend {
  readonly kind = "webgpu" as const;
  readonly deviceName: string;
  /** whether per-kernel timestamps are being recorded */
  readonly timestamps: boolean;

  private readonly spmv: SpmvPass;
  private readonly lossPass: LossPass;
  private readonly gather: GatherPass;
  private readonly scale: ScaleWeightsPass;
  private readonly lossAvg: LossPass;
  private readonly gatherAvg: GatherPass;
  private readonly averagePass: AveragePass;
  private readonly evaluatePass: EvaluatePass;
  private readonly predictPass: PredictPass;
  private readonly timer: KernelTimer | null;
  private readonly onTiming: ((t: GpuTiming) => void) | undefined;
  private readonly maxSegmentBytes: number;

  private lostMessage: string | null = null;
  private uncapturedError: string | null = null;
  private disposed = false;

  private nCols = 0;
  private weights: GPUBuffer | null = null;
  private state: GPUBuffer | null = null;
  private s = 1;
  /** dropout settings of the loaded run, and epochs trained since load (numbers the masks) */
  private dropout: BackendData["dropout"];
  private epoch = 0;
  private sets = new Map<string, GpuSet>();
  private train: TrainState | null = null;
  private average: AverageState | null = null;
  private owned: GPUBuffer[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo | undefined,
    options: WebGpuBackendOptions = {},
  ) {
    this.deviceName = describeAdapter(adapterInfo);
    this.onTiming = options.onTiming;
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxSegmentBytes = Math.min(limit, options.maxSegmentBytes ?? limit);
    this.timestamps = options.kernelTimestamps === true && device.features.has("timestamp-query");
    void device.lost.then((info) => {
      if (this.disposed) return;
      this.lostMessage =
        `The WebGPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ""}). ` +
        "Its weights are gone; the run can continue on the CPU backend (in the CLI: --backend cpu) " +
        "from the last weights read back or saved.";
      console.error(this.lostMessage);
    });
    // Errors outside an error scope (there should be none) fail the next call instead of
    // silently giving wrong numbers.
    const onError = (event: Event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      console.error(`WebGPU error: ${message}`);
      this.uncapturedError ??= message;
    };
    if (typeof device.addEventListener === "function") device.addEventListener("uncapturederror", onError);
    else device.onuncapturederror = onError;
    this.spmv = new SpmvPass(device);
    this.lossPass = new LossPass(device);
    this.gather = new GatherPass(device, "update");
    this.scale = new ScaleWeightsPass(device);
    this.lossAvg = new LossPass(device, "average");
    this.gatherAvg = new GatherPass(device, "average");
    this.averagePass = new AveragePass(device);
    this.evaluatePass = new EvaluatePass(device);
    this.predictPass = new PredictPass(device);
    this.timer = this.timestamps ? new KernelTimer(device, TIMER_CAPACITY) : null;
  }

  async load(data: BackendData): Promise<void> {
    await this.guard("load", async () => {
      const start = performance.now();
      if (!Number.isInteger(data.batchSize) || data.batchSize < 1) {
        throw new RangeError(`batchSize must be a positive integer (got ${data.batchSize})`);
      }
      this.releaseData();
      const device = this.device;
      const nCols = data.train.x.nCols;
      const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
      for (const set of [data.train, ...data.evalSets]) this.checkSet(set, nCols, limit);
      this.nCols = nCols;
      this.s = 1;
      this.dropout = data.dropout;
      this.epoch = 0;
      this.weights = this.own(createZeroBuffer(device, "weights v", nCols * 4));
      this.state = this.own(createZeroBuffer(device, "state [bias]", 4));
      if (data.average === true) this.average = this.createAverageState(nCols);

      const slotScratch = new Int32Array(nCols).fill(-1);
      const trainSet = this.uploadSet(data.train, data.batchSize, slotScratch);
      this.sets.set(data.train.name, trainSet);
      for (const set of data.evalSets) {
        if (this.sets.has(set.name)) throw new Error(`WebGpuBackend: two sets are named "${set.name}"`);
        this.sets.set(set.name, this.uploadSet(set, 1, null));
      }
      this.train = this.createTrainState(trainSet, data.batchSize);
      // surface validation errors and wait for the uploads before timing stops
      await device.queue.onSubmittedWorkDone();
      this.onTiming?.({ op: "load", wallMs: performance.now() - start });
    });
  }

  async trainEpoch(batchOrder: Uint32Array, lr: number, l2: number): Promise<number> {
    return this.guard("trainEpoch", async () => {
      const start = performance.now();
      const train = this.requireTrain();
      const device = this.device;
      const steps = batchOrder.length;
      for (let t = 0; t < steps; t++) {
        if (batchOrder[t]! >= train.nBatches) {
          throw new RangeError(`batch ${batchOrder[t]} does not exist (there are ${train.nBatches})`);
        }
      }
      this.ensureBatchLossCapacity(train, steps);
      const avg = this.average;
      const kernelMs: Record<string, number> = {};
      const timingReads: Promise<void>[] = [];
      const nRowsTotal = train.set.nRows;
      let s = this.s;
      this.epoch++;
      const drop = this.dropout && this.dropout.rate > 0 ? this.dropout : null;
      const dropSeed = drop ? epochDropoutSeed(drop.seed, this.epoch) : 0;
      const dropThreshold = drop ? dropoutThreshold(drop.rate) : 0;
      const keepScale = drop ? dropoutScale(drop.rate) : 1;
      // averaging: P = s_1 + ... + s_t since the epoch's start or the last fold (in double)
      let prefix = 0;
      const records = new ArrayBuffer(CHUNK_STEPS * BATCH_PARAMS_STRIDE);
      for (let chunk = 0; chunk < steps; chunk += CHUNK_STEPS) {
        const chunkEnd = Math.min(chunk + CHUNK_STEPS, steps);
        const folds: boolean[] = [];
        for (let t = chunk; t < chunkEnd; t++) {
          const k = batchOrder[t]!;
          const segment = train.set.segments[train.batchSegment[k]!]!;
          const firstRow = k * train.batchSize;
          const n = Math.min(firstRow + train.batchSize, nRowsTotal) - firstRow;
          const local = k - segment.seg.firstUnit;
          const colStart = segment.csc!.colStart;
          const scaleBefore = s;
          const prefixPrev = prefix;
          s *= 1 - lr * l2;
          prefix += s;
          const stepW = lr / (n * s);
          const fold = s < FOLD_BELOW;
          folds.push(fold);
          writeBatchParams(records, t - chunk, {
            rowStart: firstRow - segment.seg.firstRow,
            firstRow,
            nRows: n,
            colStart: colStart[local]!,
            nCols: colStart[local + 1]! - colStart[local]!,
            scale: scaleBefore,
            stepW,
            stepB: lr / n,
            slot: t,
            foldScale: s,
            prefixPrev,
            prefixNow: prefix,
            dropSeed,
            dropThreshold,
            keepScale,
          });
          if (fold) {
            s = 1;
            prefix = 0;
          }
        }
        device.queue.writeBuffer(train.stepParams, 0, records, 0, (chunkEnd - chunk) * BATCH_PARAMS_STRIDE);
        const encoder = device.createCommandEncoder({ label: `epoch steps ${chunk}..${chunkEnd - 1}` });
        if (avg && chunk === 0) {
          // each epoch averages its own iterates
          encoder.clearBuffer(avg.account);
        }
        const passes = new PassRecorder(encoder, this.timer);
        const lossPass = avg ? this.lossAvg : this.lossPass;
        const gather = avg ? this.gatherAvg : this.gather;
        for (let t = chunk; t < chunkEnd; t++) {
          const k = batchOrder[t]!;
          const segIndex = train.batchSegment[k]!;
          const segment = train.set.segments[segIndex]!;
          const groups = train.segmentGroups[segIndex]!;
          const firstRow = k * train.batchSize;
          const n = Math.min(firstRow + train.batchSize, nRowsTotal) - firstRow;
          const local = k - segment.seg.firstUnit;
          const colStart = segment.csc!.colStart;
          const record = t - chunk;
          this.spmv.run(passes.pass("spmv_csr"), groups.spmv, record, n);
          lossPass.run(passes.pass(avg ? "loss_residual_avg" : "loss_residual"), train.lossGroup, record);
          const nColsBatch = colStart[local + 1]! - colStart[local]!;
          gather.run(passes.pass(avg ? "gather_update_avg" : "gather_update"), groups.gather, record, nColsBatch);
          if (folds[record]) {
            if (avg) this.averagePass.run(passes.pass("fold_average"), "fold_average", train.scaleGroup, record, this.nCols);
            else this.scale.run(passes.pass("scale_weights"), train.scaleGroup, record, this.nCols);
          }
        }
        passes.end();
        const collect = this.timer?.resolve(encoder);
        device.queue.submit([encoder.finish()]);
        if (collect) timingReads.push(collect(kernelMs));
      }
      this.s = s;
      const encoder = device.createCommandEncoder({ label: "read batch losses" });
      let collectFinish: ((totals: Record<string, number>) => Promise<void>) | undefined;
      if (avg) {
        const finish = new ArrayBuffer(BATCH_PARAMS_STRIDE);
        writeBatchParams(finish, 0, { rowStart: 0, firstRow: 0, nRows: 0, slot: steps, prefixNow: prefix });
        device.queue.writeBuffer(avg.finishParams, 0, finish);
        const passes = new PassRecorder(encoder, this.timer);
        this.averagePass.run(passes.pass("average_finish"), "average_finish", avg.finishGroup, 0, this.nCols);
        passes.end();
        collectFinish = this.timer?.resolve(encoder);
      }
      const staging = copyToStaging(device, encoder, train.batchLoss, steps * 4);
      const biasStaging = avg ? copyToStaging(device, encoder, train.biasTrace!, steps * 4) : null;
      device.queue.submit([encoder.finish()]);
      if (collectFinish) timingReads.push(collectFinish(kernelMs));
      const [lossBytes, biasBytes] = await Promise.all([
        readStaging(staging, steps * 4),
        biasStaging ? readStaging(biasStaging, steps * 4) : null,
      ]);
      const batchLosses = new Float32Array(lossBytes);
      await Promise.all(timingReads);
      let total = 0;
      for (let t = 0; t < steps; t++) total += batchLosses[t]!;
      if (avg && biasBytes) {
        const biases = new Float32Array(biasBytes);
        let biasSum = 0;
        for (let t = 0; t < steps; t++) biasSum += biases[t]!;
        avg.bias = biasSum / steps;
        device.queue.writeBuffer(avg.avgState, 0, new Float32Array([avg.bias]));
        avg.ready = true;
      }
      this.onTiming?.({
        op: "trainEpoch",
        wallMs: performance.now() - start,
        batchLosses,
        ...(this.timer ? { kernelMs } : {}),
      });
      return total / steps;
    });
  }

  async evaluate(setName: string): Promise<EvalSums> {
    return this.guard("evaluate", async () => {
      const start = performance.now();
      const set = this.requireSet(setName);
      if (set.nRows === 0) return { n: 0, lossSum: 0, tp: 0, fp: 0, tn: 0, fn: 0 };
      const encoder = this.device.createCommandEncoder({ label: `evaluate ${setName}` });
      const passes = new PassRecorder(encoder, this.timer);
      this.recordLogits(set, passes);
      this.evaluatePass.run(passes.pass("evaluate"), set.evaluate, set.nPartials);
      passes.end();
      const collect = this.timer?.resolve(encoder);
      const staging = copyToStaging(this.device, encoder, set.result, PARTIAL_BYTES);
      this.device.queue.submit([encoder.finish()]);
      const r = decodePartial(await readStaging(staging, PARTIAL_BYTES));
      const kernelMs: Record<string, number> = {};
      if (collect) await collect(kernelMs);
      this.onTiming?.({ op: "evaluate", wallMs: performance.now() - start, ...(this.timer ? { kernelMs } : {}) });
      return { n: set.nRows, lossSum: r.lossSum, tp: r.tp, fp: r.fp, tn: r.tn, fn: r.fn };
    });
  }

  async predict(setName: string): Promise<Float32Array> {
    return this.guard("predict", async () => {
      const start = performance.now();
      const set = this.requireSet(setName);
      if (set.nRows === 0) return new Float32Array(0);
      const encoder = this.device.createCommandEncoder({ label: `predict ${setName}` });
      const passes = new PassRecorder(encoder, this.timer);
      this.recordLogits(set, passes);
      this.predictPass.run(passes.pass("sigmoid_rows"), set.predict, set.nRows);
      passes.end();
      const collect = this.timer?.resolve(encoder);
      const staging = copyToStaging(this.device, encoder, set.prob, set.nRows * 4);
      this.device.queue.submit([encoder.finish()]);
      const prob = new Float32Array(await readStaging(staging, set.nRows * 4));
      const kernelMs: Record<string, number> = {};
      if (collect) await collect(kernelMs);
      this.onTiming?.({ op: "predict", wallMs: performance.now() - start, ...(this.timer ? { kernelMs } : {}) });
      return prob;
    });
  }

  async readWeights(): Promise<{ weights: Float32Array; bias: number }> {
    return this.guard("readWeights", async () => {
      this.requireTrain();
      const avg = this.average;
      if (avg?.ready) {
        const bytes = await readBuffer(this.device, avg.avgW, this.nCols * 4);
        return { weights: new Float32Array(bytes), bias: avg.bias };
      }
      const encoder = this.device.createCommandEncoder({ label: "read weights" });
      const vStaging = copyToStaging(this.device, encoder, this.weights!, this.nCols * 4);
      const bStaging = copyToStaging(this.device, encoder, this.state!, 4);
      this.device.queue.submit([encoder.finish()]);
      const [vBytes, bBytes] = await Promise.all([readStaging(vStaging, this.nCols * 4), readStaging(bStaging, 4)]);
      const v = new Float32Array(vBytes);
      const w = new Float32Array(v.length);
      const s = this.s;
      for (let j = 0; j < w.length; j++) w[j] = s * v[j]!;
      return { weights: w, bias: new Float32Array(bBytes)[0]! };
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseData();
    this.timer?.destroy();
    this.device.destroy();
  }

  // ---- internals ----

  /** Runs an operation; turns failures after a device loss into WebGpuUnavailableError
   * and reports validation errors the device raised meanwhile. */
  private async guard<T>(op: string, body: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new Error(`WebGpuBackend.${op}: the backend was disposed`);
    if (this.lostMessage) throw new WebGpuUnavailableError(this.lostMessage);
    let result: T;
    try {
      result = await body();
    } catch (error) {
      // A loss rejects pending maps before (or just after) device.lost settles, so give it
      // a moment; our own argument checks (RangeError) cannot come from a loss.
      if (!(error instanceof RangeError)) {
        await Promise.race([this.device.lost, delay(200)]);
        await delay(0);
      }
      if (this.lostMessage) throw new WebGpuUnavailableError(this.lostMessage, { cause: error });
      throw error;
    }
    if (this.lostMessage) throw new WebGpuUnavailableError(this.lostMessage);
    if (this.uncapturedError) {
      const message = this.uncapturedError;
      this.uncapturedError = null;
      throw new Error(`WebGpuBackend.${op}: the GPU reported an error: ${message}`);
    }
    return result;
  }

  private checkSet(set: LabelledSet, nCols: number, limit: number): void {
    const x: Csr = set.x;
    if (x.nCols !== nCols) {
      throw new RangeError(`set "${set.name}" has ${x.nCols} columns but the training set has ${nCols}`);
    }
    if (set.y.length !== x.nRows) throw new RangeError(`set "${set.name}": ${set.y.length} labels for ${x.nRows} rows`);
    const nnz = x.rowPtr[x.nRows] ?? 0;
    for (let k = 0; k < nnz; k++) {
      if (x.colIdx[k]! >= nCols) throw new RangeError(`set "${set.name}": column index ${x.colIdx[k]} out of range`);
    }
    const biggest = Math.max(nCols, x.nRows) * 4;
    if (biggest > limit) {
      throw new RangeError(
        `set "${set.name}" needs a ${biggest}-byte GPU buffer but this device allows ${limit}; ` +
          "use fewer hash bits or the CPU backend",
      );
    }
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  /** Uploads a set, split into segments of whole units of `unitRows` rows; training
   * (slotScratch given) also builds the per-batch CSC copies. */
  private uploadSet(set: LabelledSet, unitRows: number, slotScratch: Int32Array | null): GpuSet {
    const device = this.device;
    const x = set.x;
    const n = x.nRows;
    const label = set.name;
    const y = this.own(createBufferWithData(device, `${label} y`, Uint32Array.from(set.y)));
    const z = this.own(createZeroBuffer(device, `${label} z`, n * 4));
    const prob = this.own(createZeroBuffer(device, `${label} prob`, n * 4));
    const plan = planSegments(x.rowPtr, n, unitRows, this.maxSegmentBytes);
    const segmentParams = this.own(
      device.createBuffer({
        label: `${label} segment params`,
        size: Math.max(1, plan.length) * BATCH_PARAMS_STRIDE,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      }),
    );
    const segments = plan.map((seg, i): GpuSegment => {
      const name = `${label} segment ${i}`;
      const rowPtr = this.own(createBufferWithData(device, `${name} rowPtr`, segmentRowPtr(x, seg)));
      const colIdx = this.own(createBufferWithData(device, `${name} colIdx`, x.colIdx.subarray(seg.nnzStart, seg.nnzEnd)));
      const values = this.own(createBufferWithData(device, `${name} values`, x.values.subarray(seg.nnzStart, seg.nnzEnd)));
      const spmvEval = this.spmv.bind(
        { params: segmentParams, rowPtr, colIdx, values, weights: this.weights!, state: this.state!, z },
        `${name} spmv`,
      );
      const gpuSeg: GpuSegment = { seg, rowPtr, colIdx, values, spmvEval };
      if (this.average) {
        gpuSeg.spmvEvalAvg = this.spmv.bind(
          { params: segmentParams, rowPtr, colIdx, values, weights: this.average.avgW, state: this.average.avgState, z },
          `${name} spmv (averaged weights)`,
        );
      }
      if (slotScratch) {
        const csc = buildSegmentCsc(x, seg, unitRows, slotScratch);
        gpuSeg.csc = {
          colStart: csc.colStart,
          colPtr: this.own(createBufferWithData(device, `${name} colPtr`, csc.colPtr)),
          cols: this.own(createBufferWithData(device, `${name} cols`, csc.cols)),
          rows: this.own(createBufferWithData(device, `${name} cscRows`, csc.rows)),
          values: this.own(createBufferWithData(device, `${name} cscValues`, csc.values)),
        };
      }
      return gpuSeg;
    });
    const nPartials = evalPartialCount(n);
    const evalParams = this.own(
      createBufferWithData(device, `${label} eval params`, evalParamsData(n, nPartials), BufferUsage.UNIFORM | BufferUsage.COPY_DST),
    );
    const partials = this.own(createZeroBuffer(device, `${label} partials`, nPartials * PARTIAL_BYTES));
    const result = this.own(createZeroBuffer(device, `${label} result`, PARTIAL_BYTES));
    return {
      name: set.name,
      nRows: n,
      segments,
      y,
      z,
      prob,
      segmentParams,
      evalParams,
      partials,
      result,
      nPartials,
      evaluate: this.evaluatePass.bind({ evalParams, z, y, partials, result }, `${label} evaluate`),
      predict: this.predictPass.bind({ evalParams, z, prob }, `${label} predict`),
    };
  }

  private createTrainState(set: GpuSet, batchSize: number): TrainState {
    const device = this.device;
    const n = set.nRows;
    const nBatches = Math.ceil(n / batchSize);
    const weights = this.weights!;
    const avg = this.average;
    const residual = this.own(createZeroBuffer(device, "train residual", n * 4));
    const loss = this.own(createZeroBuffer(device, "train loss", n * 4));
    const stepParams = this.own(
      device.createBuffer({
        label: "step params",
        size: CHUNK_STEPS * BATCH_PARAMS_STRIDE,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      }),
    );
    const batchSegment = new Uint32Array(nBatches);
    const segmentGroups = set.segments.map((segment, i) => {
      batchSegment.fill(i, segment.seg.firstUnit, segment.seg.endUnit);
      const csc = segment.csc!;
      const { rowPtr, colIdx, values } = segment;
      return {
        spmv: this.spmv.bind(
          { params: stepParams, rowPtr, colIdx, values, weights, state: this.state!, z: set.z },
          `train segment ${i} spmv`,
        ),
        gather: (avg ? this.gatherAvg : this.gather).bind(
          {
            params: stepParams,
            colPtr: csc.colPtr,
            cols: csc.cols,
            cscRows: csc.rows,
            cscValues: csc.values,
            residual,
            weights,
            ...(avg ? { account: avg.account } : {}),
          },
          `train segment ${i} gather`,
        ),
      };
    });
    const batchLossCapacity = Math.max(nBatches, 1);
    const batchLoss = this.own(createZeroBuffer(device, "batch losses", batchLossCapacity * 4));
    const biasTrace = avg ? this.own(createZeroBuffer(device, "bias trace", batchLossCapacity * 4)) : null;
    const train: TrainState = {
      set,
      batchSize,
      nBatches,
      batchSegment,
      segmentGroups,
      residual,
      loss,
      stepParams,
      batchLoss,
      batchLossCapacity,
      biasTrace,
      lossGroup: this.bindLoss(set, residual, loss, stepParams, batchLoss, biasTrace),
      scaleGroup: avg
        ? this.averagePass.bind({ params: stepParams, weights, account: avg.account, avg: avg.avgW }, "fold_average")
        : this.scale.bind({ params: stepParams, weights }),
    };
    return train;
  }

  private bindLoss(
    set: GpuSet,
    residual: GPUBuffer,
    loss: GPUBuffer,
    params: GPUBuffer,
    batchLoss: GPUBuffer,
    biasTrace: GPUBuffer | null,
  ): GPUBindGroup {
    const buffers = { params, z: set.z, y: set.y, residual, loss, state: this.state!, batchLoss };
    return biasTrace ? this.lossAvg.bind({ ...buffers, biasTrace }) : this.lossPass.bind(buffers);
  }

  /** The averaging buffers for nCols weights (all zero). */
  private createAverageState(nCols: number): AverageState {
    const device = this.device;
    const account = this.own(createZeroBuffer(device, "average accounts (sumW, settled)", nCols * 8));
    const avgW = this.own(createZeroBuffer(device, "averaged weights", nCols * 4));
    const avgState = this.own(createZeroBuffer(device, "averaged state [bias]", 4));
    const finishParams = this.own(
      device.createBuffer({
        label: "average_finish params",
        size: BATCH_PARAMS_STRIDE,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      }),
    );
    const finishGroup = this.averagePass.bind(
      { params: finishParams, weights: this.weights!, account, avg: avgW },
      "average_finish",
    );
    return { account, avgW, avgState, finishParams, finishGroup, bias: 0, ready: false };
  }

  /** Grows the per-step loss buffer to hold at least `steps` entries (epochs longer than
   * the number of batches, which batchOrder allows). */
  private ensureBatchLossCapacity(train: TrainState, steps: number): void {
    if (train.batchLossCapacity >= steps) return;
    train.batchLoss.destroy();
    this.owned = this.owned.filter((b) => b !== train.batchLoss);
    train.batchLoss = this.own(createZeroBuffer(this.device, "batch losses", steps * 4));
    if (train.biasTrace) {
      train.biasTrace.destroy();
      this.owned = this.owned.filter((b) => b !== train.biasTrace);
      train.biasTrace = this.own(createZeroBuffer(this.device, "bias trace", steps * 4));
    }
    train.batchLossCapacity = steps;
    train.lossGroup = this.bindLoss(train.set, train.residual, train.loss, train.stepParams, train.batchLoss, train.biasTrace);
  }

  /** Records z = s X v + b for every segment of a set, after writing their records; with
   * the averaged weights and bias (s = 1) once an averaged epoch has run. */
  private recordLogits(set: GpuSet, passes: PassRecorder): void {
    const averaged = this.average?.ready === true;
    const records = new ArrayBuffer(set.segments.length * BATCH_PARAMS_STRIDE);
    set.segments.forEach((segment, i) => {
      writeBatchParams(records, i, {
        rowStart: 0,
        firstRow: segment.seg.firstRow,
        nRows: segment.seg.endRow - segment.seg.firstRow,
        scale: averaged ? 1 : this.s,
      });
    });
    this.device.queue.writeBuffer(set.segmentParams, 0, records);
    set.segments.forEach((segment, i) => {
      const group = averaged ? segment.spmvEvalAvg! : segment.spmvEval;
      this.spmv.run(passes.pass("spmv_csr"), group, i, segment.seg.endRow - segment.seg.firstRow);
    });
  }

  private releaseData(): void {
    for (const buffer of this.owned) buffer.destroy();
    this.owned = [];
    this.sets.clear();
    this.train = null;
    this.average = null;
    this.weights = null;
    this.state = null;
  }

  private requireTrain(): TrainState {
    if (!this.train) throw new Error("WebGpuBackend: load() must be called before training");
    return this.train;
  }

  private requireSet(name: string): GpuSet {
    this.requireTrain();
    const set = this.sets.get(name);
    if (!set) throw new Error(`WebGpuBackend: no set named "${name}" was loaded`);
    return set;
  }
}

/**
 * Creates the backend on `gpu` (default navigator.gpu): requests a high-performance
 * adapter and a device with the adapter's largest buffer limits. Throws
 * WebGpuUnavailableError when WebGPU, an adapter or a device is not available.
 */
export async function createWebGpuBackend(gpu?: GPU, options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const api = gpu ?? nav?.gpu;
  if (!api) {
    throw new WebGpuUnavailableError(
      "WebGPU is not available here (navigator.gpu is missing): use a browser with WebGPU enabled, or the CPU backend",
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await api.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  } catch (error) {
    throw new WebGpuUnavailableError(`requesting a WebGPU adapter failed: ${String(error)}; use the CPU backend`, {
      cause: error,
    });
  }
  if (!adapter) {
    throw new WebGpuUnavailableError("no WebGPU adapter was found (no usable GPU or driver); use the CPU backend");
  }
  const limits = adapter.limits;
  const features: GPUFeatureName[] =
    options.kernelTimestamps && adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: "moviesentiments training",
      requiredFeatures: features,
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
      },
    });
  } catch (error) {
    throw new WebGpuUnavailableError(`the WebGPU adapter refused a device: ${String(error)}; use the CPU backend`, {
      cause: error,
    });
  }
  // A device can be born lost (the adapter was consumed or the GPU reset meanwhile).
  const lost = await Promise.race([device.lost.then((info) => info), delay(0).then(() => null)]);
  if (lost) {
    throw new WebGpuUnavailableError(
      `the WebGPU device was lost at creation (${lost.reason}: ${lost.message}); use the CPU backend`,
    );
  }
  device.pushErrorScope("validation");
  const backend = new WebGpuBackend(device, adapter.info, options);
  const error = await device.popErrorScope();
  if (error) {
    backend.dispose();
    throw new WebGpuUnavailableError(`the WebGPU kernels failed to build on this device: ${error.message}`);
  }
  return backend;
}
