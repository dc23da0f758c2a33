// Host-side pieces every GPU pass shares: the one workgroup-size constant, the layout of
// the per-step parameter record (mirrors BatchParams in common.wgsl), dispatch sizing,
// buffer helpers and the WebGPU flag values.

import commonSource from "./common.wgsl?raw";

/** Threads per workgroup of every kernel (the WGSL `override WG`). A power of two. */
export const WORKGROUP_SIZE = 64;

/** Threads that share one row in spmv_csr (the WGSL `override ROW_THREADS`); a power of
 * two dividing WORKGROUP_SIZE, so each workgroup computes WORKGROUP_SIZE / SPMV_ROW_THREADS rows. */
export const SPMV_ROW_THREADS = 16;
export const SPMV_ROWS_PER_GROUP = WORKGROUP_SIZE / SPMV_ROW_THREADS;

/** Bytes of one BatchParams record as WGSL lays it out. */
export const BATCH_PARAMS_BYTES = 64;
/** Records sit this far apart so each can be bound with a dynamic offset (the largest
 * minUniformBufferOffsetAlignment an adapter may report). */
export const BATCH_PARAMS_STRIDE = 256;
/** Bytes of one EvalParams record. */
export const EVAL_PARAMS_BYTES = 16;

// The spec's flag values, spelt out so this code does not depend on the GPUBufferUsage /
// GPUMapMode / GPUShaderStage globals, which Node's `webgpu` package does not install.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;
export const MapMode = { READ: 0x0001 } as const;
export const ShaderStage = { COMPUTE: 0x4 } as const;

/** One training step's parameters (see BatchParams in common.wgsl for each field). */
export interface BatchParams {
  rowStart: number;
  firstRow: number;
  nRows: number;
  colStart?: number;
  nCols?: number;
  scale?: number;
  stepW?: number;
  stepB?: number;
  slot?: number;
  foldScale?: number;
  prefixPrev?: number;
  prefixNow?: number;
  dropSeed?: number;
  dropThreshold?: number;
  keepScale?: number;
}

/** Writes record `index` of a BatchParams array into `target` (BATCH_PARAMS_STRIDE apart). */
export function writeBatchParams(target: ArrayBuffer, index: number, p: BatchParams): void {
  const base = index * BATCH_PARAMS_STRIDE;
  const u = new Uint32Array(target, base, BATCH_PARAMS_BYTES / 4);
  const f = new Float32Array(target, base, BATCH_PARAMS_BYTES / 4);
  u[0] = p.rowStart;
  u[1] = p.firstRow;
  u[2] = p.nRows;
  u[3] = p.colStart ?? 0;
  u[4] = p.nCols ?? 0;
  f[5] = p.scale ?? 1;
  f[6] = p.stepW ?? 0;
  f[7] = p.stepB ?? 0;
  u[8] = p.slot ?? 0;
  f[9] = p.foldScale ?? 1;
  f[10] = p.prefixPrev ?? 0;
  f[11] = p.prefixNow ?? 0;
  u[12] = p.dropSeed ?? 0;
  u[13] = p.dropThreshold ?? 0;
  f[14] = p.keepScale ?? 1;
  u[15] = 0;
}

/** The EvalParams record of a set of n rows reduced by nPartials workgroups. */
export function evalParamsData(n: number, nPartials: number): Uint32Array {
  return new Uint32Array([n, nPartials, 0, 0]);
}

/** Workgroups eval_partials uses for n rows: enough to fill a GPU, few enough to finish in one. */
export function evalPartialCount(n: number): number {
  return Math.max(1, Math.min(Math.ceil(n / WORKGROUP_SIZE), 4 * WORKGROUP_SIZE));
}

/** The WebGPU default (and usual) maxComputeWorkgroupsPerDimension; we never request more. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * A grid of at least `groups` workgroups, 2-D when one dimension would exceed
 * `maxPerDimension`; kernels flatten it with linearGroup() and bounds-check.
 */
export function gridFor(groups: number, maxPerDimension: number): [number, number] {
  if (groups <= maxPerDimension) return [Math.max(groups, 0), 1];
  const y = Math.ceil(groups / maxPerDimension);
  if (y > maxPerDimension) throw new RangeError(`dispatch of ${groups} workgroups is too large`);
  return [Math.ceil(groups / y), y];
}

/** Dispatches a grid of `groups` workgroups (nothing when zero). */
export function dispatchGroups(pass: GPUComputePassEncoder, groups: number): void {
  if (groups <= 0) return;
  const [x, y] = gridFor(groups, MAX_WORKGROUPS_PER_DIMENSION);
  pass.dispatchWorkgroups(x, y);
}

