// Text features (src/core/text.ts, src/core/features.ts): normalization, tokens,
// hashed n-gram counts, NB and tf-idf weighting.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyFeatureWeights,
  DEFAULT_FEATURES,
  fitFeatureWeights,
  ngramBucket,
  NgramHasher,
  selectRows,
  transposeCsr,
  transposeLayout,
  validateFeatureConfig,
  weighTransposed,
  type FeatureConfig,
} from "../src/core/features.ts";
import { normalizeText, tokenize } from "../src/core/text.ts";
import type { Csr } from "../src/core/types.ts";
import { fromDense } from "./helpers/tiny-data.ts";

const BITS = 18;
const hasher = new NgramHasher(3, BITS);

/** Row i of a CSR as a Map bucket -> value. */
function rowMap(x: Csr, i: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) m.set(x.colIdx[k]!, x.values[k]!);
  return m;
}

/** The bucket counts a document should get, computed from its tokens with ngramBucket. */
function expectedCounts(tokens: string[], ngramMax: number, bits: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let n = 1; n <= ngramMax; n++) {
    for (let k = 0; k + n <= tokens.length; k++) {
      const b = ngramBucket(tokens.slice(k, k + n), bits);
      m.set(b, (m.get(b) ?? 0) + 1);
    }
  }
  return m;
}

describe("normalization and tokens", () => {
  it("<br /> line breaks never become a 'br' token, in any spelling", () => {
    for (const text of ["One.<br /><br />Two", "One.<br/>Two", "One.<BR>Two", "One.<br />\n<br />Two"]) {
      const t = tokenize(text);
      expect(t).toEqual(["one", ".", "two"]);
      expect(t).not.toContain("br");
    }
  });

  it("HTML tags are stripped, common entities decoded", () => {
    expect(tokenize('<a href="http://x.com/">Great</a> <i>film</i><hr class="x">')).toEqual(["great", "film"]);
    expect(tokenize("Tom &amp; Jerry: &quot;fun&quot;")).toEqual(["tom", "jerry", ":", '"', "fun", '"']);
    expect(normalizeText("a<b>c</b>d")).toBe("a c d");
  });

  it("negation scope: the next N words after a negation are marked NOT_, punctuation skipped", () => {
    expect(tokenize("I didn't like this movie, but it was not bad at all. Never again!", 3)).toEqual(
      ["i", "did", "n't", "NOT_like", "NOT_this", "NOT_movie", ",", "but", "it", "was", "not", "NOT_bad", "NOT_at", "NOT_all", ".", "never", "NOT_again", "!"],
    );
    // punctuation neither counts nor ends the scope; a cue inside a scope opens none
    expect(tokenize("Not, good; at all", 2)).toEqual(["not", ",", "NOT_good", ";", "NOT_at", "all"]);
    expect(tokenize("not no good at all", 3)).toEqual(["not", "NOT_no", "NOT_good", "NOT_at", "all"]);
    expect(tokenize("Nobody cannot nor none nothing x", 1)).toEqual(["nobody", "NOT_cannot", "nor", "NOT_none", "nothing", "NOT_x"]);
    // words that only start like a cue are not cues
    expect(tokenize("nothingness notable cannoted good", 3)).toEqual(["nothingness", "notable", "cannoted", "good"]);
    expect(tokenize("I didn't like it", 0)).toEqual(["i", "did", "n't", "like", "it"]);
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, negationScope: -1 })).toThrow(/negationScope/);
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, negationScope: 1.5 })).toThrow(/negationScope/);
  });

  it("negations are kept: 'not' stays, 'n't' is split from its verb", () => {
    expect(tokenize("I didn't like it, not at all.")).toEqual(["i", "did", "n't", "like", "it", ",", "not", "at", "all", "."]);
    expect(tokenize("Isn't. CAN'T. Won't. don\u2019t")).toEqual(["is", "n't", ".", "ca", "n't", ".", "wo", "n't", ".", "do", "n't"]);
    expect(tokenize("no never nothing")).toEqual(["no", "never", "nothing"]);
    // other apostrophes inside a word stay in the word
    expect(tokenize("it's o'brien's 'quoted'")).toEqual(["it's", "o'brien's", "quoted"]);
  });

  it("! and ? are tokens of their own", () => {
    expect(tokenize("Really?! Wow!!")).toEqual(["really", "?", "!", "wow", "!", "!"]);
    const x = hasher.hashDocuments(["great!", "great?", "great"]);
    const bang = ngramBucket(["!"], BITS);
    const q = ngramBucket(["?"], BITS);
    expect(rowMap(x, 0).get(bang)).toBe(1);
    expect(rowMap(x, 1).get(q)).toBe(1);
    expect(rowMap(x, 2).has(bang) || rowMap(x, 2).has(q)).toBe(false);
  });

  it("empty documents give empty rows", () => {
    const docs = ["", "   ", "<br /><br />", "\n\t", "😀", "good"];
    const x = hasher.hashDocuments(docs);
    expect(x.nRows).toBe(docs.length);
    for (let i = 0; i < 5; i++) expect(x.rowPtr[i + 1]! - x.rowPtr[i]!, JSON.stringify(docs[i])).toBe(0);
    expect(x.rowPtr[6]! - x.rowPtr[5]!).toBe(1);
    const none = hasher.hashDocuments([]);
    expect(none.nRows).toBe(0);
    expect(Array.from(none.rowPtr)).toEqual([0]);
  });

  it("Unicode: accents, CJK, emoji, RTL scripts do not throw and letters are kept", () => {
    const text = "Café NAÏVE, Ñandú! 映画は最高 😀👍🏽 שלום עולם مرحبا بالعالم Ελληνικά ﬁlm \u{1D400}";
    const t = tokenize(text);
    for (const word of ["café", "naïve", "ñandú", "映画は最高", "שלום", "עולם", "مرحبا", "بالعالم", "ελληνικά"]) expect(t).toContain(word);
    expect(t).toContain("!");
    expect(t.join(" ")).not.toMatch(/[😀👍]/u);
    expect(() => hasher.hashDocuments([text, "\ud800 lone surrogate \udc00", "\u0000\uffff"])).not.toThrow();
    // composed and decomposed accents are the same word
    expect(tokenize("Cafe\u0301")).toEqual(tokenize("Café"));
    expect(hasher.hashDocuments(["cafe\u0301 crème"])).toEqual(hasher.hashDocuments(["café crème"]));
  });

  it("upper and lower case give the same features", () => {
    const a = hasher.hashDocuments(["GREAT Movie, NOT Bad! ÉCOLE"]);
    const b = hasher.hashDocuments(["great movie, not bad! école"]);
    expect(a).toEqual(b);
  });
});

