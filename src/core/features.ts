// Text to features: hashed word n-grams as sparse count rows (CSR), then Naive Bayes
// log-count-ratio or tf-idf weighting learned from the training rows only.
//
// Why feature hashing rather than a vocabulary: 1-3-grams over 25k reviews are about
// ten million distinct strings, mostly trigrams seen once. A vocabulary would have to
// ship those strings with the model (hundreds of MB) and build a string Map at
// training time; hashing needs no strings, the model is two arrays of 2^hashBits
// floats, and Node and the browser compute the same buckets with the same integer
// maths. Collisions cost a little accuracy; hashBits trades that against model size.

import type { Csr } from "./types.ts";
import { normalizeText, scanTokens, TokenSpans } from "./text.ts";

export interface FeatureConfig {
  /** longest word n-gram (1 = unigrams only) */
  ngramMax: number;
  /** the feature space has 2^hashBits buckets */
  hashBits: number;
  /** "nb": binarized features scaled by NB log-count ratios; "tfidf": term frequency x idf */
  weighting: "nb" | "tfidf";
  /** NB smoothing (Wang & Manning's alpha) */
  nbAlpha: number;
  /** tf-idf only: use 1 + ln(tf) instead of tf */
  sublinearTf: boolean;
  /** scale each document's feature vector to unit L2 length */
  normalize: boolean;
}

export const DEFAULT_FEATURES: FeatureConfig = {
  ngramMax: 3,
  hashBits: 22,
  weighting: "nb",
  nbAlpha: 1,
  sublinearTf: false,
  normalize: true,
};

/** The original project's features: tf-idf of unigrams. */
export const ORIGINAL_FEATURES: FeatureConfig = {
  ngramMax: 1,
  hashBits: 21,
  weighting: "tfidf",
  nbAlpha: 1,
  sublinearTf: false,
  normalize: true,
};

export function validateFeatureConfig(c: FeatureConfig): void {
  if (!Number.isInteger(c.ngramMax) || c.ngramMax < 1 || c.ngramMax > 5)
    throw new RangeError(`ngramMax must be an integer from 1 to 5 (got ${c.ngramMax})`);
  if (!Number.isInteger(c.hashBits) || c.hashBits < 10 || c.hashBits > 26)
    throw new RangeError(`hashBits must be an integer from 10 to 26 (got ${c.hashBits})`);
  if (c.weighting !== "nb" && c.weighting !== "tfidf")
    throw new RangeError(`weighting must be "nb" or "tfidf" (got ${String(c.weighting)})`);
  if (!(c.nbAlpha > 0)) throw new RangeError(`nbAlpha must be > 0 (got ${c.nbAlpha})`);
}

// ---- hashing -------------------------------------------------------------------

