// Messages between the page and the training worker.

import type { BrowserTrainSettings, DatasetSummary, TrainEvent } from "./train-session.ts";

export type ArchiveSource = { kind: "file"; file: File } | { kind: "url"; url: string; name: string };

export type ToTrainWorker =
  | { type: "probe-webgpu" }
  | { type: "load"; requestId: number; source: ArchiveSource }
  | { type: "train"; runId: string; settings: BrowserTrainSettings }
  | { type: "stop"; runId: string }
  /** sent once, only when the page was opened with ?test-hooks; the test-* messages are ignored without it */
  | { type: "enable-test-hooks" }
  /** test hook: destroy the WebGPU device in use, as a GPU reset or driver crash would */
  | { type: "test-lose-gpu-device" };

export type FromTrainWorker =
  | { type: "webgpu"; available: true; deviceName: string }
  | { type: "webgpu"; available: false; reason: string }
  | { type: "load-progress"; requestId: number; bytesRead: number; totalBytes: number }
  | { type: "loaded"; requestId: number; summary: DatasetSummary }
  | { type: "load-failed"; requestId: number; message: string; /** the reviews read before, still loaded */ kept: DatasetSummary | null }
  | { type: "run"; runId: string; event: TrainEvent }
  /** what a test hook did */
  | { type: "test-hook"; message: string };
