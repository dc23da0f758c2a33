// The page's side of the prediction worker: promises for loads and explanations, and
// at most a few decoded models held at once (each is tens of MB).

import type { Contribution } from "../core/predict.ts";
import type { ExplanationView } from "./explain-view.ts";
import type { FromPredictWorker, ModelSource, ToPredictWorker } from "./predict-protocol.ts";

/** A prediction failed; kind "empty" means there was no text to score. */
export class PredictError extends Error {
  override name = "PredictError";
  constructor(
    readonly kind: "empty" | "model" | "other",
    message: string,
  ) {
    super(message);
  }
}

const MAX_LOADED = 3;

type Request = Exclude<ToPredictWorker, { type: "unload" }>;
/** A request without its id (Omit over each member of the union). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "requestId"> : never) : never;

export class PredictClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: FromPredictWorker) => void; reject: (e: Error) => void }>();
  /** loaded (or loading) model ids, least recently used first */
  private readonly loaded = new Map<string, Promise<void>>();

  constructor(worker?: Worker) {
    this.worker = worker ?? new Worker(new URL("./predict-worker.ts", import.meta.url), { type: "module", name: "predict" });
    this.worker.onmessage = (event: MessageEvent<FromPredictWorker>) => {
      const msg = event.data;
      const p = this.pending.get(msg.requestId);
      if (!p) return;
      this.pending.delete(msg.requestId);
      if (msg.type === "error") p.reject(new PredictError(msg.kind, msg.message));
      else p.resolve(msg);
    };
    this.worker.onerror = (event) => {
      const error = new PredictError("other", `the prediction worker failed: ${event.message || "unknown error"}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
  }

  private request(msg: RequestBody): Promise<FromPredictWorker> {
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.worker.postMessage({ ...msg, requestId } as ToPredictWorker);
    });
  }

  /** Load a model once; `source` is only asked for when the model is not loaded. */
  ensure(modelId: string, source: () => ModelSource | Promise<ModelSource>): Promise<void> {
    const have = this.loaded.get(modelId);
    if (have) {
      this.loaded.delete(modelId);
      this.loaded.set(modelId, have);
      return have;
    }
    const loading = (async () => {
      await this.request({ type: "load", modelId, source: await source() });
    })();
    loading.catch(() => this.loaded.delete(modelId));
    this.loaded.set(modelId, loading);
    while (this.loaded.size > MAX_LOADED) {
      const oldest = this.loaded.keys().next().value as string;
      this.loaded.delete(oldest);
      this.worker.postMessage({ type: "unload", modelId: oldest } satisfies ToPredictWorker);
    }
    return loading;
  }

  isLoaded(modelId: string): boolean {
    return this.loaded.has(modelId);
  }

  async explain(modelId: string, text: string, top = 10): Promise<{ view: ExplanationView; seconds: number }> {
    const m = await this.request({ type: "explain", modelId, text, top });
    if (m.type !== "explained") throw new PredictError("other", `unexpected reply ${m.type}`);
    return { view: m.view, seconds: m.seconds };
  }

  async strongest(modelId: string, texts: string[], top = 10): Promise<{ positive: Contribution[]; negative: Contribution[] }> {
    const m = await this.request({ type: "strongest", modelId, texts, top });
    if (m.type !== "strongest") throw new PredictError("other", `unexpected reply ${m.type}`);
    return { positive: m.positive, negative: m.negative };
  }
}