/** A shader module from one kernel file with common.wgsl prepended. */
export function createKernelModule(device: GPUDevice, label: string, source: string): GPUShaderModule {
  return device.createShaderModule({ label, code: `${commonSource}\n${source}` });
}

/** A compute pipeline for `entryPoint` with the workgroup size set from WORKGROUP_SIZE
 * (and any other override constants the kernel declares). */
export function createKernelPipeline(
  device: GPUDevice,
  module: GPUShaderModule,
  layout: GPUBindGroupLayout,
  entryPoint: string,
  constants: Record<string, number> = {},
): GPUComputePipeline {
  return device.createComputePipeline({
    label: entryPoint,
    layout: device.createPipelineLayout({ label: entryPoint, bindGroupLayouts: [layout] }),
    compute: { module, entryPoint, constants: { WG: WORKGROUP_SIZE, ...constants } },
  });
}

/** Layout entry of the per-step BatchParams record, selected with a dynamic offset. */
export function batchParamsEntry(binding: number): GPUBindGroupLayoutEntry {
  return {
    binding,
    visibility: ShaderStage.COMPUTE,
    buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: BATCH_PARAMS_BYTES },
  };
}

/** Layout entry of a plain uniform record of `minBindingSize` bytes. */
export function uniformEntry(binding: number, minBindingSize: number): GPUBindGroupLayoutEntry {
  return { binding, visibility: ShaderStage.COMPUTE, buffer: { type: "uniform", minBindingSize } };
}

/** Layout entry of a storage buffer, read-only unless `writable`. */
export function storageEntry(binding: number, writable = false): GPUBindGroupLayoutEntry {
  return {
    binding,
    visibility: ShaderStage.COMPUTE,
    buffer: { type: writable ? "storage" : "read-only-storage" },
  };
}

/** Bind-group entry for the BatchParams record at binding `binding`. */
export function batchParamsBinding(binding: number, buffer: GPUBuffer): GPUBindGroupEntry {
  return { binding, resource: { buffer, offset: 0, size: BATCH_PARAMS_BYTES } };
}

/** Dynamic offset of BatchParams record `index`. */
export function batchParamsOffset(index: number): number {
  return index * BATCH_PARAMS_STRIDE;
}

/** Storage and copy usage; buffers are never smaller than 16 bytes (a zero-size binding is invalid). */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;

/** Rounds a byte size up to a multiple of 4, at least 16. */
export function bufferBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 4) * 4);
}

/** A storage buffer holding `data`, written through a mapping at creation. */
export function createBufferWithData(
  device: GPUDevice,
  label: string,
  data: Uint32Array | Float32Array,
  usage: number = STORAGE_USAGE,
): GPUBuffer {
  const buffer = device.createBuffer({ label, size: bufferBytes(data.byteLength), usage, mappedAtCreation: true });
  const range = buffer.getMappedRange();
  if (data instanceof Float32Array) new Float32Array(range).set(data);
  else new Uint32Array(range).set(data);
  buffer.unmap();
  return buffer;
}

/** A zero-filled storage buffer of `bytes` bytes (WebGPU zero-initialises buffers). */
export function createZeroBuffer(device: GPUDevice, label: string, bytes: number, usage: number = STORAGE_USAGE): GPUBuffer {
  return device.createBuffer({ label, size: bufferBytes(bytes), usage });
}

/**
 * Records a copy of `size` bytes of `source` into a fresh mappable buffer; after the
 * encoder is submitted, `readStaging` returns the bytes.
 */
export function copyToStaging(device: GPUDevice, encoder: GPUCommandEncoder, source: GPUBuffer, size: number, offset = 0): GPUBuffer {
  const staging = device.createBuffer({
    label: `${source.label} (read back)`,
    size: bufferBytes(size),
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  if (size > 0) encoder.copyBufferToBuffer(source, offset, staging, 0, Math.ceil(size / 4) * 4);
  return staging;
}

/** Maps a staging buffer from copyToStaging, copies out `size` bytes and destroys it. */
export async function readStaging(staging: GPUBuffer, size: number): Promise<ArrayBuffer> {
  try {
    await staging.mapAsync(MapMode.READ);
    return staging.getMappedRange().slice(0, size);
  } finally {
    staging.destroy();
  }
}

/** Reads `size` bytes of `source` back (one submit, one map). */
export async function readBuffer(device: GPUDevice, source: GPUBuffer, size: number, offset = 0): Promise<ArrayBuffer> {
  const encoder = device.createCommandEncoder({ label: `read ${source.label}` });
  const staging = copyToStaging(device, encoder, source, size, offset);
  device.queue.submit([encoder.finish()]);
  return readStaging(staging, size);
}
