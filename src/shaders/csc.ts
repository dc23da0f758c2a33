// CPU-side preparation of the data the GPU kernels read: splitting a set into segments
// whose buffers fit the device's binding limit, and the per-batch CSC copies the
// gradient gather reads (see gradient.wgsl for why the transpose is built per batch).

import type { Csr } from "../core/types.ts";

/** A run of whole units (batches, or rows) whose CSR arrays fit in one binding each. */
export interface Segment {
  /** first unit (batch index for training; row for evaluation) and one past the last */
  firstUnit: number;
  endUnit: number;
  /** rows [firstRow, endRow) of the set */
  firstRow: number;
  endRow: number;
  /** nonzeros [nnzStart, nnzEnd) of the set */
  nnzStart: number;
  nnzEnd: number;
}

/**
 * Splits rows [0, nRows) into segments of whole units of `unitRows` rows such that no
 * segment array (nnz entries of 4 bytes, or rows+1 offsets) exceeds `maxBytes`.
 * Throws when a single unit is already too large.
 */
export function planSegments(rowPtr: Uint32Array, nRows: number, unitRows: number, maxBytes: number): Segment[] {
  if (!(unitRows >= 1)) throw new RangeError(`unitRows must be at least 1 (got ${unitRows})`);
  const maxEntries = Math.floor(maxBytes / 4);
  const segments: Segment[] = [];
  const nUnits = Math.ceil(nRows / unitRows);
  let unit = 0;
  while (unit < nUnits) {
    const firstUnit = unit;
    const firstRow = unit * unitRows;
    const nnzStart = rowPtr[firstRow]!;
    while (unit < nUnits) {
      const endRow = Math.min((unit + 1) * unitRows, nRows);
      const nnz = rowPtr[endRow]! - nnzStart;
      const fits = nnz + 1 <= maxEntries && endRow - firstRow + 1 <= maxEntries;
      if (!fits) {
        if (unit === firstUnit) {
          throw new RangeError(
            `rows ${firstRow}..${endRow - 1} hold ${nnz} nonzeros, more than one GPU buffer binding ` +
              `allows (${maxBytes} bytes); use a smaller batch size or the CPU backend`,
          );
        }
        break;
      }
      unit++;
    }
    const endRow = Math.min(unit * unitRows, nRows);
    segments.push({ firstUnit, endUnit: unit, firstRow, endRow, nnzStart, nnzEnd: rowPtr[endRow]! });
  }
  return segments;
}

/** The rowPtr of a segment, rebased so that its first nonzero is entry 0. */
export function segmentRowPtr(x: Csr, seg: Segment): Uint32Array {
  const out = new Uint32Array(seg.endRow - seg.firstRow + 1);
  for (let i = 0; i < out.length; i++) out[i] = x.rowPtr[seg.firstRow + i]! - seg.nnzStart;
  return out;
}

/**
 * The per-batch transposes of one training segment, concatenated. Batch b of the
 * segment (segment-relative) touches distinct columns [colStart[b], colStart[b+1]);
 * distinct column c is weight cols[c] and its entries are [colPtr[c], colPtr[c+1]) of
 * rows/values. Within a batch columns are ascending; within a column entries keep row
 * order, and a column repeated in one row keeps one entry per occurrence, so the sum
 * down a column adds the same products as the CSR row loop.
 */
export interface SegmentCsc {
  colStart: Uint32Array;
  colPtr: Uint32Array;
  cols: Uint32Array;
  /** row of each entry relative to its batch's first row */
  rows: Uint32Array;
  values: Float32Array;
}

/**
 * Builds the SegmentCsc of `seg` (whose units are batches of `batchSize` rows).
 * `slotScratch` (one Int32 per column, all -1) may be shared between calls; it is left
 * all -1 again.
 */
export function buildSegmentCsc(
  x: Csr,
  seg: Segment,
  batchSize: number,
  slotScratch: Int32Array = new Int32Array(x.nCols).fill(-1),
): SegmentCsc {
  const { rowPtr, colIdx, values } = x;
  const nnz = seg.nnzEnd - seg.nnzStart;
  const nBatches = seg.endUnit - seg.firstUnit;
  const colStart = new Uint32Array(nBatches + 1);
  const cols = new Uint32Array(nnz);
  const colPtr = new Uint32Array(nnz + 1);
  const rows = new Uint32Array(nnz);
  const vals = new Float32Array(nnz);
  const slot = slotScratch;
  let nDistinct = 0;
  for (let b = 0; b < nBatches; b++) {
    const r0 = (seg.firstUnit + b) * batchSize;
    const r1 = Math.min(r0 + batchSize, x.nRows);
    const k0 = rowPtr[r0]!;
    const k1 = rowPtr[r1]!;
    const first = nDistinct;
    colStart[b] = first;
    // distinct columns of the batch, then ascending
    for (let k = k0; k < k1; k++) {
      const c = colIdx[k]!;
      if (slot[c] === -1) {
        slot[c] = 0;
        cols[nDistinct++] = c;
      }
    }
    const batchCols = cols.subarray(first, nDistinct);
    batchCols.sort();
    // entries per column -> offsets (colPtr is relative to the segment's first nonzero)
    for (let p = 0; p < batchCols.length; p++) slot[batchCols[p]!] = first + p;
    const counts = new Uint32Array(batchCols.length);
    for (let k = k0; k < k1; k++) counts[slot[colIdx[k]!]! - first]!++;
    let offset = k0 - seg.nnzStart;
    for (let p = 0; p < batchCols.length; p++) {
      colPtr[first + p] = offset;
      offset += counts[p]!;
    }
    colPtr[nDistinct] = offset;
    // fill in row order, so each column lists its entries by ascending row
    const cursor = colPtr.slice(first, nDistinct);
    for (let i = r0; i < r1; i++) {
      for (let k = rowPtr[i]!; k < rowPtr[i + 1]!; k++) {
        const p = slot[colIdx[k]!]! - first;
        const e = cursor[p]!++;
        rows[e] = i - r0;
        vals[e] = values[k]!;
      }
    }
    for (let p = 0; p < batchCols.length; p++) slot[batchCols[p]!] = -1;
  }
  colStart[nBatches] = nDistinct;
  return {
    colStart,
    colPtr: colPtr.slice(0, nDistinct + 1),
    cols: cols.slice(0, nDistinct),
    rows,
    values: vals,
  };
}
