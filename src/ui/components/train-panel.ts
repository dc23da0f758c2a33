// <ms-train-panel>: "Train in your browser". Drop or pick an IMDB archive; the worker
// reads, featurizes and trains it with the chosen settings and backend while the
// curves grow epoch by epoch. Finished runs can be used for prediction, saved in this
// browser, downloaded as model files, and compared across the two backends.

import { LitElement, css, html, nothing } from "lit";
import { customElement, state } from "lit/decorators.js";
import { styleMap } from "lit/directives/style-map.js";
import { alignSeries, historyChart, PALETTE } from "../chart-data.ts";
import { downloadFiles, modelFolderFiles } from "../download.ts";
import { formatBytes, formatCount, formatPercent, formatSeconds } from "../format.ts";
import type { EncodedModel } from "../../core/model-format.ts";
import {
  backendName,
  comparisonPair,
  otherBackend,
  runChartLines,
  runTitle,
  settingsSummary,
  summarizeTimings,
  type BrowserRun,
  type TimingSummary,
} from "../runs.ts";
import { fieldsFromSettings, settingsFromFields, type SettingsFields } from "../settings-form.ts";
import { StateController } from "../state.ts";
import { pageStyles } from "../styles.ts";
import type { ArchiveSource } from "../train-protocol.ts";
import { DEFAULT_BROWSER_SETTINGS, gpuReason, type BrowserTrainSettings } from "../train-session.ts";
import "./line-chart.ts";

const MAX_CHART_RUNS = 4;

@customElement("ms-train-panel")
export class TrainPanel extends LitElement {
  static override styles = [
    pageStyles,
    css`
      .drop {
        border: 2px dashed #9aa0a6;
        border-radius: 8px;
        padding: 1.25rem;
        text-align: center;
        background: #fff;
      }
      .drop.over {
        border-color: #1a73e8;
        background: #e8f0fe;
      }
      .drop[aria-disabled="true"] {
        opacity: 0.6;
      }
      form {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
        gap: 0.6rem 1rem;
        margin: 0.75rem 0;
      }
      label {
        display: flex;
        flex-direction: column;
        font-size: 0.9rem;
      }
      select {
        max-width: 100%;
      }
      label.check {
        flex-direction: row;
        align-items: center;
        gap: 0.4rem;
      }
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin: 0.5rem 0;
      }
      .runs td,
      .runs th {
        font-size: 0.9rem;
      }
      .dot {
        display: inline-block;
        width: 0.7rem;
        height: 0.7rem;
        border-radius: 50%;
        margin-right: 0.3rem;
      }
      td.actions {
        text-align: left;
        white-space: nowrap;
      }
      td.actions button {
        font-size: 0.8rem;
        padding: 0.2rem 0.5rem;
      }
    `,
  ];

  private readonly app = new StateController(this);
  @state() private fields: SettingsFields = fieldsFromSettings(DEFAULT_BROWSER_SETTINGS);
  @state() private formError: string | null = null;
  @state() private autoStart = true;
  @state() private dragOver = false;
  @state() private notice: string | null = null;
  private backendChosen = false;
  /** the last run whose WebGPU failure moved the backend choice to the CPU */
  private failureSeen: string | null = null;

  protected override firstUpdated(): void {
    // after this first render, so the state change does not land inside the page's update
    setTimeout(() => this.app.state.probeWebGpu(), 0);
  }

  protected override willUpdate(): void {
    // until the user picks a backend, follow what the probe found
    const gpu = this.app.state.webgpu;
    if (!this.backendChosen && gpu.status === "unavailable" && this.fields.backend === "webgpu") this.fields = { ...this.fields, backend: "cpu" };
    // after WebGPU failed in a run, the next run defaults to the CPU
    const failed = this.gpuFailedRun();
    if (failed && this.failureSeen !== failed.id) {
      this.failureSeen = failed.id;
      this.fields = { ...this.fields, backend: "cpu" };
    }
  }

  /** The last run, when it failed because of WebGPU. */
  private gpuFailedRun(): BrowserRun | null {
    const last = this.app.state.runs.at(-1);
    return last && last.status === "failed" && last.webgpuFailure ? last : null;
  }

  override render() {
    const s = this.app.state;
    const running = s.running;
    return html`
      ${this.dataView()} ${this.formView()}
      <div class="row">
        <button id="train" @click=${() => this.train()} ?disabled=${s.busy || !s.dataset.loaded}>Train</button>
        <button id="stop" class="secondary" @click=${() => running && s.stopRun(running.id)} ?disabled=${!running}>Stop</button>
        ${this.otherBackendButton()}
      </div>
      ${this.gpuFailureView()}
      ${this.formError ? html`<p class="message error" id="form-error">${this.formError}</p>` : nothing}
      ${this.notice ? html`<p class="message info" id="notice">${this.notice}</p>` : nothing}
      ${running ? this.progressView(running) : nothing} ${this.chartsView()} ${this.comparisonView()} ${this.runsView()}
      ${this.savedView()}
    `;
  }

