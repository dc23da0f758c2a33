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
import { NEGATED_PREFIX, negationStep, normalizeText, scanTokens, TokenSpans } from "./text.ts";

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
  /**
   * mark this many words after a negation ("not", "n't", "never", ...) as negated, so
   * "not bad" gives "not NOT_bad" (see markNegations in text.ts); 0 or absent: off
   */
  negationScope?: number;
}

export const DEFAULT_FEATURES: FeatureConfig = {
  ngramMax: 3,
  hashBits: 22,
  weighting: "nb",
  nbAlpha: 1,
  sublinearTf: false,
  normalize: true,
  negationScope: 3,
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
  if (c.negationScope !== undefined && !(Number.isInteger(c.negationScope) && c.negationScope >= 0 && c.negationScope <= 10))
    throw new RangeError(`negationScope must be an integer from 0 to 10 (got ${c.negationScope})`);
}

// ---- hashing -------------------------------------------------------------------

const FNV_BASIS = 0x811c9dc5;

/** FNV-1a over the UTF-16 code units of s[start, end), from state h (the FNV basis by default). */
function hashSpan(s: string, start: number, end: number, h = FNV_BASIS): number {
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a state after NEGATED_PREFIX: a negated token hashes as its prefixed string. */
const NEGATED_BASIS = hashSpan(NEGATED_PREFIX, 0, NEGATED_PREFIX.length);

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

/**
 * Hashes documents into rows of n-gram bucket counts. Reuse one instance for many
 * documents. A document's distinct buckets are found with a small open-addressing
 * table sized to the document (it stays in cache, unlike a stamp array over all 2^22
 * buckets), cleared by bumping a stamp rather than by refilling it. Each table entry
 * keeps its stamp, bucket and output position side by side (one cache line per probe),
 * and an n-gram's running hash extends the (n-1)-gram's at the same position, so each
 * n-gram costs one combine step.
 */
export class NgramHasher {
  /** The hasher a feature configuration describes (an absent negation scope is 0). */
  static forFeatures(f: FeatureConfig): NgramHasher {
    return new NgramHasher(f.ngramMax, f.hashBits, f.negationScope ?? 0);
  }

  readonly ngramMax: number;
  readonly hashBits: number;
  private readonly mask: number;
  /** entry e: table[4e] = stamp, table[4e+1] = bucket, table[4e+2] = position in the output */
  private table = new Int32Array(4 * 4096);
  private stamp = 0;
  private readonly spans = new TokenSpans();
  /** each token's hash, and the running hash of the n-gram starting at each token */
  private tokenHash = new Uint32Array(1024);
  private running = new Uint32Array(1024);
  // the output, grown as needed and kept between calls
  private cols: Uint32Array = new Uint32Array(1 << 16);
  private vals: Float32Array = new Float32Array(1 << 16);

  readonly negationScope: number;

  constructor(ngramMax: number, hashBits: number, negationScope = 0) {
    this.ngramMax = ngramMax;
    this.hashBits = hashBits;
    this.negationScope = negationScope;
    this.mask = (1 << hashBits) - 1;
  }

  private ensureTable(nGrams: number): void {
    let cap = this.table.length >>> 2;
    if (cap >= 2 * nGrams) return;
    while (cap < 2 * nGrams) cap *= 2;
    this.table = new Int32Array(4 * cap);
    this.stamp = 0;
  }

  private ensureOutput(n: number, used: number): void {
    if (this.cols.length >= n) return;
    const cap = Math.max(this.cols.length * 2, n);
    // (a page that is not cross-origin isolated has no SharedArrayBuffer at all)
    const shared = typeof SharedArrayBuffer !== "undefined" && this.cols.buffer instanceof SharedArrayBuffer;
    const c = newUint32Array(cap, shared);
    c.set(this.cols.subarray(0, used));
    const v = newFloat32Array(cap, shared);
    v.set(this.vals.subarray(0, used));
    this.cols = c;
    this.vals = v;
  }

  /** Hash a batch of raw documents into a count CSR. */
  hashDocuments(texts: readonly string[], onProgress?: (done: number) => void): Csr {
    const rowPtr = this.hashRows(texts, onProgress);
    const nnz = rowPtr[texts.length]!;
    return { nRows: texts.length, nCols: 1 << this.hashBits, rowPtr, colIdx: this.cols.slice(0, nnz), values: this.vals.slice(0, nnz) };
  }

  /**
   * hashDocuments' rows for a caller that is done with them before it hashes again: its
   * colIdx and values are views of this hasher's own buffers, which the next call on it
   * overwrites (no copy per batch; batch prediction reads each batch's rows once).
   */
  hashTransient(texts: readonly string[]): Csr {
    const rowPtr = this.hashRows(texts);
    const nnz = rowPtr[texts.length]!;
    return { nRows: texts.length, nCols: 1 << this.hashBits, rowPtr, colIdx: this.cols.subarray(0, nnz), values: this.vals.subarray(0, nnz) };
  }

  /**
   * hashDocuments for one large set hashed once (train/, test/): the same rows, written
   * straight into arrays sized from the texts' length (a row has at most ngramMax entries
   * per token, and tokens are some 5 characters apart in English reviews), which the
   * result keeps: no doubling as the rows come in, and no copy at the end. The arrays
   * may be longer than the rows; the result's colIdx and values are views of their first
   * nnz entries (memory past them is never written, so never paged in). With `shared`,
   * in SharedArrayBuffers, to go to other threads without a copy.
   */
  hashSet(texts: readonly string[], onProgress?: (done: number) => void, shared = false): Csr {
    let chars = 0;
    for (let d = 0; d < texts.length; d++) chars += texts[d]!.length;
    const cap = this.ngramMax * Math.ceil(chars / 4) + 1024;
    const keptCols = this.cols;
    const keptVals = this.vals;
    this.cols = newUint32Array(cap, shared);
    this.vals = newFloat32Array(cap, shared);
    try {
      const rowPtr = this.hashRows(texts, onProgress);
      const nnz = rowPtr[texts.length]!;
      return { nRows: texts.length, nCols: 1 << this.hashBits, rowPtr, colIdx: this.cols.subarray(0, nnz), values: this.vals.subarray(0, nnz) };
    } finally {
      // the arrays are the result's now
      this.cols = keptCols;
      this.vals = keptVals;
    }
  }

  /** The rows of hashDocuments, in this.cols and this.vals (grown as needed) up to rowPtr's last entry; returns rowPtr. */
  private hashRows(texts: readonly string[], onProgress?: (done: number) => void): Uint32Array {
    const rowPtr = new Uint32Array(texts.length + 1);
    const mask = this.mask;
    const spans = this.spans;
    const ngramMax = this.ngramMax;
    let nnz = 0;
    for (let d = 0; d < texts.length; d++) {
      const s = normalizeText(texts[d]!);
      const nTok = scanTokens(s, spans);
      if (this.running.length < nTok) {
        this.running = new Uint32Array(nTok * 2);
        this.tokenHash = new Uint32Array(nTok * 2);
      }
      const run = this.running;
      const th = this.tokenHash;
      const starts = spans.starts;
      const ends = spans.ends;
      // a negated token (markNegations' rule, one step per token) hashes as NEGATED_PREFIX + token
      const scope = this.negationScope;
      let state = 0;
      for (let k = 0; k < nTok; k++) {
        const a = starts[k]!;
        const e = ends[k]!;
        state = negationStep(s, a, e, state, scope);
        run[k] = th[k] = hashSpan(s, a, e, state & 1 ? NEGATED_BASIS : FNV_BASIS);
      }
      this.ensureTable(nTok * ngramMax);
      this.ensureOutput(nnz + nTok * ngramMax, nnz);
      if (++this.stamp === 0x7fffffff) {
        this.table.fill(0);
        this.stamp = 1;
      }
      const stamp = this.stamp;
      const table = this.table;
      const tmask = (table.length >>> 2) - 1;
      const cols = this.cols;
      const vals = this.vals;
      for (let n = 1; n <= ngramMax; n++) {
        // run[k] holds the hash of tokens k..k+n-2; extend it by token k+n-1 (the
        // (n-1)-gram at k+1 is still unchanged there: k goes up)
        const last = nTok - n;
        for (let k = 0; k <= last; k++) {
          let h = run[k]!;
          if (n > 1) {
            h = combine(h, th[k + n - 1]!);
            run[k] = h;
          }
          const bucket = finalize(h, n) & mask;
          let t = Math.imul(bucket, 0x9e3779b1) >>> 0;
          for (;;) {
            t &= tmask;
            const e = t << 2;
            if (table[e] !== stamp) {
              table[e] = stamp;
              table[e + 1] = bucket;
              table[e + 2] = nnz;
              cols[nnz] = bucket;
              vals[nnz] = 1;
              nnz++;
              break;
            }
            if (table[e + 1] === bucket) {
              vals[table[e + 2]!]! += 1;
              break;
            }
            t++;
          }
        }
      }
      rowPtr[d + 1] = nnz;
      if (onProgress && (d & 1023) === 1023) onProgress(d + 1);
    }
    onProgress?.(texts.length);
    return rowPtr;
  }
}

/** A new zeroed Uint32Array, over a SharedArrayBuffer when `shared`. */
export function newUint32Array(n: number, shared: boolean): Uint32Array {
  return shared ? new Uint32Array(new SharedArrayBuffer(4 * n)) : new Uint32Array(n);
}

/** A new zeroed Float32Array, over a SharedArrayBuffer when `shared`. */
export function newFloat32Array(n: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
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

/**
 * The transpose of a CSR, as a CSR: row j of the result lists the rows of x that use
 * column j, in increasing order, with their values (nRows = x.nCols, nCols = x.nRows).
 * transposeLayout, then the values put in place (withValues). `turn`, when given, is
 * awaited about every TRANSPOSE_SLICE entries (a caller on a busy thread gives the event
 * loop turns).
 */
export async function transposeCsr(x: Csr, turn?: () => Promise<void>): Promise<Csr> {
  return withValues(await transposeLayout(x, turn), x.values);
}

/**
 * Where each entry of a CSR goes in its transpose: the transpose's rowPtr and colIdx, and
 * source[p], the index in x of the transpose's entry p. Any set with x's rows and columns
 * (say, x's counts weighed) gets its transpose from this and its own values (withValues).
 * Laid out without source (null), it serves weighTransposed with NB weights alone.
 */
export interface TransposeLayout {
  nRows: number;
  nCols: number;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  source: Uint32Array | null;
}

/**
 * The transpose's layout (see TransposeLayout), by two passes of a counting sort, so that
 * neither scatters entries all over memory: the first deals the entries, in row order,
 * into about 2048 bands of neighbouring columns; the second sorts each band (a few
 * thousand columns, small enough for the processor's cache) by column. Both are stable,
 * so each column's rows stay in increasing order. Linear time.
 */
export async function transposeLayout(x: Csr, turn?: () => Promise<void>, withSource = true): Promise<TransposeLayout> {
  const { rowPtr, colIdx } = x;
  const nnz = rowPtr[x.nRows]!;
  const nCols = x.nCols;
  // band b holds columns [b << shift, (b + 1) << shift)
  let shift = 0;
  while ((nCols - 1) >>> shift >= TRANSPOSE_BANDS) shift++;
  const nBands = nCols === 0 ? 0 : ((nCols - 1) >>> shift) + 1;
  const bandStart = new Uint32Array(nBands + 1);
  for (let k = 0; k < nnz; k++) bandStart[(colIdx[k]! >>> shift) + 1]!++;
  for (let b = 0; b < nBands; b++) bandStart[b + 1]! += bandStart[b]!;
  const next = bandStart.slice(0, nBands);
  const bandRows = new Uint32Array(nnz);
  const bandCols = new Uint32Array(nnz);
  const bandSource = withSource ? new Uint32Array(nnz) : null;
  let sinceTurn = 0;
  for (let i = 0; i < x.nRows; i++) {
    const end = rowPtr[i + 1]!;
    for (let k = rowPtr[i]!; k < end; k++) {
      const j = colIdx[k]!;
      const at = next[j >>> shift]!++;
      bandRows[at] = i;
      bandCols[at] = j;
      if (bandSource) bandSource[at] = k;
    }
    sinceTurn += end - rowPtr[i]!;
    if (turn && sinceTurn >= TRANSPOSE_SLICE) {
      sinceTurn = 0;
      await turn();
    }
  }
  const colPtr = new Uint32Array(nCols + 1);
  const rows = new Uint32Array(nnz);
  const source = bandSource ? new Uint32Array(nnz) : null;
  // local[t]: where column first + t's next entry goes
  const local = new Uint32Array((1 << shift) + 1);
  for (let b = 0; b < nBands; b++) {
    const first = b << shift;
    const width = Math.min(1 << shift, nCols - first);
    const start = bandStart[b]!;
    const end = bandStart[b + 1]!;
    local.fill(0, 0, width + 1);
    for (let k = start; k < end; k++) local[bandCols[k]! - first + 1]!++;
    local[0] = start;
    for (let t = 0; t < width; t++) local[t + 1]! += local[t]!;
    colPtr.set(local.subarray(0, width), first);
    for (let k = start; k < end; k++) {
      const at = local[bandCols[k]! - first]!++;
      rows[at] = bandRows[k]!;
      if (source) source[at] = bandSource![k]!;
    }
    sinceTurn += end - start;
    if (turn && sinceTurn >= TRANSPOSE_SLICE) {
      sinceTurn = 0;
      await turn();
    }
  }
  colPtr[nCols] = nnz;
  return { nRows: nCols, nCols: x.nRows, rowPtr: colPtr, colIdx: rows, source };
}

/**
 * transposeCsr(applyFeatureWeights(counts, weights, config)), from counts' layout. For NB
 * weights, whose values are a column's scale times the row's normalizing factor, each
 * column's values are written in order from its scale and the rows' factors (computed
 * as applyFeatureWeights computes them), rather than gathered from the weighed rows one
 * entry at a time all over memory (withValues); the same numbers.
 */
export function weighTransposed(layout: TransposeLayout, counts: Csr, weights: FeatureWeights, config: FeatureConfig): Csr {
  if (weights.kind !== "nb") return withValues(layout, applyFeatureWeights(counts, weights, config).values);
  const { scale } = weights;
  const { rowPtr, colIdx } = counts;
  const factor = new Float64Array(counts.nRows);
  for (let i = 0; i < counts.nRows; i++) factor[i] = nbRowFactor(scale, 1, colIdx, rowPtr[i]!, rowPtr[i + 1]!, config.normalize);
  const vals = new Float32Array(layout.rowPtr[layout.nRows]!);
  const rows = layout.colIdx;
  for (let j = 0; j < layout.nRows; j++) {
    const v = scale[j]!;
    for (let p = layout.rowPtr[j]!, end = layout.rowPtr[j + 1]!; p < end; p++) vals[p] = v * factor[rows[p]!]!;
  }
  return { nRows: layout.nRows, nCols: layout.nCols, rowPtr: layout.rowPtr, colIdx: layout.colIdx, values: vals };
}

/**
 * The factor applyFeatureWeights scales an NB row by: 1 / ||x_i||, the row's scales (for
 * the columns colIdx[start..end), read at scale[stride j]) squared and summed in the row's
 * order, or 1 when not normalizing or the sum is 0. A weighed value is fround(scale_j *
 * factor), which is scale_j itself when the factor is 1.
 */
export function nbRowFactor(scale: Float32Array, stride: number, colIdx: Uint32Array, start: number, end: number, normalize: boolean): number {
  let norm2 = 0;
  for (let k = start; k < end; k++) {
    const v = scale[stride * colIdx[k]!]!;
    norm2 += v * v;
  }
  return normalize && norm2 > 0 ? 1 / Math.sqrt(norm2) : 1;
}

/** The transpose of a set laid out as `layout` describes, with the set's values. */
export function withValues(layout: TransposeLayout, values: Float32Array): Csr {
  const { source } = layout;
  if (!source) throw new Error("withValues: the transpose was laid out without its sources (transposeLayout's withSource)");
  const vals = new Float32Array(source.length);
  for (let p = 0; p < source.length; p++) vals[p] = values[source[p]!]!;
  return { nRows: layout.nRows, nCols: layout.nCols, rowPtr: layout.rowPtr, colIdx: layout.colIdx, values: vals };
}

/** Bands of columns in transposeCsr's first pass (at most), and entries between turns. */
const TRANSPOSE_BANDS = 2048;
const TRANSPOSE_SLICE = 1 << 20;

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
 *
 * `sumOrder`, for columns that were renumbered (see pipeline.ts): sumOrder[k] is the
 * column that was column k, so the norms ||p||_1 and ||q||_1 are summed in the original
 * order and round exactly as they would have (with an integer alpha every term and
 * partial sum is an exact integer, and any order gives the same sums).
 */
export function fitFeatureWeights(
  counts: Csr,
  labels: ArrayLike<number>,
  config: FeatureConfig,
  sumOrder?: ArrayLike<number>,
): FeatureWeights {
  const { pos, neg } = classCounts(counts, labels);
  return weightsFromClassCounts(pos, neg, counts.nRows, config, sumOrder);
}

/**
 * Per column, how many rows of each class use it (binarized features): the counts
 * fitFeatureWeights learns from. Columns are listed once per row, so pos[j] + neg[j] is
 * column j's document frequency.
 */
export function classCounts(counts: Csr, labels: ArrayLike<number>): { pos: Uint32Array; neg: Uint32Array } {
  // counts are integers below 2^32: exact in a Uint32Array, and read back as the same doubles
  const pos = new Uint32Array(counts.nCols);
  const neg = new Uint32Array(counts.nCols);
  countClasses(counts, labels, pos, neg, 0, counts.nCols);
  return { pos, neg };
}

/**
 * classCounts' counts for the columns [colFrom, colTo) alone, added to pos and neg (the
 * other columns' are left as they are): ranges of columns can be counted anywhere, each
 * in its own part of the arrays.
 */
export function countClasses(counts: Csr, labels: ArrayLike<number>, pos: Uint32Array, neg: Uint32Array, colFrom: number, colTo: number): void {
  const width = colTo - colFrom;
  for (let i = 0; i < counts.nRows; i++) {
    const target = labels[i] === 1 ? pos : neg;
    for (let k = counts.rowPtr[i]!; k < counts.rowPtr[i + 1]!; k++) {
      const j = counts.colIdx[k]!;
      // colFrom <= j < colTo, in one unsigned comparison
      if ((j - colFrom) >>> 0 < width) target[j]! += 1;
    }
  }
}

/**
 * fitFeatureWeights from classCounts' counts (of nRows rows). `sumOrder` as there. For
 * NB, a table of the ratio's logarithm for small counts (most columns' counts are small)
 * saves most of the calls to Math.log: the table holds the very same expression's values.
 */
export function weightsFromClassCounts(
  pos: Uint32Array,
  neg: Uint32Array,
  nRows: number,
  config: FeatureConfig,
  sumOrder?: ArrayLike<number>,
): FeatureWeights {
  const d = pos.length;
  if (config.weighting === "nb") {
    const a = config.nbAlpha;
    let pSum = 0;
    let qSum = 0;
    if (sumOrder && !Number.isInteger(a)) {
      for (let k = 0; k < d; k++) {
        const j = sumOrder[k]!;
        pSum += pos[j]! + a;
        qSum += neg[j]! + a;
      }
    } else {
      for (let j = 0; j < d; j++) {
        pSum += pos[j]! + a;
        qSum += neg[j]! + a;
      }
    }
    const scale = new Float32Array(d);
    const offset = Math.log(qSum / pSum);
    const logRatio = new Float64Array(LOG_TABLE * LOG_TABLE);
    for (let p = 0; p < LOG_TABLE; p++) for (let q = 0; q < LOG_TABLE; q++) logRatio[p * LOG_TABLE + q] = Math.log((p + a) / (q + a));
    for (let j = 0; j < d; j++) {
      const p = pos[j]!;
      const q = neg[j]!;
      scale[j] = (p < LOG_TABLE && q < LOG_TABLE ? logRatio[p * LOG_TABLE + q]! : Math.log((p + a) / (q + a))) + offset;
    }
    return { kind: "nb", scale };
  }
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) scale[j] = Math.log((1 + nRows) / (1 + pos[j]! + neg[j]!)) + 1;
  return { kind: "tfidf", scale };
}

/** Counts below this (each class) read weightsFromClassCounts' table of logarithms. */
const LOG_TABLE = 64;

/**
 * Turn count rows into feature rows: nb gives r_j for each present bucket, tfidf gives
 * tf * idf_j; with normalize, each row is then divided by its L2 norm (empty rows stay
 * empty). Returns a new CSR sharing rowPtr and colIdx with the counts (its values in a
 * SharedArrayBuffer when `shared`).
 */
export function applyFeatureWeights(counts: Csr, weights: FeatureWeights, config: FeatureConfig, shared = false): Csr {
  const values = newFloat32Array(counts.values.length, shared);
  weighRows(counts, weights, config, values, 0, counts.nRows);
  return { nRows: counts.nRows, nCols: counts.nCols, rowPtr: counts.rowPtr, colIdx: counts.colIdx, values };
}

/**
 * applyFeatureWeights' values for rows [from, to) of the counts, written to `values` at
 * the same positions as the counts' (rows done in pieces, anywhere, give its array).
 */
export function weighRows(counts: Csr, weights: FeatureWeights, config: FeatureConfig, values: Float32Array, from: number, to: number): void {
  const scale = weights.scale;
  const nb = weights.kind === "nb";
  const sublinear = config.sublinearTf;
  const { rowPtr, colIdx } = counts;
  const counted = counts.values;
  for (let i = from; i < to; i++) {
    const a = rowPtr[i]!;
    const b = rowPtr[i + 1]!;
    let norm2 = 0;
    if (nb) {
      // tf = 1: v = scale_j exactly
      for (let k = a; k < b; k++) {
        const v = scale[colIdx[k]!]!;
        values[k] = v;
        norm2 += v * v;
      }
    } else {
      for (let k = a; k < b; k++) {
        const c = counted[k]!;
        const tf = sublinear ? 1 + Math.log(c) : c;
        const v = tf * scale[colIdx[k]!]!;
        values[k] = v;
        norm2 += v * v;
      }
    }
    if (config.normalize && norm2 > 0) {
      const inv = 1 / Math.sqrt(norm2);
      for (let k = a; k < b; k++) values[k] = values[k]! * inv;
    }
  }
}
