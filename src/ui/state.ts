// The app's shared state: the shipped records, the browser's runs and saved models, and
// the two workers. Pages read it and call its methods; it announces every change with
// a "change" event (see StateController).

import type { ReactiveController, ReactiveControllerHost } from "lit";
import type { EncodedModel } from "../core/model-format.ts";
import { FALLBACK_MANIFEST, MANIFEST_FILE, parseAssetManifest, type AssetManifest } from "./assets.ts";
import { archiveSizeProblem } from "./input-limits.ts";
import { ModelStore, type SavedModelSummary } from "./model-store.ts";
import { PredictClient } from "./predict-client.ts";
import type { ModelSource } from "./predict-protocol.ts";
import { parseModelInfo, parseSweepRecords, type ModelInfo, type SweepRecords } from "./records.ts";
import { applyTrainEvent, newRun, runTitle, type BrowserRun } from "./runs.ts";
import type { ArchiveSource, FromTrainWorker, ToTrainWorker } from "./train-protocol.ts";
import type { BrowserTrainSettings, DatasetSummary } from "./train-session.ts";

export type Loadable<T> = { status: "loading" } | { status: "ready"; value: T } | { status: "missing"; message: string };

export type WebGpuStatus =
  | { status: "unknown" }
  | { status: "probing" }
  | { status: "available"; deviceName: string }
  | { status: "unavailable"; reason: string };

export interface DatasetState {
  /** the reviews the worker holds (kept when a later drop fails) */
  loaded: DatasetSummary | null;
  /** a read in progress */
  reading: { name: string; bytesRead: number; totalBytes: number } | null;
  /** why the last drop failed */
  error: string | null;
}

export interface ModelChoice {
  id: string;
  label: string;
}

export class AppState extends EventTarget {
  manifest: AssetManifest = FALLBACK_MANIFEST;
  shipped: Loadable<ModelInfo> = { status: "loading" };
  sweep: Loadable<SweepRecords> = { status: "loading" };
  webgpu: WebGpuStatus = { status: "unknown" };
  dataset: DatasetState = { loaded: null, reading: null, error: null };
  runs: BrowserRun[] = [];
  saved: SavedModelSummary[] = [];
  savedError: string | null = null;
  /** the model the prediction page uses */
  activeModelId = "shipped";

  private predictClient: PredictClient | null = null;
  private trainWorker: Worker | null = null;
  private storePromise: Promise<ModelStore> | null = null;
  private nextRequest = 1;
  private nextRun = 1;
  private started = false;
  private afterLoad: ((ok: boolean) => void) | null = null;
  private settleShipped: () => void = () => {};
  /** resolves once the shipped model's facts are read, or known to be missing */
  readonly shippedSettled: Promise<void> = new Promise((resolve) => (this.settleShipped = resolve));

  changed(): void {
    this.dispatchEvent(new Event("change"));
  }

  /** Fetch the manifest, then the shipped model's facts and the sweep records. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void (async () => {
      try {
        const res = await fetch(MANIFEST_FILE, { cache: "no-cache" });
        if (res.ok) this.manifest = parseAssetManifest(await res.text());
      } catch {
        // a static copy without a manifest: keep the fallback paths
      }
      this.changed();
      await Promise.all([this.loadShipped(), this.loadSweep(), this.refreshSaved()]);
    })();
  }

  private async loadShipped(): Promise<void> {
    try {
      await this.readShipped();
    } finally {
      this.settleShipped();
    }
  }

  private async readShipped(): Promise<void> {
    const url = this.manifest.model;
    if (!url) {
      this.shipped = { status: "missing", message: "this build has no shipped model (model/model.json was absent when it was built)" };
      this.activeModelId = "";
      this.changed();
      return;
    }
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
      this.shipped = { status: "ready", value: parseModelInfo(await res.text(), url) };
    } catch (error) {
      this.shipped = { status: "missing", message: `the shipped model could not be read: ${(error as Error).message}` };
      if (this.activeModelId === "shipped") this.activeModelId = "";
    }
    this.changed();
  }

  private async loadSweep(): Promise<void> {
    const url = this.manifest.sweep;
    if (!url) {
      this.sweep = { status: "missing", message: "no sweep records in this build (records/sweep.json was absent when it was built)" };
      this.changed();
      return;
    }
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
      this.sweep = { status: "ready", value: parseSweepRecords(await res.text(), url) };
    } catch (error) {
      this.sweep = { status: "missing", message: `the sweep records could not be read: ${(error as Error).message}` };
    }
    this.changed();
  }

  // ---- prediction -------------------------------------------------------------------

  get predictor(): PredictClient {
    return (this.predictClient ??= new PredictClient());
  }

  /** Every model the prediction page can use, the shipped one first. */
  modelChoices(): ModelChoice[] {
    const out: ModelChoice[] = [];
    if (this.shipped.status === "ready") out.push({ id: "shipped", label: "Shipped model" });
    for (const r of this.runs) if (r.model) out.push({ id: `run:${r.id}`, label: `${runTitle(r)} (trained here)` });
    for (const s of this.saved) out.push({ id: `saved:${s.id}`, label: `${s.name} (saved in this browser)` });
    return out;
  }

