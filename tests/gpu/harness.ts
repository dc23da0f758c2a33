// The GPU test page: runs each kernel and the whole backend in the browser against the
// CPU reference and exposes the results on window.gpuHarness for tests/gpu/gpu.test.ts.
// Each check gets a fresh device, records validation errors in an error scope, and
// destroys its buffers and device at the end.

import type { Csr, EvalSums, TrainingBackend } from "../../src/core/types.ts";
import { permutation } from "../../src/core/random.ts";
import { CpuBackend } from "../../src/cpu-reference/backend.ts";
import { evaluateCsr, gradientCsr, lossAndResidual, predictCsr, spmvCsr, updateWeights } from "../../src/cpu-reference/logistic.ts";
import {
  BATCH_PARAMS_STRIDE,
  BufferUsage,
  MAX_WORKGROUPS_PER_DIMENSION,
  SPMV_ROWS_PER_GROUP,
  WORKGROUP_SIZE,
  evalParamsData,
  evalPartialCount,
  readBuffer,
  writeBatchParams,
  type BatchParams,
} from "../../src/shaders/common.ts";
import { buildSegmentCsc, planSegments, type Segment } from "../../src/shaders/csc.ts";
import { EvaluatePass, PARTIAL_BYTES, PredictPass, decodePartial } from "../../src/shaders/evaluate.ts";
import { GatherPass } from "../../src/shaders/gradient.ts";
import { LossPass } from "../../src/shaders/loss.ts";
import { ScaleWeightsPass } from "../../src/shaders/scale.ts";
import { SpmvPass } from "../../src/shaders/spmv.ts";
import {
  WebGpuUnavailableError,
  createWebGpuBackend,
  type GpuTiming,
  type WebGpuBackend,
  type WebGpuBackendOptions,
} from "../../src/shaders/webgpu-backend.ts";
import type { GpuBenchOptions, GpuBenchResult, GpuCheckName, GpuCheckResult, GpuHarness, GpuProbe } from "./harness-types.ts";
import { gaussianArray, mulberry32, randomCsr, randomLabels, syntheticProblem } from "./random-data.ts";

// ---------------------------------------------------------------------------------
// Comparison with a rel + abs tolerance

/** Collects differences and failures of one check. */
class Report {
  readonly failures: string[] = [];
  readonly maxAbsDiff: Record<string, number> = {};
  readonly notes: string[] = [];
  constructor(readonly tolerance: string) {}

  /** Every |got[i] - want[i]| must be at most tol(i); NaN never passes. */
  compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number): void {
    if (got.length !== want.length) {
      this.failures.push(`${what}: length ${got.length}, expected ${want.length}`);
      return;
    }
    let max = 0;
    let bad = 0;
    let first = "";
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i]! - want[i]!);
      if (!(d <= tol(i))) {
        if (bad++ === 0) first = `[${i}] gpu ${got[i]} cpu ${want[i]} (tolerance ${tol(i).toExponential(2)})`;
      }
      if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Infinity : d;
    }
    this.maxAbsDiff[what] = Math.max(this.maxAbsDiff[what] ?? 0, max);
    if (bad > 0) this.failures.push(`${what}: ${bad} of ${want.length} outside tolerance, first ${first}`);
  }

  scalar(what: string, got: number, want: number, tol: number): void {
    this.compare(what, [got], [want], () => tol);
  }

  check(condition: boolean, message: string): void {
    if (!condition) this.failures.push(message);
  }
}

/** Float32 rounding allowance for a sum whose terms have absolute sum `absSum`. */
const REL = 1e-5;
const ABS = 1e-6;
const SUM_RULE = `|gpu - cpu| <= ${REL} * (sum of |terms|) + ${ABS}`;

function absDot(x: Csr, row: number, w: Float32Array): number {
  let s = 0;
  for (let k = x.rowPtr[row]!; k < x.rowPtr[row + 1]!; k++) s += Math.abs(x.values[k]! * w[x.colIdx[k]!]!);
  return s;
}

// ---------------------------------------------------------------------------------
// A fresh device per check, with error scopes and buffer cleanup

class TestGpu {
  private readonly buffers: GPUBuffer[] = [];
  constructor(readonly device: GPUDevice) {}

  upload(label: string, data: Uint32Array | Float32Array): GPUBuffer {
    const buffer = this.zeros(label, data.byteLength);
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  zeros(label: string, bytes: number): GPUBuffer {
    const buffer = this.device.createBuffer({
      label,
      size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
    });
    this.buffers.push(buffer);
    return buffer;
  }

  uniform(label: string, data: ArrayBuffer | Uint32Array): GPUBuffer {
    const buffer = this.device.createBuffer({
      label,
      size: Math.max(16, data.byteLength),
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data);
    this.buffers.push(buffer);
    return buffer;
  }

  /** BatchParams records in a uniform buffer, one per entry of `records`. */
  params(records: BatchParams[]): GPUBuffer {
    const data = new ArrayBuffer(records.length * BATCH_PARAMS_STRIDE);
    records.forEach((r, i) => writeBatchParams(data, i, r));
    return this.uniform("params", data);
  }

  /** Records `record` into one compute pass and submits it. */
  submit(record: (pass: GPUComputePassEncoder) => void): void {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  async readF32(buffer: GPUBuffer, count: number): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.device, buffer, count * 4));
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}

async function requestDevice(): Promise<GPUDevice> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  return adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
}

/** Runs `body` inside validation and internal error scopes; collects their errors. */
async function scoped(device: GPUDevice, report: { validationErrors: string[] }, body: () => Promise<void>): Promise<void> {
  device.pushErrorScope("validation");
  device.pushErrorScope("internal");
  let thrown: unknown;
  try {
    await body();
  } catch (error) {
    thrown = error;
  }
  const internal = await device.popErrorScope();
  const validation = await device.popErrorScope();
  if (internal) report.validationErrors.push(`internal: ${internal.message}`);
  if (validation) report.validationErrors.push(`validation: ${validation.message}`);
  if (thrown) throw thrown;
}

type CheckBody = (report: Report, result: GpuCheckResult) => Promise<void>;

