// The moviesentiments command line: a thin Node adapter over src/core.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { realpathSync } from "node:fs";
import packageJson from "../../package.json";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { EmptyTextError, Predictor } from "../core/predict.ts";
import { ModelError, type SentimentModel } from "../core/model-format.ts";
import { DEFAULT_PIPELINE, trainPipeline, validatePipelineOptions, hashReviews, probabilities, type PipelineOptions } from "../core/pipeline.ts";
import { DEFAULT_FEATURES, applyFeatureWeights } from "../core/features.ts";
import { binaryMetrics } from "../core/metrics.ts";
import { DivergedError, InvalidSettingsError, type EpochRecord } from "../core/train.ts";
import { ArchiveError } from "../core/archive.ts";
import { DatasetError } from "../core/dataset.ts";
import type { TrainingBackend } from "../core/types.ts";
import { CpuBackend } from "../cpu-reference/backend.ts";
import { defaultModelDir, loadModelDir, saveModelDir } from "./model-files.ts";
import { loadImdb, resolveDataPath, cachedArchivePath } from "./data.ts";
import { downloadArchive, DownloadError } from "./download.ts";
import { createProgressBar } from "./progress.ts";
import { runSweep, SWEEP_VALIDATION_FRACTION } from "./sweep.ts";
import { availableParallelism } from "node:os";
import { workerEntry } from "./score-worker.ts";
import { isTrainWorker, runTrainWorker, ThreadCpuBackend } from "./train-worker.ts";

