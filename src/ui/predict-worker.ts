// The prediction worker: holds decoded models and explains reviews off the page's
// thread, so scoring a megabyte of pasted text never freezes the page. Only the capped
// view of an explanation (explain-view.ts) is sent back.

import { ModelError } from "../core/model-format.ts";
import { EmptyTextError, Predictor } from "../core/predict.ts";
import { explanationView, strongestContributions } from "./explain-view.ts";
import { decodeEncoded, fetchEncodedModel } from "./model-fetch.ts";
import type { FromPredictWorker, ToPredictWorker } from "./predict-protocol.ts";

interface WorkerScope {
  postMessage(message: FromPredictWorker): void;
  onmessage: ((event: MessageEvent<ToPredictWorker>) => void) | null;
}

const scope = self as unknown as WorkerScope;
const predictors = new Map<string, Predictor>();
// messages are handled one at a time, in order: a prediction waits for its model's load
let queue: Promise<void> = Promise.resolve();

function requirePredictor(modelId: string): Predictor {
  const p = predictors.get(modelId);
  if (!p) throw new ModelError(`the model "${modelId}" is not loaded`);
  return p;
}

async function handle(msg: Exclude<ToPredictWorker, { type: "unload" }>): Promise<void> {
  const t0 = performance.now();
  try {
    if (msg.type === "load") {
      const encoded = msg.source.kind === "url" ? await fetchEncodedModel(msg.source.metaUrl) : msg.source.encoded;
      predictors.set(msg.modelId, new Predictor(decodeEncoded(encoded)));
      scope.postMessage({ type: "loaded", requestId: msg.requestId, modelId: msg.modelId, seconds: (performance.now() - t0) / 1000 });
    } else if (msg.type === "explain") {
      const e = requirePredictor(msg.modelId).explain(msg.text, msg.top);
      scope.postMessage({ type: "explained", requestId: msg.requestId, view: explanationView(e), seconds: (performance.now() - t0) / 1000 });
    } else {
      const p = requirePredictor(msg.modelId);
      const lists = msg.texts.filter((t) => t.trim() !== "").map((t) => p.explain(t, msg.top));
      scope.postMessage({ type: "strongest", requestId: msg.requestId, ...strongestContributions(lists, msg.top) });
    }
  } catch (error) {
    const kind = error instanceof EmptyTextError ? "empty" : error instanceof ModelError ? "model" : "other";
    scope.postMessage({ type: "error", requestId: msg.requestId, kind, message: error instanceof Error ? error.message : String(error) });
  }
}

scope.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "unload") {
    queue = queue.then(() => void predictors.delete(msg.modelId));
    return;
  }
  queue = queue.then(() => handle(msg));
};
