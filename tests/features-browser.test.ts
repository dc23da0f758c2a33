// Node and the browser compute identical features, bit for bit: the same tricky texts
// are tokenized, hashed (count CSR) and weighted (NB and tf-idf, normalized) in Node
// and in headless Chromium (src/core served by the Vite dev server), and the raw bytes
// of rowPtr, colIdx and values are compared. Skipped where Chromium is absent (never
// on CI: there browserSkipReason() throws instead).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "puppeteer-core";
import { applyFeatureWeights, DEFAULT_FEATURES, fitFeatureWeights, NgramHasher, type FeatureConfig } from "../src/core/features.ts";
import { tokenize } from "../src/core/text.ts";
import { browserSkipReason, launchBrowser, pipeConsole, startDevServer, type DevServer, type LaunchedBrowser } from "./helpers/browser.ts";
import { makeImdbFiles } from "./helpers/make-archive.ts";

const skipReason = browserSkipReason();
if (skipReason) console.warn(skipReason);

const TRICKY = [
  "",
  "   \n\t  ",
  "I didn't like it.<br /><br />It wasn't BAD, just not good!!!",
  'Tom &amp; Jerry &quot;fun&quot; &lt;3 <a href="x">link</a> <i>it&#39;s</i>',
  "Isn\u2019t it? Don\u02bct you?! CAN'T, won't, ain't, o'brien's 'quoted'",
  "Cafe\u0301 vs Café, NAÏVE, Ñandú, ﬁlm, straße, İstanbul, ΟΔΟΣ Σίσυφος",
  "映画は最高でした！ 한국 영화 最高 ภาษาไทย",
  "😀👍🏽 👨‍👩‍👧 great 🎬🍿 film ❤️",
  "שלום עולם מרחבא مرحبا بالعالم \u200f\u200e RTL marks",
  "zero\u200bwidth\u200djoiner and soft\u00adhyphen",
  "lone \ud800 surrogates \udc00 here \ud83d",
  "numbers 10/10 2nd 3.5 1,000,000 and -5",
  "\u0000\u0001 control \u007f chars \uffff \ufeff bom",
  "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ① ② ③ and Ⅻ",
  "combining: a\u0301\u0302 e\u0308 \u0915\u094d\u0937 देवनागरी",
  // letters added in Unicode 16 (Garay, Kirat Rai, Ol Onal) and 17 (Sidetic): Node's and
  // Chromium's ICU must agree on what a letter is
  "new scripts \u{10D4A}\u{10D4B} \u{16D43}\u{16D44} \u{1E5D0}\u{1E5D1} \u{10940}\u{10941} end",
  "x".repeat(5000),
  Array.from({ length: 3000 }, (_, i) => `w${i % 97}`).join(" "),
];

/** Some hundred synthetic reviews too, so the NB / tf-idf statistics have volume. */
const REVIEWS = makeImdbFiles(40, 5)
  .filter((f) => /\/(pos|neg)\/\d+_\d+\.txt$/.test(f.path))
  .map((f) => ({ text: String(f.text), label: f.path.includes("/pos/") ? 1 : 0 }));
const TEXTS = [...TRICKY, ...REVIEWS.map((r) => r.text)];
const LABELS = [...TRICKY.map((_, i) => i % 2), ...REVIEWS.map((r) => r.label)];

const CONFIGS: FeatureConfig[] = [
  { ...DEFAULT_FEATURES, ngramMax: 3, hashBits: 18, weighting: "nb", normalize: true, negationScope: 3 },
  { ...DEFAULT_FEATURES, ngramMax: 1, hashBits: 16, weighting: "tfidf", sublinearTf: true, normalize: true, negationScope: 0 },
  { ...DEFAULT_FEATURES, ngramMax: 2, hashBits: 12, weighting: "tfidf", sublinearTf: false, normalize: false, negationScope: 1 },
];

interface Snapshot {
  tokens: string[][];
  /** per config: hex of the bytes of counts rowPtr / colIdx / values and weighted values */
  csr: { rowPtr: string; colIdx: string; counts: string; weighted: string; scale: string }[];
}

