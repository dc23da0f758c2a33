// Home: what the project is, how the model works, and the shipped model's test
// metrics and confusion matrix, all read from its model.json.

import { LitElement, html, nothing } from "lit";
import { customElement, state } from "lit/decorators.js";
import { repository } from "../../../package.json";
import type { Contribution } from "../../core/predict.ts";
import { EXAMPLE_REVIEWS } from "../examples.ts";
import { formatCount, formatNumber, formatPercent, formatSeconds, formatSetting } from "../format.ts";
import type { ModelInfo } from "../records.ts";
import { repositoryWebUrl } from "../repository.ts";
import { StateController } from "../state.ts";
import { pageStyles } from "../styles.ts";

const SOURCE_URL = repositoryWebUrl(repository);

@customElement("ms-home-page")
export class HomePage extends LitElement {
  static override styles = pageStyles;
  private readonly app = new StateController(this);
  @state() private strongest: { positive: Contribution[]; negative: Contribution[] } | null = null;
  @state() private strongestError: string | null = null;
  private strongestRequested = false;

  override render() {
    const shipped = this.app.state.shipped;
    return html`
      <h1>MovieSentiments</h1>
      <p>
        Is a movie review positive or negative? MovieSentiments answers with a logistic regression written by hand in
        TypeScript, trained on the 50,000 reviews of the IMDB Large Movie Review Dataset. It trains on the GPU with
        WebGPU compute shaders, checked step by step against a plain CPU implementation, and everything, training
        included, also runs right here in your browser.
      </p>
      ${shipped.status === "ready"
        ? this.model(shipped.value)
        : shipped.status === "loading"
          ? html`<p class="muted">Reading the shipped model…</p>`
          : html`<p class="message warn">${shipped.message}. You can still train a model on the Training Progress page.</p>`}
      <h2>Source</h2>
      <p>
        ${SOURCE_URL
          ? html`The code, the training records and the command-line tool are at
              <a id="source-link" href=${SOURCE_URL} rel="noopener">${SOURCE_URL}</a>.`
          : html`package.json names no repository.`}
      </p>
    `;
  }