/** A kernel check: a fresh device, error scopes around the work, cleanup afterwards. */
function kernelCheck(tolerance: string, body: (gpu: TestGpu, report: Report) => Promise<void>): () => Promise<GpuCheckResult> {
  return () =>
    runCheck(tolerance, async (report, result) => {
      const device = await requestDevice();
      const gpu = new TestGpu(device);
      try {
        await scoped(device, result, () => body(gpu, report));
      } finally {
        gpu.destroy();
        device.destroy();
      }
    });
}

async function runCheck(tolerance: string, body: CheckBody): Promise<GpuCheckResult> {
  const start = performance.now();
  const report = new Report(tolerance);
  const result: GpuCheckResult = {
    name: "",
    failures: report.failures,
    validationErrors: [],
    maxAbsDiff: report.maxAbsDiff,
    tolerance,
    notes: report.notes,
    ms: 0,
  };
  try {
    await body(report, result);
  } catch (error) {
    report.failures.push(`threw: ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error)}`);
  }
  result.ms = Math.round(performance.now() - start);
  return result;
}

/** Runs a backend check inside its device's error scopes and disposes it. */
async function withBackend(
  result: GpuCheckResult,
  options: WebGpuBackendOptions,
  body: (backend: WebGpuBackend) => Promise<void>,
): Promise<void> {
  const backend = await createWebGpuBackend(navigator.gpu, options);
  try {
    await scoped(backend.device, result, () => body(backend));
  } finally {
    backend.dispose();
  }
}

// ---------------------------------------------------------------------------------
// Kernel checks

/** Uploads x whole as one segment: rowPtr, colIdx, values. */
function uploadCsr(gpu: TestGpu, x: Csr): { rowPtr: GPUBuffer; colIdx: GPUBuffer; values: GPUBuffer } {
  return {
    rowPtr: gpu.upload("rowPtr", x.rowPtr),
    colIdx: gpu.upload("colIdx", x.colIdx),
    values: gpu.upload("values", x.values),
  };
}

/** The awkward matrix of the kernel checks: empty rows, a 5,000-nonzero row, repeats. */
function awkwardCsr(seed: number, nRows: number, nCols: number): Csr {
  return randomCsr(mulberry32(seed), {
    nRows,
    nCols,
    meanNnz: 40,
    emptyEvery: 9,
    longRows: [Math.floor(nRows / 2) + 1],
    longNnz: 5000,
    repeatProbability: 0.1,
    skew: 2,
  });
}

const checkSpmv = kernelCheck(SUM_RULE, async (gpu, report) => {
  const nCols = 1 << 14;
  const x = awkwardCsr(1, 1001, nCols);
  const rng = mulberry32(2);
  const v = gaussianArray(rng, nCols);
  const s = 0.75;
  const b = -0.3;
  const rowStart = 37;
  const rowEnd = 37 + 777;
  const spmv = new SpmvPass(gpu.device);
  const z = gpu.zeros("z", x.nRows * 4);
  const group = spmv.bind({
    params: gpu.params([{ rowStart, firstRow: rowStart, nRows: rowEnd - rowStart, scale: s }]),
    ...uploadCsr(gpu, x),
    weights: gpu.upload("v", v),
    state: gpu.upload("state", new Float32Array([b])),
    z,
  });
  gpu.submit((pass) => spmv.run(pass, group, 0, rowEnd - rowStart));
  const got = await gpu.readF32(z, x.nRows);
  const w = v.map((vj) => s * vj);
  const want = new Float32Array(rowEnd - rowStart);
  spmvCsr(x, rowStart, rowEnd, w, b, want);
  report.compare("z", got.subarray(rowStart, rowEnd), want, (i) => REL * (absDot(x, rowStart + i, w) + Math.abs(b)) + ABS);
  report.check(got.subarray(0, rowStart).every((zi) => zi === 0) && got.subarray(rowEnd).every((zi) => zi === 0), "rows outside the batch were written");
  report.notes.push(`${x.nRows} rows, ${x.rowPtr[x.nRows]} nonzeros, batch rows ${rowStart}..${rowEnd - 1}`);
});

const checkGrids = kernelCheck(`${SUM_RULE}; scaled weights exact to 1 ulp`, async (gpu, report) => {
  // more rows and weights than one grid dimension holds, so both kernels run on 2-D grids
  const nRows = SPMV_ROWS_PER_GROUP * MAX_WORKGROUPS_PER_DIMENSION + 4466;
  const nCols = 1 << 12;
  const x = randomCsr(mulberry32(3), { nRows, nCols, meanNnz: 1, emptyEvery: 5 });
  const v = gaussianArray(mulberry32(4), nCols);
  const spmv = new SpmvPass(gpu.device);
  const z = gpu.zeros("z", nRows * 4);
  const params = gpu.params([{ rowStart: 0, firstRow: 0, nRows, scale: 1, foldScale: 0.5 }]);
  const group = spmv.bind({ params, ...uploadCsr(gpu, x), weights: gpu.upload("v", v), state: gpu.zeros("state", 4), z });
  const nWeights = WORKGROUP_SIZE * MAX_WORKGROUPS_PER_DIMENSION + 77;
  const big = gaussianArray(mulberry32(5), nWeights);
  const bigBuffer = gpu.upload("big weights", big);
  const scale = new ScaleWeightsPass(gpu.device);
  const scaleGroup = scale.bind({ params, weights: bigBuffer });
  let t0 = performance.now();
  gpu.submit((pass) => spmv.run(pass, group, 0, nRows));
  await gpu.device.queue.onSubmittedWorkDone();
  const spmvMs = performance.now() - t0;
  t0 = performance.now();
  gpu.submit((pass) => scale.run(pass, scaleGroup, 0, nWeights));
  await gpu.device.queue.onSubmittedWorkDone();
  const scaleMs = performance.now() - t0;
  const got = await gpu.readF32(z, nRows);
  const want = new Float32Array(nRows);
  spmvCsr(x, 0, nRows, v, 0, want);
  report.compare("z", got, want, (i) => REL * absDot(x, i, v) + ABS);
  const scaled = await gpu.readF32(bigBuffer, nWeights);
  report.compare("scaled weights", scaled, big.map((w) => 0.5 * w), () => 0);
  report.notes.push(`spmv over ${nRows} rows (${spmvMs.toFixed(0)} ms), scale over ${nWeights} weights (${scaleMs.toFixed(0)} ms)`);
});