  /** A WebGPU run failed (device lost, or WebGPU would not start): say so, and offer the CPU. */
  private gpuFailureView() {
    const run = this.gpuFailedRun();
    if (!run) return nothing;
    const s = this.app.state;
    return html`<div class="message error" id="gpu-failed" role="alert" data-failure=${run.webgpuFailure ?? ""}>
      <strong>${run.webgpuFailure === "lost" ? `WebGPU: the GPU device was lost during ${runTitle(run)}.` : `WebGPU could not start for ${runTitle(run)}.`}</strong>
      ${run.message}
      ${s.runs.some((r) => r.model) ? html`<div>Models trained before are kept and still work on the prediction page.</div>` : nothing}
      <div class="row">
        <button id="train-on-cpu" ?disabled=${s.busy || !s.dataset.loaded} @click=${() => this.train({ ...run.settings, backend: "cpu" })}>
          Train on the CPU instead
        </button>
        <span class="muted">${settingsSummary(run.settings)}, from the first epoch</span>
      </div>
    </div>`;
  }

  // ---- data ----------------------------------------------------------------------------

  private dataView() {
    const s = this.app.state;
    const d = s.dataset;
    const offered = s.manifest.archive;
    return html`
      <div
        class="drop ${this.dragOver ? "over" : ""}"
        id="drop"
        aria-disabled=${s.busy ? "true" : "false"}
        @dragover=${(e: DragEvent) => {
          e.preventDefault();
          this.dragOver = true;
        }}
        @dragleave=${() => (this.dragOver = false)}
        @drop=${(e: DragEvent) => this.onDrop(e)}
      >
        <p>
          Drop <code>aclImdb_v1.tar.gz</code> here (84 MB, from
          <a href="https://ai.stanford.edu/~amaas/data/sentiment/" rel="noopener">the dataset's home page</a>), or
          <label class="check" style="display:inline-flex">
            <input id="file" type="file" accept=".gz,.tgz,application/gzip" @change=${(e: Event) => this.onPick(e)} ?disabled=${s.busy} />
          </label>
        </p>
        ${offered
          ? html`<p>
              <button id="use-offered" class="secondary" ?disabled=${s.busy} @click=${() => this.useOffered()}>
                Use ${offered.name} from this server${offered.bytes ? ` (${formatBytes(offered.bytes)})` : ""}
              </button>
            </p>`
          : nothing}
        <label class="check" style="justify-content:center">
          <input id="auto-start" type="checkbox" .checked=${this.autoStart} @change=${(e: Event) => (this.autoStart = (e.target as HTMLInputElement).checked)} />
          start training as soon as the archive is read
        </label>
      </div>
      ${d.reading
        ? html`<div class="row" id="reading">
            <span>Reading ${d.reading.name}: decompressing and parsing…</span>
            <progress max=${d.reading.totalBytes || 1} value=${d.reading.bytesRead}></progress>
            <span class="muted">${formatBytes(d.reading.bytesRead)}${d.reading.totalBytes ? ` of ${formatBytes(d.reading.totalBytes)}` : ""}</span>
          </div>`
        : nothing}
      ${d.error ? html`<p class="message error" id="data-error" role="alert">Could not read the archive: ${d.error}</p>` : nothing}
      ${d.loaded
        ? html`<p class="message info" id="data-ready">
            Loaded ${formatCount(d.loaded.nTrain)} training and ${formatCount(d.loaded.nTest)} test reviews from
            ${d.loaded.name} (${formatBytes(d.loaded.compressedBytes)}) in ${formatSeconds(d.loaded.readSeconds)}.
          </p>`
        : nothing}
    `;
  }

  private onDrop(e: DragEvent): void {
    e.preventDefault();
    this.dragOver = false;
    const files = e.dataTransfer?.files;
    if (!files || files.length === 0) {
      this.notice = "Nothing was dropped that the browser could read as a file.";
      return;
    }
    this.notice = files.length > 1 ? `${files.length} files were dropped; reading the first, ${files[0]!.name}.` : null;
    void this.read({ kind: "file", file: files[0]! });
  }

