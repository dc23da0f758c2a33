// What the prediction page draws from an explanation: the review cut into plain-text
// segments (a token with its score, or the gap between tokens), capped so that a
// megabyte of pasted text cannot make the page build a million elements; colours for
// scores; and the strongest n-grams over several explanations. All output is data:
// the page renders segment text as text (Lit escapes it), never as HTML.

import type { Contribution, Explanation, Prediction } from "../core/predict.ts";

export interface Segment {
  text: string;
  /** the token's share of the logit; null for the text between tokens */
  score: number | null;
}

export interface ExplanationView extends Prediction {
  bias: number;
  segments: Segment[];
  /** tokens in the review / tokens drawn */
  totalTokens: number;
  shownTokens: number;
  /** true when the drawing stops before the end of the review */
  truncated: boolean;
  /** the largest |score| among all tokens (the colour scale's end) */
  maxAbsScore: number;
  topPositive: Contribution[];
  topNegative: Contribution[];
}

export const MAX_SHOWN_TOKENS = 2000;
export const MAX_SHOWN_CHARS = 20000;

/**
 * Cut the normalized text into segments, stopping after `maxTokens` tokens or about
 * `maxChars` characters, whichever comes first.
 */
export function segmentText(
  normalizedText: string,
  tokens: readonly { start: number; end: number; score: number }[],
  maxTokens = MAX_SHOWN_TOKENS,
  maxChars = MAX_SHOWN_CHARS,
): { segments: Segment[]; shownTokens: number; truncated: boolean } {
  const segments: Segment[] = [];
  let at = 0;
  let chars = 0;
  let shown = 0;
  for (const t of tokens) {
    if (shown >= maxTokens || chars >= maxChars) break;
    if (t.start > at) {
      const gap = normalizedText.slice(at, Math.min(t.start, at + (maxChars - chars)));
      segments.push({ text: gap, score: null });
      chars += gap.length;
      if (chars >= maxChars) {
        at = at + gap.length;
        break;
      }
    }
    segments.push({ text: normalizedText.slice(t.start, t.end), score: t.score });
    chars += t.end - t.start;
    at = t.end;
    shown++;
  }
  if (shown === tokens.length && chars < maxChars && at < normalizedText.length) {
    const tail = normalizedText.slice(at, at + (maxChars - chars));
    segments.push({ text: tail, score: null });
    at += tail.length;
  }
  const truncated = shown < tokens.length || at < normalizedText.length;
  return { segments, shownTokens: shown, truncated };
}

/** The drawable view of an explanation (built in the worker, so only this crosses threads). */
export function explanationView(e: Explanation, maxTokens = MAX_SHOWN_TOKENS, maxChars = MAX_SHOWN_CHARS): ExplanationView {
  let maxAbs = 0;
  for (const t of e.tokens) maxAbs = Math.max(maxAbs, Math.abs(t.score));
  const { segments, shownTokens, truncated } = segmentText(e.normalizedText, e.tokens, maxTokens, maxChars);
  return {
    label: e.label,
    probabilities: e.probabilities,
    logit: e.logit,
    bias: e.bias,
    segments,
    totalTokens: e.tokens.length,
    shownTokens,
    truncated,
    maxAbsScore: maxAbs,
    topPositive: e.topPositive,
    topNegative: e.topNegative,
  };
}

/**
 * Background colour for a token: green toward positive, red toward negative, its
 * opacity the score's size relative to the largest in the review (0 stays clear).
 */
export function scoreColor(score: number, maxAbs: number): string {
  if (!(maxAbs > 0) || !Number.isFinite(score) || score === 0) return "transparent";
  const a = Math.min(1, Math.abs(score) / maxAbs) * 0.75;
  const alpha = Math.round(a * 1000) / 1000;
  return score > 0 ? `rgba(0, 158, 115, ${alpha})` : `rgba(213, 94, 0, ${alpha})`;
}

/**
 * The strongest n-grams across several explanations: each n-gram keeps its largest
 * contribution in any one review; the top `k` each way.
 */
export function strongestContributions(
  lists: readonly { topPositive: Contribution[]; topNegative: Contribution[] }[],
  k = 10,
): { positive: Contribution[]; negative: Contribution[] } {
  const best = new Map<string, number>();
  for (const l of lists) {
    for (const c of [...l.topPositive, ...l.topNegative]) {
      const prev = best.get(c.ngram);
      if (prev === undefined || Math.abs(c.contribution) > Math.abs(prev)) best.set(c.ngram, c.contribution);
    }
  }
  const all = [...best].map(([ngram, contribution]) => ({ ngram, contribution }));
  return {
    positive: all.filter((c) => c.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, k),
    negative: all.filter((c) => c.contribution < 0).sort((a, b) => a.contribution - b.contribution).slice(0, k),
  };
}
