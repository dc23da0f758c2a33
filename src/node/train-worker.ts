// The CPU backend on a thread of its own, so that `moviesentiments train` can run its
// runs (or the selection and the refit) at once on two cores.
//
// ThreadCpuBackend is a TrainingBackend whose calls are messages to a worker thread that
// runs a CpuBackend: the same code on the same data, so the same numbers. The worker is
// the CLI bundle itself, started with a tag in workerData (as the scoring threads are):
// `main()` sees the tag and serves backend calls instead of parsing arguments. A thread
// can also do the pipeline's work on the test set with the same code: hash it, so that
// train/ and test/ are featurized at once, and lay out its transpose, weigh it and make
// the final measurement on it, while the runs train (PipelineExecution's *Elsewhere).

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { CpuBackend } from "../cpu-reference/backend.ts";
import { probabilitiesOfCounts, renumberColumns, type Alongside } from "../core/pipeline.ts";
import {
  countClasses,
  NgramHasher,
  transposeLayout,
  weighRows,
  weighTransposed,
  type FeatureConfig,
  type FeatureWeights,
  type TransposeLayout,
} from "../core/features.ts";
import type { BackendData, Csr, EvalSums, LabelledSet, TrainingBackend } from "../core/types.ts";

export const TRAIN_WORKER_TAG = "moviesentiments-train-worker";

type Call =
  | { op: "load"; data: BackendData }
  | { op: "trainEpoch"; batchOrder: Uint32Array; lr: number; l2: number }
  | { op: "evaluate"; setName: string }
  | { op: "predict"; setName: string }
  | { op: "readWeights" }
  | { op: "hash"; texts: string[]; features: FeatureConfig }
  | { op: "layout"; id: number; counts: Csr; withSource: boolean }
  | { op: "weighed"; id: number; weights: FeatureWeights; features: FeatureConfig }
  | { op: "probabilities"; counts: Csr; featureWeights: FeatureWeights; features: FeatureConfig; weights: Float32Array; bias: number }
  | { op: "classCounts"; counts: Csr; labels: Uint8Array; pos: Uint32Array; neg: Uint32Array; colFrom: number; colTo: number }
  | { op: "renumber"; x: Csr; newId: Uint32Array; from: number; to: number }
  | { op: "weigh"; counts: Csr; weights: FeatureWeights; features: FeatureConfig; values: Float32Array; from: number; to: number };

type Answer = number | EvalSums | Float32Array | Float64Array | { weights: Float32Array; bias: number } | Csr | undefined;

type Reply = { id: number; ok: true; value: Answer } | { id: number; ok: false; message: string; name: string };

/** True inside a training thread started by ThreadCpuBackend. */
export function isTrainWorker(): boolean {
  return !isMainThread && (workerData as { tag?: string } | null)?.tag === TRAIN_WORKER_TAG;
}

