// Training Progress: the recorded curves (the shipped model's own runs and the
// learning-rate / L2 sweep), why the final settings were chosen, the maths of one
// training step, and training in the browser.

import { LitElement, css, html, nothing } from "lit";
import { customElement } from "lit/decorators.js";
import type { EpochRecord } from "../../core/train.ts";
import { historyChart, PALETTE, SPLIT_DASH, type HistoryMetric, type SeriesStyle } from "../chart-data.ts";
import { formatPercent, formatSetting } from "../format.ts";
import { explainChoice, rankSweepRuns, runLabel, type ModelInfo, type SweepRecords, type SweepRun } from "../records.ts";
import { StateController } from "../state.ts";
import { pageStyles } from "../styles.ts";
import "../components/line-chart.ts";
import "../components/train-panel.ts";

type Line = { history: readonly EpochRecord[]; metric: HistoryMetric; style: SeriesStyle };

function splitLines(history: readonly EpochRecord[], color: string, prefix: string, kind: "loss" | "accuracy"): Line[] {
  // no run, no lines (a model trained without a validation split has no selection run)
  if (history.length === 0) return [];
  const lines: Line[] =
    kind === "loss"
      ? [
          { history, metric: "trainLoss", style: { label: `${prefix}train`, color, dash: SPLIT_DASH.train } },
          { history, metric: "validationLoss", style: { label: `${prefix}validation`, color, dash: SPLIT_DASH.validation } },
          { history, metric: "testLoss", style: { label: `${prefix}test`, color, dash: SPLIT_DASH.test } },
        ]
      : [
          { history, metric: "validationAccuracy", style: { label: `${prefix}validation`, color, dash: SPLIT_DASH.validation } },
          { history, metric: "testAccuracy", style: { label: `${prefix}test`, color, dash: SPLIT_DASH.test } },
        ];
  // leave out splits the history never recorded
  return lines.filter((l) => l.metric === "trainLoss" || history.some((r) => (l.metric.startsWith("validation") ? r.validation : r.test)));
}

@customElement("ms-training-page")
export class TrainingPage extends LitElement {
  static override styles = [
    pageStyles,
    css`
      .cell h3 {
        margin-top: 0;
      }
      .axis-label {
        font-weight: 600;
      }
    `,
  ];
  private readonly app = new StateController(this);

  override render() {
    const s = this.app.state;
    const model = s.shipped.status === "ready" ? s.shipped.value : null;
    const sweep = s.sweep.status === "ready" ? s.sweep.value : null;
    return html`
      <h1>Training Progress</h1>
      <p>
        Every curve below is read from the recorded runs: the shipped model's model.json and the sweep in
        records/sweep.json. Train loss is the mean over batches of each batch's loss before its update; validation
        reviews are held out of train/ to choose settings; test reviews are shown for display and never used to choose.
      </p>
      <p>
        <button class="secondary" id="jump-train" @click=${() => this.renderRoot.querySelector("#train-in-browser")?.scrollIntoView({ behavior: "smooth" })}>
          Train in your browser ↓
        </button>
      </p>
      ${this.shippedView(model)} ${this.sweepView(sweep)}
      <h2>Why these settings</h2>
      ${sweep || model
        ? html`<ul id="why">${explainChoice(sweep, model).map((line) => html`<li>${line}</li>`)}</ul>`
        : html`<p class="muted">No records to draw on yet.</p>`}
      ${this.mathView()}
      <h2 id="train-in-browser">Train in your browser</h2>
      <p>
        Reading the archive, featurizing and training all run in a Web Worker, so this page stays responsive. Pick the
        settings and the backend; WebGPU runs the same kernels as the command-line tool, the CPU backend is the plain
        TypeScript reference. Run the same settings on the other backend to compare their speed.
      </p>
      <ms-train-panel></ms-train-panel>
    `;
  }