describe("hashed n-gram counts", () => {
  it("ngramBucket(tokens) matches the buckets hashDocuments produces (hand example)", () => {
    const text = "I didn't like it. I didn't!";
    const tokens = tokenize(text);
    expect(tokens).toEqual(["i", "did", "n't", "like", "it", ".", "i", "did", "n't", "!"]);
    const row = rowMap(hasher.hashDocuments([text]), 0);
    expect(row).toEqual(expectedCounts(tokens, 3, BITS));
    expect(row.get(ngramBucket(["did", "n't"], BITS))).toBe(2);
    expect(row.get(ngramBucket(["i", "did", "n't"], BITS))).toBe(2);
    expect(row.get(ngramBucket(["n't"], BITS))).toBe(2);
    expect(row.get(ngramBucket(["like"], BITS))).toBe(1);
  });

  it("ngramBucket matches hashDocuments on random texts, for every n-gram size (property)", () => {
    const words = ["good", "bad", "not", "n't", "film", "!", "?", "très", "映画", "a", "the"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (ws, ngramMax) => {
        const text = ws.join(" ");
        const h = new NgramHasher(ngramMax, 12); // few buckets: collisions get exercised too
        const x = h.hashDocuments([text]);
        const tokens = tokenize(text);
        const expected = expectedCounts(tokens, ngramMax, 12);
        const got = rowMap(x, 0);
        if (got.size !== expected.size) return false;
        for (const [b, c] of expected) if (got.get(b) !== c) return false;
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it("with a negation scope, hashDocuments hashes a negated word as NOT_word (property, scopes 0 to 4)", () => {
    const words = ["good", "bad", "not", "n't", "no", "never", "film", "!", ".", ",", "très", "a", "cannot"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 4 }), (ws, ngramMax, scope) => {
        const text = ws.join(" ");
        const x = new NgramHasher(ngramMax, 12, scope).hashDocuments([text]);
        const expected = expectedCounts(tokenize(text, scope), ngramMax, 12);
        const got = rowMap(x, 0);
        if (got.size !== expected.size) return false;
        for (const [b, c] of expected) if (got.get(b) !== c) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it("rows are well formed: buckets in range, unique per row, counts summing to the n-gram count", () => {
    const docs = ["a b c d e", "a a a a", "x", "", "Not bad at all! Not bad at all!"];
    const x = hasher.hashDocuments(docs);
    expect(x.nCols).toBe(1 << BITS);
    for (let i = 0; i < x.nRows; i++) {
      expect(x.rowPtr[i + 1]).toBeGreaterThanOrEqual(x.rowPtr[i]!);
      const cols = Array.from(x.colIdx.subarray(x.rowPtr[i], x.rowPtr[i + 1]));
      expect(new Set(cols).size).toBe(cols.length);
      expect(cols.every((c) => c >= 0 && c < 1 << BITS)).toBe(true);
      const total = Array.from(x.values.subarray(x.rowPtr[i], x.rowPtr[i + 1])).reduce((s, v) => s + v, 0);
      const t = tokenize(docs[i]!).length;
      expect(total).toBe(Math.max(0, t) + Math.max(0, t - 1) + Math.max(0, t - 2));
    }
    expect(x.colIdx.length).toBe(x.rowPtr[x.nRows]);
    expect(x.values.length).toBe(x.rowPtr[x.nRows]);
  });

  it("hashDocuments is deterministic: same instance twice, a fresh instance, one document at a time", () => {
    const docs = ["Loved it!<br />Loved it.", "", "didn't work", "Café 映画", "the the the the"];
    const a = hasher.hashDocuments(docs);
    const b = hasher.hashDocuments(docs);
    const c = new NgramHasher(3, BITS).hashDocuments(docs);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    for (let i = 0; i < docs.length; i++) {
      const single = hasher.hashDocuments([docs[i]!]);
      expect(rowMap(single, 0)).toEqual(rowMap(a, i));
      expect(Array.from(single.colIdx)).toEqual(Array.from(a.colIdx.subarray(a.rowPtr[i], a.rowPtr[i + 1])));
    }
  });

  it("grows past its initial buffers (long documents, many documents)", () => {
    const long = Array.from({ length: 5000 }, (_, i) => `w${i}`).join(" ");
    const x = hasher.hashDocuments([long, ...Array.from({ length: 3000 }, (_, i) => `doc ${i} is here`)]);
    expect(x.rowPtr[1]).toBeGreaterThan(14000);
    expect(x.nRows).toBe(3001);
  });

  it("hashTransient gives hashDocuments' rows as views that the next call reuses", () => {
    const h = new NgramHasher(3, BITS);
    const docs = ["Loved it!<br />Loved it.", "", "didn't work", "the the the the"];
    const want = hasher.hashDocuments(docs);
    const x = h.hashTransient(docs);
    expect(Array.from(x.rowPtr)).toEqual(Array.from(want.rowPtr));
    expect(Array.from(x.colIdx)).toEqual(Array.from(want.colIdx));
    expect(Array.from(x.values)).toEqual(Array.from(want.values));
    const first = x.colIdx[0];
    h.hashTransient(["something else entirely"]);
    expect(x.colIdx[0]).not.toBe(first); // overwritten: the caller must be done with them
  });

  it("grows its buffers where there is no SharedArrayBuffer (a page that is not cross-origin isolated)", () => {
    const long = Array.from({ length: 40000 }, (_, i) => `w${i}`).join(" ");
    const want = new NgramHasher(3, BITS).hashDocuments([long]);
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const saved = g.SharedArrayBuffer;
    delete g.SharedArrayBuffer;
    try {
      // past the initial 65,536 entries: ensureOutput grows them
      const x = new NgramHasher(3, BITS).hashDocuments([long]);
      expect(x.rowPtr[1]).toBeGreaterThan(1 << 16);
      expect(Array.from(x.colIdx)).toEqual(Array.from(want.colIdx));
    } finally {
      g.SharedArrayBuffer = saved;
    }
  });

  it("hashSet gives hashDocuments' rows, in its own arrays (plain or shared), past its size estimate too", () => {
    // punctuation is a token per character: 3 n-grams per character, over the estimate of 3 per 4
    const docs = ["Loved it!<br />Loved it.", "", "!?!?!?!?!?!?!?!?!?!?!?!?!?!?", "didn't work", "Café 映画", "the the the the"];
    const want = hasher.hashDocuments(docs);
    for (const shared of [false, true]) {
      const h = new NgramHasher(3, BITS);
      const x = h.hashSet(docs, undefined, shared);
      expect(Array.from(x.rowPtr)).toEqual(Array.from(want.rowPtr));
      expect(Array.from(x.colIdx)).toEqual(Array.from(want.colIdx));
      expect(Array.from(x.values)).toEqual(Array.from(want.values));
      expect(x.colIdx.buffer instanceof SharedArrayBuffer).toBe(shared);
      expect(x.values.buffer instanceof SharedArrayBuffer).toBe(shared);
      // the result's arrays are its own: hashing again on the same instance leaves them be
      const before = Array.from(x.colIdx);
      h.hashSet(["something else entirely"], undefined, shared);
      h.hashDocuments(["and again"]);
      expect(Array.from(x.colIdx)).toEqual(before);
    }
  });

  it("selectRows picks rows in the given order", () => {
    const x = fromDense([
      [1, 0, 2],
      [0, 3, 0],
      [4, 5, 6],
    ]);
    const s = selectRows(x, [2, 0, 2]);
    expect(s.nRows).toBe(3);
    expect(Array.from(s.rowPtr)).toEqual([0, 3, 5, 8]);
    expect(Array.from(s.values)).toEqual([4, 5, 6, 1, 2, 4, 5, 6]);
    expect(Array.from(s.colIdx)).toEqual([0, 1, 2, 0, 2, 0, 1, 2]);
  });

  it("feature settings are validated", () => {
    expect(() => validateFeatureConfig(DEFAULT_FEATURES)).not.toThrow();
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, ngramMax: 0 })).toThrow(/ngramMax/);
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, hashBits: 27 })).toThrow(/hashBits/);
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, nbAlpha: 0 })).toThrow(/nbAlpha/);
    expect(() => validateFeatureConfig({ ...DEFAULT_FEATURES, weighting: "bm25" as "nb" })).toThrow(/weighting/);
  });
});

