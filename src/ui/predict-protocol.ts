// Messages between the page and the prediction worker.

import type { EncodedModel } from "../core/model-format.ts";
import type { Contribution } from "../core/predict.ts";
import type { ExplanationView } from "./explain-view.ts";

export type ModelSource = { kind: "url"; metaUrl: string } | { kind: "encoded"; encoded: EncodedModel };

export type ToPredictWorker =
  | { type: "load"; requestId: number; modelId: string; source: ModelSource }
  | { type: "unload"; modelId: string }
  | { type: "explain"; requestId: number; modelId: string; text: string; top: number }
  | { type: "strongest"; requestId: number; modelId: string; texts: string[]; top: number };

export type FromPredictWorker =
  | { type: "loaded"; requestId: number; modelId: string; seconds: number }
  | { type: "explained"; requestId: number; view: ExplanationView; seconds: number }
  | { type: "strongest"; requestId: number; positive: Contribution[]; negative: Contribution[] }
  /** kind "empty": the text has nothing to score */
  | { type: "error"; requestId: number; kind: "empty" | "model" | "other"; message: string };
