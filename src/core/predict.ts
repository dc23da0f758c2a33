// Prediction and explanation: model -> features -> P(positive) -> per-n-gram contributions.
// A logistic regression explains itself exactly: the logit is the bias plus the sum of
// weight x feature value over the review's n-grams.

import { applyFeatureWeights, newFloat32Array, ngramBucket, NgramHasher } from "./features.ts";
import { rawHalves, type SentimentModel } from "./model-format.ts";
import { sigmoid } from "../cpu-reference/logistic.ts";
import { markNegations, NEGATED_PREFIX, normalizeText, scanTokens, TokenSpans } from "./text.ts";
import type { Csr } from "./types.ts";

export type Label = "positive" | "negative";

export interface Prediction {
  label: Label;
  probabilities: { negative: number; positive: number };
  /** the logit w . x + b */
  logit: number;
}

/** Thrown for text that cannot be scored (empty or whitespace only). */
export class EmptyTextError extends Error {
  override name = "EmptyTextError";
  constructor() {
    super("the review is empty: give some text to score");
  }
}

export interface Contribution {
  /** the n-gram, tokens joined by spaces */
  ngram: string;
  /** weight x feature value: > 0 pushes toward positive */
  contribution: number;
}

export interface Explanation extends Prediction {
  /** the review's tokens, and each token's share of the logit (sum = logit - bias) */
  tokens: { text: string; start: number; end: number; score: number }[];
  /** the normalized text the token offsets point into */
  normalizedText: string;
  /** strongest contributions, most positive first / most negative first */
  topPositive: Contribution[];
  topNegative: Contribution[];
  bias: number;
}

export function predictionFromLogit(logit: number): Prediction {
  const positive = sigmoid(logit);
  return {
    label: logit >= 0 ? "positive" : "negative",
    probabilities: { negative: 1 - positive, positive },
    logit,
  };
}

/** Below this many texts (and until a bigger batch has built it), skip the interleaved table. */
const SMALL_BATCH = 64;

export class Predictor {
  readonly model: SentimentModel;
  private readonly hasher: NgramHasher;

  constructor(model: SentimentModel) {
    this.model = model;
    this.hasher = NgramHasher.forFeatures(model.features);
  }

  /** Feature rows for raw texts (counts hashed, then weighted as in training). */
  featurize(texts: readonly string[]): Csr {
    const counts = this.hasher.hashDocuments(texts);
    return applyFeatureWeights(counts, this.model.featureWeights, this.model.features);
  }

