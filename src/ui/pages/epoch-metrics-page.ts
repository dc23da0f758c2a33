// Epoch Metrics: test accuracy, precision, recall and F1 at chosen epochs, for the
// recorded sweep (learning rates 0.1 and 0.01) and for runs made in this browser; and
// the reliability diagram of browser-trained models.

import { LitElement, css, html, nothing } from "lit";
import { customElement, state } from "lit/decorators.js";
import type { SetMetrics } from "../../core/train.ts";
import { alignSeries, PALETTE, type SeriesStyle } from "../chart-data.ts";
import { formatCount, formatPercent, formatSetting } from "../format.ts";
import { DEFAULT_EPOCHS, epochMetricRows, parseEpochList, runLabel, type MetricSource } from "../records.ts";
import { runTestHistory, runTitle, type BrowserRun } from "../runs.ts";
import { StateController } from "../state.ts";
import { pageStyles } from "../styles.ts";
import "../components/line-chart.ts";

type MetricKey = "accuracy" | "precision" | "recall" | "f1";
const METRICS: { key: MetricKey; label: string }[] = [
  { key: "accuracy", label: "accuracy" },
  { key: "precision", label: "precision" },
  { key: "recall", label: "recall" },
  { key: "f1", label: "F1" },
];

@customElement("ms-epoch-metrics-page")
export class EpochMetricsPage extends LitElement {
  static override styles = [
    pageStyles,
    css`
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.75rem;
        align-items: center;
        margin: 0.5rem 0;
      }
      input#epochs {
        width: 18rem;
      }
      tr.group td {
        border-top: 2px solid #dadce0;
      }
    `,
  ];

  private readonly app = new StateController(this);
  @state() private epochsText = DEFAULT_EPOCHS.join(", ");
  @state() private epochs = DEFAULT_EPOCHS;
  @state() private epochsError: string | null = null;
  @state() private metric: MetricKey = "accuracy";
  @state() private calibrationRunId: string | null = null;

  private sources(): MetricSource[] {
    const s = this.app.state;
    const out: MetricSource[] = [];
    if (s.sweep.status === "ready") for (const r of s.sweep.value.runs) out.push({ name: `sweep: ${runLabel(r)}`, lr: r.lr, l2: r.l2, history: r.history });
    for (const r of s.runs) {
      const history = runTestHistory(r);
      if (history.some((e) => e.test)) out.push({ name: `${runTitle(r)} (this browser)`, lr: r.settings.lr, l2: r.settings.l2, history });
    }
    return out;
  }

  override render() {
    const s = this.app.state;
    const sources = this.sources();
    const rows = epochMetricRows(sources, this.epochs);
    return html`
      <h1>Epoch Metrics</h1>
      <p>
        Test-set metrics after a given number of epochs, read from each run's per-epoch records: the sweep's runs at
        learning rates 0.1 and 0.01 (each with two L2 strengths), and the runs you make on the Training Progress page.
        A dash means the run did not reach that epoch.
      </p>
      ${s.sweep.status === "missing" ? html`<p class="message warn">${s.sweep.message}</p>` : nothing}
      <div class="row">
        <label for="epochs">Epochs</label>
        <input id="epochs" .value=${this.epochsText} @change=${(e: Event) => this.setEpochs((e.target as HTMLInputElement).value)} />
        <button class="secondary" @click=${() => this.setEpochs(DEFAULT_EPOCHS.join(", "))}>Reset</button>
        ${this.epochsError ? html`<span class="message error" id="epochs-error">${this.epochsError}</span>` : nothing}
      </div>
      ${sources.length === 0 ? html`<p class="muted">No runs with test metrics yet.</p>` : html`${this.chart(sources)} ${this.table(rows)}`}
      ${this.calibrationView()}
    `;
  }

  private setEpochs(text: string): void {
    this.epochsText = text;
    const r = parseEpochList(text);
    this.epochsError = r.error;
    if (!r.error) this.epochs = r.epochs;
  }