/** FNV-1a over the UTF-16 code units of s[start, end). */
function hashSpan(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Order-sensitive combination of a running n-gram hash with the next token's hash. */
function combine(a: number, b: number): number {
  let h = (Math.imul(a, 0x9e3779b1) ^ b) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Final mix, salted by n so a unigram and a bigram with equal running hash differ. */
function finalize(h: number, n: number): number {
  h = (h + Math.imul(n, 0x27d4eb2f)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The hash bucket of an n-gram given as token strings (used by explanations and tests). */
export function ngramBucket(tokens: readonly string[], hashBits: number): number {
  let h = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = hashSpan(tokens[k]!, 0, tokens[k]!.length);
    h = k === 0 ? t : combine(h, t);
  }
  return finalize(h, tokens.length) & ((1 << hashBits) - 1);
}

// ---- hashed count rows ---------------------------------------------------------

class GrowU32 {
  a = new Uint32Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

/**
 * Hashes documents into rows of n-gram bucket counts. Reuse one instance for many
 * documents. A document's distinct buckets are found with a small open-addressing
 * table sized to the document (it stays in cache, unlike a stamp array over all 2^22
 * buckets), cleared by bumping a stamp rather than by refilling it.
 */
export class NgramHasher {
  readonly ngramMax: number;
  readonly hashBits: number;
  private readonly mask: number;
  private tableKey = new Int32Array(4096);
  private tableSlot = new Int32Array(4096);
  private tableStamp = new Int32Array(4096);
  private stamp = 0;
  private readonly spans = new TokenSpans();
  private tokenHash = new Uint32Array(1024);

  constructor(ngramMax: number, hashBits: number) {
    this.ngramMax = ngramMax;
    this.hashBits = hashBits;
    this.mask = (1 << hashBits) - 1;
  }

  private ensureTable(nGrams: number): void {
    if (this.tableKey.length >= 2 * nGrams) return;
    let cap = this.tableKey.length;
    while (cap < 2 * nGrams) cap *= 2;
    this.tableKey = new Int32Array(cap);
    this.tableSlot = new Int32Array(cap);
    this.tableStamp = new Int32Array(cap);
    this.stamp = 0;
  }

  /** Hash a batch of raw documents into a count CSR. */
  hashDocuments(texts: readonly string[], onProgress?: (done: number) => void): Csr {
    const cols = new GrowU32();
    let valArr = new Float32Array(1 << 16);
    const rowPtr = new Uint32Array(texts.length + 1);
    const mask = this.mask;
    const spans = this.spans;
    for (let d = 0; d < texts.length; d++) {
      const s = normalizeText(texts[d]!);
      const nTok = scanTokens(s, spans);
      if (this.tokenHash.length < nTok) this.tokenHash = new Uint32Array(nTok * 2);
      const th = this.tokenHash;
      for (let k = 0; k < nTok; k++) th[k] = hashSpan(s, spans.starts[k]!, spans.ends[k]!);
      this.ensureTable(nTok * this.ngramMax);
      if (++this.stamp === 0x7fffffff) {
        this.tableStamp.fill(0);
        this.stamp = 1;
      }
      const stamp = this.stamp;
      const key = this.tableKey;
      const slot = this.tableSlot;
      const used = this.tableStamp;
      const tmask = key.length - 1;
      if (valArr.length < cols.n + nTok * this.ngramMax) {
        const grown = new Float32Array(Math.max(valArr.length * 2, cols.n + nTok * this.ngramMax));
        grown.set(valArr);
        valArr = grown;
      }
      for (let n = 1; n <= this.ngramMax; n++) {
        for (let k = 0; k + n <= nTok; k++) {
          let h = th[k]!;
          for (let m = 1; m < n; m++) h = combine(h, th[k + m]!);
          const bucket = finalize(h, n) & mask;
          let t = Math.imul(bucket, 0x9e3779b1) >>> 0;
          for (;;) {
            t &= tmask;
            if (used[t] !== stamp) {
              used[t] = stamp;
              key[t] = bucket;
              slot[t] = cols.n;
              cols.push(bucket);
              valArr[cols.n - 1] = 1;
              break;
            }
            if (key[t] === bucket) {
              valArr[slot[t]!]! += 1;
              break;
            }
            t++;
          }
        }
      }
      rowPtr[d + 1] = cols.n;
      if (onProgress && (d & 1023) === 1023) onProgress(d + 1);
    }
    onProgress?.(texts.length);
    return {
      nRows: texts.length,
      nCols: 1 << this.hashBits,
      rowPtr,
      colIdx: cols.a.slice(0, cols.n),
      values: valArr.slice(0, cols.n),
    };
  }
}

/** Rows `rows` of a CSR, in that order, as a new CSR. */
export function selectRows(x: Csr, rows: ArrayLike<number>): Csr {
  let nnz = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    nnz += x.rowPtr[r + 1]! - x.rowPtr[r]!;
  }
  const rowPtr = new Uint32Array(rows.length + 1);
  const colIdx = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  let at = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const a = x.rowPtr[r]!;
    const b = x.rowPtr[r + 1]!;
    colIdx.set(x.colIdx.subarray(a, b), at);
    values.set(x.values.subarray(a, b), at);
    at += b - a;
    rowPtr[k + 1] = at;
  }
  return { nRows: rows.length, nCols: x.nCols, rowPtr, colIdx, values };
}

// ---- weighting -----------------------------------------------------------------

/** What weighting learns from the training rows: one float per bucket. */
export interface FeatureWeights {
  kind: "nb" | "tfidf";
  /** nb: log-count ratio r_j; tfidf: idf_j */
  scale: Float32Array;
}

/**
 * Learn the per-bucket scale from training count rows.
 *
 * NB log-count ratio (Wang & Manning 2012), on binarized features f_ij = 1[count > 0]:
 *   p = alpha + sum_{i: y_i = 1} f_i,   q = alpha + sum_{i: y_i = 0} f_i
 *   r = log( (p / ||p||_1) / (q / ||q||_1) )
 * tf-idf (smoothed, as scikit-learn): idf_j = ln((1 + n) / (1 + df_j)) + 1.
 */
export function fitFeatureWeights(
  counts: Csr,
  labels: ArrayLike<number>,
  config: FeatureConfig,
): FeatureWeights {
  const d = counts.nCols;
  if (config.weighting === "nb") {
    const pos = new Float64Array(d);
    const neg = new Float64Array(d);
    for (let i = 0; i < counts.nRows; i++) {
      const target = labels[i] === 1 ? pos : neg;
      for (let k = counts.rowPtr[i]!; k < counts.rowPtr[i + 1]!; k++) target[counts.colIdx[k]!]! += 1;
    }
    const a = config.nbAlpha;
    let pSum = 0;
    let qSum = 0;
    for (let j = 0; j < d; j++) {
      pSum += pos[j]! + a;
      qSum += neg[j]! + a;
    }
    const scale = new Float32Array(d);
    const offset = Math.log(qSum / pSum);
    for (let j = 0; j < d; j++) scale[j] = Math.log((pos[j]! + a) / (neg[j]! + a)) + offset;
    return { kind: "nb", scale };
  }
  const df = new Float64Array(d);
  for (let k = 0; k < counts.colIdx.length; k++) df[counts.colIdx[k]!]! += 1;
  const scale = new Float32Array(d);
  const n = counts.nRows;
  for (let j = 0; j < d; j++) scale[j] = Math.log((1 + n) / (1 + df[j]!)) + 1;
  return { kind: "tfidf", scale };
}

/**
 * Turn count rows into feature rows: nb gives r_j for each present bucket, tfidf gives
 * tf * idf_j; with normalize, each row is then divided by its L2 norm (empty rows stay
 * empty). Returns a new CSR sharing rowPtr and colIdx with the counts.
 */
export function applyFeatureWeights(counts: Csr, weights: FeatureWeights, config: FeatureConfig): Csr {
  const values = new Float32Array(counts.values.length);
  const scale = weights.scale;
  const nb = weights.kind === "nb";
  const sublinear = config.sublinearTf;
  for (let i = 0; i < counts.nRows; i++) {
    const a = counts.rowPtr[i]!;
    const b = counts.rowPtr[i + 1]!;
    let norm2 = 0;
    for (let k = a; k < b; k++) {
      const j = counts.colIdx[k]!;
      const c = counts.values[k]!;
      const tf = nb ? 1 : sublinear ? 1 + Math.log(c) : c;
      const v = tf * scale[j]!;
      values[k] = v;
      norm2 += v * v;
    }
    if (config.normalize && norm2 > 0) {
      const inv = 1 / Math.sqrt(norm2);
      for (let k = a; k < b; k++) values[k] = values[k]! * inv;
    }
  }
  return { nRows: counts.nRows, nCols: counts.nCols, rowPtr: counts.rowPtr, colIdx: counts.colIdx, values };
}