  /** Logits for many texts (empty texts get the bias alone; callers decide what to do with them). */
  logits(texts: readonly string[]): Float64Array {
    if (this.model.featureWeights.kind === "nb") return this.logitsNb(texts);
    const x = this.featurize(texts);
    const w = this.model.weights;
    const out = new Float64Array(texts.length);
    for (let i = 0; i < x.nRows; i++) {
      let acc = this.model.bias;
      for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) acc += x.values[k]! * w[x.colIdx[k]!]!;
      out[i] = acc;
    }
    return out;
  }

  /** [r_0, w_0, r_1, w_1, ...]: a bucket's NB ratio and weight share one cache line. */
  private ratioWeight: Float32Array | null = null;

  /**
   * The interleaved table of NB ratios and weights the batch path scores with (see
   * ratioWeight), made now: in a SharedArrayBuffer when `shared`, for other threads'
   * predictors of the same model to use (useRatioWeightTable), so that they neither
   * build it again nor each keep a copy in the processor's cache.
   */
  ratioWeightTable(shared: boolean): Float32Array {
    const { d, ratioAt, weightAt } = this.modelValues();
    const rw = newFloat32Array(2 * d, shared);
    for (let j = 0; j < d; j++) {
      rw[2 * j] = ratioAt(j);
      rw[2 * j + 1] = weightAt(j);
    }
    return rw;
  }

  /** Score with a table ratioWeightTable made for this same model (on any thread). */
  useRatioWeightTable(rw: Float32Array): void {
    const { d } = this.modelValues();
    if (rw.length !== 2 * d) throw new RangeError(`a ratio-weight table of ${rw.length} entries for a model of ${d} buckets`);
    this.ratioWeight = rw;
  }

  /**
   * Bucket j's NB ratio and weight, read straight from the model file's float16 bits
   * where the model has them (the same values, no decoded arrays), else from its arrays.
   */
  private modelValues(): { d: number; ratioAt: (j: number) => number; weightAt: (j: number) => number } {
    const raw = rawHalves(this.model);
    if (raw) {
      const { scale, weights, table } = raw;
      return { d: weights.length, ratioAt: (j) => table[scale[j]!]!, weightAt: (j) => table[weights[j]!]! };
    }
    const r = this.model.featureWeights.scale;
    const w = this.model.weights;
    return { d: w.length, ratioAt: (j) => r[j]!, weightAt: (j) => w[j]! };
  }

  /**
   * The NB path of logits without building the weighted rows: the same arithmetic as
   * applyFeatureWeights followed by the dot product (each value rounded to float32 as
   * it would be stored, the same summation order), so the logits are identical; but
   * each bucket costs one random memory access instead of two.
   */
  private logitsNb(texts: readonly string[]): Float64Array {
    const { features, bias } = this.model;
    // read once, below, before this hasher is used again
    const counts = this.hasher.hashTransient(texts);
    const { rowPtr, colIdx } = counts;
    const out = new Float64Array(texts.length);
    // Building the interleaved table costs about as much as scoring a few hundred reviews;
    // a cold start on one review reads the two arrays directly (the same arithmetic), and
    // from the model file's float16 bits where it has them, so the 2^hashBits values
    // need not be decoded at all.
    if (!this.ratioWeight && texts.length < SMALL_BATCH) {
      const { ratioAt, weightAt } = this.modelValues();
      for (let i = 0; i < counts.nRows; i++) {
        const a = rowPtr[i]!;
        const b = rowPtr[i + 1]!;
        let norm2 = 0;
        if (features.normalize) for (let k = a; k < b; k++) norm2 += ratioAt(colIdx[k]!) ** 2;
        let acc = bias;
        const inv = features.normalize && norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
        for (let k = a; k < b; k++) {
          const j = colIdx[k]!;
          acc += (inv > 0 ? Math.fround(ratioAt(j) * inv) : ratioAt(j)) * weightAt(j);
        }
        out[i] = acc;
      }
      return out;
    }
    const rw = (this.ratioWeight ??= this.ratioWeightTable(false));
    for (let i = 0; i < counts.nRows; i++) {
      const a = rowPtr[i]!;
      const b = rowPtr[i + 1]!;
      let norm2 = 0;
      if (features.normalize) for (let k = a; k < b; k++) norm2 += rw[2 * colIdx[k]!]! ** 2;
      let acc = bias;
      if (features.normalize && norm2 > 0) {
        const inv = 1 / Math.sqrt(norm2);
        for (let k = a; k < b; k++) {
          const o = 2 * colIdx[k]!;
          acc += Math.fround(rw[o]! * inv) * rw[o + 1]!;
        }
      } else {
        for (let k = a; k < b; k++) {
          const o = 2 * colIdx[k]!;
          acc += rw[o]! * rw[o + 1]!;
        }
      }
      out[i] = acc;
    }
    return out;
  }

  predict(text: string): Prediction {
    if (text.trim() === "") throw new EmptyTextError();
    return predictionFromLogit(this.logits([text])[0]!);
  }

  predictMany(texts: readonly string[]): Prediction[] {
    return Array.from(this.logits(texts), predictionFromLogit);
  }

  /**
   * The prediction with its exact decomposition. Each distinct n-gram bucket j present
   * contributes c_j = w_j x_j to the logit; c_j is shared equally among the n-gram's
   * occurrences, and each occurrence's share equally among its tokens, so token scores
   * add up to logit - bias.
   */
  explain(text: string, top = 10): Explanation {
    if (text.trim() === "") throw new EmptyTextError();
    const normalizedText = normalizeText(text);
    const spans = new TokenSpans();
    const nTok = scanTokens(normalizedText, spans);
    const tokens = Array.from({ length: nTok }, (_, k) => ({
      text: normalizedText.slice(spans.starts[k]!, spans.ends[k]!),
      start: spans.starts[k]!,
      end: spans.ends[k]!,
      score: 0,
    }));
    const x = this.featurize([text]);
    const contributionOf = new Map<number, number>();
    for (let k = x.rowPtr[0]!; k < x.rowPtr[1]!; k++) {
      contributionOf.set(x.colIdx[k]!, x.values[k]! * this.model.weights[x.colIdx[k]!]!);
    }
    // every n-gram occurrence with its bucket
    const occurrences: { bucket: number; from: number; n: number }[] = [];
    const occurrencesOf = new Map<number, number>();
    // the n-grams' words as the hasher saw them: a negated word carries NEGATED_PREFIX
    const marks = new Uint8Array(nTok);
    markNegations(normalizedText, spans, this.model.features.negationScope ?? 0, marks);
    const words = tokens.map((t, k) => (marks[k] ? NEGATED_PREFIX : "") + t.text);
    for (let n = 1; n <= this.model.features.ngramMax; n++) {
      for (let k = 0; k + n <= nTok; k++) {
        const bucket = ngramBucket(words.slice(k, k + n), this.model.features.hashBits);
        occurrences.push({ bucket, from: k, n });
        occurrencesOf.set(bucket, (occurrencesOf.get(bucket) ?? 0) + 1);
      }
    }
    const best = new Map<string, number>();
    for (const o of occurrences) {
      const c = contributionOf.get(o.bucket) ?? 0;
      const share = c / occurrencesOf.get(o.bucket)! / o.n;
      for (let m = 0; m < o.n; m++) tokens[o.from + m]!.score += share;
      best.set(words.slice(o.from, o.from + o.n).join(" "), c);
    }
    const all = [...best].map(([ngram, contribution]) => ({ ngram, contribution }));
    const topPositive = all.filter((c) => c.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, top);
    const topNegative = all.filter((c) => c.contribution < 0).sort((a, b) => a.contribution - b.contribution).slice(0, top);
    const logit = this.logits([text])[0]!;
    return { ...predictionFromLogit(logit), tokens, normalizedText, topPositive, topNegative, bias: this.model.bias };
  }
}
