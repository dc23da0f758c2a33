// The training worker: reads the archive (gunzip, tar, UTF-8), featurizes and trains
// off the page's thread, so the page stays responsive. WebGPU works in dedicated
// workers in Chromium (navigator.gpu); the backend module is loaded only when asked for.

import { DatasetError } from "../core/dataset.ts";
import { CpuBackend } from "../cpu-reference/backend.ts";
import type { TrainingBackend } from "../core/types.ts";
import { archiveSizeProblem } from "./input-limits.ts";
import type { FromTrainWorker, ToTrainWorker } from "./train-protocol.ts";
import { describeError, emptyTimings, TrainSession, type BackendKind } from "./train-session.ts";

/** The parts of a dedicated worker's global scope used here (the DOM lib types `self` as a Window). */
interface WorkerScope {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToTrainWorker>) => void) | null;
  navigator: { gpu?: GPU };
  isSecureContext?: boolean;
}

const scope = self as unknown as WorkerScope;
const session = new TrainSession();
const stops = new Set<string>();
let busy = false;
/** set by the page's "enable-test-hooks" message (sent only with ?test-hooks in its URL) */
let testHooks = false;
/** WebGPU devices of the runs in progress (a device leaves when it is destroyed or lost) */
const liveDevices = new Set<GPUDevice>();

function post(message: FromTrainWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function makeBackend(kind: BackendKind): Promise<TrainingBackend> {
  if (kind === "cpu") return new CpuBackend();
  let mod: typeof import("../shaders/webgpu-backend.ts");
  try {
    mod = await import("../shaders/webgpu-backend.ts");
  } catch (error) {
    throw new Error(`the WebGPU backend could not be loaded (${describeError(error)}); choose the CPU backend`);
  }
  if (!scope.navigator.gpu && scope.isSecureContext === false)
    throw new mod.WebGpuUnavailableError(
      "WebGPU is not available here: this page is not served over https or from localhost, and browsers offer WebGPU only to such secure pages; choose the CPU backend",
    );
  const backend = await mod.createWebGpuBackend(scope.navigator.gpu);
  const device = backend.device;
  liveDevices.add(device);
  void device.lost.then(() => liveDevices.delete(device));
  return backend;
}

async function probe(): Promise<void> {
  try {
    const backend = await makeBackend("webgpu");
    const deviceName = backend.deviceName;
    backend.dispose();
    post({ type: "webgpu", available: true, deviceName });
  } catch (error) {
    post({ type: "webgpu", available: false, reason: describeError(error) });
  }
}

/** Test hook: destroy the WebGPU devices in use, as a GPU reset would. */
function loseGpuDevice(): void {
  if (!testHooks) return;
  const n = liveDevices.size;
  for (const device of liveDevices) device.destroy();
  liveDevices.clear();
  post({ type: "test-hook", message: n > 0 ? `destroyed ${n} WebGPU device${n === 1 ? "" : "s"}` : "no WebGPU device was in use" });
}

async function load(requestId: number, msg: Extract<ToTrainWorker, { type: "load" }>): Promise<void> {
  const src = msg.source;
  try {
    let stream: ReadableStream<Uint8Array>;
    let total: number;
    let name: string;
    if (src.kind === "file") {
      // the page refuses these first; this is the backstop
      const tooBig = archiveSizeProblem(src.file.size);
      if (tooBig) throw new DatasetError(tooBig);
      stream = src.file.stream();
      total = src.file.size;
      name = src.file.name;
    } else {
      const res = await fetch(src.url);
      if (!res.ok || !res.body) throw new Error(`the server could not send ${src.name} (HTTP ${res.status})`);
      total = Number(res.headers.get("content-length") ?? 0);
      const tooBig = archiveSizeProblem(total);
      if (tooBig) {
        await res.body.cancel().catch(() => undefined);
        throw new DatasetError(tooBig);
      }
      stream = res.body;
      name = src.name;
    }
    let last = 0;
    const summary = await session.loadArchive(stream, { name, bytes: total }, (bytesRead) => {
      const t = performance.now();
      if (t - last > 100 || bytesRead === total) {
        last = t;
        post({ type: "load-progress", requestId, bytesRead, totalBytes: total });
      }
    });
    post({ type: "loaded", requestId, summary });
  } catch (error) {
    const name = src.kind === "file" ? src.file.name : src.name;
    post({ type: "load-failed", requestId, message: `${name}: ${describeError(error)}`, kept: session.dataset });
  }
}

scope.onmessage = (event: MessageEvent<ToTrainWorker>) => {
  const msg = event.data;
  if (msg.type === "stop") {
    stops.add(msg.runId);
    return;
  }
  if (msg.type === "probe-webgpu") {
    void probe();
    return;
  }
  if (msg.type === "enable-test-hooks") {
    testHooks = true;
    return;
  }
  if (msg.type === "test-lose-gpu-device") {
    loseGpuDevice();
    return;
  }
  if (busy) {
    // the page disables its controls while busy; this is the backstop
    if (msg.type === "load") post({ type: "load-failed", requestId: msg.requestId, message: "a run is in progress: stop it first", kept: session.dataset });
    else post({ type: "run", runId: msg.runId, event: { type: "ended", outcome: "failed", message: "another run is in progress", timings: emptyTimings() } });
    return;
  }
  busy = true;
  const done = () => {
    busy = false;
  };
  if (msg.type === "load") {
    void load(msg.requestId, msg).finally(done);
  } else {
    const runId = msg.runId;
    void session
      .train(
        msg.settings,
        makeBackend,
        (e, transfer) => post({ type: "run", runId, event: e }, transfer),
        () => stops.has(runId),
      )
      .finally(() => {
        stops.delete(runId);
        done();
      });
  }
};
