// Optional per-kernel GPU timing with timestamp queries: each timed kernel runs in its
// own compute pass whose start and end are stamped, and the stamps are summed per label.

import { BufferUsage, copyToStaging, readStaging } from "./common.ts";

export class KernelTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private labels: string[] = [];

  /** `capacity`: the most passes timed between two resolve() calls. */
  constructor(
    private readonly device: GPUDevice,
    readonly capacity: number,
  ) {
    this.querySet = device.createQuerySet({ label: "kernel timestamps", type: "timestamp", count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({
      label: "kernel timestamps",
      size: 16 * capacity,
      usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
    });
  }

  get full(): boolean {
    return this.labels.length >= this.capacity;
  }

  /** Timestamp writes for the next pass, attributed to `label`. */
  timestampWrites(label: string): GPUComputePassTimestampWrites {
    if (this.full) throw new Error("KernelTimer: resolve() before timing more passes");
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /**
   * Records the resolve of every stamp so far; after the encoder is submitted, the
   * returned promise-maker adds each label's milliseconds into `totals`.
   */
  resolve(encoder: GPUCommandEncoder): (totals: Record<string, number>) => Promise<void> {
    const labels = this.labels;
    this.labels = [];
    if (labels.length === 0) return async () => {};
    const bytes = 16 * labels.length;
    encoder.resolveQuerySet(this.querySet, 0, 2 * labels.length, this.resolveBuffer, 0);
    const staging = copyToStaging(this.device, encoder, this.resolveBuffer, bytes);
    return async (totals) => {
      const stamps = new BigUint64Array(await readStaging(staging, bytes));
      for (let i = 0; i < labels.length; i++) {
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        // a stamp pair the implementation did not order is dropped, not counted as huge
        if (ns >= 0 && ns < 1e12) totals[labels[i]!] = (totals[labels[i]!] ?? 0) + ns / 1e6;
      }
    };
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
