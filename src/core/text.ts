// Text normalization and tokenization: one scanner that both the hashed feature path
// and the explanation path use, so the tokens they see are the same by construction.

const TAG = /<[^>]*>/g;
const ENTITY = /&(amp|lt|gt|quot|#39|apos|nbsp);/g;
const ENTITY_TEXT: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  "#39": "'",
  apos: "'",
  nbsp: " ",
};
const NON_ASCII = /[^\x00-\x7f]/;
const CURLY_APOSTROPHE = /[\u2018\u2019\u02bc]/g;

/**
 * Normalize a raw review: HTML tags (the dataset writes line breaks as `<br />`) become
 * spaces, common entities are decoded, text is lowercased, and non-ASCII text is put in
 * Unicode NFC form with typographic apostrophes folded to "'".
 */
export function normalizeText(raw: string): string {
  let s = raw.replace(TAG, " ");
  if (s.indexOf("&") >= 0) s = s.replace(ENTITY, (_m, e: string) => ENTITY_TEXT[e] ?? " ");
  s = s.toLowerCase();
  if (NON_ASCII.test(s)) s = s.normalize("NFC").replace(CURLY_APOSTROPHE, "'");
  return s;
}

const WORD_CHAR_RE = /[\p{L}\p{N}\p{M}]/u;
// Character classes for the first 128 code units: 1 = word, 2 = punctuation token.
const ASCII_CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) ASCII_CLASS[c] = 1;
for (let c = 97; c <= 122; c++) ASCII_CLASS[c] = 1;
for (let c = 65; c <= 90; c++) ASCII_CLASS[c] = 1;
for (const p of `!?.,"();:`) ASCII_CLASS[p.charCodeAt(0)] = 2;
const APOSTROPHE = 39;

function isWordCode(s: string, i: number, c: number): boolean {
  if (c < 128) return ASCII_CLASS[c] === 1;
  // Surrogate pairs (emoji, rare scripts): test the whole code point.
  const cp = s.codePointAt(i) ?? c;
  return WORD_CHAR_RE.test(String.fromCodePoint(cp));
}

/** 2 for a well-formed surrogate pair at i, else 1 (a lone surrogate is one unit). */
function codeUnitsAt(s: string, i: number, c: number): number {
  if (c < 0xd800 || c > 0xdbff) return 1;
  const next = s.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
}

/** Growable token boundary buffers, reused between documents. */
export class TokenSpans {
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  length = 0;
  push(start: number, end: number): void {
    if (this.length === this.starts.length) {
      const n = this.starts.length * 2;
      const s = new Int32Array(n);
      s.set(this.starts);
      const e = new Int32Array(n);
      e.set(this.ends);
      this.starts = s;
      this.ends = e;
    }
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.length++;
  }
}

/**
 * Find token boundaries in normalized text. Tokens are runs of letters, digits and
 * marks (an apostrophe between word characters stays inside the word); each of
 * ! ? . , " ( ) ; : is a token of its own; everything else separates tokens. A word
 * ending in "n't" is split so the negation is its own token ("didn't" -> "did", "n't"),
 * which lets "n't like" generalize across verbs. Negations are never dropped.
 */
export function scanTokens(s: string, spans: TokenSpans): number {
  spans.length = 0;
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      const cls = ASCII_CLASS[c];
      if (cls === 0) {
        i++;
        continue;
      }
      if (cls === 2) {
        spans.push(i, i + 1);
        i++;
        continue;
      }
    } else if (!isWordCode(s, i, c)) {
      i += codeUnitsAt(s, i, c);
      continue;
    }
    const start = i;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d < 128) {
        if (ASCII_CLASS[d] === 1) {
          i++;
          continue;
        }
        // keep an apostrophe that sits between two word characters
        if (d === APOSTROPHE && i + 1 < n && i > start) {
          const e = s.charCodeAt(i + 1);
          if (e < 128 ? ASCII_CLASS[e] === 1 : isWordCode(s, i + 1, e)) {
            i++;
            continue;
          }
        }
        break;
      }
      if (!isWordCode(s, i, d)) break;
      i += codeUnitsAt(s, i, d);
    }
    const end = i;
    // split a trailing "n't" off its verb
    if (
      end - start > 3 &&
      s.charCodeAt(end - 1) === 116 /* t */ &&
      s.charCodeAt(end - 2) === APOSTROPHE &&
      s.charCodeAt(end - 3) === 110 /* n */
    ) {
      spans.push(start, end - 3);
      spans.push(end - 3, end);
    } else {
      spans.push(start, end);
    }
  }
  return spans.length;
}