/** An error the user can fix: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const VERSION = packageJson.version;

const HELP = `moviesentiments: sentiment of movie reviews with a hand-written logistic regression

Usage:
  moviesentiments --text TEXT [--json] [--explain N] [--model DIR]
  moviesentiments train    [--data PATH] [--out DIR] [training options]
  moviesentiments predict  INPUT [--column text] [--out OUT] [--format F] [--explain N] [--encoding ENC] [--model DIR]
  moviesentiments evaluate [--data PATH] [--model DIR] [--json]
  moviesentiments evaluate INPUT --label COLUMN [--column text] [--format F] [--encoding ENC] [--model DIR] [--json]
  moviesentiments sweep    [--data PATH] [--out FILE] [--epochs N]   (lr 0.1/0.01 x L2 1e-2/1e-3; dropout and negation scope off unless given)
  moviesentiments download [--dest FILE] [--url URL]

Prediction:
  --text TEXT          the review to score
  --json               print {"label", "probabilities": {"negative", "positive"}}
  --explain N          also list the N n-grams that pushed hardest each way (default 0;
                       with predict INPUT, as columns top_positive and top_negative)
  --model DIR          model folder (default: the shipped model, ${"model/"} in the package)

Files (predict, evaluate INPUT):
  INPUT                CSV or TSV with a header line, JSONL (one object a line), or plain
                       text (one review a line); - reads standard input (plain text unless --format)
  --format F           csv, tsv, jsonl or txt (default: from the file name)
  --column NAME        the text column or JSON field (default: text, or the only one)
  --out OUT            write here (default: standard output); the format follows the name
                       (.csv, .tsv, .jsonl), else the input's (CSV for plain text). Written to
                       a temporary file renamed when complete; never over INPUT
  --encoding ENC       the input's text encoding (default utf-8; e.g. latin1, utf-16le)
  --label NAME         evaluate: the label column (positive/negative or 1/0; default: label)
  --workers N          scoring threads (default: the number of CPUs, at most 4; 0 = none)
  Output keeps every input row and column, in order, and adds label, p_negative,
  p_positive and error (why a row could not be scored, e.g. empty text; its label is empty).

Data (train, evaluate, sweep):
  --data PATH          aclImdb_v1.tar.gz or an extracted aclImdb/ folder; default: the
                       MOVIESENTIMENTS_DATA environment variable, then the download cache
                       (${"`moviesentiments download`"} puts it there)

Training (train; defaults reproduce the shipped model):
  --out DIR            where to write the model (default: model)
  --lr X               learning rate at epoch 1 (default ${DEFAULT_PIPELINE.training.lr})
  --lr-decay X         lr_e = lr / (1 + decay (e - 1)) (default ${DEFAULT_PIPELINE.training.lrDecay})
  --l2 X               L2 strength, applied in the update, bias unpenalised (default ${DEFAULT_PIPELINE.training.l2})
  --epochs N           epochs; with a validation split, the most (default ${DEFAULT_PIPELINE.training.epochs})
  --batch-size N       rows per gradient step (default ${DEFAULT_PIPELINE.training.batchSize})
  --seed N             seed for the split and batch order (default ${DEFAULT_PIPELINE.training.seed})
  --patience N         early stopping: epochs without a better validation score (default ${DEFAULT_PIPELINE.training.patience}; 0 = off)
  --validation-fraction X  share of train/ held out to choose the epoch count, with early
                       stopping (default ${DEFAULT_PIPELINE.validationFraction}: train --epochs epochs, a count chosen by
                       cross-validation; see the README)
  --seeds N            the final model is the mean of N runs with seeds seed, seed+1, ...
                       (default ${DEFAULT_PIPELINE.seeds ?? 1})
  --dropout P          feature dropout rate while training, 0 = off (default ${DEFAULT_PIPELINE.training.dropout ?? 0})
  --no-average         report each epoch's last iterate instead of the mean of its iterates
  --no-refit           keep the model trained on the fit split instead of retraining on all of train/
  --ngram-max N        longest word n-gram (default ${DEFAULT_FEATURES.ngramMax})
  --negation-scope N   mark the N words after a negation ("not", "n't", "never", ...) as
                       negated: "not bad" gives "not NOT_bad" (default ${DEFAULT_FEATURES.negationScope ?? 0}; 0 = off)
  --hash-bits N        2^N feature buckets (default ${DEFAULT_FEATURES.hashBits})
  --weighting nb|tfidf feature weighting (default ${DEFAULT_FEATURES.weighting})
  --backend cpu|webgpu training backend (default cpu; webgpu needs the optional "webgpu" package and a GPU)
  --workers N          train: with 2 or more (default: 2 when there are 2 or more CPUs), the CPU
                       backend runs its training runs (the seeds; the selection and the refit)
                       at once, each on its own thread; 0 or 1 runs them here, turn by turn.
                       Same model either way

Other:
  --debug              show stack traces
  -h, --help           this help
  --version            the version

Exit codes: 0 success, 1 unexpected failure, 2 bad input or settings.`;

const OPTIONS = {
  text: { type: "string" },
  json: { type: "boolean", default: false },
  explain: { type: "string" },
  model: { type: "string" },
  column: { type: "string" },
  format: { type: "string" },
  encoding: { type: "string" },
  label: { type: "string" },
  workers: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  lr: { type: "string" },
  "lr-decay": { type: "string" },
  l2: { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  seed: { type: "string" },
  patience: { type: "string" },
  "validation-fraction": { type: "string" },
  seeds: { type: "string" },
  "no-refit": { type: "boolean", default: false },
  "no-average": { type: "boolean", default: false },
  dropout: { type: "string" },
  "ngram-max": { type: "string" },
  "negation-scope": { type: "string" },
  "hash-bits": { type: "string" },
  weighting: { type: "string" },
  backend: { type: "string" },
  dest: { type: "string" },
  url: { type: "string" },
  debug: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", default: false },
} satisfies ParseArgsConfig["options"];

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    const message = (e as Error).message;
    // a negative number after an option reads as another option: say how to pass it
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous) throw new UsageError(`${ambiguous[1]} needs its value attached when it starts with "-": write ${ambiguous[1]}=VALUE`);
    throw new UsageError(`${message.split("\n")[0]} (see --help)`);
  }
}

function num(values: Values, key: keyof Values, fallback: number, integer = false): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new UsageError(`--${key} must be ${integer ? "an integer" : "a number"} (got "${String(raw)}")`);
  return v;
}

export function pipelineOptionsFrom(values: Values): PipelineOptions {
  const d = DEFAULT_PIPELINE;
  const weighting = values.weighting ?? d.features.weighting;
  if (weighting !== "nb" && weighting !== "tfidf") throw new UsageError(`--weighting must be nb or tfidf (got "${weighting}")`);
  return {
    features: {
      ...d.features,
      ngramMax: num(values, "ngram-max", d.features.ngramMax, true),
      hashBits: num(values, "hash-bits", d.features.hashBits, true),
      negationScope: num(values, "negation-scope", d.features.negationScope ?? 0, true),
      weighting,
    },
    training: {
      lr: num(values, "lr", d.training.lr),
      lrDecay: num(values, "lr-decay", d.training.lrDecay),
      l2: num(values, "l2", d.training.l2),
      epochs: num(values, "epochs", d.training.epochs, true),
      batchSize: num(values, "batch-size", d.training.batchSize, true),
      seed: num(values, "seed", d.training.seed, true),
      patience: num(values, "patience", d.training.patience, true),
      average: values["no-average"] ? false : d.training.average,
      dropout: num(values, "dropout", d.training.dropout ?? 0),
    },
    validationFraction: num(values, "validation-fraction", d.validationFraction),
    refit: !values["no-refit"],
    seeds: num(values, "seeds", d.seeds ?? 1, true),
  };
}

function loadModel(values: Values): SentimentModel {
  return loadModelDir(values.model ? resolve(values.model) : defaultModelDir());
}

function fmt(p: number): string {
  return p.toFixed(2);
}

async function cmdPredictText(values: Values, out: (s: string) => void): Promise<void> {
  const text = values.text!;
  if (text.trim() === "") throw new UsageError("the review is empty: pass some text with --text \"...\"");
  const predictor = new Predictor(loadModel(values));
  const nExplain = num(values, "explain", 0, true);
  const p = predictor.predict(text);
  if (values.json) {
    const obj: Record<string, unknown> = {
      label: p.label,
      probabilities: { negative: p.probabilities.negative, positive: p.probabilities.positive },
    };
    if (nExplain > 0) {
      const e = predictor.explain(text, nExplain);
      obj.explanation = { positive: e.topPositive, negative: e.topNegative };
    }
    out(JSON.stringify(obj));
    return;
  }
  out(`${p.label}  (negative ${fmt(p.probabilities.negative)}, positive ${fmt(p.probabilities.positive)})`);
  if (nExplain > 0) {
    const e = predictor.explain(text, nExplain);
    out("pushed toward positive: " + (e.topPositive.map((c) => `"${c.ngram}" +${c.contribution.toFixed(3)}`).join(", ") || "nothing"));
    out("pushed toward negative: " + (e.topNegative.map((c) => `"${c.ngram}" ${c.contribution.toFixed(3)}`).join(", ") || "nothing"));
  }
}

async function loadData(values: Values) {
  const resolved = resolveDataPath(values.data);
  const bar = createProgressBar("reading reviews", undefined, { unit: "items" });
  const data = await loadImdb(resolved.path, { source: resolved.source, onProgress: (done) => bar.update(done) });
  bar.done();
  return data;
}

async function makeBackend(values: Values): Promise<TrainingBackend> {
  const kind = values.backend ?? "cpu";
  if (kind === "cpu") return new CpuBackend();
  if (kind === "webgpu") {
    const { createNodeWebGpuBackend } = await import("./webgpu.ts");
    return createNodeWebGpuBackend();
  }
  throw new UsageError(`--backend must be cpu or webgpu (got "${kind}")`);
}

function epochLine(stage: string, r: EpochRecord): string {
  const parts = [`${stage} epoch ${String(r.epoch).padStart(3)}`, `lr ${r.lr.toPrecision(3)}`, `train loss ${r.trainLoss.toFixed(4)}`];
  if (r.validation) parts.push(`val loss ${r.validation.loss.toFixed(4)} acc ${r.validation.accuracy.toFixed(4)}`);
  if (r.test) parts.push(`(test acc ${r.test.accuracy.toFixed(4)}, display only)`);
  parts.push(`${r.seconds.toFixed(2)} s`);
  return parts.join("  ");
}

/**
 * The CLI bundle to start training threads from, when `train` should run its training
 * runs at once (the seeds; the selection and the refit): CPU backend, --workers >= 2,
 * running from the bundle.
 */
