// Model files (src/core/model-format.ts, src/node/model-files.ts): save and load give
// identical predictions; saving is atomic; damaged, truncated and wrong-version files
// get errors that name the file and the problem.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_FEATURES, type FeatureConfig } from "../src/core/features.ts";
import {
  crc32,
  decodeModel,
  encodeModel,
  float32ToHalfLeBytes,
  fromHalfBits,
  halfLeBytesToFloat32,
  ModelError,
  MODEL_FORMAT_VERSION,
  roundToHalf,
  toHalfBits,
  type SentimentModel,
} from "../src/core/model-format.ts";
import { Predictor } from "../src/core/predict.ts";
import { mulberry32 } from "../src/core/random.ts";
import { DEFAULT_TRAIN } from "../src/core/train.ts";
import { loadModelDir, saveModelDir } from "../src/node/model-files.ts";
import { gaussian } from "./helpers/tiny-data.ts";

const root = mkdtempSync(join(tmpdir(), "moviesentiments-model-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `m${dirCount++}`);

const features: FeatureConfig = { ...DEFAULT_FEATURES, hashBits: 12, ngramMax: 2 };

/** A small model with random float32 weights (not yet float16-rounded). */
function makeModel(seed: number, f: FeatureConfig = features): SentimentModel {
  const rng = mulberry32(seed);
  const d = 2 ** f.hashBits;
  return {
    features: f,
    featureWeights: { kind: f.weighting, scale: Float32Array.from({ length: d }, () => gaussian(rng)) },
    weights: Float32Array.from({ length: d }, () => gaussian(rng) * 3),
    bias: 0.125 + seed / 1000,
    training: {
      config: DEFAULT_TRAIN,
      validationFraction: 0.2,
      bestEpoch: 3,
      stoppedEarly: false,
      refit: true,
      backend: { kind: "cpu", deviceName: "test" },
      nTrain: 10,
      seconds: 1.5,
    },
    metrics: { test: { n: 4, accuracy: 0.75, precision: 1, recall: 0.5, f1: 2 / 3, roc_auc: 0.75, log_loss: 0.5, confusion: { tp: 1, fp: 0, tn: 2, fn: 1 } } },
    history: { selection: [{ epoch: 1, lr: 1, trainLoss: 0.6, trainSeconds: 0.1, seconds: 0.2 }], final: [] },
    createdAt: "2024-01-01T00:00:00.000Z",
  };
}

/** The model as a save will hold it: both arrays rounded through float16. */
function rounded(m: SentimentModel): SentimentModel {
  return { ...m, weights: roundToHalf(m.weights), featureWeights: { ...m.featureWeights, scale: roundToHalf(m.featureWeights.scale) } };
}

const texts = [
  "I loved this movie! Wonderful acting.",
  "Terrible. I didn't like it at all?",
  "Café 映画 😀 <br /> plain words here",
  "not bad, not bad at all",
  "x",
];

function arrayFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".f16")).sort();
}

function meta(dir: string): Record<string, any> {
  return JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
}

