// The output buffer of `moviesentiments predict`: strings encoded straight into one buffer
// and flushed in order must give the same bytes as encoding their concatenation.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Utf8Gatherer } from "../src/node/predict-file.ts";

async function gather(batches: string[][], flushAt: number, handedOver: boolean): Promise<{ bytes: Buffer; flushes: Buffer[] }> {
  const flushes: Buffer[] = [];
  // a sink that keeps what it is given, as a stream does: reuse of a flushed buffer would show
  const g = new Utf8Gatherer(flushAt, handedOver, async (b) => {
    flushes.push(handedOver ? b : Buffer.from(b));
  });
  for (const parts of batches) await g.add(parts);
  await g.flush();
  return { bytes: Buffer.concat(flushes), flushes };
}

describe("Utf8Gatherer", () => {
  it("writes the UTF-8 of the strings in order, whatever their sizes and the flush size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.string({ unit: "binary", maxLength: 40 }), { maxLength: 12 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        async (batches, flushAt, handedOver) => {
          const { bytes } = await gather(batches, flushAt, handedOver);
          expect(bytes.equals(Buffer.from(batches.flat().join(""), "utf8"))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sends a string larger than its buffer whole, after what came before it", async () => {
    const big = "é".repeat(100);
    const { bytes, flushes } = await gather([["ab", big, "c€"]], 8, false);
    expect(bytes.toString("utf8")).toBe("ab" + big + "c€");
    expect(flushes.map((f) => f.length)).toEqual([2, 200, 4]);
  });

  it("a handed-over buffer is never written again", async () => {
    const { flushes } = await gather([["ab", "cd"], ["ef"]], 4, true);
    expect(flushes.map((f) => f.toString())).toEqual(["abcd", "ef"]);
  });

  it("sends nothing for no text, and discards what is not flushed", async () => {
    const sent: Buffer[] = [];
    const g = new Utf8Gatherer(16, false, async (b) => void sent.push(b));
    await g.add([]);
    await g.add(["", "x"]);
    g.discard();
    await g.flush();
    expect(sent).toEqual([]);
  });
});
