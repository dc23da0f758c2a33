// Model files: one JSON metadata document plus raw little-endian float16 arrays. Loading
// parses JSON and reads bytes, nothing else: no code in a model file is ever run.

import type { FeatureConfig, FeatureWeights } from "./features.ts";
import { validateFeatureConfig } from "./features.ts";
import type { BinaryMetrics } from "./metrics.ts";
import type { EpochRecord, TrainConfig } from "./train.ts";

export const MODEL_FORMAT = "moviesentiments-model";
export const MODEL_FORMAT_VERSION = 1;
export const MODEL_META_FILE = "model.json";

export interface SentimentModel {
  features: FeatureConfig;
  featureWeights: FeatureWeights;
  /** one weight per feature bucket */
  weights: Float32Array;
  bias: number;
  training: TrainingInfo;
  metrics: { test?: BinaryMetrics; validation?: BinaryMetrics };
  history: { selection: EpochRecord[]; final: EpochRecord[] };
  createdAt: string;
}

export interface TrainingInfo {
  config: TrainConfig;
  /** share of train/ held out to choose the number of epochs */
  validationFraction: number;
  /** epochs chosen on validation (the final model trains this many on all of train/) */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** true when the final model was retrained on all of train/ after selection */
  refit: boolean;
  /** the final model is the mean of this many runs, seeds config.seed, config.seed + 1, ... (absent: 1) */
  seeds?: number;
  backend: { kind: string; deviceName: string };
  nTrain: number;
  seconds: number;
}

interface ArrayInfo {
  file: string;
  dtype: "float16";
  length: number;
  byteLength: number;
  crc32: string;
}

interface ModelMeta {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  createdAt: string;
  features: FeatureConfig;
  featureWeighting: "nb" | "tfidf";
  bias: number;
  training: TrainingInfo;
  metrics: SentimentModel["metrics"];
  history: SentimentModel["history"];
  arrays: { weights: ArrayInfo; featureScale: ArrayInfo };
}

/** A model file is missing, damaged, or from a format this version cannot read. */
export class ModelError extends Error {
  override name = "ModelError";
}

// ---- CRC-32 (IEEE), to tell a damaged array from an intact one --------------------