function loadError(dir: string): ModelError {
  try {
    loadModelDir(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error("expected loadModelDir to throw");
}

describe("save and load", () => {
  it("round trip: identical predictions, arrays equal to their float16 rounding", () => {
    const model = makeModel(1);
    const before = new Predictor(rounded(model));
    const dir = freshDir();
    saveModelDir(dir, model);
    const loaded = loadModelDir(dir);
    expect(loaded.weights).toEqual(roundToHalf(model.weights));
    expect(loaded.featureWeights.scale).toEqual(roundToHalf(model.featureWeights.scale));
    expect(loaded.bias).toBe(model.bias);
    expect(loaded.features).toEqual(model.features);
    expect(loaded.training).toEqual(model.training);
    expect(loaded.metrics).toEqual(model.metrics);
    expect(loaded.history).toEqual(model.history);
    expect(loaded.createdAt).toBe(model.createdAt);
    const after = new Predictor(loaded);
    expect(after.predictMany(texts)).toEqual(before.predictMany(texts));
    for (const t of texts) expect(after.predict(t)).toEqual(before.predict(t));
    // and the rounding is small: predictions of the unrounded model are close
    const raw = new Predictor(model).predictMany(texts);
    after.predictMany(texts).forEach((p, i) => expect(Math.abs(p.logit - raw[i]!.logit)).toBeLessThan(0.05 * (1 + Math.abs(raw[i]!.logit))));
  });

  it("a predictor scoring with another's shared ratio-weight table gives the same logits (batches past SMALL_BATCH)", () => {
    const model = makeModel(1);
    const dir = freshDir();
    saveModelDir(dir, model);
    const loaded = loadModelDir(dir);
    const many = Array.from({ length: 80 }, (_, i) => texts[i % texts.length]!);
    const own = new Predictor(loaded);
    const table = own.ratioWeightTable(true);
    expect(table.buffer instanceof SharedArrayBuffer).toBe(true);
    const other = new Predictor(loaded);
    other.useRatioWeightTable(table);
    expect(Array.from(other.logits(many))).toEqual(Array.from(own.logits(many)));
    // the table it is given is the one it scores with
    const wrong = new Float32Array(table.length);
    const zeroed = new Predictor(loaded);
    zeroed.useRatioWeightTable(wrong);
    expect(Array.from(zeroed.logits(many)).every((z) => z === loaded.bias)).toBe(true);
    expect(() => zeroed.useRatioWeightTable(new Float32Array(6))).toThrow(RangeError);
  });

  it("tf-idf models round-trip too", () => {
    const model = makeModel(2, { ...features, weighting: "tfidf" });
    const dir = freshDir();
    saveModelDir(dir, model);
    const loaded = loadModelDir(dir);
    expect(loaded.featureWeights.kind).toBe("tfidf");
    expect(new Predictor(loaded).predictMany(texts)).toEqual(new Predictor(rounded(model)).predictMany(texts));
  });

  it("in memory: encode then decode gives the rounded model", () => {
    const model = makeModel(3);
    const enc = encodeModel(model);
    const files = new Map(enc.files.map((f) => [f.name, f.bytes]));
    const dec = decodeModel(enc.metaJson, (n) => files.get(n));
    expect(dec.weights).toEqual(roundToHalf(model.weights));
    expect(enc.files.map((f) => f.bytes.length)).toEqual([2 * 4096, 2 * 4096]);
    // array files are named by content
    expect(enc.files[0]!.name).toMatch(/^weights\.[0-9a-f]{8}\.f16$/);
    expect(JSON.parse(enc.metaJson).formatVersion).toBe(MODEL_FORMAT_VERSION);
  });

  it("saving the same model twice is harmless; saving another replaces it and removes stale arrays", () => {
    const dir = freshDir();
    const a = makeModel(4);
    saveModelDir(dir, a);
    const filesA = arrayFiles(dir);
    saveModelDir(dir, a);
    expect(arrayFiles(dir)).toEqual(filesA);
    const b = makeModel(5);
    saveModelDir(dir, b);
    const filesB = arrayFiles(dir);
    expect(filesB).toHaveLength(2);
    for (const f of filesA) expect(filesB).not.toContain(f);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp"))).toEqual([]);
    expect(new Predictor(loadModelDir(dir)).predictMany(texts)).toEqual(new Predictor(rounded(b)).predictMany(texts));
  });
});

describe("saving is atomic", () => {
  // A save that fails part way (here: a folder squats on the temporary file name, so the
  // write fails with EISDIR) must leave the previous model intact and loadable.
  let dir: string;
  const old = makeModel(10);
  const next = makeModel(11);
  let oldPredictions: ReturnType<Predictor["predictMany"]>;
  beforeEach(() => {
    dir = freshDir();
    saveModelDir(dir, old);
    oldPredictions = new Predictor(loadModelDir(dir)).predictMany(texts);
  });

  it("a failure while writing model.json (the commit point) leaves the old model; old arrays are kept until then", () => {
    const oldFiles = arrayFiles(dir);
    const oldMeta = readFileSync(join(dir, "model.json"), "utf8");
    const blocker = join(dir, `model.json.tmp-${process.pid}`);
    mkdirSync(blocker);
    expect(() => saveModelDir(dir, next)).toThrow();
    expect(readFileSync(join(dir, "model.json"), "utf8")).toBe(oldMeta);
    // the new arrays were written first, under new names; the old ones are still there
    const files = arrayFiles(dir);
    for (const f of oldFiles) expect(files).toContain(f);
    for (const f of encodeModel(next).files) expect(files).toContain(f.name);
    expect(new Predictor(loadModelDir(dir)).predictMany(texts)).toEqual(oldPredictions);
    // once the obstacle is gone, a save commits and only then removes the stale arrays
    rmSync(blocker, { recursive: true });
    saveModelDir(dir, next);
    expect(arrayFiles(dir)).toEqual(encodeModel(next).files.map((f) => f.name).sort());
    expect(new Predictor(loadModelDir(dir)).predictMany(texts)).toEqual(new Predictor(rounded(next)).predictMany(texts));
  });

  it("a failure while writing an array leaves the old model", () => {
    const name = encodeModel(next).files[1]!.name; // the second array, after the first succeeded
    mkdirSync(join(dir, `${name}.tmp-${process.pid}`));
    expect(() => saveModelDir(dir, next)).toThrow();
    expect(new Predictor(loadModelDir(dir)).predictMany(texts)).toEqual(oldPredictions);
  });
});

describe("damaged files give errors naming the file and the problem", () => {
  let dir: string;
  const model = makeModel(20);
  const enc = encodeModel(model);
  const weightsFile = enc.files[0]!.name;
  beforeEach(() => {
    dir = freshDir();
    saveModelDir(dir, model);
  });

  it("a flipped byte in an array: corrupt", () => {
    const p = join(dir, weightsFile);
    const bytes = readFileSync(p);
    bytes[1234] = bytes[1234]! ^ 0x40;
    writeFileSync(p, bytes);
    const e = loadError(dir);
    expect(e.message).toMatch(/corrupt/);
    expect(e.message).toContain(weightsFile);
  });

  it("a truncated array: truncated", () => {
    const p = join(dir, weightsFile);
    writeFileSync(p, readFileSync(p).subarray(0, 1000));
    const e = loadError(dir);
    expect(e.message).toMatch(/truncated/);
    expect(e.message).toContain(weightsFile);
  });

  it("a missing array file", () => {
    rmSync(join(dir, weightsFile));
    const e = loadError(dir);
    expect(e.message).toMatch(/missing/);
    expect(e.message).toContain(weightsFile);
  });

  it("model.json that is not JSON (e.g. cut short)", () => {
    const p = join(dir, "model.json");
    writeFileSync(p, readFileSync(p, "utf8").slice(0, 200));
    const e = loadError(dir);
    expect(e.message).toMatch(/not valid JSON/);
    expect(e.message).toContain(p);
  });

  it("a newer format version: says so", () => {
    const m = meta(dir);
    m.formatVersion = 99;
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    const e = loadError(dir);
    expect(e.message).toMatch(/version 99/);
    expect(e.message).toMatch(/newer/);
    expect(e.message).toContain(join(dir, "model.json"));
  });

  it("no or bad format version, or not a model at all", () => {
    const m = meta(dir);
    delete m.formatVersion;
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    expect(loadError(dir).message).toMatch(/format version/);
    writeFileSync(join(dir, "model.json"), JSON.stringify({ ...m, formatVersion: 0 }));
    expect(loadError(dir).message).toMatch(/format version/);
    writeFileSync(join(dir, "model.json"), JSON.stringify({ hello: "world" }));
    expect(loadError(dir).message).toMatch(/not a MovieSentiments model/);
    writeFileSync(join(dir, "model.json"), "null");
    expect(loadError(dir).message).toMatch(/not a MovieSentiments model/);
  });

  it("array length that does not match 2^hashBits", () => {
    const m = meta(dir);
    m.features.hashBits = 13;
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    const e = loadError(dir);
    expect(e.message).toMatch(/2\^hashBits = 8192/);
    expect(e.message).toContain("model.json");
  });

  it("array metadata whose sizes disagree with the file", () => {
    const m = meta(dir);
    m.arrays.weights.length = 2048;
    m.arrays.weights.byteLength = 4096;
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    expect(loadError(dir).message).toMatch(/2\^hashBits/);
  });

  it("an array file name that tries to leave the folder is refused", () => {
    const m = meta(dir);
    m.arrays.weights.file = "../../etc/passwd";
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    expect(loadError(dir).message).toMatch(/weights array is missing or malformed/);
  });

  it("a bias that is not a finite number", () => {
    const m = meta(dir);
    m.bias = "0.5";
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
    expect(loadError(dir).message).toMatch(/bias/);
  });

  it("a missing folder, and a folder without model.json", () => {
    const missing = join(root, "does-not-exist");
    const e = loadError(missing);
    expect(e.message).toContain(missing);
    expect(e.message).toMatch(/no model folder/);
    const empty = freshDir();
    mkdirSync(empty);
    const e2 = loadError(empty);
    expect(e2.message).toContain(join(empty, "model.json"));
    expect(e2.message).toMatch(/missing/);
    expect(existsSync(join(empty, "model.json"))).toBe(false);
  });
});

describe("float16 storage", () => {
  it("known values", () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds to infinity
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(0)).toBe(0);
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(fromHalfBits(0x3555)).toBeCloseTo(1 / 3, 3);
    expect(fromHalfBits(toHalfBits(NaN))).toBeNaN();
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
  });

  it("round trip is idempotent, and within half an ulp (relative 2^-11) in the normal range (property)", () => {
    fc.assert(
      fc.property(fc.float({ min: Math.fround(-60000), max: Math.fround(60000), noNaN: true }), (v) => {
        const h = fromHalfBits(toHalfBits(v));
        if (fromHalfBits(toHalfBits(h)) !== h) return false;
        if (Math.abs(v) >= 2 ** -14) return Math.abs(h - v) <= Math.abs(v) * 2 ** -11;
        return Math.abs(h - v) <= 2 ** -25;
      }),
    );
  });

  it("crc32 of a known string", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("crc32 folds eight bytes at a time and agrees with the byte-at-a-time definition for every length and offset", () => {
    const table = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const plain = (b: Uint8Array) => {
      let c = 0xffffffff;
      for (const x of b) c = table[(c ^ x) & 0xff]! ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(7), (bytes, offset) => {
        const shifted = new Uint8Array(bytes.length + offset);
        shifted.set(bytes, offset);
        return crc32(shifted.subarray(offset)) === plain(bytes);
      }),
    );
  });

  it("decodes all 65,536 float16 bit patterns as fromHalfBits does", () => {
    const bytes = new Uint8Array(2 * 65536);
    for (let h = 0; h < 65536; h++) (bytes[2 * h] = h & 0xff), (bytes[2 * h + 1] = h >>> 8);
    const decoded = halfLeBytesToFloat32(bytes);
    for (let h = 0; h < 65536; h++) {
      const want = Math.fround(fromHalfBits(h));
      if (Number.isNaN(want)) expect(decoded[h]).toBeNaN();
      else expect(Object.is(decoded[h], want), `half 0x${h.toString(16)}`).toBe(true);
    }
  });

  it("reads float16 arrays the same from aligned and unaligned bytes", () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-7, -3e-5, Infinity, 0.1]);
    const bytes = float32ToHalfLeBytes(values);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    const a = halfLeBytesToFloat32(bytes);
    expect(Array.from(a)).toEqual(Array.from(roundToHalf(values)));
    expect(Array.from(halfLeBytesToFloat32(unaligned))).toEqual(Array.from(a));
  });
});