/** The body of a training thread: answer backend calls, one at a time, until terminated. */
export function runTrainWorker(): Promise<number> {
  // the averaged records for the columns the owner expects, paged in while the data is made
  const columns = (workerData as { recordsFor?: number }).recordsFor ?? 0;
  const records = columns > 0 ? new ArrayBuffer(16 * columns) : undefined;
  if (records) new Uint8Array(records).fill(0);
  const backend = new CpuBackend({ sharedWeights: true, records });
  // transposes laid out (ThreadCpuBackend.transposeLater), waiting for their weights
  const layouts = new Map<number, { counts: Csr; layout: TransposeLayout }>();
  const port = parentPort!;
  port.on("message", async (msg: { id: number; call: Call }) => {
    const { id, call } = msg;
    try {
      let value: Answer;
      const transfer: ArrayBuffer[] = [];
      switch (call.op) {
        case "load":
          await backend.load(call.data);
          value = undefined;
          break;
        case "trainEpoch":
          value = await backend.trainEpoch(call.batchOrder, call.lr, call.l2);
          break;
        case "evaluate":
          value = await backend.evaluate(call.setName);
          break;
        case "predict": {
          const p = await backend.predict(call.setName);
          value = p;
          transfer.push(p.buffer as ArrayBuffer);
          break;
        }
        case "readWeights": {
          // an epoch's average is shared (see CpuBackend's sharedWeights); anything else is
          // the backend's copy, handed over
          const w = await backend.readWeights();
          value = w;
          if (!(w.weights.buffer instanceof SharedArrayBuffer)) transfer.push(w.weights.buffer as ArrayBuffer);
          break;
        }
        case "hash": {
          // in shared memory, so that the rows can go on to another thread without a copy
          const x = NgramHasher.forFeatures(call.features).hashSet(call.texts, undefined, true);
          value = { ...x, rowPtr: shared(x.rowPtr) };
          break;
        }
        case "layout":
          layouts.set(call.id, { counts: call.counts, layout: await transposeLayout(call.counts, undefined, call.withSource) });
          value = undefined;
          break;
        case "probabilities": {
          const p = probabilitiesOfCounts(call.counts, call.featureWeights, call.features, call.weights, call.bias);
          value = p;
          transfer.push(p.buffer as ArrayBuffer);
          break;
        }
        case "classCounts":
          countClasses(call.counts, call.labels, call.pos, call.neg, call.colFrom, call.colTo);
          value = undefined;
          break;
        case "renumber":
          renumberColumns(call.x, call.newId, call.from, call.to);
          value = undefined;
          break;
        case "weigh":
          weighRows(call.counts, call.weights, call.features, call.values, call.from, call.to);
          value = undefined;
          break;
        case "weighed": {
          const laid = layouts.get(call.id);
          if (!laid) throw new Error(`no transpose laid out as ${call.id}`);
          layouts.delete(call.id);
          const xt = weighTransposed(laid.layout, laid.counts, call.weights, call.features);
          value = xt;
          transfer.push(xt.rowPtr.buffer as ArrayBuffer, xt.colIdx.buffer as ArrayBuffer, xt.values.buffer as ArrayBuffer);
          break;
        }
      }
      port.postMessage({ id, ok: true, value } satisfies Reply, transfer);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ id, ok: false, message: err.message, name: err.name } satisfies Reply);
    }
  });
  // the thread lives until its owner terminates it
  return new Promise<number>(() => {});
}

type Typed = Uint8Array | Uint32Array | Float32Array;

/** Shared copies already made, by source array: a set given to both threads is shared once. */
const sharedCopies = new WeakMap<Typed, Typed>();

/**
 * `a` over a SharedArrayBuffer (a copy, made once per array): posting it to a thread then
 * copies nothing, where a plain array would be cloned on this thread and again rebuilt
 * on the other (about 0.8 s per run's data on the full archive).
 */
function shared<T extends Typed>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const known = sharedCopies.get(a);
  if (known) return known as T;
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(a.byteLength));
  copy.set(a as never);
  sharedCopies.set(a, copy);
  return copy;
}

function sharedSet(set: LabelledSet): LabelledSet {
  const { x } = set;
  return { name: set.name, columnsUsed: set.columnsUsed, y: shared(set.y), x: { nRows: x.nRows, nCols: x.nCols, rowPtr: shared(x.rowPtr), colIdx: shared(x.colIdx), values: shared(x.values) } };
}

