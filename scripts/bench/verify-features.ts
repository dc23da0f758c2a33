// Prints SHA-256 digests of the hashed count CSR (train and test, default features and
// the tf-idf unigram features), for checking that a featurizer change is bit-identical.
import { createHash } from "node:crypto";
import { loadImdb } from "../../src/node/data.ts";
import { hashReviews } from "../../src/core/pipeline.ts";
import { DEFAULT_FEATURES, ORIGINAL_FEATURES, fitFeatureWeights, applyFeatureWeights } from "../../src/core/features.ts";
import type { Csr } from "../../src/core/types.ts";

function digest(x: Csr): string {
  const h = createHash("sha256");
  for (const a of [x.rowPtr, x.colIdx, x.values]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest("hex").slice(0, 16);
}
const data = await loadImdb(process.argv[2]!);
for (const f of [DEFAULT_FEATURES, ORIGINAL_FEATURES]) {
  const t0 = performance.now();
  const train = hashReviews(data.train, f);
  const test = hashReviews(data.test, f);
  const t1 = performance.now();
  const fw = fitFeatureWeights(train.counts, train.labels, f);
  const x = applyFeatureWeights(test.counts, fw, f);
  const t2 = performance.now();
  const s = createHash("sha256").update(new Uint8Array(fw.scale.buffer)).digest("hex").slice(0, 16);
  console.log(`ngram ${f.ngramMax} ${f.weighting}: train ${digest(train.counts)} test ${digest(test.counts)} scale ${s} test-weighted ${digest(x)}  hash ${(t1 - t0).toFixed(0)} ms, fit+apply ${(t2 - t1).toFixed(0)} ms`);
}
