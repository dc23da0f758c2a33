// Host wrapper of scale.wgsl: v <- foldScale * v over all weights.

import source from "./scale.wgsl?raw";
import {
  WORKGROUP_SIZE,
  batchParamsBinding,
  batchParamsEntry,
  batchParamsOffset,
  createKernelModule,
  createKernelPipeline,
  dispatchGroups,
  storageEntry,
} from "./common.ts";

export interface ScaleBuffers {
  /** BatchParams records (foldScale is read) */
  params: GPUBuffer;
  /** the weights, scaled in place; every element of the buffer is scaled */
  weights: GPUBuffer;
}

export class ScaleWeightsPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "scale_weights",
      entries: [
        batchParamsEntry(0), // params: this step's BatchParams (dynamic offset)
        storageEntry(1, true), // weights: scaled in place
      ],
    });
    const module = createKernelModule(device, "scale.wgsl", source);
    this.pipeline = createKernelPipeline(device, module, this.layout, "scale_weights");
  }

  bind(b: ScaleBuffers, label = "scale_weights"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [batchParamsBinding(0, b.params), { binding: 1, resource: { buffer: b.weights } }],
    });
  }

  /** Records one dispatch over `count` weights (the weights buffer's length). */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, paramsIndex: number, count: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    dispatchGroups(pass, Math.ceil(count / WORKGROUP_SIZE));
  }
}
