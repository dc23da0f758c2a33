// Make Prediction: a review in, the label, both class probabilities, and the review
// shaded token by token by its share of the logit. The text is scored in a worker and
// only ever rendered as text (Lit escapes it), never as HTML.

import { LitElement, css, html, nothing } from "lit";
import { customElement, query, state } from "lit/decorators.js";
import { styleMap } from "lit/directives/style-map.js";
import type { Contribution } from "../../core/predict.ts";
import { NEGATED_PREFIX } from "../../core/text.ts";
import { EXAMPLE_REVIEWS } from "../examples.ts";
import { scoreColor, type ExplanationView } from "../explain-view.ts";
import { formatCount, formatPercent, formatSeconds } from "../format.ts";
import { capReview, cappedMessage, MAX_REVIEW_CHARS } from "../input-limits.ts";
import { PredictError } from "../predict-client.ts";
import { StateController } from "../state.ts";
import { pageStyles } from "../styles.ts";

@customElement("ms-predict-page")
export class PredictPage extends LitElement {
  static override styles = [
    pageStyles,
    css`
      textarea {
        width: 100%;
        box-sizing: border-box;
        min-height: 9rem;
        padding: 0.5rem;
        border-radius: 6px;
        border: 1px solid #bdc1c6;
        resize: vertical;
      }
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin: 0.5rem 0;
      }
      .examples button {
        font-size: 0.9rem;
      }
      .label {
        font-size: 1.5rem;
        font-weight: 700;
      }
      .label.positive {
        color: #00734f;
      }
      .label.negative {
        color: #a0410a;
      }
      .bar {
        display: flex;
        height: 1.4rem;
        border-radius: 4px;
        overflow: hidden;
        margin: 0.4rem 0;
        max-width: 36rem;
      }
      .bar .neg {
        background: #d55e00;
      }
      .bar .pos {
        background: #009e73;
      }
      .probs {
        display: flex;
        gap: 2rem;
        font-variant-numeric: tabular-nums;
      }
      .shaded {
        white-space: pre-wrap;
        word-break: break-word;
        line-height: 1.9;
        max-height: 28rem;
        overflow: auto;
      }
      .shaded .tok {
        border-radius: 3px;
        padding: 0 1px;
      }
      .legend {
        display: flex;
        gap: 1rem;
        font-size: 0.85rem;
      }
      .swatch {
        display: inline-block;
        width: 1rem;
        height: 0.8rem;
        vertical-align: middle;
        border-radius: 2px;
      }
      ol {
        margin: 0.25rem 0;
        padding-left: 1.5rem;
      }
    `,
  ];

  private readonly app = new StateController(this);
  /** characters in the text area (the text itself lives in the element, not in state) */
  @state() private textLength = 0;
  @state() private result: { view: ExplanationView; seconds: number; modelId: string; chars: number; cappedFrom: number | null } | null = null;
  /** said when a paste was cut to fit the review box */
  @state() private pasteNote: string | null = null;
  @state() private error: { kind: "empty" | "model" | "other"; message: string } | null = null;
  @state() private busy = false;
  @query("textarea") private textarea!: HTMLTextAreaElement;
  private request = 0;