describe("weighting", () => {
  // counts: 3 documents, 3 buckets
  //   doc 0 (y = 1): bucket 0 x2, bucket 1 x1
  //   doc 1 (y = 1): bucket 0 x1
  //   doc 2 (y = 0): bucket 1 x1, bucket 2 x3
  const counts = fromDense([
    [2, 1, 0],
    [1, 0, 0],
    [0, 1, 3],
  ]);
  const labels = [1, 1, 0];
  const nb: FeatureConfig = { ...DEFAULT_FEATURES, weighting: "nb", nbAlpha: 1, normalize: false };
  const tfidf: FeatureConfig = { ...DEFAULT_FEATURES, weighting: "tfidf", sublinearTf: false, normalize: false };

  it("NB log-count ratios by hand (binarized, alpha = 1)", () => {
    // p = 1 + [2, 1, 0] = [3, 2, 1] (sum 6), q = 1 + [0, 1, 1] = [1, 2, 2] (sum 5)
    // r_j = log((p_j / 6) / (q_j / 5))
    const fw = fitFeatureWeights(counts, labels, nb);
    expect(fw.kind).toBe("nb");
    const r = [Math.log(3 / 6 / (1 / 5)), Math.log(2 / 6 / (2 / 5)), Math.log(1 / 6 / (2 / 5))];
    for (let j = 0; j < 3; j++) expect(fw.scale[j]).toBeCloseTo(r[j]!, 6);
    // features: binarized counts times r_j
    const x = applyFeatureWeights(counts, fw, nb);
    expect(Array.from(x.values)).toEqual([r[0]!, r[1]!, r[0]!, r[1]!, r[2]!].map(Math.fround));
    expect(x.rowPtr).toBe(counts.rowPtr);
    // alpha = 2 changes the smoothing: p = [4, 3, 2] (sum 9), q = [2, 3, 3] (sum 8)
    const fw2 = fitFeatureWeights(counts, labels, { ...nb, nbAlpha: 2 });
    expect(fw2.scale[0]).toBeCloseTo(Math.log(4 / 9 / (2 / 8)), 6);
  });

  it("NB ratios are the formula's values exactly, for small counts (read from a table) and large ones", () => {
    // column j is used by j positive rows and (j * 7) % 90 negative ones: counts up to 89,
    // on both sides of weightsFromClassCounts' table of 64
    const nCols = 90;
    const rows: number[][] = [];
    const y: number[] = [];
    for (let r = 0; r < 90; r++) {
      rows.push(Array.from({ length: nCols }, (_, j) => (r < j ? 1 : 0)));
      y.push(1);
      rows.push(Array.from({ length: nCols }, (_, j) => (r < (j * 7) % 90 ? 1 : 0)));
      y.push(0);
    }
    for (const alpha of [1, 0.5]) {
      const fw = fitFeatureWeights(fromDense(rows), y, { ...nb, nbAlpha: alpha });
      let pSum = 0;
      let qSum = 0;
      for (let j = 0; j < nCols; j++) {
        pSum += j + alpha;
        qSum += ((j * 7) % 90) + alpha;
      }
      for (let j = 0; j < nCols; j++) {
        expect(fw.scale[j], `column ${j}`).toBe(Math.fround(Math.log((j + alpha) / (((j * 7) % 90) + alpha)) + Math.log(qSum / pSum)));
      }
    }
  });

  it("tf-idf by hand (smoothed idf, raw and sublinear tf)", () => {
    // n = 3, df = [2, 2, 1]: idf_j = ln((1 + 3) / (1 + df_j)) + 1
    const idf = [Math.log(4 / 3) + 1, Math.log(4 / 3) + 1, Math.log(4 / 2) + 1];
    const fw = fitFeatureWeights(counts, labels, tfidf);
    expect(fw.kind).toBe("tfidf");
    for (let j = 0; j < 3; j++) expect(fw.scale[j]).toBeCloseTo(idf[j]!, 6);
    const x = applyFeatureWeights(counts, fw, tfidf);
    const expected = [2 * idf[0]!, idf[1]!, idf[0]!, idf[1]!, 3 * idf[2]!];
    Array.from(x.values).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 5));
    const sub = applyFeatureWeights(counts, fw, { ...tfidf, sublinearTf: true });
    const expectedSub = [(1 + Math.log(2)) * idf[0]!, idf[1]!, idf[0]!, idf[1]!, (1 + Math.log(3)) * idf[2]!];
    Array.from(sub.values).forEach((v, k) => expect(v).toBeCloseTo(expectedSub[k]!, 5));
    // normalized: row 0 = [2 idf0, idf1] / sqrt(4 idf0^2 + idf1^2)
    const nx = applyFeatureWeights(counts, fw, { ...tfidf, normalize: true });
    const norm = Math.hypot(2 * idf[0]!, idf[1]!);
    expect(nx.values[0]).toBeCloseTo((2 * idf[0]!) / norm, 6);
    expect(nx.values[1]).toBeCloseTo(idf[1]! / norm, 6);
  });

  it("normalized rows have unit L2 norm, empty rows stay empty (property, both weightings)", () => {
    const words = ["good", "bad", "great", "awful", "not", "film", "plot", "!", "?", "ok"];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(fc.constantFrom(...words), { maxLength: 25 }), fc.constantFrom(0, 1)), { minLength: 1, maxLength: 30 }),
        fc.constantFrom<"nb" | "tfidf">("nb", "tfidf"),
        (docs, weighting) => {
          const config: FeatureConfig = { ...DEFAULT_FEATURES, weighting, hashBits: 12, ngramMax: 2, normalize: true };
          const h = new NgramHasher(2, 12);
          const c = h.hashDocuments(docs.map((d) => d[0].join(" ")));
          const fw = fitFeatureWeights(c, docs.map((d) => d[1]), config);
          const x = applyFeatureWeights(c, fw, config);
          for (let i = 0; i < x.nRows; i++) {
            const a = x.rowPtr[i]!;
            const b = x.rowPtr[i + 1]!;
            if (docs[i]![0].length === 0 && b !== a) return false;
            let norm2 = 0;
            for (let k = a; k < b; k++) norm2 += x.values[k]! ** 2;
            // a row whose every weight is 0 (possible for NB) stays all zero
            if (norm2 > 0 && Math.abs(Math.sqrt(norm2) - 1) > 1e-6) return false;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("NB ratios learned from hashed text point the right way", () => {
    const h = new NgramHasher(2, 14);
    const docs = ["great great film", "great acting", "awful film", "awful plot, not great"];
    const y = [1, 1, 0, 0];
    const fw = fitFeatureWeights(h.hashDocuments(docs), y, { ...DEFAULT_FEATURES, hashBits: 14 });
    expect(fw.scale[ngramBucket(["awful"], 14)]).toBeLessThan(0);
    expect(fw.scale[ngramBucket(["acting"], 14)]).toBeGreaterThan(0);
    expect(fw.scale[ngramBucket(["not", "great"], 14)]).toBeLessThan(0);
    expect(fw.scale).toHaveLength(1 << 14);
  });
});