const checkLoss = kernelCheck("|gpu - cpu| <= 1e-5 |cpu| + 1e-6 (per row); sums: 1e-5 * sum|terms| + 1e-6", async (gpu, report) => {
  const nSet = 500;
  const rng = mulberry32(6);
  const z = gaussianArray(rng, nSet, 4);
  const special = [0, 1e-3, -1e-3, 20, -20, 50, -50, 90, -90, 200, -200, 1e-30];
  special.forEach((value, i) => (z[150 + i] = value));
  const y = randomLabels(rng, nSet);
  const firstRow = 100;
  const n = 301;
  const b0 = 0.25;
  const stepB = 0.1 / n;
  const lossPass = new LossPass(gpu.device);
  const residual = gpu.zeros("residual", nSet * 4);
  const loss = gpu.zeros("loss", nSet * 4);
  const state = gpu.upload("state", new Float32Array([b0]));
  const batchLoss = gpu.zeros("batchLoss", 8 * 4);
  const group = lossPass.bind({
    params: gpu.params([{ rowStart: 0, firstRow, nRows: n, stepB, slot: 3 }]),
    z: gpu.upload("z", z),
    y: gpu.upload("y", Uint32Array.from(y)),
    residual,
    loss,
    state,
    batchLoss,
  });
  gpu.submit((pass) => lossPass.run(pass, group, 0));
  const wantR = new Float32Array(n);
  const wantL = new Float32Array(n);
  const wantSum = lossAndResidual(z.subarray(firstRow), y, firstRow, n, wantR, wantL);
  const gotR = (await gpu.readF32(residual, nSet)).subarray(firstRow, firstRow + n);
  const gotL = (await gpu.readF32(loss, nSet)).subarray(firstRow, firstRow + n);
  report.compare("residual", gotR, wantR, (i) => 1e-5 * Math.abs(wantR[i]!) + ABS);
  report.compare("loss", gotL, wantL, (i) => 1e-5 * Math.abs(wantL[i]!) + ABS);
  const [, , , meanLoss] = await gpu.readF32(batchLoss, 4);
  const absR = wantR.reduce((a, r) => a + Math.abs(r), 0);
  report.scalar("batch mean loss", meanLoss!, wantSum / n, (REL * wantSum) / n + ABS);
  const rSum = wantR.reduce((a, r) => a + r, 0);
  const [bias] = await gpu.readF32(state, 1);
  report.scalar("bias", bias!, b0 - stepB * rSum, REL * (Math.abs(b0) + stepB * absR) + ABS);
  report.notes.push(`${n} rows incl. z in {0, +-1e-3, +-20, +-50, +-90, +-200}`);
});

/** A training-shaped set: awkward rows cut into batches of batchSize, one CSC segment. */
function batchedSet(seed: number, nRows: number, nCols: number, batchSize: number) {
  const x = awkwardCsr(seed, nRows, nCols);
  const [segment] = planSegments(x.rowPtr, nRows, batchSize, 1 << 30) as [Segment];
  const csc = buildSegmentCsc(x, segment, batchSize);
  return { x, csc };
}

function uploadCsc(gpu: TestGpu, csc: ReturnType<typeof buildSegmentCsc>) {
  return {
    colPtr: gpu.upload("colPtr", csc.colPtr),
    cols: gpu.upload("cols", csc.cols),
    cscRows: gpu.upload("cscRows", csc.rows),
    cscValues: gpu.upload("cscValues", csc.values),
  };
}

/** sum over the batch of |r_i x_ij| / n, per column: the scale of gradW_j's rounding error */
function gradientScale(x: Csr, r0: number, r1: number, r: Float32Array): Float64Array {
  const out = new Float64Array(x.nCols);
  const n = r1 - r0;
  for (let i = r0; i < r1; i++) {
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) out[x.colIdx[k]!]! += Math.abs((r[i - r0]! * x.values[k]!) / n);
  }
  return out;
}

const checkGradient = kernelCheck(`${SUM_RULE} per column; untouched columns exactly 0`, async (gpu, report) => {
  const nCols = 1 << 13;
  const batchSize = 300;
  const { x, csc } = batchedSet(7, 1000, nCols, batchSize);
  const residualSet = gaussianArray(mulberry32(8), x.nRows, 0.5);
  const gather = new GatherPass(gpu.device, "gradient");
  const cscBuffers = uploadCsc(gpu, csc);
  const residual = gpu.upload("residual", residualSet);
  for (const k of [1, 3]) {
    // batch 1 holds the 5,000-nonzero row; batch 3 is the short last batch
    const r0 = k * batchSize;
    const r1 = Math.min(r0 + batchSize, x.nRows);
    const n = r1 - r0;
    const nColsBatch = csc.colStart[k + 1]! - csc.colStart[k]!;
    const grad = gpu.zeros("grad", nCols * 4);
    const params = gpu.params([{ rowStart: r0, firstRow: r0, nRows: n, colStart: csc.colStart[k]!, nCols: nColsBatch, stepW: 1 / n }]);
    const group = gather.bind({ params, ...cscBuffers, residual, weights: grad });
    gpu.submit((pass) => gather.run(pass, group, 0, nColsBatch));
    const got = await gpu.readF32(grad, nCols);
    const want = new Float32Array(nCols);
    gradientCsr(x, r0, r1, residualSet.subarray(r0, r1), want);
    const scale = gradientScale(x, r0, r1, residualSet.subarray(r0, r1));
    report.compare("gradW", got, want, (j) => (scale[j] === 0 ? 0 : REL * scale[j]! + 1e-7));
    report.notes.push(`batch ${k}: ${n} rows, ${nColsBatch} distinct columns`);
  }
});