  private shippedView(model: ModelInfo | null) {
    const s = this.app.state;
    if (!model) return s.shipped.status === "missing" ? html`<p class="message warn">${s.shipped.message}</p>` : nothing;
    const sel = model.history.selection;
    const fin = model.history.final;
    const lines = (kind: "loss" | "accuracy") => [
      ...splitLines(sel, PALETTE[0]!, "validation run: ", kind),
      ...splitLines(fin, PALETTE[1]!, "final (all of train/): ", kind),
    ];
    const loss = historyChart(lines("loss"));
    const acc = historyChart(lines("accuracy"));
    return html`
      <h2>The shipped model</h2>
      <p class="muted">
        ${sel.length > 0
          ? html`Blue: the run on ${formatPercent(1 - model.training.validationFraction, 0)} of train/ that chose the
              number of epochs on the validation split; orange: the final model retrained on all of train/.`
          : html`Orange: the final model, trained on all of train/ for a fixed number of epochs, with no validation
              split (the shipped recipe's count was chosen by cross-validation; see the README).`}
        ${(model.training.seeds ?? 1) > 1
          ? html`It averages ${model.training.seeds} runs with different seeds: the training loss is their mean, the
              test scores are those of their averaged weights after each epoch.`
          : nothing}
        Solid train, dashed validation, dotted test.
      </p>
      <div class="grid">
        <ms-line-chart id="shipped-loss" heading="Loss" y-label="cross-entropy (log scale)" y-log .data=${loss.data} .series=${loss.series}></ms-line-chart>
        <ms-line-chart id="shipped-accuracy" heading="Accuracy" y-label="accuracy" .data=${acc.data} .series=${acc.series}></ms-line-chart>
      </div>
    `;
  }

  private sweepView(sweep: SweepRecords | null) {
    const s = this.app.state;
    if (!sweep) return html`<h2>Learning rate and L2 sweep</h2><p class="message warn">${s.sweep.status === "missing" ? s.sweep.message : "Reading the sweep records…"}</p>`;
    const lrs = [...new Set(sweep.runs.map((r) => r.lr))].sort((a, b) => b - a);
    const l2s = [...new Set(sweep.runs.map((r) => r.l2))].sort((a, b) => b - a);
    const find = (lr: number, l2: number) => sweep.runs.find((r) => r.lr === lr && r.l2 === l2);
    const ranked = rankSweepRuns(sweep);
    const overlay = historyChart(
      sweep.runs.map((run, i) => ({
        history: run.history,
        metric: "validationAccuracy" as const,
        style: { label: runLabel(run), color: PALETTE[i % PALETTE.length]! },
      })),
    );
    return html`
      <h2>Learning rate and L2 sweep</h2>
      <p class="muted">
        ${sweep.runs.length} runs of ${sweep.runs[0]?.epochs ?? "?"} epochs, batch size ${sweep.runs[0]?.batchSize ?? "?"}, constant
        learning rate, on ${formatPercent(1 - sweep.validationFraction, 0)} of train/ with the rest for validation
        (<code>${sweep.command}</code>). Rows: learning rate; columns: L2.
      </p>
      <div id="sweep">
        ${lrs.map(
          (lr) => html`<div class="grid">
            ${l2s.map((l2) => {
              const run = find(lr, l2);
              return run ? this.sweepCell(run) : html`<div class="card muted">no run for lr ${formatSetting(lr)}, L2 ${formatSetting(l2)}</div>`;
            })}
          </div>`,
        )}
      </div>
      <h3>All runs: validation accuracy</h3>
      <ms-line-chart id="sweep-overlay" y-label="validation accuracy" .data=${overlay.data} .series=${overlay.series}></ms-line-chart>
      <table id="sweep-best">
        <thead><tr><th>run</th><th>best epoch</th><th>validation accuracy</th><th>validation loss</th><th>test accuracy then</th></tr></thead>
        <tbody>
          ${ranked.map(
            (r) => html`<tr>
              <td>${runLabel(r.run)}</td>
              <td>${r.best.epoch}</td>
              <td>${formatPercent(r.best.validation.accuracy)}</td>
              <td>${r.best.validation.loss.toFixed(4)}</td>
              <td>${formatPercent(r.best.test?.accuracy)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }

  private sweepCell(run: SweepRun) {
    const color = PALETTE[0]!;
    const loss = historyChart(splitLines(run.history, color, "", "loss"));
    const acc = historyChart(splitLines(run.history, color, "", "accuracy"));
    return html`<div class="card cell" data-lr=${run.lr} data-l2=${run.l2}>
      <h3>${runLabel(run)}</h3>
      <ms-line-chart heading="Loss" y-label="cross-entropy (log scale)" y-log .height=${180} .data=${loss.data} .series=${loss.series}></ms-line-chart>
      <ms-line-chart heading="Accuracy" y-label="accuracy" .height=${180} .data=${acc.data} .series=${acc.series}></ms-line-chart>
    </div>`;
  }

  private mathView() {
    return html`
      <h2>The maths of one training step</h2>
      <p>
        For a batch B of n reviews with feature vectors x<sub>i</sub> (sparse: only the review's n-grams are non-zero)
        and labels y<sub>i</sub> ∈ {0, 1}, weights w and bias b:
      </p>
      <span class="math">z_i = w · x_i + b          p_i = σ(z_i) = 1 / (1 + e^(−z_i))</span>
      <p>The loss is the mean binary cross-entropy plus an L2 penalty on the weights (the bias is not penalised):</p>
      <span class="math">J(w, b) = (1/n) Σ_i [ −y_i log p_i − (1 − y_i) log(1 − p_i) ] + (λ/2) ‖w‖²</span>
      <p>Its gradient needs only the residuals r<sub>i</sub> = p<sub>i</sub> − y<sub>i</sub>:</p>
      <span class="math">∂J/∂w = (1/n) X_Bᵀ r + λ w          ∂J/∂b = (1/n) Σ_i r_i</span>
      <p>and gradient descent with learning rate η<sub>e</sub> at epoch e updates</p>
      <span class="math">w ← (1 − η_e λ) w − (η_e / n) X_Bᵀ r          b ← b − (η_e / n) Σ_i r_i          η_e = η / (1 + decay · (e − 1))</span>
      <p>
        With averaging on, the weights an epoch reports (and the model keeps) are the mean of the weights after each of
        its steps, w̄ = (1/T) Σ_t w_t: plain SGD with a constant learning rate keeps bouncing around the optimum, and
        the average settles closer to it (Polyak–Ruppert averaging).
      </p>
      <p>
        With dropout p, each step trains on a randomly thinned copy of its reviews: every feature value is kept with
        probability 1 − p and scaled up to keep its expected value, or set to zero,
      </p>
      <span class="math">x̃_ij = m_ij x_ij / (1 − p)          m_ij ~ Bernoulli(1 − p)</span>
      <p>
        and the step above runs on x̃ in place of x; evaluation and prediction use every feature. No single n-gram can
        carry a review, so the weights spread over the many n-grams that say the same thing (Wager, Wang &amp; Liang, 2013:
        dropout acts as an adaptive L2 penalty). The mask is a hash of (epoch, review, column), so the GPU draws the same
        mask as the CPU in both its row and its column kernels.
      </p>
      <p class="muted">
        Both backends keep w = s·v, so the shrink (1 − ηλ) is one multiply of s, and a step touches only the columns of
        the batch's n-grams: a few thousand of the millions of weights.
      </p>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-training-page": TrainingPage;
  }
}
