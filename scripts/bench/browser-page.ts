// The browser benchmark page: this project's logistic regression on WebGPU and on the CPU
// reference, and TensorFlow.js (WebGPU backend) training a logistic regression on a dense
// bag of words, all on the same reviews, split and page. Driven by helper.ts through
// window.browserBench.run(); results go back as JSON.

import { DEFAULT_FEATURES, selectRows } from "../../src/core/features.ts";
import { loadImdbFromTarGz, stratifiedSplit } from "../../src/core/dataset.ts";
import { columnsByFrequency, hashReviews, renumberColumns, selectionSets } from "../../src/core/pipeline.ts";
import { metricsFromSums } from "../../src/core/metrics.ts";
import { BatchSchedule, DEFAULT_TRAIN, learningRateAt } from "../../src/core/train.ts";
import { tokenize } from "../../src/core/text.ts";
import { mulberry32, shuffleInPlace } from "../../src/core/random.ts";
import type { LabelledSet, Review, TrainingBackend } from "../../src/core/types.ts";
import { CpuBackend } from "../../src/cpu-reference/backend.ts";
import type { BrowserBench, BrowserBenchOptions, BrowserBenchResult, EpochTiming, SystemResult } from "./browser-types.ts";

const now = () => performance.now();
/** rows per TensorFlow.js evaluation batch */
const EVAL_ROWS = 250;
/** the latest state of the run, for the driver to keep should the browser die mid-run */
let partial: BrowserBenchResult | undefined;
const onPartial = (r: SystemResult) => {
  if (partial && !partial.systems.includes(r)) partial.systems.push(r);
};
const log = (s: string) => console.log(s);
/** Lets the page breathe (and the driver's polls through) between long steps. */
const pause = () => new Promise((r) => setTimeout(r, 0));

function limitReviews(reviews: readonly Review[], perLabel: number): Review[] {
  if (perLabel <= 0) return reviews.slice();
  const taken = [0, 0];
  return reviews.filter((r) => taken[r.label]! < perLabel && ++taken[r.label]! > 0);
}

interface OurSets {
  fit: LabelledSet;
  validation: LabelledSet;
  test: LabelledSet;
}

/** The pipeline's selection stage, as trainPipeline does it: hash, renumber, split, weight. */
function featurize(train: readonly Review[], test: readonly Review[]): OurSets {
  const f = DEFAULT_FEATURES;
  const tr = hashReviews(train, f);
  const te = hashReviews(test, f);
  const order = columnsByFrequency(tr.counts);
  renumberColumns(tr.counts, order.newId);
  renumberColumns(te.counts, order.newId);
  const sets = selectionSets(tr, te, f, 0.2, DEFAULT_TRAIN.seed, order.oldId);
  return { fit: sets.train, validation: sets.validation, test: sets.test! };
}

function emptyResult(system: SystemResult["system"], label: string): SystemResult {
  return {
    system,
    label,
    device: "",
    prepareMs: 0,
    setupMs: 0,
    epochs: [],
    msToTarget: null,
    epochToTarget: null,
    bestValAccuracy: 0,
    testAccuracy: NaN,
    stoppedBy: "epochs",
    notes: [],
  };
}

