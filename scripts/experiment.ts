// Hyperparameter experiments on the validation split (dev tool, not shipped).
import { loadImdb } from "../src/node/data.ts";
import { DEFAULT_FEATURES, NgramHasher, applyFeatureWeights, fitFeatureWeights, selectRows, type FeatureConfig } from "../src/core/features.ts";
import { stratifiedSplit } from "../src/core/dataset.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { DEFAULT_TRAIN, trainLoop, type TrainConfig } from "../src/core/train.ts";

const args = JSON.parse(process.argv[2] ?? "{}") as { features?: Partial<FeatureConfig>; runs?: Partial<TrainConfig>[]; test?: boolean; full?: boolean };
const features: FeatureConfig = { ...DEFAULT_FEATURES, ...args.features };
let t = performance.now();
const data = await loadImdb("../shared/data/aclImdb_v1.tar.gz");
console.log("load", ((performance.now() - t) / 1000).toFixed(2));
t = performance.now();
const hasher = new NgramHasher(features.ngramMax, features.hashBits);
const trainCounts = hasher.hashDocuments(data.train.map((r) => r.text));
const testCounts = hasher.hashDocuments(data.test.map((r) => r.text));
console.log("hash", ((performance.now() - t) / 1000).toFixed(2), "nnz", trainCounts.colIdx.length + testCounts.colIdx.length);
const yTrain = Uint8Array.from(data.train, (r) => r.label);
const yTest = Uint8Array.from(data.test, (r) => r.label);
const split = args.full ? { fit: Uint32Array.from(yTrain, (_, i) => i), validation: Uint32Array.from([0, 1, 12500, 12501]) } : stratifiedSplit(yTrain, 0.2, 1);
const fitCounts = selectRows(trainCounts, split.fit);
const valCounts = selectRows(trainCounts, split.validation);
const yFit = Uint8Array.from(split.fit, (i) => yTrain[i]!);
const yVal = Uint8Array.from(split.validation, (i) => yTrain[i]!);
t = performance.now();
const fw = fitFeatureWeights(fitCounts, yFit, features);
const fit = { name: "train", x: applyFeatureWeights(fitCounts, fw, features), y: yFit };
const val = { name: "validation", x: applyFeatureWeights(valCounts, fw, features), y: yVal };
const test = { name: "test", x: applyFeatureWeights(testCounts, fw, features), y: yTest };
console.log("weights", ((performance.now() - t) / 1000).toFixed(2));
for (const run of args.runs ?? [{}]) {
  const cfg = { ...DEFAULT_TRAIN, ...run };
  const res = await trainLoop(new CpuBackend(), { train: fit, validation: val, test: args.test ? test : undefined }, cfg, {
    onEpoch: (r) =>
      console.log(
        `  ep ${r.epoch} lr ${r.lr.toFixed(3)} train ${r.trainLoss.toFixed(4)} val ${r.validation!.accuracy.toFixed(4)}` +
          (r.test ? ` test ${r.test.accuracy.toFixed(4)}` : "") + ` ${r.trainSeconds.toFixed(2)}s`,
      ),
  });
  const bestRec = res.history[res.bestEpoch - 1]!;
  console.log(JSON.stringify(run), "best", res.bestEpoch, "val", bestRec.validation!.accuracy, "test", bestRec.test?.accuracy);
}
// post-hoc: shift all weights by c (interpolating toward the NB score), on validation
if ((args as { shift?: boolean }).shift) {
  const cfg = { ...DEFAULT_TRAIN, ...(args.runs?.[0] ?? {}) };
  const res = await trainLoop(new CpuBackend(), { train: fit, validation: val }, cfg, {});
  const x = val.x;
  let meanAbs = 0;
  for (let j = 0; j < res.weights.length; j++) meanAbs += Math.abs(res.weights[j]!);
  meanAbs /= res.weights.length;
  console.log("mean |w|", meanAbs);
  for (const c of [-0.5, 0, 0.25, 0.5, 1, 2, 4, 8]) {
    let correct = 0;
    for (let i = 0; i < x.nRows; i++) {
      let z = res.bias;
      for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) z += x.values[k]! * (res.weights[x.colIdx[k]!]! + c * meanAbs);
      if ((z >= 0 ? 1 : 0) === val.y[i]) correct++;
    }
    console.log("shift", c, (correct / x.nRows).toFixed(4));
  }
}