const checkUpdate = kernelCheck("|gpu - cpu| <= 1e-5 (|(1 - lr l2) w| + lr sum|r x|/n) + 1e-7", async (gpu, report) => {
  const nCols = 1 << 13;
  const batchSize = 300;
  const { x, csc } = batchedSet(9, 1000, nCols, batchSize);
  const residualSet = gaussianArray(mulberry32(10), x.nRows, 0.5);
  const w0 = gaussianArray(mulberry32(11), nCols);
  const lr = 0.3;
  const l2 = 0.05;
  const k = 1;
  const r0 = k * batchSize;
  const r1 = r0 + batchSize;
  const n = r1 - r0;
  // the backend's scheme from s = 1: v -= lr/(n s') X^T r, then fold v <- s' v
  const sAfter = 1 - lr * l2;
  const nColsBatch = csc.colStart[k + 1]! - csc.colStart[k]!;
  const params = gpu.params([
    { rowStart: r0, firstRow: r0, nRows: n, colStart: csc.colStart[k]!, nCols: nColsBatch, stepW: lr / (n * sAfter), foldScale: sAfter },
  ]);
  const weights = gpu.upload("v", w0);
  const gather = new GatherPass(gpu.device, "update");
  const scale = new ScaleWeightsPass(gpu.device);
  const gatherGroup = gather.bind({ params, ...uploadCsc(gpu, csc), residual: gpu.upload("residual", residualSet), weights });
  const scaleGroup = scale.bind({ params, weights });
  gpu.submit((pass) => {
    gather.run(pass, gatherGroup, 0, nColsBatch);
    scale.run(pass, scaleGroup, 0, nCols);
  });
  const got = await gpu.readF32(weights, nCols);
  const gradW = new Float32Array(nCols);
  gradientCsr(x, r0, r1, residualSet.subarray(r0, r1), gradW);
  const want = w0.slice();
  updateWeights(want, gradW, lr, l2);
  const gScale = gradientScale(x, r0, r1, residualSet.subarray(r0, r1));
  report.compare("w", got, want, (j) => REL * (Math.abs(sAfter * w0[j]!) + lr * gScale[j]!) + 1e-7);
  report.notes.push(`lr ${lr}, l2 ${l2}, ${nColsBatch} columns touched of ${nCols}`);
});

/** spmv over a whole set (weights w, bias b) into z; returns the set's buffers. */
function recordLogits(gpu: TestGpu, x: Csr, w: Float32Array, b: number) {
  const spmv = new SpmvPass(gpu.device);
  const z = gpu.zeros("z", x.nRows * 4);
  const group = spmv.bind({
    params: gpu.params([{ rowStart: 0, firstRow: 0, nRows: x.nRows, scale: 1 }]),
    ...uploadCsr(gpu, x),
    weights: gpu.upload("w", w),
    state: gpu.upload("state", new Float32Array([b])),
    z,
  });
  return { z, record: (pass: GPUComputePassEncoder) => spmv.run(pass, group, 0, x.nRows) };
}

function evalSet(seed: number) {
  const x = awkwardCsr(seed, 5003, 1 << 13);
  const rng = mulberry32(seed + 1);
  return { x, y: randomLabels(rng, x.nRows), w: gaussianArray(rng, x.nCols, 0.2), b: 0.1 };
}

const checkEvaluate = kernelCheck("loss sum: 1e-5 * sum + 1e-4; counts exact except rows with |z| < 1e-4", async (gpu, report) => {
  const { x, y, w, b } = evalSet(12);
  const { z, record } = recordLogits(gpu, x, w, b);
  const nPartials = evalPartialCount(x.nRows);
  const evaluate = new EvaluatePass(gpu.device);
  const result = gpu.zeros("result", PARTIAL_BYTES);
  const group = evaluate.bind({
    evalParams: gpu.uniform("evalParams", evalParamsData(x.nRows, nPartials)),
    z,
    y: gpu.upload("y", Uint32Array.from(y)),
    partials: gpu.zeros("partials", nPartials * PARTIAL_BYTES),
    result,
  });
  gpu.submit((pass) => {
    record(pass);
    evaluate.run(pass, group, nPartials);
  });
  const got = decodePartial(await readBuffer(gpu.device, result, PARTIAL_BYTES));
  const want = evaluateCsr(x, y, w, b);
  const zCpu = new Float32Array(x.nRows);
  spmvCsr(x, 0, x.nRows, w, b, zCpu);
  const borderline = zCpu.filter((zi) => Math.abs(zi) < 1e-4).length;
  report.scalar("lossSum", got.lossSum, want.lossSum, REL * want.lossSum + 1e-4);
  for (const key of ["tp", "fp", "tn", "fn"] as const) report.scalar(key, got[key], want[key], borderline);
  report.check(got.tp + got.fp + got.tn + got.fn === x.nRows, "counts do not add up to n");
  report.notes.push(`${x.nRows} rows, ${nPartials} partials, ${borderline} borderline rows; cpu ${JSON.stringify(want)}`);
});

const checkPredict = kernelCheck(`p: 0.25 * (z rule) + ${ABS}`, async (gpu, report) => {
  const { x, w, b } = evalSet(13);
  const { z, record } = recordLogits(gpu, x, w, b);
  const predict = new PredictPass(gpu.device);
  const prob = gpu.zeros("prob", x.nRows * 4);
  const evalParams = gpu.uniform("evalParams", evalParamsData(x.nRows, 1));
  const group = predict.bind({ evalParams, z, prob });
  gpu.submit((pass) => {
    record(pass);
    predict.run(pass, group, x.nRows);
  });
  const got = await gpu.readF32(prob, x.nRows);
  const want = predictCsr(x, w, b);
  report.compare("p", got, want, (i) => 0.25 * (REL * (absDot(x, i, w) + Math.abs(b)) + ABS) + ABS);
});

// ---------------------------------------------------------------------------------
// Backend checks

const TRAIN = { seed: 20, nTrain: 3000, nTest: 1000, nCols: 1 << 12, batchSize: 64, epochs: 4, lr: 0.5, l2: 1e-3 };

function epochOrder(nBatches: number, epoch: number): Uint32Array {
  return permutation(nBatches, mulberry32(1000 + epoch));
}

function accuracy(s: { tp: number; tn: number; n: number }): number {
  return (100 * (s.tp + s.tn)) / s.n;
}

/**
 * After training on both backends: the held-out test set's accuracy (within 0.1 point),
 * loss sum (1e-4 relative) and probabilities (1e-4); returns both evaluations.
 */
