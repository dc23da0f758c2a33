// The CPU-side preparation for the GPU kernels (segments, per-batch CSC copies, grid
// sizes) and the backend's error paths that need no GPU. Runs in Node.

import { describe, expect, test } from "vitest";
import fc from "fast-check";
import type { Csr } from "../../src/core/types.ts";
import { gridFor } from "../../src/shaders/common.ts";
import { buildSegmentCsc, planSegments, segmentRowPtr } from "../../src/shaders/csc.ts";
import { WebGpuUnavailableError, createWebGpuBackend } from "../../src/shaders/webgpu-backend.ts";
import { createNodeWebGpuBackend } from "../../src/node/webgpu.ts";
import { mulberry32, randomCsr } from "./random-data.ts";

/** Every (batch, column) -> list of (row in batch, value) in row order, from the CSR. */
function batchColumnsFromCsr(x: Csr, batchSize: number): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (let i = 0; i < x.nRows; i++) {
    const b = Math.floor(i / batchSize);
    for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) {
      const key = `${b}:${x.colIdx[k]}`;
      const list = out.get(key) ?? [];
      list.push([i - b * batchSize, x.values[k]!]);
      out.set(key, list);
    }
  }
  return out;
}

const csrArbitrary = fc
  .record({
    seed: fc.integer(),
    nRows: fc.integer({ min: 0, max: 120 }),
    nCols: fc.integer({ min: 1, max: 64 }),
    meanNnz: fc.integer({ min: 0, max: 12 }),
    batchSize: fc.integer({ min: 1, max: 40 }),
    maxBytes: fc.integer({ min: 64, max: 4096 }),
  })
  .map((p) => ({
    ...p,
    x: randomCsr(mulberry32(p.seed), {
      nRows: p.nRows,
      nCols: p.nCols,
      meanNnz: p.meanNnz,
      emptyEvery: 5,
      repeatProbability: 0.3,
      skew: 2,
    }),
  }));

describe("planSegments", () => {
  test("covers every row once, in whole units, within the byte limit", () => {
    fc.assert(
      fc.property(csrArbitrary, ({ x, batchSize, maxBytes }) => {
        let segments;
        try {
          segments = planSegments(x.rowPtr, x.nRows, batchSize, maxBytes);
        } catch (error) {
          // only allowed when one batch alone is over the limit
          expect(error).toBeInstanceOf(RangeError);
          return;
        }
        let row = 0;
        for (const s of segments) {
          expect(s.firstRow).toBe(row);
          expect(s.firstRow).toBe(s.firstUnit * batchSize);
          expect(s.endRow).toBe(Math.min(s.endUnit * batchSize, x.nRows));
          expect((s.nnzEnd - s.nnzStart + 1) * 4).toBeLessThanOrEqual(maxBytes);
          expect((s.endRow - s.firstRow + 1) * 4).toBeLessThanOrEqual(maxBytes);
          const local = segmentRowPtr(x, s);
          expect(local[0]).toBe(0);
          expect(local[local.length - 1]).toBe(s.nnzEnd - s.nnzStart);
          row = s.endRow;
        }
        expect(row).toBe(x.nRows);
      }),
    );
  });

  test("says which rows do not fit", () => {
    const x = randomCsr(mulberry32(1), { nRows: 10, nCols: 8, meanNnz: 0, longRows: [3], longNnz: 100 });
    expect(() => planSegments(x.rowPtr, 10, 2, 64)).toThrow(/rows 2\.\.3 hold 100 nonzeros/);
  });
});

describe("buildSegmentCsc", () => {
  test("holds each batch's transpose: sorted distinct columns, entries in row order", () => {
    fc.assert(
      fc.property(csrArbitrary, ({ x, batchSize }) => {
        const [segment] = planSegments(x.rowPtr, x.nRows, batchSize, 1 << 30);
        if (!segment) return;
        const scratch = new Int32Array(x.nCols).fill(-1);
        const csc = buildSegmentCsc(x, segment, batchSize, scratch);
        expect(scratch.every((v) => v === -1)).toBe(true);
        const expected = batchColumnsFromCsr(x, batchSize);
        let seen = 0;
        const nBatches = segment.endUnit - segment.firstUnit;
        expect(csc.colStart.length).toBe(nBatches + 1);
        for (let b = 0; b < nBatches; b++) {
          for (let c = csc.colStart[b]!; c < csc.colStart[b + 1]!; c++) {
            if (c > csc.colStart[b]!) expect(csc.cols[c]!).toBeGreaterThan(csc.cols[c - 1]!);
            const got: [number, number][] = [];
            for (let e = csc.colPtr[c]!; e < csc.colPtr[c + 1]!; e++) got.push([csc.rows[e]!, csc.values[e]!]);
            expect(got).toEqual(expected.get(`${b}:${csc.cols[c]}`));
            seen++;
          }
        }
        expect(seen).toBe(expected.size);
        expect(csc.colPtr[csc.colPtr.length - 1]).toBe(segment.nnzEnd - segment.nnzStart);
      }),
    );
  });
});

describe("gridFor", () => {
  test.for([
    [0, [0, 1]],
    [1, [1, 1]],
    [65535, [65535, 1]],
    [65536, [32768, 2]],
    [200_000, [50000, 4]],
  ] as const)("%i workgroups", ([groups, grid]) => {
    expect(gridFor(groups, 65535)).toEqual(grid);
  });

  test("always covers the workgroups", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 * 65535 }), (groups) => {
        const [x, y] = gridFor(groups, 65535);
        expect(x).toBeLessThanOrEqual(65535);
        expect(y).toBeLessThanOrEqual(65535);
        expect(x * y).toBeGreaterThanOrEqual(groups);
      }),
    );
  });
});

describe("WebGPU unavailable", () => {
  test("no navigator.gpu", async () => {
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    if (nav?.gpu) return; // a runtime with WebGPU: nothing to check here
    await expect(createWebGpuBackend()).rejects.toThrow(WebGpuUnavailableError);
    await expect(createWebGpuBackend()).rejects.toThrow(/navigator\.gpu is missing/);
  });

  test("no adapter", async () => {
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(createWebGpuBackend(gpu)).rejects.toThrow(/no WebGPU adapter was found/);
  });

  test("requestDevice fails", async () => {
    const adapter = {
      limits: { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
      features: new Set<string>(),
      info: { vendor: "test", architecture: "", description: "" },
      requestDevice: async () => {
        throw new Error("out of devices");
      },
    };
    const gpu = { requestAdapter: async () => adapter } as unknown as GPU;
    await expect(createWebGpuBackend(gpu)).rejects.toThrow(/refused a device: Error: out of devices/);
  });

  test("Node without the optional webgpu package", async () => {
    const attempt = createNodeWebGpuBackend();
    await expect(attempt).rejects.toThrow(WebGpuUnavailableError);
    await expect(createNodeWebGpuBackend()).rejects.toThrow(/"webgpu".*--backend cpu.*npm install webgpu/s);
  });
});