  override render() {
    const state = this.app.state;
    const choices = state.modelChoices();
    const active = choices.find((c) => c.id === state.activeModelId) ?? choices[0];
    const info = active ? state.modelInfo(active.id) : null;
    return html`
      <h1>Make Prediction</h1>
      <p>Type or paste a movie review. The model gives its verdict and shows which words pushed it either way.</p>
      ${choices.length === 0
        ? state.shipped.status === "loading"
          ? html`<p class="muted">Reading the model…</p>`
          : html`<p class="message warn">No model is available yet: train one on the Training Progress page.</p>`
        : html`<div class="row">
            <label for="model">Model</label>
            <select id="model" @change=${(e: Event) => state.useModel((e.target as HTMLSelectElement).value)}>
              ${choices.map((c) => html`<option value=${c.id} ?selected=${c.id === active?.id}>${c.label}</option>`)}
            </select>
            ${info?.metrics.test ? html`<span class="muted">test accuracy ${formatPercent(info.metrics.test.accuracy)}</span>` : nothing}
          </div>`}
      <textarea
        id="review"
        aria-label="Movie review"
        placeholder="e.g. The story was predictable, but the acting was wonderful."
        @input=${(e: Event) => (this.textLength = (e.target as HTMLTextAreaElement).value.length)}
        @paste=${(e: ClipboardEvent) => this.onPaste(e)}
        @keydown=${(e: KeyboardEvent) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void this.predict();
        }}
      ></textarea>
      <div class="row">
        <button id="predict" @click=${() => this.predict()} ?disabled=${this.busy}>${this.busy ? "Scoring…" : "Predict"}</button>
        <button class="secondary" @click=${() => this.setText("")}>Clear</button>
        <span class="muted" id="length">${this.textLength > 2000 ? `${formatCount(this.textLength)} characters` : nothing}</span>
      </div>
      ${this.pasteNote ? html`<p class="message info" id="paste-note" role="status">${this.pasteNote}</p>` : nothing}
      <div class="row examples" aria-label="Example reviews">
        <span class="muted">Try an example:</span>
        ${EXAMPLE_REVIEWS.map(
          (ex, i) =>
            html`<button class="secondary" data-example=${i} @click=${() => this.tryExample(ex.text)}>${ex.title}</button>`,
        )}
      </div>
      ${this.error
        ? html`<p id="message" class="message ${this.error.kind === "empty" ? "info" : "error"}">${this.error.message}</p>`
        : nothing}
      ${this.result ? this.resultView(this.result) : nothing}
    `;
  }

  private setText(text: string): void {
    this.textLength = text.length;
    this.error = null;
    this.pasteNote = null;
    if (this.textarea) this.textarea.value = text;
  }

  /**
   * A paste that would leave more than MAX_REVIEW_CHARS in the box is cut to fit, and
   * the page says so: ten megabytes in a text area alone freeze the tab for seconds.
   */
  private onPaste(e: ClipboardEvent): void {
    const box = e.target as HTMLTextAreaElement;
    const pasted = e.clipboardData?.getData("text/plain") ?? "";
    const start = box.selectionStart;
    const end = box.selectionEnd;
    const room = Math.max(0, MAX_REVIEW_CHARS - (box.value.length - (end - start)));
    if (pasted.length <= room) {
      this.pasteNote = null;
      return;
    }
    e.preventDefault();
    const kept = capReview(pasted, room);
    box.setRangeText(kept.text, start, end, "end");
    this.textLength = box.value.length;
    this.pasteNote = cappedMessage(pasted.length, kept.text.length, "pasted");
  }

  private tryExample(text: string): void {
    this.setText(text);
    void this.predict();
  }

  private async predict(): Promise<void> {
    const state = this.app.state;
    const capped = capReview(this.textarea?.value ?? "");
    const text = capped.text;
    if (text.trim() === "") {
      this.result = null;
      this.error = { kind: "empty", message: "Nothing to score yet: type or paste a review first (or pick an example)." };
      return;
    }
    const id = ++this.request;
    this.busy = true;
    this.error = null;
    try {
      // a click before the shipped model's facts arrived waits for them
      if (state.modelChoices().length === 0) await state.shippedSettled;
      const choices = state.modelChoices();
      const modelId = (choices.find((c) => c.id === state.activeModelId) ?? choices[0])?.id;
      if (!modelId) throw new Error("no model is available: train one on the Training Progress page");
      await state.ensureModel(modelId);
      const { view, seconds } = await state.predictor.explain(modelId, text, 10);
      if (id !== this.request) return;
      this.result = { view, seconds, modelId, chars: text.length, cappedFrom: capped.capped ? capped.originalLength : null };
    } catch (error) {
      if (id !== this.request) return;
      this.result = null;
      this.error =
        error instanceof PredictError && error.kind === "empty"
          ? { kind: "empty", message: "Nothing to score yet: type or paste a review first (or pick an example)." }
          : { kind: "other", message: `Could not score the review: ${(error as Error).message}` };
    } finally {
      if (id === this.request) this.busy = false;
    }
  }