async function compareTestSet(report: Report, cpu: TrainingBackend, gpu: TrainingBackend): Promise<{ ce: EvalSums; ge: EvalSums }> {
  const ce = await cpu.evaluate("test");
  const ge = await gpu.evaluate("test");
  report.scalar("test accuracy (points)", accuracy(ge), accuracy(ce), 0.1);
  report.scalar("test loss sum", ge.lossSum, ce.lossSum, 1e-4 * ce.lossSum);
  report.compare("test probabilities", await gpu.predict("test"), await cpu.predict("test"), () => 1e-4);
  return { ce, ge };
}

const checkTraining = () =>
  runCheck("weights: |gpu - cpu| <= 1e-4 + 1e-3 |cpu|; epoch loss 1e-4 relative; held-out accuracy within 0.1 point", async (report, result) => {
    const problem = syntheticProblem(TRAIN.seed, TRAIN.nTrain, TRAIN.nTest, TRAIN.nCols);
    const data = { train: problem.train, batchSize: TRAIN.batchSize, evalSets: [problem.test] };
    const nBatches = Math.ceil(TRAIN.nTrain / TRAIN.batchSize);
    const cpu = new CpuBackend();
    await cpu.load(data);
    const timings: GpuTiming[] = [];
    await withBackend(result, { onTiming: (t) => timings.push(t) }, async (gpu) => {
      await gpu.load(data);
      const cpuMs: number[] = [];
      for (let e = 0; e < TRAIN.epochs; e++) {
        const order = epochOrder(nBatches, e);
        const t0 = performance.now();
        const cpuLoss = await cpu.trainEpoch(order, TRAIN.lr, TRAIN.l2);
        cpuMs.push(performance.now() - t0);
        const gpuLoss = await gpu.trainEpoch(order, TRAIN.lr, TRAIN.l2);
        report.scalar("epoch loss", gpuLoss, cpuLoss, 1e-4 * cpuLoss);
        report.notes.push(`epoch ${e + 1}: loss cpu ${cpuLoss.toFixed(6)} gpu ${gpuLoss.toFixed(6)}`);
      }
      const cw = await cpu.readWeights();
      const gw = await gpu.readWeights();
      report.compare("weights", gw.weights, cw.weights, (j) => 1e-4 + 1e-3 * Math.abs(cw.weights[j]!));
      report.scalar("bias", gw.bias, cw.bias, 1e-4 + 1e-3 * Math.abs(cw.bias));
      let maxW = 0;
      for (const wj of cw.weights) maxW = Math.max(maxW, Math.abs(wj));
      const { ce, ge } = await compareTestSet(report, cpu, gpu);
      const trainEval = await gpu.evaluate("train");
      report.check(trainEval.n === TRAIN.nTrain, "evaluate('train') covers the training set");
      const epochs = timings.filter((t) => t.op === "trainEpoch");
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      report.notes.push(
        `${TRAIN.nTrain} train rows x ${TRAIN.nCols} columns (${problem.train.x.rowPtr[TRAIN.nTrain]} nonzeros), ` +
          `batch ${TRAIN.batchSize} (${nBatches} batches), ${TRAIN.epochs} epochs, lr ${TRAIN.lr}, l2 ${TRAIN.l2}`,
        `max |w| ${maxW.toFixed(3)}; test accuracy cpu ${accuracy(ce).toFixed(2)} gpu ${accuracy(ge).toFixed(2)}`,
        `epoch wall ms: gpu ${epochs.map((t) => t.wallMs.toFixed(0)).join(", ")} (mean ${mean(epochs.map((t) => t.wallMs)).toFixed(1)}); ` +
          `cpu ${cpuMs.map((t) => t.toFixed(0)).join(", ")}`,
        `load ms ${timings.find((t) => t.op === "load")?.wallMs.toFixed(0)}; device ${gpu.deviceName}`,
      );
    });
    cpu.dispose();
  });

const checkFolds = () =>
  runCheck("weights: |gpu - cpu| <= 1e-4 + 1e-3 |cpu|; epoch loss 1e-4 relative", async (report, result) => {
    // lr l2 = 0.25: s falls below 1e-3 every 25 steps, so scale_weights runs inside the epochs
    const problem = syntheticProblem(TRAIN.seed + 2, 1000, 10, TRAIN.nCols);
    const data = { train: problem.train, batchSize: 20, evalSets: [problem.test] };
    const nBatches = 50;
    const lr = 0.5;
    const l2 = 0.5;
    const cpu = new CpuBackend();
    await cpu.load(data);
    await withBackend(result, {}, async (gpu) => {
      await gpu.load(data);
      for (let e = 0; e < 2; e++) {
        const cpuLoss = await cpu.trainEpoch(epochOrder(nBatches, e), lr, l2);
        const gpuLoss = await gpu.trainEpoch(epochOrder(nBatches, e), lr, l2);
        report.scalar("epoch loss", gpuLoss, cpuLoss, 1e-4 * cpuLoss);
      }
      const cw = await cpu.readWeights();
      const gw = await gpu.readWeights();
      report.compare("weights", gw.weights, cw.weights, (j) => 1e-4 + 1e-3 * Math.abs(cw.weights[j]!));
      report.scalar("bias", gw.bias, cw.bias, 1e-4 + 1e-3 * Math.abs(cw.bias));
      report.notes.push(`lr ${lr}, l2 ${l2}: ${Math.floor((2 * nBatches) / 25)} folds in ${2 * nBatches} steps`);
    });
    cpu.dispose();
  });

/**
 * A whole training run with iterate averaging on both backends (same data, batches and
 * order): after every epoch the averaged weights and bias, the epoch loss (which follows
 * the last iterate, so it checks that training continues from there), the held-out
 * evaluation and probabilities. A non-averaged CPU run alongside shows the average
 * differs from the last iterate by much more than the tolerance.
 */
