// Dev tool: which way of choosing the epoch count picks better epochs? Nested on train/
// only (test/ is never read): outer 5 folds; inside each outer fit part, a seeded,
// stratified 20% inner validation split (the pipeline's selection split) chooses the
// epoch, by accuracy then loss or by loss, with patience 5, simulated on one 20-epoch
// run; the outer fold scores the chosen epoch's model. It also scores fixed epoch counts
// on the same runs. Run for two inner seeds:
//   npx rolldown scripts/cv-nested.ts --dir /tmp/cvn --platform node --format esm
//   node /tmp/cvn/cv-nested.js 42; node /tmp/cvn/cv-nested.js 7
import { loadImdb } from "../src/node/data.ts";
import { DEFAULT_FEATURES, NgramHasher, applyFeatureWeights, fitFeatureWeights, selectRows } from "../src/core/features.ts";
import { stratifiedSplit } from "../src/core/dataset.ts";
import { CpuBackend } from "../src/cpu-reference/backend.ts";
import { DEFAULT_TRAIN, trainLoop, type EpochRecord } from "../src/core/train.ts";
import { mulberry32, permutation } from "../src/core/random.ts";

const innerSeed = Number(process.argv[2] ?? 42);
const f = DEFAULT_FEATURES;
const data = await loadImdb(process.env.MOVIESENTIMENTS_DATA ?? "../shared/data/aclImdb_v1.tar.gz");
const counts = new NgramHasher(f.ngramMax, f.hashBits, f.negationScope ?? 0).hashDocuments(data.train.map((r) => r.text));
const y = Uint8Array.from(data.train, (r) => r.label);
const k = 5;
const perm = permutation(y.length, mulberry32(7));
const cfg = { ...DEFAULT_TRAIN, patience: 0, epochs: 20, seed: innerSeed };
const fixed = [10, 15, 20];
const sums = { accuracy: 0, loss: 0, fixed: fixed.map(() => 0) };
for (let fold = 0; fold < k; fold++) {
  const outRows = perm.filter((_, i) => i % k === fold).sort();
  const fitRows = perm.filter((_, i) => i % k !== fold).sort();
  const fitAll = selectRows(counts, fitRows);
  const yAll = Uint8Array.from(fitRows, (i) => y[i]!);
  const split = stratifiedSplit(yAll, 0.2, innerSeed);
  const fitC = selectRows(fitAll, split.fit);
  const yFit = Uint8Array.from(split.fit, (i) => yAll[i]!);
  const fw = fitFeatureWeights(fitC, yFit, f);
  const inner = { name: "validation", x: applyFeatureWeights(selectRows(fitAll, split.validation), fw, f), y: Uint8Array.from(split.validation, (i) => yAll[i]!) };
  const outer = { name: "test", x: applyFeatureWeights(selectRows(counts, outRows), fw, f), y: Uint8Array.from(outRows, (i) => y[i]!) };
  const res = await trainLoop(new CpuBackend(), { train: { name: "train", x: applyFeatureWeights(fitC, fw, f), y: yFit }, validation: inner, test: outer }, cfg);
  const h = res.history;
  const pick = (better: (a: EpochRecord, b: EpochRecord) => boolean) => {
    let best = h[0]!;
    let since = 0;
    for (const r of h.slice(1)) {
      if (better(r, best)) {
        best = r;
        since = 0;
      } else if (++since >= 5) break;
    }
    return best;
  };
  const byAcc = pick((a, b) => a.validation!.accuracy > b.validation!.accuracy || (a.validation!.accuracy === b.validation!.accuracy && a.validation!.loss < b.validation!.loss));
  const byLoss = pick((a, b) => a.validation!.loss < b.validation!.loss);
  sums.accuracy += byAcc.test!.accuracy;
  sums.loss += byLoss.test!.accuracy;
  fixed.forEach((e, i) => (sums.fixed[i]! += h[e - 1]!.test!.accuracy));
  console.log(JSON.stringify({ innerSeed, fold, acc: { epoch: byAcc.epoch, outer: byAcc.test!.accuracy }, loss: { epoch: byLoss.epoch, outer: byLoss.test!.accuracy }, outerCurve: h.map((r) => r.test!.accuracy.toFixed(4)).join(" ") }));
}
console.log(
  `mean outer accuracy, inner seed ${innerSeed}: chosen by accuracy ${(sums.accuracy / k).toFixed(5)}, by loss ${(sums.loss / k).toFixed(5)}, ` +
    fixed.map((e, i) => `fixed ${e} epochs ${(sums.fixed[i]! / k).toFixed(5)}`).join(", "),
);