// Slice-by-8: eight tables, so the loop folds eight bytes per step instead of one (the
// same CRC; the 16 MB model's check took 47 ms bytewise and 22 ms this way in one
// profile). Node passes its native zlib.crc32 to decodeModel instead.
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  const t = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c =
      t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + bytes[i + 4]!]! ^
      t[2 * 256 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- float16 storage -------------------------------------------------------------
// Arrays are stored as IEEE half floats: 2^22 weights and 2^22 feature scales fit in
// 16 MB. The pipeline rounds both through float16 before it measures the model, so the
// metrics recorded are those of the stored model.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> float16 bits, round to nearest even; overflow to infinity. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** The values a float16 round trip gives (what a saved model will hold). */
export function roundToHalf(a: Float32Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = table[toHalfBits(a[i]!)]!;
  return out;
}

export function float32ToHalfLeBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  for (let i = 0; i < a.length; i++) {
    const h = toHalfBits(a[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function halfLeBytesToFloat32(bytes: Uint8Array): Float32Array {
  const table = halfTable();
  const n = bytes.length >>> 1;
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    // read the halves in place: one load per value instead of two byte loads
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = table[halves[i]!]!;
  } else {
    for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  }
  return out;
}

let HALF_TABLE: Float32Array | null = null;
/** The float32 value of every float16 bit pattern, built on first use. */
function halfTable(): Float32Array {
  return (HALF_TABLE ??= buildHalfTable());
}
function buildHalfTable(): Float32Array {
  const t = new Float32Array(65536);
  // normal and infinite/NaN halves by moving bits (the exponent rebiased from 15 to 127);
  // zeros and subnormals (exponent field 0) through fromHalfBits
  const bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const e = (h >>> 10) & 0x1f;
    if (e === 0) t[h] = fromHalfBits(h);
    else if (e === 0x1f) bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
    else bits[h] = ((h & 0x8000) << 16) | ((e + 112) << 23) | ((h & 0x3ff) << 13);
  }
  return t;
}

// ---- encode / decode -------------------------------------------------------------

export interface EncodedModel {
  /** the contents of model.json */
  metaJson: string;
  /** the array files, named by content so a new save never overwrites a file in use */
  files: { name: string; bytes: Uint8Array }[];
}

function arrayFile(stem: string, a: Float32Array): { info: ArrayInfo; bytes: Uint8Array } {
  const bytes = float32ToHalfLeBytes(a);
  const crc = crc32(bytes).toString(16).padStart(8, "0");
  return {
    info: { file: `${stem}.${crc}.f16`, dtype: "float16", length: a.length, byteLength: bytes.length, crc32: crc },
    bytes,
  };
}

export function encodeModel(model: SentimentModel): EncodedModel {
  const w = arrayFile("weights", model.weights);
  const s = arrayFile("feature-scale", model.featureWeights.scale);
  const meta: ModelMeta = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    createdAt: model.createdAt,
    features: model.features,
    featureWeighting: model.featureWeights.kind,
    bias: model.bias,
    training: model.training,
    metrics: model.metrics,
    history: model.history,
    arrays: { weights: w.info, featureScale: s.info },
  };
  return {
    metaJson: JSON.stringify(meta, null, 1) + "\n",
    files: [
      { name: w.info.file, bytes: w.bytes },
      { name: s.info.file, bytes: s.bytes },
    ],
  };
}

/** The array files a metadata document refers to (to fetch or read them before decoding). */
export function referencedFiles(metaJson: string, where = MODEL_META_FILE): string[] {
  const meta = parseMeta(metaJson, where);
  return [meta.arrays.weights.file, meta.arrays.featureScale.file];
}

function parseMeta(metaJson: string, where: string): ModelMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(metaJson);
  } catch (e) {
    throw new ModelError(`${where} is not valid JSON (${(e as Error).message}); the model file is corrupt: retrain or restore it`);
  }
  const m = meta as Partial<ModelMeta> | null;
  if (!m || typeof m !== "object" || m.format !== MODEL_FORMAT)
    throw new ModelError(`${where} is not a MovieSentiments model (no "format": "${MODEL_FORMAT}")`);
  if (typeof m.formatVersion !== "number" || !Number.isInteger(m.formatVersion))
    throw new ModelError(`${where} has no format version`);
  if (m.formatVersion > MODEL_FORMAT_VERSION)
    throw new ModelError(
      `${where} uses model format version ${m.formatVersion}, newer than this program reads (${MODEL_FORMAT_VERSION}); upgrade moviesentiments`,
    );
  if (m.formatVersion < 1) throw new ModelError(`${where} has an unknown format version ${m.formatVersion}`);
  const arrays = m.arrays;
  for (const key of ["weights", "featureScale"] as const) {
    const a = arrays?.[key];
    if (!a || typeof a.file !== "string" || !/^[\w.-]+$/.test(a.file) || a.dtype !== "float16" || !Number.isInteger(a.length) || a.byteLength !== a.length * 2)
      throw new ModelError(`${where}: the entry for the ${key} array is missing or malformed`);
  }
  if (typeof m.bias !== "number" || !Number.isFinite(m.bias)) throw new ModelError(`${where}: bias is missing or not a finite number`);
  if (!m.features) throw new ModelError(`${where}: feature settings are missing`);
  try {
    validateFeatureConfig(m.features);
  } catch (e) {
    throw new ModelError(`${where}: bad feature settings: ${(e as Error).message}`);
  }
  if (m.featureWeighting !== m.features.weighting) throw new ModelError(`${where}: featureWeighting does not match the feature settings`);
  const d = 2 ** m.features.hashBits;
  if (arrays!.weights.length !== d || arrays!.featureScale.length !== d)
    throw new ModelError(`${where}: arrays must have 2^hashBits = ${d} entries (weights ${arrays!.weights.length}, feature scale ${arrays!.featureScale.length})`);
  return m as ModelMeta;
}