describe("transposeCsr", () => {
  /** A random CSR: rows list their columns in a random order, some rows and columns empty. */
  function randomCsr(nRows: number, nCols: number, perRow: number, seed: number): Csr {
    let state = seed;
    const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const rowPtr = new Uint32Array(nRows + 1);
    const cols: number[] = [];
    const vals: number[] = [];
    for (let i = 0; i < nRows; i++) {
      const n = i % 7 === 3 ? 0 : Math.floor(rand() * perRow);
      const taken = new Set<number>();
      while (taken.size < Math.min(n, nCols)) taken.add(Math.floor(rand() ** 2 * nCols));
      for (const j of taken) {
        cols.push(j);
        vals.push(Math.fround(rand() - 0.5));
      }
      rowPtr[i + 1] = cols.length;
    }
    return { nRows, nCols, rowPtr, colIdx: Uint32Array.from(cols), values: Float32Array.from(vals) };
  }

  it("lists each column's rows in increasing order with their values (one band, and many)", async () => {
    for (const [nRows, nCols, perRow] of [[30, 17, 6], [200, 5000, 40], [50, 70001, 300], [1, 1, 1]] as const) {
      const x = randomCsr(nRows, nCols, perRow, nCols);
      let turns = 0;
      const xt = await transposeCsr(x, async () => void turns++);
      expect(xt.nRows).toBe(nCols);
      expect(xt.nCols).toBe(nRows);
      expect(xt.rowPtr.length).toBe(nCols + 1);
      // the same entries, read column by column from the rows
      const want: { rows: number[]; vals: number[] }[] = Array.from({ length: nCols }, () => ({ rows: [], vals: [] }));
      for (let i = 0; i < nRows; i++) {
        for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) {
          want[x.colIdx[k]!]!.rows.push(i);
          want[x.colIdx[k]!]!.vals.push(x.values[k]!);
        }
      }
      for (let j = 0; j < nCols; j++) {
        const a = xt.rowPtr[j]!;
        const b = xt.rowPtr[j + 1]!;
        expect(Array.from(xt.colIdx.subarray(a, b))).toEqual(want[j]!.rows);
        expect(Array.from(xt.values.subarray(a, b))).toEqual(want[j]!.vals);
      }
      // transposing back lists each row's entries by column
      const back = await transposeCsr(xt);
      expect(Array.from(back.rowPtr)).toEqual(Array.from(x.rowPtr));
      for (let i = 0; i < nRows; i++) {
        const entries = Array.from(x.colIdx.subarray(x.rowPtr[i], x.rowPtr[i + 1]), (j, t) => [j, x.values[x.rowPtr[i]! + t]!] as const).sort((p, q) => p[0] - q[0]);
        expect(Array.from(back.colIdx.subarray(back.rowPtr[i], back.rowPtr[i + 1]))).toEqual(entries.map((e) => e[0]));
        expect(Array.from(back.values.subarray(back.rowPtr[i], back.rowPtr[i + 1]))).toEqual(entries.map((e) => e[1]));
      }
      if (x.colIdx.length === 0) expect(turns).toBe(0);
    }
  });
});

