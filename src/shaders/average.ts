// Host wrapper of average.wgsl: the fold and the end-of-epoch mean of iterate averaging.

import source from "./average.wgsl?raw";
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

export interface AverageBuffers {
  /** BatchParams records (fold_average: prefixNow, foldScale; average_finish: prefixNow, slot) */
  params: GPUBuffer;
  /** v, one per column (scaled in place by fold_average) */
  weights: GPUBuffer;
  /** per column (sumW_j, settled_j) as vec2f: the running sum of the iterates and the
   * prefix sum it was last settled to (settled by fold_average) */
  account: GPUBuffer;
  /** the epoch's mean weights (written by average_finish) */
  avg: GPUBuffer;
}

export type AverageKernel = "fold_average" | "average_finish";

export class AveragePass {
  readonly layout: GPUBindGroupLayout;
  readonly fold: GPUComputePipeline;
  readonly finish: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "average",
      entries: [
        batchParamsEntry(0), // params: a BatchParams record (dynamic offset)
        storageEntry(1, true), // weights: v
        storageEntry(2, true), // account: (sumW, settled) per column
        storageEntry(3, true), // avg: mean weights out
      ],
    });
    const module = createKernelModule(device, "average.wgsl", source);
    this.fold = createKernelPipeline(device, module, this.layout, "fold_average");
    this.finish = createKernelPipeline(device, module, this.layout, "average_finish");
  }

  bind(b: AverageBuffers, label = "average"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [
        batchParamsBinding(0, b.params),
        { binding: 1, resource: { buffer: b.weights } },
        { binding: 2, resource: { buffer: b.account } },
        { binding: 3, resource: { buffer: b.avg } },
      ],
    });
  }

  /** Records one dispatch of `kernel` over `count` weights (all buffers hold at least that many). */
  run(pass: GPUComputePassEncoder, kernel: AverageKernel, bindGroup: GPUBindGroup, paramsIndex: number, count: number): void {
    pass.setPipeline(kernel === "fold_average" ? this.fold : this.finish);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    dispatchGroups(pass, Math.ceil(count / WORKGROUP_SIZE));
  }
}