// ---- negation scope ----------------------------------------------------------------

/**
 * Words that open a negation scope ("n't" is the token scanTokens splits off "didn't").
 * Marking the words that follow a negation, so that "bad" after "not" is a feature of
 * its own, is the negation tagging of Das & Chen (2001) and Pang, Lee & Vaithyanathan
 * (2002); here the scope is a fixed number of words (see markNegations).
 */
const NEGATION_CUES = new Set(["not", "no", "never", "n't", "nothing", "nobody", "none", "nor", "cannot"]);

/** The cues by length, so a token is compared in place (no substring per token). */
const CUES_BY_LENGTH: string[][] = [];
for (const cue of NEGATION_CUES) (CUES_BY_LENGTH[cue.length] ??= []).push(cue);

function isNegationCue(s: string, start: number, len: number): boolean {
  const cues = CUES_BY_LENGTH[len];
  if (!cues) return false;
  for (let k = 0; k < cues.length; k++) if (s.startsWith(cues[k]!, start)) return true;
  return false;
}

/** The prefix a word in a negation scope gets ("bad" -> "NOT_bad"); never produced by normalizeText. */
export const NEGATED_PREFIX = "NOT_";

/**
 * marks[k] = 1 for each token in a negation scope: the `scope` words that follow a
 * negation cue (punctuation tokens are neither counted nor marked, and do not end the
 * scope). A cue inside a scope is marked like any word and opens no scope of its own.
 * scope 0 marks nothing. `marks` must hold at least spans.length entries.
 */
export function markNegations(s: string, spans: TokenSpans, scope: number, marks: Uint8Array): void {
  const n = spans.length;
  const starts = spans.starts;
  const ends = spans.ends;
  let state = 0;
  for (let k = 0; k < n; k++) {
    state = negationStep(s, starts[k]!, ends[k]!, state, scope);
    marks[k] = state & 1;
  }
}

/**
 * The rule of markNegations for one token s[start, end), as a step: `state` is the last
 * step's result (0 before the first token), and the result's low bit is the token's
 * mark, the rest the words of scope left. Exported so the hasher can mark as it hashes.
 */
export function negationStep(s: string, start: number, end: number, state: number, scope: number): number {
  if (scope === 0) return 0;
  let left = state >>> 1;
  const len = end - start;
  const c = s.charCodeAt(start);
  // a one-unit token that is not a word character is punctuation: skipped, scope kept
  if (len === 1 && c < 128 && ASCII_CLASS[c] === 2) return left << 1;
  if (left > 0) return ((left - 1) << 1) | 1;
  if ((c === 110 /* n */ || c === 99) /* c */ && len <= 7 && isNegationCue(s, start, len)) left = scope;
  return left << 1;
}

/** The tokens of a raw review as strings (the slow path, for explanations and tests). */
export function tokenize(raw: string, negationScope = 0): string[] {
  const s = normalizeText(raw);
  const spans = new TokenSpans();
  const n = scanTokens(s, spans);
  const marks = new Uint8Array(n);
  markNegations(s, spans, negationScope, marks);
  const out: string[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = (marks[k] ? NEGATED_PREFIX : "") + s.slice(spans.starts[k]!, spans.ends[k]!);
  return out;
}