  /** The facts of a model choice (metrics, history). */
  modelInfo(id: string): ModelInfo | null {
    if (id === "shipped") return this.shipped.status === "ready" ? this.shipped.value : null;
    if (id.startsWith("run:")) return this.runs.find((r) => `run:${r.id}` === id)?.model?.info ?? null;
    const s = this.saved.find((m) => `saved:${m.id}` === id);
    if (!s) return null;
    try {
      return parseModelInfo(s.metaJson);
    } catch {
      return null;
    }
  }

  /** Make sure the prediction worker has the model. */
  ensureModel(id: string): Promise<void> {
    return this.predictor.ensure(id, () => this.modelSource(id));
  }

  private async modelSource(id: string): Promise<ModelSource> {
    if (id === "shipped") {
      if (!this.manifest.model) throw new Error("there is no shipped model");
      return { kind: "url", metaUrl: new URL(this.manifest.model, document.baseURI).href };
    }
    if (id.startsWith("run:")) {
      const run = this.runs.find((r) => `run:${r.id}` === id);
      if (!run?.model) throw new Error("that run has no model");
      return { kind: "encoded", encoded: run.model.encoded };
    }
    return { kind: "encoded", encoded: await (await this.store()).load(id.slice("saved:".length)) };
  }

  useModel(id: string): void {
    this.activeModelId = id;
    this.changed();
  }

  // ---- saved models -------------------------------------------------------------------

  private store(): Promise<ModelStore> {
    return (this.storePromise ??= ModelStore.open());
  }

  async refreshSaved(): Promise<void> {
    try {
      this.saved = await (await this.store()).list();
      this.savedError = null;
    } catch (error) {
      this.savedError = (error as Error).message;
    }
    this.changed();
  }

  async saveModel(name: string, encoded: EncodedModel): Promise<SavedModelSummary> {
    const summary = await (await this.store()).save(name, encoded);
    await this.refreshSaved();
    return summary;
  }

  async deleteSaved(id: string): Promise<void> {
    await (await this.store()).remove(id);
    if (this.activeModelId === `saved:${id}`) this.activeModelId = this.shipped.status === "ready" ? "shipped" : "";
    await this.refreshSaved();
  }

  async loadSavedEncoded(id: string): Promise<EncodedModel> {
    return (await this.store()).load(id);
  }

  // ---- training ---------------------------------------------------------------------

  private worker(): Worker {
    if (this.trainWorker) return this.trainWorker;
    const w = new Worker(new URL("./train-worker.ts", import.meta.url), { type: "module", name: "train" });
    w.onmessage = (event: MessageEvent<FromTrainWorker>) => this.onWorkerMessage(event.data);
    w.onerror = (event) => {
      event.preventDefault();
      this.onWorkerCrash(event.message || "the training worker stopped unexpectedly");
    };
    if (this.testHooks) w.postMessage({ type: "enable-test-hooks" } satisfies ToTrainWorker);
    return (this.trainWorker = w);
  }

  // ---- test hooks (only with ?test-hooks in the page's URL) ----------------------------

  /** Whether the page was opened with ?test-hooks: end-to-end tests may then break things on purpose. */
  readonly testHooks: boolean = typeof location !== "undefined" && new URLSearchParams(location.search).has("test-hooks");
  private testReplies: ((message: string) => void)[] = [];

  /** Test hook: destroy the WebGPU device of the run in progress, as a driver reset would. */
  testLoseGpuDevice(): Promise<string> {
    if (!this.testHooks) return Promise.reject(new Error("test hooks are off: open the page with ?test-hooks"));
    this.post({ type: "test-lose-gpu-device" });
    return new Promise((resolve) => this.testReplies.push(resolve));
  }

  private post(message: ToTrainWorker): void {
    this.worker().postMessage(message);
  }

  /** Ask the worker which WebGPU adapter it gets (once). */
  probeWebGpu(): void {
    if (this.webgpu.status !== "unknown") return;
    this.webgpu = { status: "probing" };
    this.changed();
    this.post({ type: "probe-webgpu" });
  }

