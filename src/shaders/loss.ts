// Host wrapper of loss.wgsl: residuals, per-row losses, the batch's mean loss and the
// bias update, for one batch.

import source from "./loss.wgsl?raw";
import {
  batchParamsBinding,
  batchParamsEntry,
  batchParamsOffset,
  createKernelModule,
  createKernelPipeline,
  storageEntry,
} from "./common.ts";

/** The buffers one loss_residual dispatch reads and writes. */
export interface LossBuffers {
  /** BatchParams records (firstRow, nRows, stepB, slot are read) */
  params: GPUBuffer;
  /** set-wide logits */
  z: GPUBuffer;
  /** set-wide labels, one u32 (0 or 1) per row */
  y: GPUBuffer;
  /** set-wide residuals r = p - y (out) */
  residual: GPUBuffer;
  /** set-wide per-row losses (out) */
  loss: GPUBuffer;
  /** state[0] = bias (updated) */
  state: GPUBuffer;
  /** batchLoss[slot] = the batch's mean loss (out) */
  batchLoss: GPUBuffer;
}

export class LossPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "loss_residual",
      entries: [
        batchParamsEntry(0), // params: this step's BatchParams (dynamic offset)
        storageEntry(1), // z: logits of the set
        storageEntry(2), // y: labels of the set
        storageEntry(3, true), // residual: p - y out
        storageEntry(4, true), // loss: per-row BCE out
        storageEntry(5, true), // state: [bias], updated
        storageEntry(6, true), // batchLoss: mean loss per step out
      ],
    });
    const module = createKernelModule(device, "loss.wgsl", source);
    this.pipeline = createKernelPipeline(device, module, this.layout, "loss_residual");
  }

  bind(b: LossBuffers, label = "loss_residual"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [
        batchParamsBinding(0, b.params),
        { binding: 1, resource: { buffer: b.z } },
        { binding: 2, resource: { buffer: b.y } },
        { binding: 3, resource: { buffer: b.residual } },
        { binding: 4, resource: { buffer: b.loss } },
        { binding: 5, resource: { buffer: b.state } },
        { binding: 6, resource: { buffer: b.batchLoss } },
      ],
    });
  }

  /** Records one dispatch (a single workgroup for the whole batch). */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, paramsIndex: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    pass.dispatchWorkgroups(1);
  }
}