async function averagedRun(
  report: Report,
  result: GpuCheckResult,
  o: {
    problem: ReturnType<typeof syntheticProblem>;
    batchSize: number;
    epochs: number;
    lr: number;
    l2: number;
    options?: WebGpuBackendOptions;
    dropout?: { rate: number; seed: number };
  },
): Promise<void> {
  const { problem, batchSize, epochs, lr, l2 } = o;
  const data = { train: problem.train, batchSize, evalSets: [problem.test], average: true, dropout: o.dropout };
  const nBatches = Math.ceil(problem.train.x.nRows / batchSize);
  const cpu = new CpuBackend();
  await cpu.load(data);
  const lastIterate = new CpuBackend();
  await lastIterate.load({ ...data, average: false });
  const timings: GpuTiming[] = [];
  await withBackend(result, { ...o.options, onTiming: (t) => timings.push(t) }, async (gpu) => {
    await gpu.load(data);
    let maxAvgVsLast = 0;
    for (let e = 0; e < epochs; e++) {
      const order = epochOrder(nBatches, e);
      const cpuLoss = await cpu.trainEpoch(order, lr, l2);
      await lastIterate.trainEpoch(order, lr, l2);
      const gpuLoss = await gpu.trainEpoch(order, lr, l2);
      report.scalar("epoch loss", gpuLoss, cpuLoss, 1e-4 * cpuLoss);
      const cw = await cpu.readWeights();
      const gw = await gpu.readWeights();
      report.compare("averaged weights", gw.weights, cw.weights, (j) => AVG_ABS + AVG_REL * Math.abs(cw.weights[j]!));
      report.scalar("averaged bias", gw.bias, cw.bias, AVG_ABS + AVG_REL * Math.abs(cw.bias));
      const lw = await lastIterate.readWeights();
      for (let j = 0; j < lw.weights.length; j++) maxAvgVsLast = Math.max(maxAvgVsLast, Math.abs(lw.weights[j]! - cw.weights[j]!));
      const ce = await cpu.evaluate("test");
      const ge = await gpu.evaluate("test");
      report.notes.push(
        `epoch ${e + 1}: loss cpu ${cpuLoss.toFixed(6)} gpu ${gpuLoss.toFixed(6)}; averaged bias cpu ${cw.bias.toFixed(6)} ` +
          `gpu ${gw.bias.toFixed(6)}; test accuracy cpu ${accuracy(ce).toFixed(2)} gpu ${accuracy(ge).toFixed(2)}`,
      );
    }
    report.check(maxAvgVsLast > 100 * AVG_ABS, `the average is too close to the last iterate (max diff ${maxAvgVsLast}) to test anything`);
    await compareTestSet(report, cpu, gpu);
    const ct = await cpu.evaluate("train");
    const gt = await gpu.evaluate("train");
    report.scalar("train accuracy (points)", accuracy(gt), accuracy(ct), 0.1);
    const epochMs = timings.filter((t) => t.op === "trainEpoch").map((t) => t.wallMs.toFixed(0));
    report.notes.push(
      `${problem.train.x.nRows} train rows x ${problem.train.x.nCols} columns, batch ${batchSize} (${nBatches} steps an epoch), ` +
        `${epochs} epochs, lr ${lr}, l2 ${l2}; max |average - last iterate| ${maxAvgVsLast.toExponential(2)}`,
      `gpu epoch wall ms: ${epochMs.join(", ")}`,
    );
  });
  cpu.dispose();
  lastIterate.dispose();
}

/** Averaged weights: f32 running sums on the GPU against f64 ones on the CPU. */
const AVG_ABS = 1e-5;
const AVG_REL = 1e-4;
const AVG_RULE = `averaged weights and bias: |gpu - cpu| <= ${AVG_ABS} + ${AVG_REL} |cpu| after every epoch; epoch loss 1e-4 relative; accuracy within 0.1 point; probabilities 1e-4`;

const checkAveraged = () =>
  runCheck(AVG_RULE, async (report, result) => {
    const problem = syntheticProblem(TRAIN.seed, TRAIN.nTrain, TRAIN.nTest, TRAIN.nCols);
    await averagedRun(report, result, { problem, batchSize: TRAIN.batchSize, epochs: TRAIN.epochs, lr: TRAIN.lr, l2: TRAIN.l2 });
  });

const checkAveragedFolds = () =>
  runCheck(AVG_RULE, async (report, result) => {
    // per-example steps; lr l2 = 0.02: s falls below 1e-3 every 342 steps, so each epoch
    // folds (fold_average) and restarts its prefix sums; the train and test sets are split
    // into several buffers, so the averaged evaluation runs per segment. Then the same on
    // a three-column problem.
    const problem = syntheticProblem(TRAIN.seed + 3, 800, 300, 1 << 10, { longNnz: 600 });
    const lr = 0.2;
    const l2 = 0.1;
    const maxSegmentBytes = 16 * 1024;
    await averagedRun(report, result, { problem, batchSize: 1, epochs: 3, lr, l2, options: { maxSegmentBytes } });
    let s = 1;
    let folds = 0;
    for (let t = 0; t < 3 * 800; t++) if ((s *= 1 - lr * l2) < 1e-3) (s = 1), folds++;
    const trainSegments = planSegments(problem.train.x.rowPtr, 800, 1, maxSegmentBytes).length;
    const testSegments = planSegments(problem.test.x.rowPtr, 300, 1, maxSegmentBytes).length;
    report.check(folds >= 3 && trainSegments > 1 && testSegments > 1, "no folds, or the buffers were not split");
    report.notes.push(`${folds} folds in ${3 * 800} steps; train in ${trainSegments} segments, test in ${testSegments}`);
    // three columns: fewer weights than the 16-byte minimum buffer holds (padding lanes)
    const tiny = syntheticProblem(TRAIN.seed + 4, 400, 50, 3, { meanNnz: 2, longNnz: 3 });
    await averagedRun(report, result, { problem: tiny, batchSize: 1, epochs: 2, lr, l2 });
  });

/**
 * Dropout: both backends draw the mask from the same hash of (epoch seed, row, column),
 * the GPU in its row pass (spmv_csr) and its column pass (gather), so the runs agree
 * within the usual tolerance; a CPU run without dropout alongside shows the mask matters.
 */