  private model(info: ModelInfo) {
    const f = info.features;
    const t = info.training;
    const test = info.metrics.test;
    const buckets = 2 ** f.hashBits;
    return html`
      <h2>How the model works</h2>
      <p>
        A review is lowercased and cut into words and punctuation.${f.negationScope
          ? ` The ${f.negationScope === 1 ? "word" : `${f.negationScope} words`} after a negation such as "not", "n't" or
            "never" ${f.negationScope === 1 ? "is" : "are"} marked as negated, so "not bad" gives the words "not" and "NOT_bad",
            and "bad" on its own keeps its meaning.`
          : ""}
        Every run of 1 to ${f.ngramMax} consecutive tokens
        (an n-gram) is hashed into one of ${formatCount(buckets)} buckets, so no vocabulary needs to be stored.
        ${f.weighting === "nb"
          ? html`Each bucket present in a review is scaled by its naive Bayes log-count ratio, learned from the training
              reviews: how much more often it appears in positive than in negative reviews.`
          : html`Each bucket's count is weighted by tf-idf learned from the training reviews.`}
        ${f.normalize ? "The review's vector is then scaled to unit length. " : ""}The model adds up one learned weight
        per bucket times the feature value, plus a bias, and squashes the sum through the logistic function into the
        probability that the review is positive. Because the score is a plain sum, the model can show exactly which
        words pushed it either way: try it on the Make Prediction page.
      </p>
      <p>
        Training minimises the cross-entropy with L2 regularisation by mini-batch gradient descent: learning rate
        ${formatSetting(t.config.lr)}${t.config.lrDecay > 0 ? ` decaying as lr / (1 + ${formatSetting(t.config.lrDecay)} × (epoch − 1))` : ""},
        L2 ${formatSetting(t.config.l2)}, batch size ${t.config.batchSize}${t.config.dropout
          ? `, dropping ${formatPercent(t.config.dropout, 0)} of each review's features at random in each step (dropout)`
          : ""}${t.config.average
          ? ", keeping each epoch's average of the weights it visited"
          : ""}. ${t.validationFraction > 0
          ? html`The number of epochs (${t.bestEpoch}) was chosen on a validation split of the training reviews${t.refit
              ? html`, then the model was retrained on all ${formatCount(t.nTrain)} training reviews`
              : nothing}.`
          : html`It trained a fixed ${t.bestEpoch} epochs on all ${formatCount(t.nTrain)} training reviews, with no
              validation split (the shipped recipe's count was chosen by cross-validation on the training reviews; see
              the README).`}
        ${(t.seeds ?? 1) > 1
          ? html`The model is the average of ${t.seeds} such runs that differ only in their random seed (the order of
              the reviews and the dropout), which smooths out the noise each run's last steps leave in its weights.`
          : nothing}
        The run took ${formatSeconds(t.seconds)} on ${t.backend.deviceName || t.backend.kind}.
      </p>
      <h2>Test metrics of the shipped model</h2>
      ${test
        ? html`
            <p class="muted">On the ${formatCount(test.n)} reviews of the official test split, never used to train or choose anything.</p>
            <div class="grid">
              <table id="test-metrics" class="card">
                <thead><tr><th>metric</th><th>value</th></tr></thead>
                <tbody>
                  <tr><td>accuracy</td><td data-metric="accuracy">${formatPercent(test.accuracy)}</td></tr>
                  <tr><td>precision</td><td data-metric="precision">${formatPercent(test.precision)}</td></tr>
                  <tr><td>recall</td><td data-metric="recall">${formatPercent(test.recall)}</td></tr>
                  <tr><td>F1</td><td data-metric="f1">${formatPercent(test.f1)}</td></tr>
                  <tr><td>ROC AUC</td><td data-metric="roc_auc">${formatNumber(test.roc_auc)}</td></tr>
                  <tr><td>log loss</td><td data-metric="log_loss">${formatNumber(test.log_loss)}</td></tr>
                </tbody>
              </table>
              <div class="card">
                <table id="confusion">
                  <caption>Confusion matrix (threshold 0.5)</caption>
                  <thead><tr><th></th><th>predicted negative</th><th>predicted positive</th></tr></thead>
                  <tbody>
                    <tr><th>actually negative</th><td>${formatCount(test.confusion.tn)}</td><td>${formatCount(test.confusion.fp)}</td></tr>
                    <tr><th>actually positive</th><td>${formatCount(test.confusion.fn)}</td><td>${formatCount(test.confusion.tp)}</td></tr>
                  </tbody>
                </table>
              </div>
            </div>
          `
        : html`<p class="message warn">model.json records no test metrics.</p>`}
      <h2>Strongest n-grams in the example reviews</h2>
      <p class="muted">
        The model stores hashed buckets, not words, so it cannot list its vocabulary. These are the n-grams that pushed
        hardest in the example reviews of the Make Prediction page (weight × feature value, in logit units).
      </p>
      ${this.strongestView()}
    `;
  }

  private strongestView() {
    if (this.strongestError) return html`<p class="message error">${this.strongestError}</p>`;
    if (!this.strongest) return html`<p class="muted">Explaining the examples…</p>`;
    const list = (items: Contribution[], sign: string) =>
      html`<ol>${items.map((c) => html`<li><q>${c.ngram}</q> <span class="muted">${sign}${Math.abs(c.contribution).toFixed(3)}</span></li>`)}</ol>`;
    return html`<div class="grid" id="strongest">
      <div class="card"><h3>Toward positive</h3>${list(this.strongest.positive, "+")}</div>
      <div class="card"><h3>Toward negative</h3>${list(this.strongest.negative, "−")}</div>
    </div>`;
  }

  protected override updated(): void {
    if (this.strongestRequested || this.app.state.shipped.status !== "ready") return;
    this.strongestRequested = true;
    const state = this.app.state;
    state
      .ensureModel("shipped")
      .then(() => state.predictor.strongest("shipped", EXAMPLE_REVIEWS.map((e) => e.text), 8))
      .then((s) => (this.strongest = s))
      .catch((error: Error) => (this.strongestError = `could not explain the examples: ${error.message}`));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-home-page": HomePage;
  }
}
