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

/** The tokens of a raw review as strings (the slow path, for explanations and tests). */
export function tokenize(raw: string): string[] {
  const s = normalizeText(raw);
  const spans = new TokenSpans();
  const n = scanTokens(s, spans);
  const out: string[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = s.slice(spans.starts[k]!, spans.ends[k]!);
  return out;
}