describe("weighTransposed", () => {
  it("is the transpose of the weighed rows, exactly (NB with and without normalizing, tf-idf)", async () => {
    const texts = Array.from({ length: 60 }, (_, i) => `review ${i} ${"good bad fine awful great ".repeat(1 + (i % 4)).slice(0, 8 + 5 * i)} not ${i % 3 ? "good" : "bad"}`);
    texts.push(""); // an empty row
    const y = texts.map((_, i) => i % 2);
    for (const config of [
      { ...DEFAULT_FEATURES, hashBits: 12 },
      { ...DEFAULT_FEATURES, hashBits: 12, normalize: false },
      { ...DEFAULT_FEATURES, hashBits: 12, weighting: "tfidf" as const, sublinearTf: true },
    ]) {
      const counts = NgramHasher.forFeatures(config).hashDocuments(texts);
      const weights = fitFeatureWeights(counts, y, config);
      const want = await transposeCsr(applyFeatureWeights(counts, weights, config));
      // NB weights need no sources: laid out without them, the same transpose
      const layouts = [await transposeLayout(counts)];
      if (config.weighting === "nb") layouts.push(await transposeLayout(counts, undefined, false));
      for (const layout of layouts) {
        const got = weighTransposed(layout, counts, weights, config);
        expect(Array.from(got.rowPtr)).toEqual(Array.from(want.rowPtr));
        expect(Array.from(got.colIdx)).toEqual(Array.from(want.colIdx));
        expect(Array.from(got.values)).toEqual(Array.from(want.values));
      }
      expect(layouts[1]?.source ?? null).toBe(null);
    }
  });

  it("a layout without sources says so when values are asked of it the tf-idf way", async () => {
    const config = { ...DEFAULT_FEATURES, hashBits: 10, weighting: "tfidf" as const };
    const counts = NgramHasher.forFeatures(config).hashDocuments(["one two", "two three"]);
    const layout = await transposeLayout(counts, undefined, false);
    expect(() => weighTransposed(layout, counts, fitFeatureWeights(counts, [0, 1], config), config)).toThrow(/without its sources/);
  });
});