/** This project's shipped training settings on one backend, as the pipeline's selection stage runs them. */
async function runOurs(kind: "webgpu" | "cpu", sets: OurSets, o: BrowserBenchOptions): Promise<SystemResult> {
  const res = emptyResult(kind, kind === "webgpu" ? "this project, WebGPU backend" : "this project, CPU reference backend");
  const cfg = DEFAULT_TRAIN;
  res.notes.push(
    `batch ${cfg.batchSize}, lr ${cfg.lr}, L2 ${cfg.l2}, dropout ${cfg.dropout ?? 0}, averaging ${cfg.average ? "on" : "off"}, 1-3-gram NB features (2^${DEFAULT_FEATURES.hashBits})`,
  );
  let backend: TrainingBackend | undefined;
  onPartial(res);
  const t0 = now();
  try {
    if (kind === "webgpu") {
      const { createWebGpuBackend } = await import("../../src/shaders/webgpu-backend.ts");
      backend = await createWebGpuBackend(navigator.gpu);
    } else backend = new CpuBackend();
    res.device = backend.deviceName;
    const schedule = new BatchSchedule(sets.fit.x.nRows, cfg.batchSize, cfg.seed);
    const train: LabelledSet = {
      name: "train",
      x: selectRows(sets.fit.x, schedule.rowOrder),
      y: Uint8Array.from(schedule.rowOrder, (i) => sets.fit.y[i]!),
    };
    const dropout = cfg.dropout ? { rate: cfg.dropout, seed: cfg.seed } : undefined;
    await backend.load({ train, batchSize: cfg.batchSize, evalSets: [sets.validation, sets.test], average: cfg.average === true, dropout });
    res.setupMs = now() - t0;
    let trainedMs = 0;
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      const a = now();
      const loss = await backend.trainEpoch(schedule.nextEpoch(), learningRateAt(cfg, epoch), cfg.l2);
      const b = now();
      const val = metricsFromSums(await backend.evaluate("validation"));
      const c = now();
      trainedMs += c - a;
      const e: EpochTiming = { epoch, trainMs: b - a, totalMs: c - a, valAccuracy: val.accuracy };
      res.epochs.push(e);
      if (val.accuracy >= o.target && res.msToTarget === null) {
        res.msToTarget = c - t0;
        res.epochToTarget = epoch;
      }
      if (val.accuracy > res.bestValAccuracy) {
        res.bestValAccuracy = val.accuracy;
        res.testAccuracy = metricsFromSums(await backend.evaluate("test")).accuracy; // outside the epoch timings
      }
      log(`[${kind}] epoch ${epoch}: train ${(b - a).toFixed(0)} ms, +validation ${(c - b).toFixed(0)} ms, loss ${loss.toFixed(4)}, val acc ${val.accuracy.toFixed(4)}`);
      await pause();
      if (trainedMs > o.budgetMs && epoch < o.maxEpochs) {
        res.stoppedBy = "budget";
        break;
      }
    }
  } catch (error) {
    res.stoppedBy = "error";
    res.error = error instanceof Error ? error.message : String(error);
  } finally {
    backend?.dispose();
  }
  return res;
}

/** Dense bag of words for TensorFlow.js: the most frequent words of the fit rows. */
interface DenseBow {
  vocab: number;
  /** per review: the sorted distinct word ids in the vocabulary */
  fit: Int32Array[];
  validation: Int32Array[];
  test: Int32Array[];
  yFit: Uint8Array;
  yValidation: Uint8Array;
  yTest: Uint8Array;
}

function buildBow(train: readonly Review[], test: readonly Review[], vocabSize: number): DenseBow {
  const split = stratifiedSplit(Uint8Array.from(train, (r) => r.label), 0.2, DEFAULT_TRAIN.seed);
  const tokensOf = (r: Review) => new Set(tokenize(r.text));
  const fitTokens = Array.from(split.fit, (i) => tokensOf(train[i]!));
  const df = new Map<string, number>();
  for (const set of fitTokens) for (const t of set) df.set(t, (df.get(t) ?? 0) + 1);
  const words = [...df].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, vocabSize);
  const id = new Map(words.map(([w], k) => [w, k]));
  const ids = (set: Set<string>) => {
    const out: number[] = [];
    for (const t of set) {
      const k = id.get(t);
      if (k !== undefined) out.push(k);
    }
    return Int32Array.from(out).sort();
  };
  return {
    vocab: words.length,
    fit: fitTokens.map(ids),
    validation: Array.from(split.validation, (i) => ids(tokensOf(train[i]!))),
    test: test.map((r) => ids(tokensOf(r))),
    yFit: Uint8Array.from(split.fit, (i) => train[i]!.label),
    yValidation: Uint8Array.from(split.validation, (i) => train[i]!.label),
    yTest: Uint8Array.from(test, (r) => r.label),
  };
}

