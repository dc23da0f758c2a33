// Host wrapper of loss.wgsl: residuals, per-row losses, the batch's mean loss and the
// bias update, for one batch (and, when averaging, the bias after the step).

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
  /** mode "average": biasTrace[slot] = the bias after the step (out) */
  biasTrace?: GPUBuffer;
}

/** "plain": loss_residual; "average": loss_residual_avg, which also records each step's bias. */
export type LossMode = "plain" | "average";

export class LossPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  constructor(
    private readonly device: GPUDevice,
    readonly mode: LossMode = "plain",
  ) {
    const entryPoint = mode === "average" ? "loss_residual_avg" : "loss_residual";
    const entries: GPUBindGroupLayoutEntry[] = [
      batchParamsEntry(0), // params: this step's BatchParams (dynamic offset)
      storageEntry(1), // z: logits of the set
      storageEntry(2), // y: labels of the set
      storageEntry(3, true), // residual: p - y out
      storageEntry(4, true), // loss: per-row BCE out
      storageEntry(5, true), // state: [bias], updated
      storageEntry(6, true), // batchLoss: mean loss per step out
    ];
    if (mode === "average") entries.push(storageEntry(7, true)); // biasTrace: bias after each step out
    this.layout = device.createBindGroupLayout({ label: entryPoint, entries });
    const module = createKernelModule(device, "loss.wgsl", source);
    this.pipeline = createKernelPipeline(device, module, this.layout, entryPoint);
  }

  bind(b: LossBuffers, label = this.mode === "average" ? "loss_residual_avg" : "loss_residual"): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [
      batchParamsBinding(0, b.params),
      { binding: 1, resource: { buffer: b.z } },
      { binding: 2, resource: { buffer: b.y } },
      { binding: 3, resource: { buffer: b.residual } },
      { binding: 4, resource: { buffer: b.loss } },
      { binding: 5, resource: { buffer: b.state } },
      { binding: 6, resource: { buffer: b.batchLoss } },
    ];
    if (this.mode === "average") {
      if (!b.biasTrace) throw new Error("loss_residual_avg needs the biasTrace buffer");
      entries.push({ binding: 7, resource: { buffer: b.biasTrace } });
    }
    return this.device.createBindGroup({ label, layout: this.layout, entries });
  }

  /** Records one dispatch (a single workgroup for the whole batch). */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, paramsIndex: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    pass.dispatchWorkgroups(1);
  }
}