describe("probabilitiesOfCounts", () => {
  it("is probabilities of the weighed rows, exactly (NB with and without normalizing, tf-idf)", async () => {
    const { probabilities, probabilitiesOfCounts } = await import("../src/core/pipeline.ts");
    const texts = Array.from({ length: 50 }, (_, i) => `movie ${i} ${"loved hated dull superb ".repeat(1 + (i % 3)).slice(0, 6 + 7 * i)} never ${i % 2 ? "boring" : "fun"}`);
    texts.push("");
    const y = texts.map((_, i) => (i % 3 === 0 ? 1 : 0));
    for (const config of [
      { ...DEFAULT_FEATURES, hashBits: 11 },
      { ...DEFAULT_FEATURES, hashBits: 11, normalize: false },
      { ...DEFAULT_FEATURES, hashBits: 11, weighting: "tfidf" as const },
    ]) {
      const counts = NgramHasher.forFeatures(config).hashDocuments(texts);
      const fw = fitFeatureWeights(counts, y, config);
      const w = Float32Array.from({ length: counts.nCols }, (_, j) => Math.fround(Math.sin(j) * 0.7));
      const want = probabilities(applyFeatureWeights(counts, fw, config), w, 0.125);
      expect(Array.from(probabilitiesOfCounts(counts, fw, config, w, 0.125))).toEqual(Array.from(want));
    }
  });
});
