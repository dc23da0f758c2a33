// Messages between the page and the training worker.

import type { BrowserTrainSettings, DatasetSummary, TrainEvent } from "./train-session.ts";

export type ArchiveSource = { kind: "file"; file: File } | { kind: "url"; url: string; name: string };

export type ToTrainWorker =
  | { type: "probe-webgpu" }
  | { type: "load"; requestId: number; source: ArchiveSource }
  | { type: "train"; runId: string; settings: BrowserTrainSettings }
  | { type: "stop"; runId: string };

export type FromTrainWorker =
  | { type: "webgpu"; available: true; deviceName: string }
  | { type: "webgpu"; available: false; reason: string }
  | { type: "load-progress"; requestId: number; bytesRead: number; totalBytes: number }
  | { type: "loaded"; requestId: number; summary: DatasetSummary }
  | { type: "load-failed"; requestId: number; message: string; /** the reviews read before, still loaded */ kept: DatasetSummary | null }
  | { type: "run"; runId: string; event: TrainEvent };
