// Dev tool: k-fold cross-validation on train/ only (test/ is never read), to compare
// feature and training variants. Prints the mean validation accuracy after each epoch.
// Build and run: npx rolldown scripts/cv.ts --dir /tmp/cv --platform node --format esm
//   && node /tmp/cv/cv.js '{"run": {"lr": 4, "lrDecay": 0, "average": true}}'
// Options: features (FeatureConfig), run (TrainConfig), k (folds, default 5),
// transform (JS body mapping raw text s), soft (rating -> soft label), seeds (the model
// is the mean of this many runs with seeds run.seed, run.seed + 1, ...: trainAveraged).
import { loadImdb } from "../src/node/data.ts";
import { DEFAULT_FEATURES, NgramHasher, applyFeatureWeights, fitFeatureWeights, selectRows, type FeatureConfig } from "../src/core/features.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { DEFAULT_TRAIN, type TrainConfig } from "../src/core/train.ts";
import { trainAveraged } from "../src/core/pipeline.ts";
import { mulberry32, permutation } from "../src/core/random.ts";

const args = JSON.parse(process.argv[2] ?? "{}") as { features?: Partial<FeatureConfig>; run?: Partial<TrainConfig>; k?: number; transform?: string; soft?: Record<string, number>; seeds?: number };
const features: FeatureConfig = { ...DEFAULT_FEATURES, ...args.features };
const data = await loadImdb("../shared/data/aclImdb_v1.tar.gz");
let texts = data.train.map((r) => r.text);
if (args.transform) { const f = new Function("s", args.transform) as (s: string) => string; texts = texts.map(f); }
const counts = new NgramHasher(features.ngramMax, features.hashBits, features.negationScope ?? 0).hashDocuments(texts);
const y = Uint8Array.from(data.train, (r) => r.label);
const k = args.k ?? 5;
const perm = permutation(y.length, mulberry32(7));
const cfg = { ...DEFAULT_TRAIN, patience: 0, epochs: 4, ...args.run };
const correct = new Float64Array(cfg.epochs);
for (let f = 0; f < k; f++) {
  const valRows = perm.filter((_, i) => i % k === f).sort();
  const fitRows = perm.filter((_, i) => i % k !== f).sort();
  const fitC = selectRows(counts, fitRows);
  const yFit = Uint8Array.from(fitRows, (i) => y[i]!);
  const fw = fitFeatureWeights(fitC, yFit, features);
  const soft = args.soft;
  const yTrainTarget = soft ? (Float32Array.from(fitRows, (i) => soft[String(data.train[i]!.rating)] ?? y[i]!) as unknown as Uint8Array) : yFit;
  const val = { name: "validation", x: applyFeatureWeights(selectRows(counts, valRows), fw, features), y: Uint8Array.from(valRows, (i) => y[i]!) };
  const backends = Array.from({ length: args.seeds ?? 1 }, () => new CpuBackend());
  const res = await trainAveraged(backends, { train: { name: "train", x: applyFeatureWeights(fitC, fw, features), y: yTrainTarget }, validation: val }, cfg);
  res.history.forEach((h, e) => (correct[e]! += h.validation!.accuracy * val.y.length));
}
console.log(JSON.stringify(args), Array.from(correct, (c) => (c / y.length).toFixed(4)).join(" "));
