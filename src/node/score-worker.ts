// Scoring batches of texts, on this thread or on worker threads.
//
// The model's two arrays are copied once into SharedArrayBuffers that every worker reads,
// so N workers cost N hashers, not N models. A model loaded from files shares its
// float16 bytes (half the size, and nothing to decode on this thread); any other model
// shares its float32 arrays. A worker is the CLI bundle itself, started
// with a tag in workerData: `moviesentiments predict` run inside such a worker serves
// score requests instead of reading files (see runScoreWorker). Running from TypeScript
// sources (tests) there is no bundle to start, and scoring stays on this thread.

import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Predictor, type Contribution } from "../core/predict.ts";
import { modelOverHalves, rawHalves, type SentimentModel } from "../core/model-format.ts";
import type { FeatureConfig } from "../core/features.ts";

export const WORKER_TAG = "moviesentiments-score-worker";

export interface ScoreResult {
  /** one logit per text */
  logits: Float64Array;
  /** with explain > 0: the strongest n-grams each way, per text */
  explanations?: { positive: Contribution[]; negative: Contribution[] }[];
}

export interface Scorer {
  /** threads doing the scoring (0: this one) */
  readonly threads: number;
  score(texts: string[], explain: number): Promise<ScoreResult>;
  close(): Promise<void>;
}

/** Score texts with a predictor (the same code on this thread and in workers). */
export function scoreTexts(predictor: Predictor, texts: readonly string[], explain: number): ScoreResult {
  if (explain <= 0) return { logits: predictor.logits(texts) };
  const logits = new Float64Array(texts.length);
  const explanations: NonNullable<ScoreResult["explanations"]> = [];
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    if (t.trim() === "") {
      logits[i] = predictor.logits([t])[0]!;
      explanations.push({ positive: [], negative: [] });
      continue;
    }
    const e = predictor.explain(t, explain);
    logits[i] = e.logit;
    explanations.push({ positive: e.topPositive, negative: e.topNegative });
  }
  return { logits, explanations };
}

/** Scoring on the calling thread. */
export class InlineScorer implements Scorer {
  readonly threads = 0;
  private readonly predictor: Predictor;
  constructor(model: SentimentModel | Predictor) {
    this.predictor = model instanceof Predictor ? model : new Predictor(model);
  }
  async score(texts: string[], explain: number): Promise<ScoreResult> {
    return scoreTexts(this.predictor, texts, explain);
  }
  async close(): Promise<void> {}
}

interface WorkerModel {
  features: FeatureConfig;
  kind: "nb" | "tfidf";
  bias: number;
  /** "f16": little-endian float16 bytes; "f32": float32 values */
  dtype: "f16" | "f32";
  scale: SharedArrayBuffer;
  weights: SharedArrayBuffer;
}

interface WorkerInit {
  tag: typeof WORKER_TAG;
  model: WorkerModel;
}

interface Request {
  id: number;
  texts: string[];
  explain: number;
}

/** Sent to each scoring thread before any request: the NB ratio-weight table, made once for all. */
interface TableMessage {
  table: Float32Array;
}

type Reply = { id: number; ok: true; result: ScoreResult } | { id: number; ok: false; message: string };

function shared(a: Float32Array | Uint16Array): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(a.byteLength);
  new Uint8Array(sab).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return sab;
}

/**
 * The module a scoring thread starts from: the CLI's entry file (it exports main()), when
 * this code runs from a built bundle. Undefined when running from TypeScript sources.
 */
export function workerEntry(): string | undefined {
  if (!/\.(m?js|cjs)$/.test(new URL(import.meta.url).pathname)) return undefined;
  const script = process.argv[1];
  if (!script) return undefined;
  try {
    const real = realpathSync(script);
    return /\.(m?js)$/.test(real) ? pathToFileURL(real).href : undefined;
  } catch {
    return undefined;
  }
}

/** A pool of scoring threads over a shared copy of the model. */
export class WorkerPool implements Scorer {
  readonly threads: number;
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, { resolve: (r: ScoreResult) => void; reject: (e: Error) => void; slot: number }>();
  private nextId = 1;
  private failure: Error | undefined;
  private closing = false;