/** Rows `rows` as a dense batch: binary presence, optionally each row scaled to unit length. */
function fillDense(buf: Float32Array, vocab: number, rows: readonly Int32Array[], pick: ArrayLike<number>, from: number, n: number, normalize: boolean): void {
  buf.fill(0, 0, n * vocab);
  for (let r = 0; r < n; r++) {
    const ids = rows[pick[from + r]!]!;
    const v = !normalize ? 1 : ids.length > 0 ? 1 / Math.sqrt(ids.length) : 0;
    for (let k = 0; k < ids.length; k++) buf[r * vocab + ids[k]!] = v;
  }
}

async function runTfjs(train: readonly Review[], test: readonly Review[], o: BrowserBenchOptions): Promise<SystemResult> {
  const p = o.tfjs;
  const res = emptyResult("tfjs", "TensorFlow.js, WebGPU backend");
  res.notes.push(
    `dense binary bag of the ${p.vocab} most frequent words${p.normalize ? " (rows scaled to unit length)" : ""}, ` +
      `logistic regression (matMul + bias, sigmoid cross-entropy) trained with Adam lr ${p.lr}, batch ${p.batchSize}, optimizer.minimize without a read-back per step`,
  );
  let tf: typeof import("@tensorflow/tfjs");
  try {
    tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
    await tf.ready();
    res.device = `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`;
  } catch (error) {
    res.stoppedBy = "error";
    res.error = `TensorFlow.js WebGPU backend unavailable: ${error instanceof Error ? error.message : String(error)}`;
    return res;
  }
  const tp = now();
  const bow = buildBow(train, test, p.vocab);
  res.prepareMs = now() - tp;
  res.notes.push(`vocabulary ${bow.vocab} words`);
  const V = bow.vocab;
  const t0 = now();
  // logistic regression: p = sigmoid(x w + b), mean cross-entropy, Adam; no readback per step
  const w = tf.variable(tf.zeros([V, 1]));
  const b = tf.variable(tf.zeros([1]));
  const optimizer = tf.train.adam(p.lr);
  const buf = new Float32Array(Math.max(p.batchSize, EVAL_ROWS) * V);
  const accuracy = async (rows: Int32Array[], y: Uint8Array): Promise<number> => {
    const all = Uint32Array.from({ length: rows.length }, (_, i) => i);
    let right = 0;
    for (let from = 0; from < rows.length; from += EVAL_ROWS) {
      const n = Math.min(EVAL_ROWS, rows.length - from);
      fillDense(buf, V, rows, all, from, n, p.normalize);
      const logits = tf.tidy(() => tf.tensor2d(buf.subarray(0, n * V), [n, V]).matMul(w).add(b));
      const data = await logits.data();
      logits.dispose();
      for (let i = 0; i < n; i++) if ((data[i]! >= 0 ? 1 : 0) === y[from + i]) right++;
    }
    return right / rows.length;
  };
  res.setupMs = now() - t0;
  const rng = mulberry32(DEFAULT_TRAIN.seed);
  const order = Uint32Array.from({ length: bow.fit.length }, (_, i) => i);
  const ybuf = new Float32Array(p.batchSize);
  let trainedMs = 0;
  let best: { w: import("@tensorflow/tfjs").Tensor; b: import("@tensorflow/tfjs").Tensor } | undefined;
  onPartial(res);
  try {
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      const a = now();
      shuffleInPlace(order, rng);
      let lossSum = 0;
      let batches = 0;
      const losses: import("@tensorflow/tfjs").Scalar[] = [];
      for (let from = 0; from < order.length; from += p.batchSize) {
        const n = Math.min(p.batchSize, order.length - from);
        fillDense(buf, V, bow.fit, order, from, n, p.normalize);
        for (let i = 0; i < n; i++) ybuf[i] = bow.yFit[order[from + i]!]!;
        const xs = tf.tensor2d(buf.subarray(0, n * V), [n, V]);
        const ys = tf.tensor2d(ybuf.subarray(0, n), [n, 1]);
        const loss = optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(ys, xs.matMul(w).add(b)) as import("@tensorflow/tfjs").Scalar, true, [w, b]);
        xs.dispose();
        ys.dispose();
        if (losses.length < 64) losses.push(loss!);
        else loss!.dispose();
        batches++;
      }
      // the epoch ends when its work is done: reading a loss waits for the queue
      for (const l of losses) lossSum += (await l.data())[0]!;
      const nLoss = losses.length;
      tf.dispose(losses);
      losses.length = 0;
      const tEnd = now();
      const valAccuracy = await accuracy(bow.validation, bow.yValidation);
      const c = now();
      trainedMs += c - a;
      res.epochs.push({ epoch, trainMs: tEnd - a, totalMs: c - a, valAccuracy });
      if (valAccuracy >= o.target && res.msToTarget === null) {
        res.msToTarget = c - t0;
        res.epochToTarget = epoch;
      }
      if (valAccuracy > res.bestValAccuracy) {
        res.bestValAccuracy = valAccuracy;
        best?.w.dispose();
        best?.b.dispose();
        best = { w: w.clone(), b: b.clone() };
      }
      log(`[tfjs] epoch ${epoch}: train ${(tEnd - a).toFixed(0)} ms (${batches} steps), +validation ${(c - tEnd).toFixed(0)} ms, loss of the first ${nLoss} steps ${(lossSum / nLoss).toFixed(4)}, val acc ${valAccuracy.toFixed(4)}`);
      await pause();
      if (trainedMs > o.budgetMs && epoch < p.epochs) {
        res.stoppedBy = "budget";
        break;
      }
    }
    if (best) {
      // the test set with the best-validation weights, once, outside the timings, on the
      // host from the weights read back (25,000 dense rows through SwiftShader crashed
      // Chromium's GPU process here; the sparse dot products give the same predictions)
      const wv = await best.w.data();
      const bv = (await best.b.data())[0]!;
      let right = 0;
      bow.test.forEach((ids, i) => {
        const v = !p.normalize ? 1 : ids.length > 0 ? 1 / Math.sqrt(ids.length) : 0;
        let z = bv;
        for (let k = 0; k < ids.length; k++) z += v * wv[ids[k]!]!;
        if ((z >= 0 ? 1 : 0) === bow.yTest[i]) right++;
      });
      res.testAccuracy = right / bow.test.length;
      res.notes.push("test accuracy computed on the host from the read-back weights");
    }
  } catch (error) {
    res.stoppedBy = "error";
    res.error = error instanceof Error ? error.message : String(error);
  } finally {
    best?.w.dispose();
    best?.b.dispose();
    w.dispose();
    b.dispose();
    optimizer.dispose();
  }
  return res;
}

