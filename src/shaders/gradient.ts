// Host wrapper of gradient.wgsl: the transposed product X_B^T r as a gather over the
// batch's CSC copy, either applied to v (training) or written out (checks).

import source from "./gradient.wgsl?raw";
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

/** The buffers one gather dispatch reads and writes. */
export interface GatherBuffers {
  /** BatchParams records (firstRow, colStart, nCols, stepW are read) */
  params: GPUBuffer;
  /** segment CSC: entries of distinct column c are [colPtr[c], colPtr[c+1]) */
  colPtr: GPUBuffer;
  /** segment CSC: the column index of each distinct column */
  cols: GPUBuffer;
  /** segment CSC: row of each entry, relative to its batch's first row */
  cscRows: GPUBuffer;
  /** segment CSC: value of each entry */
  cscValues: GPUBuffer;
  /** set-wide residuals */
  residual: GPUBuffer;
  /** v (gather_update, gather_update_avg) or a dense gradient (gather_gradient) */
  weights: GPUBuffer;
  /** mode "average": per column (sumW_j, settled_j) as vec2f, the running sum of the
   * iterates and the prefix sum it was last settled to (updated) */
  account?: GPUBuffer;
}

export type GatherMode = "update" | "gradient" | "average";

const ENTRY_POINTS: Record<GatherMode, string> = {
  update: "gather_update",
  gradient: "gather_gradient",
  average: "gather_update_avg",
};

export class GatherPass {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  /**
   * mode "update": v_j -= stepW (X_B^T r)_j; mode "gradient": g_j = stepW (X_B^T r)_j;
   * mode "average": the update, after settling column j's running sum to prefixPrev.
   */
  constructor(
    private readonly device: GPUDevice,
    readonly mode: GatherMode = "update",
  ) {
    const entries: GPUBindGroupLayoutEntry[] = [
      batchParamsEntry(0), // params: this step's BatchParams (dynamic offset)
      storageEntry(1), // colPtr: CSC column offsets of the segment
      storageEntry(2), // cols: column index of each CSC column
      storageEntry(3), // cscRows: batch-relative row of each entry
      storageEntry(4), // cscValues: value of each entry
      storageEntry(5), // residual: r of the set
      storageEntry(6, true), // weights: v updated, or gradient out
    ];
    if (mode === "average") {
      entries.push(storageEntry(7, true)); // account: (sumW, settled) per column, updated
    }
    this.layout = device.createBindGroupLayout({ label: ENTRY_POINTS[mode], entries });
    const module = createKernelModule(device, "gradient.wgsl", source);
    this.pipeline = createKernelPipeline(device, module, this.layout, ENTRY_POINTS[mode]);
  }

  bind(b: GatherBuffers, label = ENTRY_POINTS[this.mode]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [
      batchParamsBinding(0, b.params),
      { binding: 1, resource: { buffer: b.colPtr } },
      { binding: 2, resource: { buffer: b.cols } },
      { binding: 3, resource: { buffer: b.cscRows } },
      { binding: 4, resource: { buffer: b.cscValues } },
      { binding: 5, resource: { buffer: b.residual } },
      { binding: 6, resource: { buffer: b.weights } },
    ];
    if (this.mode === "average") {
      if (!b.account) throw new Error("gather_update_avg needs the account buffer");
      entries.push({ binding: 7, resource: { buffer: b.account } });
    }
    return this.device.createBindGroup({ label, layout: this.layout, entries });
  }

  /** Records one dispatch: one thread per distinct column of the batch. */
  run(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, paramsIndex: number, nCols: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [batchParamsOffset(paramsIndex)]);
    dispatchGroups(pass, Math.ceil(nCols / WORKGROUP_SIZE));
  }
}