  constructor(model: SentimentModel, threads: number, entryUrl: string) {
    this.threads = threads;
    const raw = rawHalves(model);
    const init: WorkerInit = {
      tag: WORKER_TAG,
      model: {
        features: model.features,
        kind: model.featureWeights.kind,
        bias: model.bias,
        dtype: raw ? "f16" : "f32",
        scale: shared(raw ? raw.scale : model.featureWeights.scale),
        weights: shared(raw ? raw.weights : model.weights),
      },
    };
    // The worker imports the CLI bundle and runs `predict`, which sees the tag and serves.
    const bootstrap = `import(${JSON.stringify(entryUrl)}).then((m) => m.main(["predict"])).catch((e) => { process.stderr.write("moviesentiments: scoring thread failed to start: " + (e && e.message) + "\\n"); process.exit(1); });`;
    for (let k = 0; k < threads; k++) {
      const worker = new Worker(bootstrap, { eval: true, workerData: init, stdout: false, stderr: false });
      worker.on("message", (reply: Reply) => this.onReply(reply));
      worker.on("error", (e) => this.fail(new Error(`a scoring thread failed: ${e.message} (--workers 0 scores on the main thread)`)));
      worker.on("exit", (code) => {
        if (!this.closing) this.fail(new Error(`a scoring thread stopped unexpectedly (exit code ${code}; --workers 0 scores on the main thread)`));
      });
      this.workers.push({ worker, busy: 0 });
    }
    // the NB scoring table, made here once (while the threads start) and shared by them all
    if (model.featureWeights.kind === "nb") {
      const msg: TableMessage = { table: new Predictor(model).ratioWeightTable(true) };
      for (const w of this.workers) w.worker.postMessage(msg);
    }
  }

  private onReply(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    this.workers[p.slot]!.busy--;
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(reply.message));
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  score(texts: string[], explain: number): Promise<ScoreResult> {
    if (this.failure) return Promise.reject(this.failure);
    let slot = 0;
    for (let k = 1; k < this.workers.length; k++) if (this.workers[k]!.busy < this.workers[slot]!.busy) slot = k;
    const w = this.workers[slot]!;
    const id = this.nextId++;
    return new Promise<ScoreResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      w.busy++;
      const req: Request = { id, texts, explain };
      w.worker.postMessage(req);
    });
  }

  private closed: Promise<void> | undefined;

  /** Stop the threads (once; later calls wait for the same). */
  close(): Promise<void> {
    this.closing = true;
    this.closed ??= Promise.all(this.workers.map((w) => w.worker.terminate())).then(() => {});
    return this.closed;
  }
}

/** True inside a scoring thread started by WorkerPool. */
export function isScoreWorker(): boolean {
  return !isMainThread && (workerData as Partial<WorkerInit> | null)?.tag === WORKER_TAG;
}

/** The body of a scoring thread: answer score requests until the pool closes. */
export function runScoreWorker(): Promise<number> {
  const init = workerData as WorkerInit;
  const m = init.model;
  const model =
    m.dtype === "f16"
      ? modelOverHalves(
          {
            features: m.features,
            kind: m.kind,
            bias: m.bias,
            // a scoring thread needs none of the training record
            training: undefined as unknown as SentimentModel["training"],
            metrics: {},
            history: { selection: [], final: [] },
            createdAt: "",
          },
          new Uint8Array(m.weights),
          new Uint8Array(m.scale),
        )
      : ({
          features: m.features,
          featureWeights: { kind: m.kind, scale: new Float32Array(m.scale) },
          weights: new Float32Array(m.weights),
          bias: m.bias,
        } as SentimentModel);
  const predictor = new Predictor(model);
  const port = parentPort!;
  return new Promise<number>((resolve) => {
    port.on("message", (req: Request | TableMessage) => {
      if ("table" in req) {
        predictor.useRatioWeightTable(req.table);
        return;
      }
      let reply: Reply;
      try {
        reply = { id: req.id, ok: true, result: scoreTexts(predictor, req.texts, req.explain) };
      } catch (e) {
        reply = { id: req.id, ok: false, message: (e as Error).message };
      }
      // The logits are copied, not transferred. The first ArrayBuffer a thread detaches
      // (a transfer does) invalidates V8's "no buffer was ever detached" protector: the
      // thread's optimized typed-array code is thrown away and compiled again without that
      // assumption, and hashing and scoring ran about 12% slower from then on
      // (one thread, warm: 1,035 -> 1,160 ms for test/; the whole predict command on
      // test/: 1.24 -> 1.14 s).
      port.postMessage(reply);
    });
    port.on("close", () => resolve(0));
  });
}