// The same function runs in Node (here) and in the page (its source text is sent over),
// so both sides do exactly the same work.
async function snapshot(
  lib: { features: typeof import("../src/core/features.ts"); text: typeof import("../src/core/text.ts") },
  texts: string[],
  labels: number[],
  configs: FeatureConfig[],
): Promise<Snapshot> {
  const hex = (a: ArrayBufferView): string =>
    Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, "0")).join("");
  const csr = configs.map((c) => {
    const counts = new lib.features.NgramHasher(c.ngramMax, c.hashBits, c.negationScope ?? 0).hashDocuments(texts);
    const fw = lib.features.fitFeatureWeights(counts, labels, c);
    const x = lib.features.applyFeatureWeights(counts, fw, c);
    return { rowPtr: hex(counts.rowPtr), colIdx: hex(counts.colIdx), counts: hex(counts.values), weighted: hex(x.values), scale: hex(fw.scale) };
  });
  return { tokens: texts.map((t) => lib.text.tokenize(t, 3)), csr };
}

async function browserSnapshot(page: Page): Promise<Snapshot> {
  const source = `(async () => {
    const features = await import("/src/core/features.ts");
    const text = await import("/src/core/text.ts");
    const snapshot = ${snapshotSource()};
    return await snapshot({ features, text }, ${JSON.stringify(TEXTS)}, ${JSON.stringify(LABELS)}, ${JSON.stringify(CONFIGS)});
  })()`;
  return (await page.evaluate(source)) as Snapshot;
}

/** snapshot() as plain JavaScript (its TypeScript annotations stripped by the test runner already). */
function snapshotSource(): string {
  const src = snapshot.toString();
  if (/\b__vi|import\(/.test(src)) throw new Error(`snapshot() was rewritten by the test runner; cannot send it to the page:\n${src}`);
  return src;
}

describe.skipIf(!!skipReason)("features: Node and Chromium give identical CSR", () => {
  let server: DevServer | undefined;
  let browser: LaunchedBrowser | undefined;
  let fromBrowser: Snapshot;
  let fromNode: Snapshot;

  beforeAll(async () => {
    server = await startDevServer();
    browser = await launchBrowser();
    // any page of the dev server's origin will do: the modules are imported from it
    const page = await browser.browser.newPage();
    pipeConsole(page, "[features page]");
    await page.setRequestInterception(true);
    page.on("request", (r) => void (r.url().endsWith("/favicon.ico") ? r.respond({ status: 204 }) : r.continue()));
    await page.goto(`${server.url}package.json`, { waitUntil: "load" });
    fromBrowser = await browserSnapshot(page);
    fromNode = await snapshot({ features: await import("../src/core/features.ts"), text: await import("../src/core/text.ts") }, TEXTS, LABELS, CONFIGS);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("the browser really computed something", () => {
    expect(fromBrowser.csr).toHaveLength(CONFIGS.length);
    expect(fromBrowser.tokens[2]).toEqual(tokenize(TRICKY[2]!, 3));
    // sanity: Node's snapshot matches a direct computation
    const counts = new NgramHasher(3, 18, 3).hashDocuments(TEXTS);
    const w = applyFeatureWeights(counts, fitFeatureWeights(counts, LABELS, CONFIGS[0]!), CONFIGS[0]!);
    expect(fromNode.csr[0]!.weighted.length).toBe(w.values.length * 8);
  });

  it.each(TRICKY.map((t, i) => [i, JSON.stringify(t).slice(0, 60)] as const))("tokens of tricky text %i %s", (i) => {
    expect(fromBrowser.tokens[i]).toEqual(fromNode.tokens[i]);
  });

  it("tokens of all synthetic reviews", () => {
    expect(fromBrowser.tokens).toEqual(fromNode.tokens);
  });

  it.each(CONFIGS.map((c, i) => [i, `${c.ngramMax}-grams, 2^${c.hashBits}, ${c.weighting}${c.normalize ? ", normalized" : ""}`] as const))(
    "config %i (%s): rowPtr, colIdx, counts, scale and weighted values byte for byte",
    (i) => {
      const b = fromBrowser.csr[i]!;
      const n = fromNode.csr[i]!;
      expect(b.rowPtr).toBe(n.rowPtr);
      expect(b.colIdx).toBe(n.colIdx);
      expect(b.counts).toBe(n.counts);
      expect(b.scale === n.scale, "feature scale (NB ratios / idf) differs").toBe(true);
      expect(b.weighted === n.weighted, "weighted values differ").toBe(true);
    },
  );
});

if (skipReason) {
  describe("features: Node and Chromium give identical CSR", () => {
    it.skip(skipReason, () => {});
  });
}