function trainThreadsEntry(values: Values): string | undefined {
  const workers = num(values, "workers", Math.min(2, availableParallelism()), true);
  if (workers < 0 || workers > 64) throw new UsageError(`--workers must be an integer from 0 to 64 (got "${values.workers}")`);
  if (workers < 2 || (values.backend ?? "cpu") !== "cpu") return undefined;
  return workerEntry();
}

async function cmdTrain(values: Values, log: (s: string) => void): Promise<void> {
  const options = pipelineOptionsFrom(values);
  const threadsEntry = trainThreadsEntry(values);
  // refuse bad settings before reading any data
  try {
    validatePipelineOptions(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const outDir = resolve(values.out ?? "model");
  // a backend that cannot start should say so before minutes of reading and featurizing
  if ((values.backend ?? "cpu") !== "cpu") (await makeBackend(values)).dispose();
  // the two training threads start now, loading while the archive is read; the second
  // hashes the test set while this thread hashes train/, then each trains one run (whose
  // records, with averaging, it prepares as it starts)
  const recordsFor = options.training.average ? 2 ** options.features.hashBits : undefined;
  const threads = threadsEntry ? [new ThreadCpuBackend(threadsEntry, { recordsFor }), new ThreadCpuBackend(threadsEntry, { recordsFor })] : [];
  // a third thread prepares the test set (its transpose, weighed) while the runs start,
  // and makes the final measurement
  const helper = threadsEntry ? new ThreadCpuBackend(threadsEntry) : null;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    log("\ninterrupted: stopping after this epoch; the model folder is left as it was");
  };
  try {
    const data = await loadData(values);
    log(`read ${data.train.length} train and ${data.test.length} test reviews`);
    const bar = createProgressBar("featurizing", data.train.length + data.test.length);
    process.once("SIGINT", onSigint);
    let handedOut = 0;
    const backendFactory = threadsEntry
      ? () => threads[handedOut++] ?? new ThreadCpuBackend(threadsEntry)
      : () => makeBackend(values);
    const model = await trainPipeline(
      data,
      options,
      backendFactory,
      {
        onStage: (stage, detail) => {
          if (stage !== "featurize") bar.done();
          if (stage === "select" || stage === "refit" || stage === "evaluate") log(`${stage}: ${detail}`);
        },
        onFeaturize: (done) => bar.update(done),
        onEpoch: (stage, r) => log(epochLine(stage === "select" ? "select" : "refit ", r)),
        onScores: (_stage, rs) => {
          if (rs[0]?.test) log(`test acc by epoch (of the averaged model, display only): ${rs.map((r) => `${r.epoch}: ${r.test!.accuracy.toFixed(4)}`).join("  ")}`);
        },
        shouldStop: () => interrupted,
      },
      {
        // the pipeline runs them in order anyway when there is no selection or no refit
        concurrentRefit: threads.length > 0,
        sharedMemory: threads.length > 0,
        // the second run's thread is free once it has hashed the test set, until the runs start
        alongside: threads[1],
        hashElsewhere: threads.length > 0 ? (texts, features) => threads[1]!.hash(texts, features) : undefined,
        transposeElsewhere: helper ? (counts, weighting) => helper.transposeLater(counts, weighting) : undefined,
        probabilitiesElsewhere: helper ? (counts, fw, features, weights, bias) => helper.probabilities(counts, fw, features, weights, bias) : undefined,
      },
    );
    bar.done();
    if (interrupted) {
      log("training stopped by the user; nothing was saved");
      process.exitCode = 130;
      return;
    }
    saveModelDir(outDir, model);
    const t = model.metrics.test;
    const tr = model.training;
    const runs = (tr.seeds ?? 1) > 1 ? `, the mean of ${tr.seeds} runs with different seeds` : "";
    if (tr.validationFraction > 0) log(`chose ${tr.bestEpoch} epochs on validation${tr.stoppedEarly ? " (early stopping fired)" : ""}${runs}`);
    else log(`trained ${tr.bestEpoch} epochs${runs}`);
    if (t)
      log(
        `test: accuracy ${t.accuracy.toFixed(4)}  precision ${t.precision.toFixed(4)}  recall ${t.recall.toFixed(4)}  f1 ${t.f1.toFixed(4)}  roc_auc ${t.roc_auc.toFixed(4)}  log_loss ${t.log_loss.toFixed(4)}`,
      );
    log(`saved the model to ${outDir} (${model.training.seconds.toFixed(1)} s)`);
  } finally {
    process.removeListener("SIGINT", onSigint);
    // threads the pipeline did not use (or did not get to dispose) must not keep the process alive
    for (const t of threads) t.dispose();
    helper?.dispose();
  }
}

async function cmdEvaluate(values: Values, out: (s: string) => void, log: (s: string) => void): Promise<void> {
  const model = loadModel(values);
  const data = await loadData(values);
  const { counts, labels } = hashReviews(data.test, model.features);
  const x = applyFeatureWeights(counts, model.featureWeights, model.features);
  const m = binaryMetrics(labels, probabilities(x, model.weights, model.bias));
  if (values.json) {
    out(JSON.stringify({ accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1, roc_auc: m.roc_auc, log_loss: m.log_loss, n: m.n }));
    return;
  }
  log(`official test split, ${m.n} reviews`);
  out(`accuracy  ${m.accuracy.toFixed(4)}\nprecision ${m.precision.toFixed(4)}\nrecall    ${m.recall.toFixed(4)}\nf1        ${m.f1.toFixed(4)}\nroc_auc   ${m.roc_auc.toFixed(4)}\nlog_loss  ${m.log_loss.toFixed(4)}`);
  const c = m.confusion;
  out(`confusion (rows: true negative/positive, columns: predicted negative/positive)\n  ${c.tn} ${c.fp}\n  ${c.fn} ${c.tp}`);
}

async function cmdDownload(values: Values, log: (s: string) => void): Promise<void> {
  const dest = resolve(values.dest ?? cachedArchivePath());
  const bar = createProgressBar("downloading aclImdb_v1.tar.gz", undefined, { unit: "bytes" });
  const res = await downloadArchive({ dest, url: values.url, onProgress: (r) => bar.update(r) });
  bar.done();
  log(`saved ${(res.bytes / 1e6).toFixed(1)} MB to ${res.path} (MD5 ${res.md5} verified)`);
}

async function cmdSweep(values: Values, log: (s: string) => void): Promise<void> {
  const options = pipelineOptionsFrom(values);
  // the sweep repeats the original project's runs, which had no dropout, and the recorded
  // sweep predates negation marking: both off unless asked for, so its command reproduces it
  if (values.dropout === undefined) options.training = { ...options.training, dropout: 0 };
  if (values["negation-scope"] === undefined) options.features = { ...options.features, negationScope: 0 };
  // the sweep compares runs on a validation split, whatever the default for train is
  if (values["validation-fraction"] === undefined) options.validationFraction = SWEEP_VALIDATION_FRACTION;
  if (!(options.validationFraction > 0)) throw new UsageError("sweep needs a validation split: give --validation-fraction above 0 (default 0.2)");
  const data = await loadData(values);
  const outFile = resolve(values.out ?? "records/sweep.json");
  await runSweep(data, options, {
    outFile,
    epochs: num(values, "epochs", 200, true),
    log,
    makeBackend: () => makeBackend(values),
  });
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io = { out: (s: string) => console.log(s), log: (s: string) => console.error(s) }): Promise<number> {
  // a training thread started by ThreadCpuBackend serves backend calls instead
  if (isTrainWorker()) return runTrainWorker();
  let debug = argv.includes("--debug");
  try {
    const { values, positionals } = parse(argv);
    debug = values.debug;
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (values.version) {
      io.out(VERSION);
      return 0;
    }
    const command = positionals[0];
    if (command === undefined) {
      if (values.text === undefined) throw new UsageError('nothing to do: pass --text "a review", or a command (see --help)');
      await cmdPredictText(values, io.out);
    } else if (command === "train") await cmdTrain(values, io.log);
    else if (command === "evaluate" && positionals.length > 1) {
      const { cmdEvaluateFile } = await import("./predict-file.ts");
      return await cmdEvaluateFile(argv, io);
    } else if (command === "evaluate") await cmdEvaluate(values, io.out, io.log);
    else if (command === "download") await cmdDownload(values, io.log);
    else if (command === "sweep") await cmdSweep(values, io.log);
    else if (command === "predict") {
      const { cmdPredictFile } = await import("./predict-file.ts");
      return await cmdPredictFile(argv, io);
    } else throw new UsageError(`unknown command "${command}" (commands: train, evaluate, predict, sweep, download; see --help)`);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    const err = e as Error;
    const userError =
      err instanceof UsageError ||
      err instanceof InvalidSettingsError ||
      err instanceof ModelError ||
      err instanceof DatasetError ||
      err instanceof ArchiveError ||
      err instanceof DownloadError ||
      err instanceof EmptyTextError ||
      err instanceof DivergedError;
    io.log(`moviesentiments: error: ${err.message}`);
    if (debug) io.log(err.stack ?? "");
    return userError ? 2 : 1;
  }
}

/** True when this file is the program being run (directly, or through npm's bin symlink). */
function isEntry(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isEntry()) {
  // the last line of defence: an error that escapes main() is one line, its stack only with --debug
  const lastResort = (e: unknown) => {
    if ((e as NodeJS.ErrnoException)?.code === "EPIPE") process.exit(process.exitCode ?? 0); // reader went away (| head)
    process.stderr.write(`moviesentiments: error: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.argv.includes("--debug")) process.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", lastResort);
  process.on("unhandledRejection", lastResort);
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
