// Host wrappers of evaluate.wgsl and predict.wgsl: loss sum and confusion counts of a
// whole set, and its probabilities, from the logits spmv_csr wrote.

import evaluateSource from "./evaluate.wgsl?raw";
import predictSource from "./predict.wgsl?raw";
import {
  EVAL_PARAMS_BYTES,
  WORKGROUP_SIZE,
  createKernelModule,
  createKernelPipeline,
  dispatchGroups,
  storageEntry,
  uniformEntry,
} from "./common.ts";

/** Bytes of one Partial record (f32 loss, padding, vec4u counts). */
export const PARTIAL_BYTES = 32;

export interface EvaluateBuffers {
  /** EvalParams: n, nPartials */
  evalParams: GPUBuffer;
  /** logits of the set */
  z: GPUBuffer;
  /** labels of the set, one u32 per row */
  y: GPUBuffer;
  /** nPartials Partial records (scratch) */
  partials: GPUBuffer;
  /** one Partial record: the result */
  result: GPUBuffer;
}

/** Decodes the result record: [lossSum, pad x3, tp, fp, tn, fn]. */
export function decodePartial(bytes: ArrayBuffer): { lossSum: number; tp: number; fp: number; tn: number; fn: number } {
  const f = new Float32Array(bytes, 0, 1);
  const u = new Uint32Array(bytes, 16, 4);
  return { lossSum: f[0]!, tp: u[0]!, fp: u[1]!, tn: u[2]!, fn: u[3]! };
}

export class EvaluatePass {
  readonly layout: GPUBindGroupLayout;
  readonly partialsPipeline: GPUComputePipeline;
  readonly finishPipeline: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "evaluate",
      entries: [
        uniformEntry(0, EVAL_PARAMS_BYTES), // evalParams: n, nPartials
        storageEntry(1), // z: logits of the set
        storageEntry(2), // y: labels of the set
        storageEntry(3, true), // partials: one record per eval_partials workgroup
        storageEntry(4, true), // result: the summed record
      ],
    });
    const module = createKernelModule(device, "evaluate.wgsl", evaluateSource);
    this.partialsPipeline = createKernelPipeline(device, module, this.layout, "eval_partials");
    this.finishPipeline = createKernelPipeline(device, module, this.layout, "eval_finish");
  }

  bind(b: EvaluateBuffers, label = "evaluate"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: b.evalParams } },
        { binding: 1, resource: { buffer: b.z } },
        { binding: 2, resource: { buffer: b.y } },
        { binding: 3, resource: { buffer: b.partials } },
        { binding: 4, resource: { buffer: b.result } },
      ],
    });
  }

  /** Records both reduction levels; nPartials must match the bound EvalParams. */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, nPartials: number): void {
    pass.setBindGroup(0, bindGroup);
    pass.setPipeline(this.partialsPipeline);
    dispatchGroups(pass, nPartials);
    pass.setPipeline(this.finishPipeline);
    pass.dispatchWorkgroups(1);
  }
}

export interface PredictBuffers {
  /** EvalParams: n is read */
  evalParams: GPUBuffer;
  /** logits of the set */
  z: GPUBuffer;
  /** probabilities out */
  prob: GPUBuffer;
}

export class PredictPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  constructor(private readonly device: GPUDevice) {
    this.layout = device.createBindGroupLayout({
      label: "sigmoid_rows",
      entries: [
        uniformEntry(0, EVAL_PARAMS_BYTES), // evalParams: n
        storageEntry(1), // z: logits of the set
        storageEntry(2, true), // prob: sigmoid(z) out
      ],
    });
    const module = createKernelModule(device, "predict.wgsl", predictSource);
    this.pipeline = createKernelPipeline(device, module, this.layout, "sigmoid_rows");
  }

  bind(b: PredictBuffers, label = "sigmoid_rows"): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: b.evalParams } },
        { binding: 1, resource: { buffer: b.z } },
        { binding: 2, resource: { buffer: b.prob } },
      ],
    });
  }

  /** Records one dispatch over the set's n rows. */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, n: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    dispatchGroups(pass, Math.ceil(n / WORKGROUP_SIZE));
  }
}
