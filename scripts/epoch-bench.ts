// Dev tool: the time of one CpuBackend epoch on train/ with the shipped settings (batch
// 1, averaging, dropout 0.5, 1-3-gram NB features, columns renumbered as the pipeline
// does), on this thread alone. Env: SPLIT=1 the 20,000-row fit split; SAB=1 data in
// SharedArrayBuffers (as the training threads get it); EVALTEST=1 also score test/.
//   npx rolldown scripts/epoch-bench.ts --dir /tmp/eb --platform node --format esm
//   node /tmp/eb/epoch-bench.js
import { loadImdb } from "../src/node/data.ts";
import { DEFAULT_FEATURES, applyFeatureWeights, fitFeatureWeights, selectRows } from "../src/core/features.ts";
import { hashReviews, columnsByFrequency, renumberColumns } from "../src/core/pipeline.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { BatchSchedule, DEFAULT_TRAIN } from "../src/core/train.ts";
const f = DEFAULT_FEATURES;
const data = await loadImdb("../shared/data/aclImdb_v1.tar.gz");
const tr = hashReviews(data.train.slice(0, 25000), f);
const order = columnsByFrequency(tr.counts);
renumberColumns(tr.counts, order.newId);
let counts = tr.counts, labels = tr.labels;
if (process.env.SPLIT) {
  const { stratifiedSplit } = await import("../src/core/dataset.ts");
  const split = stratifiedSplit(tr.labels, 0.2, 42);
  counts = selectRows(tr.counts, split.fit);
  labels = Uint8Array.from(split.fit, (i) => tr.labels[i]!);
}
const fw = fitFeatureWeights(counts, labels, f, order.oldId);
const x = applyFeatureWeights(counts, fw, f);

const sched = new BatchSchedule(x.nRows, 1, 42);
const train0 = { name: "train", x: selectRows(x, sched.rowOrder), y: Uint8Array.from(sched.rowOrder, (i) => labels[i]!) };
function sh<T extends Uint8Array | Uint32Array | Float32Array>(a: T): T { if (!process.env.SAB) return a; const C = a.constructor as new (b: SharedArrayBuffer) => T; const c = new C(new SharedArrayBuffer(a.byteLength)); c.set(a as never); return c; }
const train = { name: "train", y: sh(train0.y), x: { ...train0.x, rowPtr: sh(train0.x.rowPtr), colIdx: sh(train0.x.colIdx), values: sh(train0.x.values) } };
const be = new CpuBackend();
const te = hashReviews(data.test, f);
renumberColumns(te.counts, order.newId);
const testSet = { name: "test", x: applyFeatureWeights(te.counts, fw, f), y: te.labels };
await be.load({ train, batchSize: 1, evalSets: [train, testSet], average: true, dropout: { rate: 0.5, seed: 42 } });
let sum = 0;
for (let e = 1; e <= 4; e++) {
  const t = performance.now();
  const loss = await be.trainEpoch(sched.nextEpoch(), DEFAULT_TRAIN.lr, DEFAULT_TRAIN.l2);
  const t1 = performance.now();
  const ev = await be.evaluate("train");
  if (process.env.EVALTEST) await be.evaluate("test");
  const t2 = performance.now();
  if (e > 1) sum += t1 - t;
  console.log("epoch", e, "train", (t1 - t).toFixed(0), "ms", "eval", (t2 - t1).toFixed(0), "ms", "loss", loss, "acc", (ev.tp + ev.tn) / ev.n);
}
console.log("mean epochs 2-4", (sum / 3).toFixed(0));