async function adapterName(): Promise<string | null> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info;
  return [info.description, info.vendor, info.architecture, info.device].filter((s) => s).join(" / ") || "unnamed adapter";
}

const bench: BrowserBench = {
  partial: () => partial,
  async run(o) {
    const out: BrowserBenchResult = {
      userAgent: navigator.userAgent,
      adapter: await adapterName().catch(() => null),
      nFit: 0,
      nValidation: 0,
      nTest: 0,
      loadMs: 0,
      featurizeMs: 0,
      systems: [],
    };
    partial = out;
    const t0 = now();
    const response = await fetch(o.archiveUrl);
    if (!response.ok || !response.body) throw new Error(`could not fetch ${o.archiveUrl}: HTTP ${response.status}`);
    const data = await loadImdbFromTarGz(response.body);
    const train = limitReviews(data.train, o.limitPerLabel);
    const test = limitReviews(data.test, o.limitPerLabel);
    out.loadMs = now() - t0;
    log(`read ${train.length} train and ${test.length} test reviews in ${out.loadMs.toFixed(0)} ms`);
    let sets: OurSets | undefined;
    if (o.systems.includes("webgpu") || o.systems.includes("cpu")) {
      const t1 = now();
      sets = featurize(train, test);
      out.featurizeMs = now() - t1;
      out.nFit = sets.fit.x.nRows;
      out.nValidation = sets.validation.x.nRows;
      out.nTest = sets.test.x.nRows;
      log(`featurized in ${out.featurizeMs.toFixed(0)} ms`);
    }
    for (const system of o.systems) {
      await pause();
      if (system === "tfjs") {
        sets = undefined; // our feature rows are no longer needed: let TensorFlow.js have the memory
        await runTfjs(train, test, o);
      } else await runOurs(system, sets!, o);
    }
    return out;
  },
};

window.browserBench = bench;