const checkDropout = () =>
  runCheck("dropout 0.5: weights |gpu - cpu| <= 1e-4 + 1e-3 |cpu| after every epoch; epoch loss 1e-4 relative; accuracy within 0.1 point; probabilities 1e-4", async (report, result) => {
    const problem = syntheticProblem(TRAIN.seed + 5, TRAIN.nTrain, TRAIN.nTest, TRAIN.nCols);
    const dropout = { rate: 0.5, seed: 7 };
    const data = { train: problem.train, batchSize: TRAIN.batchSize, evalSets: [problem.test], dropout };
    const nBatches = Math.ceil(TRAIN.nTrain / TRAIN.batchSize);
    const cpu = new CpuBackend();
    await cpu.load(data);
    const noDropout = new CpuBackend();
    await noDropout.load({ ...data, dropout: undefined });
    await withBackend(result, {}, async (gpu) => {
      await gpu.load(data);
      for (let e = 0; e < TRAIN.epochs; e++) {
        const order = epochOrder(nBatches, e);
        const cpuLoss = await cpu.trainEpoch(order, TRAIN.lr, TRAIN.l2);
        await noDropout.trainEpoch(order, TRAIN.lr, TRAIN.l2);
        const gpuLoss = await gpu.trainEpoch(order, TRAIN.lr, TRAIN.l2);
        report.scalar("epoch loss", gpuLoss, cpuLoss, 1e-4 * cpuLoss);
        const cw = await cpu.readWeights();
        const gw = await gpu.readWeights();
        report.compare("weights", gw.weights, cw.weights, (j) => 1e-4 + 1e-3 * Math.abs(cw.weights[j]!));
        report.scalar("bias", gw.bias, cw.bias, 1e-4 + 1e-3 * Math.abs(cw.bias));
        report.notes.push(`epoch ${e + 1}: loss cpu ${cpuLoss.toFixed(6)} gpu ${gpuLoss.toFixed(6)}`);
      }
      const cw = await cpu.readWeights();
      const nw = await noDropout.readWeights();
      let maxDiff = 0;
      for (let j = 0; j < cw.weights.length; j++) maxDiff = Math.max(maxDiff, Math.abs(cw.weights[j]! - nw.weights[j]!));
      report.check(maxDiff > 0.01, `dropout changed the weights by only ${maxDiff}: the mask does nothing`);
      report.notes.push(`max |w(dropout) - w(no dropout)| on the CPU: ${maxDiff.toExponential(2)}`);
      await compareTestSet(report, cpu, gpu);
    });
    cpu.dispose();
    noDropout.dispose();
  });

const checkDropoutAveraged = () =>
  runCheck(`dropout 0.5; ${AVG_RULE}`, async (report, result) => {
    const problem = syntheticProblem(TRAIN.seed + 6, 800, 300, 1 << 10, { longNnz: 600 });
    await averagedRun(report, result, {
      problem,
      batchSize: 1,
      epochs: 3,
      lr: 0.2,
      l2: 0.1,
      options: { maxSegmentBytes: 16 * 1024 },
      dropout: { rate: 0.5, seed: 11 },
    });
  });

const checkSplit = () =>
  runCheck("split and unsplit GPU runs bit-identical", async (report, result) => {
    const problem = syntheticProblem(TRAIN.seed + 1, 1200, 500, TRAIN.nCols);
    const data = { train: problem.train, batchSize: 50, evalSets: [problem.test] };
    const nBatches = Math.ceil(1200 / 50);
    const maxSegmentBytes = 32 * 1024;
    const run = async (options: WebGpuBackendOptions) => {
      let out: { w: Float32Array; b: number; losses: number[]; test: Awaited<ReturnType<WebGpuBackend["evaluate"]>>; p: Float32Array } | undefined;
      await withBackend(result, options, async (gpu) => {
        await gpu.load(data);
        const losses: number[] = [];
        for (let e = 0; e < 2; e++) losses.push(await gpu.trainEpoch(epochOrder(nBatches, e), 0.5, 1e-3));
        const { weights, bias } = await gpu.readWeights();
        out = { w: weights, b: bias, losses, test: await gpu.evaluate("test"), p: await gpu.predict("test") };
      });
      return out!;
    };
    const whole = await run({});
    const split = await run({ maxSegmentBytes });
    report.compare("weights", split.w, whole.w, () => 0);
    report.scalar("bias", split.b, whole.b, 0);
    report.compare("epoch losses", split.losses, whole.losses, () => 0);
    report.compare("test probabilities", split.p, whole.p, () => 0);
    report.check(JSON.stringify(split.test) === JSON.stringify(whole.test), "test evaluations differ");
    const trainSegments = planSegments(problem.train.x.rowPtr, 1200, 50, maxSegmentBytes).length;
    const testSegments = planSegments(problem.test.x.rowPtr, 500, 1, maxSegmentBytes).length;
    report.check(trainSegments > 1 && testSegments > 1, "the split run was not split");
    report.notes.push(`maxSegmentBytes ${maxSegmentBytes}: train in ${trainSegments} segments, test in ${testSegments}`);
  });

const checkDeviceLoss = () =>
  runCheck("calls after a device loss reject with WebGpuUnavailableError naming the CPU", async (report) => {
    const problem = syntheticProblem(30, 300, 100, 1 << 10);
    const backend = await createWebGpuBackend(navigator.gpu);
    const originalError = console.error;
    console.error = () => {}; // the backend logs the loss; expected here
    try {
      await backend.load({ train: problem.train, batchSize: 32, evalSets: [problem.test] });
      await backend.trainEpoch(epochOrder(10, 0), 0.1, 0);
      backend.device.destroy(); // what a GPU reset looks like to the page
      for (const [what, call] of [
        ["trainEpoch", () => backend.trainEpoch(epochOrder(10, 1), 0.1, 0)],
        ["evaluate", () => backend.evaluate("test")],
        ["readWeights", () => backend.readWeights()],
      ] as const) {
        try {
          await call();
          report.failures.push(`${what} resolved after the device was lost`);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          report.check(error instanceof WebGpuUnavailableError, `${what} rejected with ${String(error)}, not WebGpuUnavailableError`);
          report.check(/lost/.test(message) && /CPU/.test(message), `${what}: message does not say lost / CPU: ${message}`);
          if (what === "trainEpoch") report.notes.push(`message: ${message}`);
        }
      }
    } finally {
      console.error = originalError;
      backend.dispose();
    }
  });