  private chart(sources: MetricSource[]) {
    const points = sources.map((src) =>
      this.epochs.flatMap((epoch) => {
        const rec = src.history.find((h) => h.epoch === epoch)?.test;
        return rec ? [{ x: epoch, y: rec[this.metric] }] : [];
      }),
    );
    const series: SeriesStyle[] = sources.map((src, i) => ({
      label: src.name,
      color: PALETTE[i % PALETTE.length]!,
      dash: src.lr === 0.01 ? [8, 4] : undefined,
      points: true,
    }));
    const label = METRICS.find((m) => m.key === this.metric)!.label;
    return html`
      <div class="row">
        <label for="metric">Chart</label>
        <select id="metric" @change=${(e: Event) => (this.metric = (e.target as HTMLSelectElement).value as MetricKey)}>
          ${METRICS.map((m) => html`<option value=${m.key} ?selected=${m.key === this.metric}>test ${m.label}</option>`)}
        </select>
      </div>
      <ms-line-chart id="epoch-chart" heading=${`Test ${label} at the chosen epochs`} y-label=${label} .data=${alignSeries(points)} .series=${series}></ms-line-chart>
    `;
  }

  private table(rows: ReturnType<typeof epochMetricRows>) {
    const cell = (m: SetMetrics | null, key: MetricKey) => (m ? formatPercent(m[key]) : "—");
    return html`
      <table id="epoch-table">
        <thead><tr><th>run</th><th>lr</th><th>L2</th><th>epoch</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th></tr></thead>
        <tbody>
          ${rows.map(
            (r, i) => html`<tr class=${i > 0 && rows[i - 1]!.source !== r.source ? "group" : ""}>
              <td>${r.source}</td>
              <td>${formatSetting(r.lr)}</td>
              <td>${formatSetting(r.l2)}</td>
              <td>${r.epoch}</td>
              <td>${cell(r.test, "accuracy")}</td>
              <td>${cell(r.test, "precision")}</td>
              <td>${cell(r.test, "recall")}</td>
              <td>${cell(r.test, "f1")}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }

  private calibrationView() {
    const runs = this.app.state.runs.filter((r): r is BrowserRun & { calibration: NonNullable<BrowserRun["calibration"]> } => r.calibration !== null);
    const heading = html`<h2>Calibration</h2>`;
    if (runs.length === 0)
      return html`${heading}<p class="muted">
          Train a model on the Training Progress page to see its reliability diagram here: it needs the predicted
          probability of every test review, which the recorded files do not keep.
        </p>`;
    const run = runs.find((r) => r.id === this.calibrationRunId) ?? runs.at(-1)!;
    const cal = run.calibration;
    const filled = cal.bins.filter((b) => b.count > 0);
    const data = alignSeries([
      [
        { x: 0, y: 0 },
        { x: 1, y: 1 },
      ],
      filled.map((b) => ({ x: b.meanPredicted, y: b.observedPositive })),
    ]);
    return html`
      ${heading}
      <p>
        Of the test reviews the model gives about 70% chance of being positive, are about 70% positive? Reviews are
        binned by predicted probability; each point is a bin's mean prediction against the share of its reviews that are
        positive. The expected calibration error (ECE) is the bins' average gap, weighted by their size.
      </p>
      <div class="row">
        <label for="cal-run">Model</label>
        <select id="cal-run" @change=${(e: Event) => (this.calibrationRunId = (e.target as HTMLSelectElement).value)}>
          ${runs.map((r) => html`<option value=${r.id} ?selected=${r.id === run.id}>${runTitle(r)}</option>`)}
        </select>
        <strong id="ece">ECE ${(cal.ece * 100).toFixed(2)}%</strong>
        <span class="muted">over ${formatCount(cal.n)} test reviews</span>
      </div>
      <div class="grid">
        <ms-line-chart
          id="reliability"
          heading="Reliability diagram"
          x-label="predicted P(positive)"
          y-label="observed share positive"
          .xRange=${[0, 1] as [number, number]}
          .yRange=${[0, 1] as [number, number]}
          .data=${data}
          .series=${[
            { label: "perfect calibration", color: "#9aa0a6", dash: [4, 4] },
            { label: runTitle(run), color: PALETTE[(run.number - 1) % PALETTE.length]!, points: true },
          ]}
        ></ms-line-chart>
        <table>
          <thead><tr><th>predicted</th><th>reviews</th><th>mean predicted</th><th>observed positive</th></tr></thead>
          <tbody>
            ${cal.bins.map(
              (b) => html`<tr>
                <td>${b.lo.toFixed(1)}–${b.hi.toFixed(1)}</td>
                <td>${formatCount(b.count)}</td>
                <td>${b.count ? formatPercent(b.meanPredicted, 1) : "—"}</td>
                <td>${b.count ? formatPercent(b.observedPositive, 1) : "—"}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-epoch-metrics-page": EpochMetricsPage;
  }
}