/**
 * Decode a model from its metadata text and a reader for its array files. Every array's
 * size and checksum is checked against the metadata; errors name the file and the problem.
 */
export function decodeModel(
  metaJson: string,
  readFile: (name: string) => Uint8Array | undefined,
  where = MODEL_META_FILE,
  /** a faster CRC-32 where the platform has one (Node's zlib.crc32); the same numbers */
  checksum: (bytes: Uint8Array) => number = crc32,
): SentimentModel {
  const meta = parseMeta(metaJson, where);
  const check = (info: ArrayInfo): Uint8Array => {
    const bytes = readFile(info.file);
    if (!bytes) throw new ModelError(`model array ${info.file} (named in ${where}) is missing`);
    if (bytes.length !== info.byteLength)
      throw new ModelError(
        `model array ${info.file} has ${bytes.length} bytes but ${where} says ${info.byteLength}: the file is truncated or from another model`,
      );
    const crc = (checksum(bytes) >>> 0).toString(16).padStart(8, "0");
    if (crc !== info.crc32) throw new ModelError(`model array ${info.file} is corrupt (checksum ${crc}, expected ${info.crc32})`);
    return bytes;
  };
  const scaleBytes = check(meta.arrays.featureScale);
  const weightBytes = check(meta.arrays.weights);
  return modelOverHalves(
    {
      features: meta.features,
      kind: meta.featureWeighting,
      bias: meta.bias,
      training: meta.training,
      metrics: meta.metrics ?? {},
      history: meta.history ?? { selection: [], final: [] },
      createdAt: meta.createdAt,
    },
    weightBytes,
    scaleBytes,
  );
}

/**
 * A model whose arrays are the given little-endian float16 bytes, decoded to float32 on
 * first use (a one-review cold start reads the few buckets it needs straight from the
 * halves, see rawHalves). Used when loading files, and by scoring threads that share
 * the loaded model's bytes.
 */
export function modelOverHalves(
  base: Omit<SentimentModel, "weights" | "featureWeights"> & { kind: FeatureWeights["kind"] },
  weightBytes: Uint8Array,
  scaleBytes: Uint8Array,
): SentimentModel {
  let scale: Float32Array | null = null;
  let weights: Float32Array | null = null;
  const { kind, ...rest } = base;
  const model: SentimentModel = {
    ...rest,
    featureWeights: {
      kind,
      get scale(): Float32Array {
        return (scale ??= halfLeBytesToFloat32(scaleBytes));
      },
    },
    get weights(): Float32Array {
      return (weights ??= halfLeBytesToFloat32(weightBytes));
    },
  };
  const w16 = halvesOf(weightBytes);
  const s16 = halvesOf(scaleBytes);
  if (w16 && s16) RAW_HALVES.set(model, { weights: w16, scale: s16 });
  return model;
}

const RAW_HALVES = new WeakMap<SentimentModel, { weights: Uint16Array; scale: Uint16Array }>();

/** The float16 bits of an array read in place, where the platform and alignment allow. */
function halvesOf(bytes: Uint8Array): Uint16Array | null {
  if (!LITTLE_ENDIAN || bytes.byteOffset % 2 !== 0) return null;
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 1);
}

/**
 * A decoded model's arrays as float16 bits (weights and feature scale), with the table
 * that turns bits into the float32 values `weights` and `featureWeights.scale` hold;
 * undefined for models that were not decoded from files.
 */
export function rawHalves(model: SentimentModel): { weights: Uint16Array; scale: Uint16Array; table: Float32Array } | undefined {
  const raw = RAW_HALVES.get(model);
  return raw && { ...raw, table: halfTable() };
}