const checkTimestamps = () =>
  runCheck("kernel times reported for each training kernel", async (report, result) => {
    const problem = syntheticProblem(31, 640, 64, 1 << 10);
    const timings: GpuTiming[] = [];
    await withBackend(result, { kernelTimestamps: true, onTiming: (t) => timings.push(t) }, async (gpu) => {
      await gpu.load({ train: problem.train, batchSize: 64, evalSets: [problem.test] });
      await gpu.trainEpoch(epochOrder(10, 0), 0.1, 1e-4);
      await gpu.evaluate("test");
      const epoch = timings.find((t) => t.op === "trainEpoch");
      if (!gpu.timestamps) {
        report.notes.push("the adapter has no timestamp-query; kernel times not recorded");
        report.check(epoch?.kernelMs === undefined, "kernel times reported without timestamp-query");
        return;
      }
      const kernels = epoch?.kernelMs ?? {};
      for (const k of ["spmv_csr", "loss_residual", "gather_update"]) report.check(k in kernels, `no time for ${k}`);
      report.check((epoch?.batchLosses?.length ?? 0) === 10, "batchLosses missing");
      report.notes.push(`epoch kernel ms: ${JSON.stringify(kernels, (_, v: unknown) => (typeof v === "number" ? Number(v.toFixed(3)) : v))}`);
      // the averaging kernels, on a reload of the same backend (lr l2 = 0.9: folds every 4 steps)
      timings.length = 0;
      await gpu.load({ train: problem.train, batchSize: 64, evalSets: [problem.test], average: true });
      await gpu.trainEpoch(epochOrder(10, 0), 0.5, 1.8);
      const averaged = timings.find((t) => t.op === "trainEpoch")?.kernelMs ?? {};
      for (const k of ["spmv_csr", "loss_residual_avg", "gather_update_avg", "fold_average", "average_finish"]) {
        report.check(k in averaged, `no time for ${k}`);
      }
      report.notes.push(`averaged epoch kernel ms: ${JSON.stringify(averaged, (_, v: unknown) => (typeof v === "number" ? Number(v.toFixed(3)) : v))}`);
    });
  });

// ---------------------------------------------------------------------------------

const CHECKS: Record<GpuCheckName, () => Promise<GpuCheckResult>> = {
  spmv_csr: checkSpmv,
  "spmv_csr and scale_weights on 2-D grids": checkGrids,
  loss_residual: checkLoss,
  gather_gradient: checkGradient,
  "gather_update + scale_weights": checkUpdate,
  evaluate: checkEvaluate,
  predict: checkPredict,
  "training run vs CpuBackend": checkTraining,
  "training with L2 folds vs CpuBackend": checkFolds,
  "averaged training vs CpuBackend": checkAveraged,
  "averaged training, batch size 1 with L2 folds, split buffers": checkAveragedFolds,
  "split buffers give identical training": checkSplit,
  "training with dropout vs CpuBackend": checkDropout,
  "averaged training with dropout, batch size 1, split buffers": checkDropoutAveraged,
  "device loss": checkDeviceLoss,
  "kernel timestamps": checkTimestamps,
};

async function probe(): Promise<GpuProbe> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    return { adapter: null, reason: `navigator.gpu is missing (secure context: ${window.isSecureContext})`, features: [] };
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { adapter: null, reason: "navigator.gpu.requestAdapter() returned null", features: [] };
  const info = adapter.info;
  return {
    adapter: [info.vendor, info.architecture, info.description].filter((p) => p).join(" ") || "unnamed adapter",
    features: [...adapter.features].sort(),
  };
}

/** Times GPU (and CPU) epochs on a synthetic problem; a benchmark script can call this. */
async function bench(o: GpuBenchOptions): Promise<GpuBenchResult> {
  const problem = syntheticProblem(40, o.nTrain, 16, o.nCols, { meanNnz: o.meanNnz ?? 30 });
  const data = { train: problem.train, batchSize: o.batchSize, evalSets: [problem.test], average: o.average === true };
  const nBatches = Math.ceil(o.nTrain / o.batchSize);
  const lr = o.lr ?? 0.5;
  const l2 = o.l2 ?? 1e-6;
  const timings: GpuTiming[] = [];
  const out: GpuBenchResult = {
    device: "",
    nnz: problem.train.x.rowPtr[o.nTrain]!,
    nBatches,
    loadMs: 0,
    gpuEpochMs: [],
    cpuEpochMs: [],
    gpuLoss: [],
    cpuLoss: [],
  };
  const gpu = await createWebGpuBackend(navigator.gpu, { kernelTimestamps: o.kernelTimestamps, onTiming: (t) => timings.push(t) });
  try {
    out.device = gpu.deviceName;
    await gpu.load(data);
    out.loadMs = timings.find((t) => t.op === "load")!.wallMs;
    for (let e = 0; e < o.epochs; e++) out.gpuLoss.push(await gpu.trainEpoch(epochOrder(nBatches, e), lr, l2));
  } finally {
    gpu.dispose();
  }
  const epochs = timings.filter((t) => t.op === "trainEpoch");
  out.gpuEpochMs = epochs.map((t) => t.wallMs);
  if (o.kernelTimestamps) {
    out.kernelMs = {};
    for (const t of epochs) for (const [k, ms] of Object.entries(t.kernelMs ?? {})) out.kernelMs[k] = (out.kernelMs[k] ?? 0) + ms;
  }
  if (o.cpu ?? true) {
    const cpu = new CpuBackend();
    await cpu.load(data);
    for (let e = 0; e < o.epochs; e++) {
      const t0 = performance.now();
      out.cpuLoss.push(await cpu.trainEpoch(epochOrder(nBatches, e), lr, l2));
      out.cpuEpochMs.push(performance.now() - t0);
    }
    cpu.dispose();
  }
  return out;
}

const harness: GpuHarness = {
  probe,
  bench,
  async runCheck(name) {
    const check = CHECKS[name];
    const result = await check();
    result.name = name;
    return result;
  },
};

window.gpuHarness = harness;
