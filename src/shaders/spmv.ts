// Host wrapper of spmv.wgsl: z = s (X v) + b for the rows of one batch or segment.

import source from "./spmv.wgsl?raw";
import {
  SPMV_ROWS_PER_GROUP,
  SPMV_ROW_THREADS,
  batchParamsBinding,
  batchParamsEntry,
  batchParamsOffset,
  createKernelModule,
  createKernelPipeline,
  dispatchGroups,
  storageEntry,
} from "./common.ts";

/** The buffers one spmv_csr dispatch reads and writes. */
export interface SpmvBuffers {
  /** BatchParams records (rowStart, firstRow, nRows, scale are read) */
  params: GPUBuffer;
  /** segment-local CSR offsets: rowPtr[rowStart + i] .. rowPtr[rowStart + i + 1] index colIdx/values */
  rowPtr: GPUBuffer;
  colIdx: GPUBuffer;
  values: GPUBuffer;
  /** unscaled weights v, one per column */
  weights: GPUBuffer;
  /** state[0] = bias */
  state: GPUBuffer;
  /** set-wide logits; row i of the batch writes z[firstRow + i] */
  z: GPUBuffer;
}

export class SpmvPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "spmv_csr",
      entries: [
        batchParamsEntry(0), // params: this step's BatchParams (dynamic offset)
        storageEntry(1), // rowPtr: nRows+1 offsets of the segment
        storageEntry(2), // colIdx: column of each nonzero
        storageEntry(3), // values: value of each nonzero
        storageEntry(4), // v: unscaled weights
        storageEntry(5), // state: [bias]
        storageEntry(6, true), // z: logits out
      ],
    });
    const module = createKernelModule(device, "spmv.wgsl", source);
    this.pipeline = createKernelPipeline(device, module, this.layout, "spmv_csr", { ROW_THREADS: SPMV_ROW_THREADS });
  }

  bind(b: SpmvBuffers, label = "spmv_csr"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [
        batchParamsBinding(0, b.params),
        { binding: 1, resource: { buffer: b.rowPtr } },
        { binding: 2, resource: { buffer: b.colIdx } },
        { binding: 3, resource: { buffer: b.values } },
        { binding: 4, resource: { buffer: b.weights } },
        { binding: 5, resource: { buffer: b.state } },
        { binding: 6, resource: { buffer: b.z } },
      ],
    });
  }

  /** Records one dispatch (SPMV_ROWS_PER_GROUP rows per workgroup) into the caller's compute pass. */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, paramsIndex: number, nRows: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    dispatchGroups(pass, Math.ceil(nRows / SPMV_ROWS_PER_GROUP));
  }
}