  private onPick(e: Event): void {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) void this.read({ kind: "file", file });
    input.value = "";
  }

  private useOffered(): void {
    const a = this.app.state.manifest.archive;
    if (a) void this.read({ kind: "url", url: new URL(a.url, document.baseURI).href, name: a.name });
  }

  private async read(source: ArchiveSource): Promise<void> {
    const s = this.app.state;
    if (s.busy) {
      this.notice = "A run or a read is in progress: stop it first.";
      return;
    }
    const ok = await s.readArchive(source);
    if (ok && this.autoStart) this.train();
  }

  // ---- settings -----------------------------------------------------------------------

  private formView() {
    const gpu = this.app.state.webgpu;
    const f = this.fields;
    const gpuLabel =
      gpu.status === "available"
        ? `WebGPU (${gpu.deviceName})`
        : gpu.status === "unavailable"
          ? "WebGPU (not available here)"
          : "WebGPU (checking…)";
    const field = (key: keyof SettingsFields, label: string, hint: string, attrs: { step?: string; min?: string } = {}) => html`
      <label
        >${label}
        <input
          id=${`set-${key}`}
          type="number"
          step=${attrs.step ?? "any"}
          min=${attrs.min ?? "0"}
          .value=${String(f[key])}
          title=${hint}
          @change=${(e: Event) => this.setField(key, (e.target as HTMLInputElement).value)}
        />
      </label>
    `;
    return html`
      <form @submit=${(e: Event) => e.preventDefault()}>
        <label
          >Backend
          <select id="set-backend" .value=${f.backend} @change=${(e: Event) => {
            this.backendChosen = true;
            this.setField("backend", (e.target as HTMLSelectElement).value);
          }}>
            <option value="webgpu" ?selected=${f.backend === "webgpu"} ?disabled=${gpu.status === "unavailable"}>${gpuLabel}</option>
            <option value="cpu" ?selected=${f.backend === "cpu"}>CPU (TypeScript)</option>
          </select>
        </label>
        ${field("lr", "Learning rate", "step size at epoch 1")}
        ${field("lrDecay", "LR decay", "lr_e = lr / (1 + decay (e - 1)); 0 keeps it constant")}
        ${field("l2", "L2", "L2 strength lambda (the bias is not penalised)")}
        ${field("dropout", "Dropout", "share of each review's features dropped at random in each training step (0: off)", { step: "0.1" })}
        ${field("epochs", "Epochs", "most epochs", { step: "1", min: "1" })}
        ${field("batchSize", "Batch size", "reviews per gradient step", { step: "1", min: "1" })}
        ${field("validationFraction", "Validation share", "share of train/ held out to choose the epoch count (0: none)", { step: "0.05" })}
        ${field("patience", "Patience", "stop after this many epochs without a better validation accuracy (0: never)", { step: "1" })}
        <label class="check"
          ><input
            id="set-refit"
            type="checkbox"
            .checked=${f.refit}
            @change=${(e: Event) => this.setField("refit", (e.target as HTMLInputElement).checked)}
          />
          retrain on all of train/ for the chosen epochs</label
        >
        <label class="check" title="report each epoch's mean of the weights it visited (Polyak-Ruppert averaging)"
          ><input
            id="set-average"
            type="checkbox"
            .checked=${f.average}
            @change=${(e: Event) => this.setField("average", (e.target as HTMLInputElement).checked)}
          />
          average the weights over each epoch</label
        >
      </form>
      ${gpu.status === "unavailable"
        ? html`<p class="message warn" id="webgpu-reason">
            WebGPU is not available in this browser, so runs use the CPU backend: ${gpuReason(gpu.reason)}.
            ${/no WebGPU adapter/i.test(gpu.reason)
              ? html`<br /><span class="muted"
                    >The browser found no GPU it can use for WebGPU: the GPU or its driver may not support it, or WebGPU
                    may be turned off (in Chrome on Linux, see chrome://flags/#enable-unsafe-webgpu).</span
                  >`
              : nothing}
          </p>`
        : nothing}
    `;
  }

  private setField<K extends keyof SettingsFields>(key: K, value: SettingsFields[K]): void {
    this.fields = { ...this.fields, [key]: value };
    const r = settingsFromFields(this.fields, DEFAULT_BROWSER_SETTINGS);
    this.formError = r.error;
  }

  private train(settings?: BrowserTrainSettings): void {
    const s = this.app.state;
    let chosen = settings;
    if (!chosen) {
      const r = settingsFromFields(this.fields, DEFAULT_BROWSER_SETTINGS);
      if (r.error !== null) {
        this.formError = r.error;
        return;
      }
      chosen = r.settings;
    }
    if (chosen.backend === "webgpu" && s.webgpu.status === "unavailable") {
      this.formError = `WebGPU is not available here (${gpuReason(s.webgpu.reason)}); choose the CPU backend.`;
      return;
    }
    this.formError = null;
    this.notice = null;
    s.startRun(chosen);
  }

  private otherBackendButton() {
    const s = this.app.state;
    const last = s.runs.at(-1);
    if (!last) return nothing;
    const other = otherBackend(last.settings);
    const unavailable = other.backend === "webgpu" && s.webgpu.status === "unavailable";
    return html`<button
      id="train-other"
      class="secondary"
      ?disabled=${s.busy || !s.dataset.loaded || unavailable}
      @click=${() => this.train(other)}
      title=${settingsSummary(other)}
    >
      Same settings on ${backendName(other.backend)}
    </button>`;
  }

  // ---- progress and charts ------------------------------------------------------------

  private progressView(run: BrowserRun) {
    return html`<div class="row" id="progress">
      <strong>${runTitle(run)}</strong>
      <span>${run.stage}</span>
      <progress max="1" value=${run.progress}></progress>
    </div>`;
  }

  private chartRuns(): BrowserRun[] {
    return this.app.state.runs.filter((r) => r.select.length + r.refit.length > 0).slice(-MAX_CHART_RUNS);
  }

  private chartsView() {
    const runs = this.chartRuns();
    if (this.app.state.runs.length === 0) return nothing;
    const loss = historyChart(runChartLines(runs, "loss"));
    const acc = historyChart(runChartLines(runs, "accuracy"));
    return html`
      <h3>Live curves</h3>
      <p class="muted">
        Colour is the run; solid is the training loss (mean over batches, before each update), dashed validation, dotted
        test (shown, never used to choose). The retraining on all of train/ is drawn with points.
      </p>
      <div class="grid">
        <ms-line-chart id="live-loss" heading="Loss" y-label="cross-entropy (log scale)" y-log .data=${loss.data} .series=${loss.series}></ms-line-chart>
        <ms-line-chart id="live-accuracy" heading="Accuracy" y-label="accuracy" .data=${acc.data} .series=${acc.series}></ms-line-chart>
      </div>
    `;
  }

  private comparisonView() {
    const pair = comparisonPair(this.app.state.runs);
    if (!pair) {
      const last = this.app.state.runs.at(-1);
      return last && last.status !== "running"
        ? html`<p class="muted">Run the same settings on ${backendName(otherBackend(last.settings).backend)} to compare the two backends side by side.</p>`
        : nothing;
    }
    const g = summarizeTimings(pair.webgpu);
    const c = summarizeTimings(pair.cpu);
    const row = (label: string, key: keyof TimingSummary, id?: string) => html`<tr>
      <td>${label}</td>
      <td data-backend="webgpu" data-key=${id ?? key} data-seconds=${g[key]}>${formatSeconds(g[key])}</td>
      <td data-backend="cpu" data-key=${id ?? key} data-seconds=${c[key]}>${formatSeconds(c[key])}</td>
      <td>${Number.isFinite(c[key] / g[key]) && g[key] > 0 ? `${(c[key] / g[key]).toFixed(2)}×` : "—"}</td>
    </tr>`;
    const timedRuns = [pair.webgpu, pair.cpu];
    const perEpoch = {
      data: alignSeries(timedRuns.map((run) => run.timings.epochTrain.map((t, i) => ({ x: i + 1, y: t })))),
      series: timedRuns.map((run) => ({
        label: `${backendName(run.settings.backend)} (${runTitle(run)})`,
        color: PALETTE[(run.number - 1) % PALETTE.length]!,
        points: true,
      })),
    };
    return html`
      <h3>WebGPU and CPU, same settings</h3>
      <p class="muted">
        ${settingsSummary(pair.webgpu.settings)} on ${pair.webgpu.dataset.name}. WebGPU: ${pair.webgpu.deviceName ?? "?"}.
        Epochs count training and validation runs together; "training step" leaves out the per-epoch evaluation.
      </p>
      <div class="grid">
        <table id="comparison" class="card">
          <thead><tr><th></th><th>${runTitle(pair.webgpu)}</th><th>${runTitle(pair.cpu)}</th><th>CPU / WebGPU</th></tr></thead>
          <tbody>
            ${row("read archive (shared)", "read")} ${row("featurize", "featurize")} ${row("backend start", "backendInit")}
            ${row("upload", "upload")}
            ${row("mean epoch, training step", "meanEpochTrainOnly", "epoch-train")}
            ${row("mean epoch, with evaluation", "meanEpoch", "epoch")}
            ${row(`all epochs (${pair.webgpu.timings.epochTotal.length} / ${pair.cpu.timings.epochTotal.length})`, "epochs")}
            ${row("test scoring", "evaluate")} ${row("total run", "total", "total")}
            <tr>
              <td>test accuracy</td>
              <td>${formatPercent(pair.webgpu.model?.info.metrics.test?.accuracy)}</td>
              <td>${formatPercent(pair.cpu.model?.info.metrics.test?.accuracy)}</td>
              <td></td>
            </tr>
          </tbody>
        </table>
        <ms-line-chart id="epoch-times" heading="Time per epoch (training step)" x-label="epoch, in run order" y-label="seconds" .data=${perEpoch.data} .series=${perEpoch.series}></ms-line-chart>
      </div>
    `;
  }

  // ---- runs and models ---------------------------------------------------------------------

  private runsView() {
    const s = this.app.state;
    if (s.runs.length === 0) return nothing;
    return html`
      <h3>Runs in this browser</h3>
      <table class="runs" id="runs">
        <thead>
          <tr><th>run</th><th>device</th><th>settings</th><th>status</th><th>epochs</th><th>mean epoch</th><th>total</th><th>test acc.</th><th>model</th></tr>
        </thead>
        <tbody>
          ${[...s.runs].reverse().map((r) => {
            const t = summarizeTimings(r);
            return html`<tr data-run=${r.id} data-status=${r.status} data-test-accuracy=${r.model?.info.metrics.test?.accuracy ?? ""}>
              <td><span class="dot" style=${styleMap({ background: PALETTE[(r.number - 1) % PALETTE.length]! })}></span>${runTitle(r)}</td>
              <td>${r.deviceName ?? "…"}</td>
              <td>${settingsSummary(r.settings)}</td>
              <td title=${r.message ?? ""}>${r.status}${r.message ? html`<div class="muted">${r.message}</div>` : nothing}</td>
              <td>${r.select.length}${r.refit.length ? ` + ${r.refit.length}` : ""}</td>
              <td>${formatSeconds(t.meanEpoch)}</td>
              <td>
                ${r.status === "running" ? "…" : formatSeconds(t.total)}
                <div class="muted breakdown">
                  featurize ${formatSeconds(t.featurize)} · upload ${formatSeconds(t.upload)} · epochs ${formatSeconds(t.epochs)}
                </div>
              </td>
              <td>${formatPercent(r.model?.info.metrics.test?.accuracy)}</td>
              <td class="actions">${r.model ? this.modelActions(`run:${r.id}`, r.model.encoded, `${runTitle(r)}, ${settingsSummary(r.settings)}`) : "—"}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    `;
  }

  private modelActions(modelId: string, encoded: EncodedModel | (() => Promise<EncodedModel>), saveName?: string) {
    const s = this.app.state;
    return html`
      <button class="secondary" data-action="use" @click=${() => this.use(modelId)}>Use for prediction</button>
      ${saveName ? html`<button class="secondary" data-action="save" @click=${() => this.save(saveName, encoded as EncodedModel)}>Save in browser</button>` : nothing}
      <button class="secondary" data-action="download" @click=${async () => downloadFiles(modelFolderFiles(typeof encoded === "function" ? await encoded() : encoded))}>
        Download files
      </button>
      ${modelId === s.activeModelId ? html`<span class="muted">(in use)</span>` : nothing}
    `;
  }

  private use(modelId: string): void {
    this.app.state.useModel(modelId);
    this.notice = "The prediction page now uses this model.";
  }

  private async save(name: string, encoded: EncodedModel): Promise<void> {
    try {
      await this.app.state.saveModel(name, encoded);
      this.notice = `Saved "${name}" in this browser.`;
    } catch (error) {
      this.notice = `Could not save the model: ${(error as Error).message}`;
    }
  }

  private savedView() {
    const s = this.app.state;
    if (s.savedError) return html`<p class="message warn">Saved models: ${s.savedError}</p>`;
    if (s.saved.length === 0) return nothing;
    return html`
      <h3>Models saved in this browser</h3>
      <table class="runs" id="saved">
        <thead><tr><th>name</th><th>saved</th><th>size</th><th>model</th><th></th></tr></thead>
        <tbody>
          ${s.saved.map(
            (m) => html`<tr data-saved=${m.id}>
              <td>${m.name}</td>
              <td>${new Date(m.savedAt).toLocaleString()}</td>
              <td>${formatBytes(m.bytes)}</td>
              <td class="actions">${this.modelActions(`saved:${m.id}`, () => s.loadSavedEncoded(m.id))}</td>
              <td class="actions"><button class="secondary" data-action="delete" @click=${() => s.deleteSaved(m.id)}>Delete</button></td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-train-panel": TrainPanel;
  }
}
