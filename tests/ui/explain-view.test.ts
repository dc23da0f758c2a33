import { describe, expect, it, beforeAll } from "vitest";
import { loadImdbFromTarGz } from "../../src/core/dataset.ts";
import type { SentimentModel } from "../../src/core/model-format.ts";
import { DEFAULT_PIPELINE, trainPipeline } from "../../src/core/pipeline.ts";
import { Predictor } from "../../src/core/predict.ts";
import { CpuBackend } from "../../src/cpu-reference/backend.ts";
import { explanationView, scoreColor, segmentText, strongestContributions } from "../../src/ui/explain-view.ts";
import { makeImdbArchive, streamOf } from "../helpers/make-archive.ts";

let predictor: Predictor;

beforeAll(async () => {
  const data = await loadImdbFromTarGz(streamOf(makeImdbArchive(60, 7)));
  const model: SentimentModel = await trainPipeline(
    data,
    {
      ...DEFAULT_PIPELINE,
      features: { ...DEFAULT_PIPELINE.features, hashBits: 12 },
      training: { ...DEFAULT_PIPELINE.training, epochs: 3, batchSize: 8, lr: 1, lrDecay: 0 },
      validationFraction: 0,
    },
    () => new CpuBackend(),
  );
  predictor = new Predictor(model);
});

const tok = (start: number, end: number, score = 1) => ({ start, end, score });

describe("segmentText", () => {
  it("cuts the text into tokens and the gaps between them, losing nothing", () => {
    const text = "  good, not bad!";
    const tokens = [tok(2, 6, 1), tok(6, 7, 0), tok(8, 11, -0.5), tok(12, 15, 0.2), tok(15, 16, 0)];
    const r = segmentText(text, tokens);
    expect(r.segments.map((s) => s.text).join("")).toBe(text);
    expect(r.segments.filter((s) => s.score !== null).map((s) => s.text)).toEqual(["good", ",", "not", "bad", "!"]);
    expect(r).toMatchObject({ shownTokens: 5, truncated: false });
  });

  it("stops after maxTokens tokens and says so", () => {
    const text = "a b c d e";
    const tokens = [0, 2, 4, 6, 8].map((s) => tok(s, s + 1));
    const r = segmentText(text, tokens, 3);
    expect(r.segments.map((s) => s.text).join("")).toBe("a b c");
    expect(r).toMatchObject({ shownTokens: 3, truncated: true });
  });

  it("stops after about maxChars characters even without tokens", () => {
    const text = "<".repeat(1000);
    const r = segmentText(text, [], 10, 100);
    expect(r.segments.map((s) => s.text).join("")).toHaveLength(100);
    expect(r.truncated).toBe(true);
  });

  it("keeps text after the last token", () => {
    const r = segmentText("ok ...?", [tok(0, 2)]);
    expect(r.segments.at(-1)).toEqual({ text: " ...?", score: null });
    expect(r.truncated).toBe(false);
  });
});

describe("explanationView", () => {
  it("carries the prediction and token scores that add up to logit - bias", () => {
    const e = predictor.explain("A wonderful film, but the ending was awful and boring.", 5);
    const v = explanationView(e);
    expect(v.probabilities.positive + v.probabilities.negative).toBeCloseTo(1, 12);
    const sum = v.segments.reduce((s, seg) => s + (seg.score ?? 0), 0);
    expect(sum).toBeCloseTo(v.logit - v.bias, 4);
    expect(v.totalTokens).toBe(e.tokens.length);
    expect(v.maxAbsScore).toBeGreaterThan(0);
  });

  it("keeps markup in user text as plain characters, for the page to render as text", () => {
    // entities decode to "<", ">" in the text the model reads: the segments must carry them raw
    const text = "&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt; great";
    const v = explanationView(predictor.explain(text));
    const joined = v.segments.map((s) => s.text).join("");
    expect(joined).toContain("<img src=x onerror=alert(1)>");
    expect(joined).toContain("<script>alert(2)</script>");
    for (const s of v.segments) expect(typeof s.text).toBe("string");
  });

  it("caps a megabyte review but scores all of it", () => {
    const long = "a truly wonderful and moving film. ".repeat(30_000);
    expect(long.length).toBeGreaterThan(1_000_000);
    const t0 = performance.now();
    const v = explanationView(predictor.explain(long), 2000);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(v.totalTokens).toBe(30_000 * 7);
    expect(v.shownTokens).toBe(2000);
    expect(v.truncated).toBe(true);
    expect(v.segments.length).toBeLessThanOrEqual(4001);
  });
});

describe("colours and strongest n-grams", () => {
  it("shades positive green, negative orange, scaled by the largest score", () => {
    expect(scoreColor(1, 2)).toBe("rgba(0, 158, 115, 0.375)");
    expect(scoreColor(-2, 2)).toBe("rgba(213, 94, 0, 0.75)");
    expect(scoreColor(-5, 2)).toBe("rgba(213, 94, 0, 0.75)");
    expect(scoreColor(0, 2)).toBe("transparent");
    expect(scoreColor(1, 0)).toBe("transparent");
    expect(scoreColor(NaN, 1)).toBe("transparent");
  });

  it("keeps each n-gram's strongest contribution across reviews", () => {
    const s = strongestContributions(
      [
        { topPositive: [{ ngram: "great", contribution: 1 }], topNegative: [{ ngram: "dull", contribution: -0.5 }] },
        {
          topPositive: [
            { ngram: "great", contribution: 2 },
            { ngram: "fine", contribution: 0.1 },
          ],
          topNegative: [{ ngram: "awful", contribution: -3 }],
        },
      ],
      2,
    );
    expect(s.positive).toEqual([
      { ngram: "great", contribution: 2 },
      { ngram: "fine", contribution: 0.1 },
    ]);
    expect(s.negative).toEqual([
      { ngram: "awful", contribution: -3 },
      { ngram: "dull", contribution: -0.5 },
    ]);
  });
});