  private resultView(r: { view: ExplanationView; seconds: number; chars: number; cappedFrom: number | null }) {
    const v = r.view;
    const pos = v.probabilities.positive;
    const neg = v.probabilities.negative;
    return html`
      <section id="result" class="card" aria-live="polite">
        <div class="label ${v.label}" id="label">${v.label === "positive" ? "Positive" : "Negative"}</div>
        <div class="probs">
          <span>negative <strong id="p-negative">${formatPercent(neg)}</strong></span>
          <span>positive <strong id="p-positive">${formatPercent(pos)}</strong></span>
          <span class="muted">logit ${v.logit.toFixed(3)} (bias ${v.bias.toFixed(3)})</span>
        </div>
        <div class="bar" role="img" aria-label="negative ${formatPercent(neg)}, positive ${formatPercent(pos)}">
          <div class="neg" style=${styleMap({ width: `${neg * 100}%` })}></div>
          <div class="pos" style=${styleMap({ width: `${pos * 100}%` })}></div>
        </div>
        <p class="muted">Scored ${formatCount(v.totalTokens)} tokens in ${formatSeconds(r.seconds)}.</p>
        ${r.cappedFrom !== null ? html`<p class="message info" id="capped">${cappedMessage(r.cappedFrom, r.chars, "scored")}</p>` : nothing}
        <h3>The review as the model reads it</h3>
        <div class="legend">
          <span><span class="swatch" style="background: rgba(0, 158, 115, 0.75)"></span> toward positive</span>
          <span><span class="swatch" style="background: rgba(213, 94, 0, 0.75)"></span> toward negative</span>
          <span class="muted">(each token's share of weight × feature value; hover for the number)</span>
        </div>
        ${v.truncated
          ? html`<p class="message info" id="truncated">
              A long review: showing the first ${formatCount(v.shownTokens)} of ${formatCount(v.totalTokens)} tokens. The
              prediction and the top contributions below use all ${r.cappedFrom !== null ? "the scored text" : "of it"}.
            </p>`
          : nothing}
        ${v.totalTokens === 0 ? html`<p class="message info">No words found: the score is the bias alone.</p>` : nothing}
        <div class="shaded" id="shaded">${v.segments.map((s) =>
          s.score === null
            ? s.text
            : html`<span class="tok" title=${s.score.toFixed(4)} style=${styleMap({ background: scoreColor(s.score, v.maxAbsScore) })}>${s.text}</span>`,
        )}</div>
        <div class="grid">
          <div><h3>Pushed toward positive</h3>${this.contributions(v.topPositive, "top-positive")}</div>
          <div><h3>Pushed toward negative</h3>${this.contributions(v.topNegative, "top-negative")}</div>
        </div>
        ${[...v.topPositive, ...v.topNegative].some((c) => c.ngram.includes(NEGATED_PREFIX))
          ? html`<p class="muted" id="negation-note">
              ${NEGATED_PREFIX}word: a word that follows a negation such as "not", "n't" or "never" closely; the model
              learns it as a feature of its own, apart from the plain word.
            </p>`
          : nothing}
      </section>
    `;
  }

  private contributions(list: Contribution[], id: string) {
    if (list.length === 0) return html`<p class="muted" id=${id}>nothing</p>`;
    return html`<ol id=${id}>
      ${list.map((c) => html`<li><q>${c.ngram}</q> <span class="muted">${c.contribution > 0 ? "+" : ""}${c.contribution.toFixed(3)}</span></li>`)}
    </ol>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-predict-page": PredictPage;
  }
}