/** A CpuBackend on a worker thread started from the CLI bundle at `entryUrl`. */
export class ThreadCpuBackend implements TrainingBackend, Alongside {
  readonly kind = "cpu" as const;
  readonly deviceName = "CPU (TypeScript reference)";
  readonly takesRowOrder = true;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: Answer) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private nextLayout = 1;
  private failure: Error | undefined;
  private closing = false;

  /**
   * `recordsFor`: the number of columns of the averaged training this thread will run,
   * if known: it prepares their records as it starts (CpuBackend's `records`).
   */
  constructor(entryUrl: string, opts: { recordsFor?: number } = {}) {
    const bootstrap = `import(${JSON.stringify(entryUrl)}).then((m) => m.main([])).catch((e) => { process.stderr.write("moviesentiments: training thread failed to start: " + (e && e.message) + "\\n"); process.exit(1); });`;
    this.worker = new Worker(bootstrap, { eval: true, workerData: { tag: TRAIN_WORKER_TAG, recordsFor: opts.recordsFor }, stdout: false, stderr: false });
    this.worker.on("message", (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else {
        const e = new Error(reply.message);
        e.name = reply.name;
        p.reject(e);
      }
    });
    this.worker.on("error", (e) => this.fail(new Error(`a training thread failed: ${e.message} (--workers 0 trains on the main thread)`)));
    this.worker.on("exit", (code) => {
      if (!this.closing) this.fail(new Error(`a training thread stopped unexpectedly (exit code ${code}; --workers 0 trains on the main thread)`));
    });
  }

  private call(call: Call): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, call });
    });
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async load(data: BackendData): Promise<void> {
    await this.call({ op: "load", data: { ...data, train: sharedSet(data.train), evalSets: data.evalSets.map(sharedSet) } });
  }

  async trainEpoch(batchOrder: Uint32Array, lr: number, l2: number): Promise<number> {
    return (await this.call({ op: "trainEpoch", batchOrder, lr, l2 })) as number;
  }

  async evaluate(setName: string): Promise<EvalSums> {
    return (await this.call({ op: "evaluate", setName })) as EvalSums;
  }

  async predict(setName: string): Promise<Float32Array> {
    return (await this.call({ op: "predict", setName })) as Float32Array;
  }

  async readWeights(): Promise<{ weights: Float32Array; bias: number }> {
    return (await this.call({ op: "readWeights" })) as { weights: Float32Array; bias: number };
  }

  /**
   * Hashed count rows of `texts` (NgramHasher.hashDocuments on this thread's worker): the
   * same code, so the same rows, in shared memory. Independent of the backend's state;
   * used to hash the test set while the calling thread hashes train/.
   */
  async hash(texts: string[], features: FeatureConfig): Promise<Csr> {
    return (await this.call({ op: "hash", texts, features })) as Csr;
  }

  /**
   * transposeLayout of `counts` on this thread's worker, started now (counts over shared
   * memory cost nothing to send); weighed then gives the transpose of the counts weighed,
   * the same as transposeCsr(applyFeatureWeights(counts, weights, features)).
   */
  transposeLater(counts: Csr, weighting: FeatureWeights["kind"]): { weighed(weights: FeatureWeights, features: FeatureConfig): Promise<Csr> } {
    const id = this.nextLayout++;
    // NB weights need no sources (see weighTransposed)
    const laidOut = this.call({ op: "layout", id, counts, withSource: weighting !== "nb" });
    laidOut.catch(() => {}); // reported by weighed
    return {
      weighed: async (weights, features) => {
        await laidOut;
        return (await this.call({ op: "weighed", id, weights: { kind: weights.kind, scale: shared(weights.scale) }, features })) as Csr;
      },
    };
  }

  /** probabilitiesOfCounts on this thread's worker (counts over shared memory are not copied). */
  async probabilities(counts: Csr, featureWeights: FeatureWeights, features: FeatureConfig, weights: Float32Array, bias: number): Promise<Float64Array> {
    const fw = { kind: featureWeights.kind, scale: shared(featureWeights.scale) };
    return (await this.call({ op: "probabilities", counts, featureWeights: fw, features, weights: shared(weights), bias })) as Float64Array;
  }

  // Alongside: row ranges of sets in shared memory (the pipeline's sharedMemory), done on
  // this thread's worker with the same functions

  async classCounts(counts: Csr, labels: Uint8Array, pos: Uint32Array, neg: Uint32Array, colFrom: number, colTo: number): Promise<void> {
    if (!(pos.buffer instanceof SharedArrayBuffer && neg.buffer instanceof SharedArrayBuffer)) throw new Error("classCounts: the counts must be in shared memory");
    await this.call({ op: "classCounts", counts, labels, pos, neg, colFrom, colTo });
  }

  async renumber(x: Csr, newId: Uint32Array, from: number, to: number): Promise<void> {
    if (!(x.colIdx.buffer instanceof SharedArrayBuffer)) throw new Error("renumber: the rows must be in shared memory");
    await this.call({ op: "renumber", x, newId: shared(newId), from, to });
  }

  async weigh(counts: Csr, weights: FeatureWeights, features: FeatureConfig, values: Float32Array, from: number, to: number): Promise<void> {
    if (!(values.buffer instanceof SharedArrayBuffer)) throw new Error("weigh: the values must be in shared memory");
    await this.call({ op: "weigh", counts, weights: { kind: weights.kind, scale: shared(weights.scale) }, features, values, from, to });
  }

  dispose(): void {
    this.closing = true;
    this.fail(new Error("the training thread was disposed"));
    void this.worker.terminate();
  }
}