  get running(): BrowserRun | null {
    return this.runs.find((r) => r.status === "running") ?? null;
  }

  get busy(): boolean {
    return this.running !== null || this.dataset.reading !== null;
  }

  /** Read an archive in the worker; resolves true when its reviews are loaded. */
  readArchive(source: ArchiveSource): Promise<boolean> {
    if (this.busy) return Promise.resolve(false);
    const name = source.kind === "file" ? source.file.name : source.name;
    const total = source.kind === "file" ? source.file.size : 0;
    // a file far bigger than the archive is refused before a byte of it is read
    const tooBig = archiveSizeProblem(total);
    if (tooBig) {
      this.dataset = { ...this.dataset, reading: null, error: `${name}: ${tooBig}` };
      this.changed();
      return Promise.resolve(false);
    }
    this.dataset = { ...this.dataset, reading: { name, bytesRead: 0, totalBytes: total }, error: null };
    this.changed();
    this.post({ type: "load", requestId: this.nextRequest++, source });
    return new Promise((resolve) => (this.afterLoad = resolve));
  }

  /** Start a run on the loaded reviews; returns its id, or null when one is running. */
  startRun(settings: BrowserTrainSettings): string | null {
    const dataset = this.dataset.loaded;
    if (!dataset || this.busy) return null;
    const id = `r${this.nextRun}`;
    this.runs = [...this.runs, newRun(id, this.nextRun++, settings, dataset)];
    this.changed();
    this.post({ type: "train", runId: id, settings });
    return id;
  }

  stopRun(id: string): void {
    const run = this.runs.find((r) => r.id === id);
    if (!run || run.status !== "running") return;
    run.stage = "stopping after this epoch…";
    this.changed();
    this.post({ type: "stop", runId: id });
  }

  private onWorkerMessage(msg: FromTrainWorker): void {
    switch (msg.type) {
      case "webgpu":
        this.webgpu = msg.available ? { status: "available", deviceName: msg.deviceName } : { status: "unavailable", reason: msg.reason };
        break;
      case "load-progress":
        if (this.dataset.reading) this.dataset.reading = { ...this.dataset.reading, bytesRead: msg.bytesRead, totalBytes: msg.totalBytes || this.dataset.reading.totalBytes };
        break;
      case "loaded":
        this.dataset = { loaded: msg.summary, reading: null, error: null };
        this.resolveLoad(true);
        break;
      case "load-failed":
        this.dataset = { loaded: msg.kept, reading: null, error: msg.message };
        this.resolveLoad(false);
        break;
      case "run": {
        const run = this.runs.find((r) => r.id === msg.runId);
        if (run) applyTrainEvent(run, msg.event);
        // WebGPU failed in the middle of a run: ask again whether it works at all, so the
        // backend choice shows what is true now
        if (msg.event.type === "ended" && msg.event.webgpuFailure === "lost" && this.webgpu.status !== "probing") {
          this.webgpu = { status: "unknown" };
          this.probeWebGpu();
        }
        break;
      }
      case "test-hook":
        this.testReplies.shift()?.(msg.message);
        break;
    }
    this.changed();
  }

  private resolveLoad(ok: boolean): void {
    const f = this.afterLoad;
    this.afterLoad = null;
    f?.(ok);
  }

  private onWorkerCrash(message: string): void {
    this.trainWorker?.terminate();
    this.trainWorker = null;
    for (const r of this.runs) {
      if (r.status === "running") {
        r.status = "failed";
        r.message = `the training worker crashed (${message}); it may have run out of memory`;
      }
    }
    if (this.dataset.reading) this.dataset = { loaded: null, reading: null, error: `reading failed: the worker crashed (${message})` };
    else this.dataset = { ...this.dataset, loaded: null };
    if (this.webgpu.status === "probing") this.webgpu = { status: "unknown" };
    this.resolveLoad(false);
    this.changed();
  }
}

let appState: AppState | null = null;

export function getAppState(): AppState {
  if (appState) return appState;
  appState = new AppState();
  if (appState.testHooks) {
    const state = appState;
    (globalThis as { __moviesentimentsTest?: unknown }).__moviesentimentsTest = { loseGpuDevice: () => state.testLoseGpuDevice() };
  }
  return appState;
}

/** Re-renders its host whenever the app state changes. */
export class StateController implements ReactiveController {
  readonly state: AppState;
  private readonly onChange = () => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost) {
    this.state = getAppState();
    host.addController(this);
  }

  hostConnected(): void {
    this.state.addEventListener("change", this.onChange);
  }

  hostDisconnected(): void {
    this.state.removeEventListener("change", this.onChange);
  }
}
