import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveError } from "../src/core/archive.ts";
import {
  DatasetError,
  loadImdbFromTarGz,
  parseReviewPath,
  stratifiedSplit,
  type ImdbDataset,
} from "../src/core/dataset.ts";
import { mulberry32, permutation, shuffleInPlace } from "../src/core/random.ts";
import { cacheDir, loadImdb, resolveDataPath } from "../src/node/data.ts";
import {
  NEGATIVE_WORDS,
  POSITIVE_WORDS,
  makeImdbArchive,
  makeImdbFiles,
  makeTarGz,
  streamOf,
  type TarFile,
} from "./helpers/make-archive.ts";

// the real archive: $MOVIESENTIMENTS_DATA when it names a .tar.gz, else ../shared/data beside the repository
const REAL_ARCHIVE = /\.tar\.gz$/.test(process.env.MOVIESENTIMENTS_DATA ?? "")
  ? path.resolve(process.env.MOVIESENTIMENTS_DATA!)
  : path.resolve(__dirname, "../../shared/data/aclImdb_v1.tar.gz");
const realExists = existsSync(REAL_ARCHIVE);

async function load(bytes: Uint8Array): Promise<ImdbDataset> {
  return loadImdbFromTarGz(streamOf(bytes));
}

async function datasetError(promise: Promise<unknown>): Promise<DatasetError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DatasetError);
    return err as DatasetError;
  }
  throw new Error("expected a DatasetError");
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "ms-dataset-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Write archive files into a folder, as `tar -x` would. */
async function extract(files: TarFile[], dir: string): Promise<void> {
  for (const f of files) {
    const target = path.join(dir, f.path);
    if (f.type === "dir") await mkdir(target, { recursive: true });
    else if ((f.type ?? "file") === "file") {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, f.text ?? "");
    }
  }
}

describe("parseReviewPath", () => {
  it("reads split, label, id and rating from the path", () => {
    expect(parseReviewPath("aclImdb/train/pos/123_9.txt")).toEqual({ split: "train", label: 1, id: 123, rating: 9 });
    expect(parseReviewPath("./aclImdb/test/neg/0_2.txt")).toEqual({ split: "test", label: 0, id: 0, rating: 2 });
    expect(parseReviewPath("aclImdb/train/unsup/5_0.txt")).toBeNull();
    expect(parseReviewPath("aclImdb/train/labeledBow.feat")).toBeNull();
    expect(parseReviewPath("aclImdb/train/pos/notes.txt")).toBeNull();
  });
});

describe("loadImdbFromTarGz", () => {
  it("reads a synthetic IMDB archive into sorted, labelled splits", async () => {
    const files = makeImdbFiles(6, 3);
    const data = await load(makeTarGz(files));
    for (const split of ["train", "test"] as const) {
      const reviews = data[split];
      expect(reviews).toHaveLength(12);
      expect(reviews.map((r) => [r.label, r.id])).toEqual([
        ...[0, 1, 2, 3, 4, 5].map((id) => [0, id]),
        ...[0, 1, 2, 3, 4, 5].map((id) => [1, id]),
      ]);
      for (const r of reviews) {
        expect(r.split).toBe(split);
        const file = files.find((f) => f.path === `aclImdb/${split}/${r.label ? "pos" : "neg"}/${r.id}_${r.rating}.txt`);
        expect(file?.text).toBe(r.text);
        if (r.label === 1) expect(r.rating).toBeGreaterThanOrEqual(7);
        else expect(r.rating).toBeLessThanOrEqual(4);
      }
    }
    // train/unsup/ and *.feat are not reviews
    expect(JSON.stringify(data)).not.toContain("unlabelled");
  });

  it("does not depend on the order of the archive's entries", async () => {
    const files = makeImdbFiles(5, 8);
    const reversed = [...files.slice(0, 12), ...files.slice(12).reverse()];
    expect(await load(makeTarGz(reversed))).toEqual(await load(makeTarGz(files)));
  });

  it("decodes UTF-8 text", async () => {
    const files = makeImdbFiles(1, 1).map((f) =>
      f.path.startsWith("aclImdb/test/pos/") ? { ...f, text: "Amélie — “magnifique” ♥ 映画" } : f,
    );
    const data = await load(makeTarGz(files));
    expect(data.test.find((r) => r.label === 1)?.text).toBe("Amélie — “magnifique” ♥ 映画");
  });

  it("makes learnable, varied synthetic reviews", async () => {
    const data = await load(makeImdbArchive(100, 5));
    const texts = data.train.map((r) => r.text);
    expect(new Set(texts).size).toBe(texts.length);
    // A word-counting rule separates the classes well but not perfectly in every review's words.
    const count = (text: string, words: string[]): number =>
      text.toLowerCase().split(/[^a-z]+/).filter((w) => words.includes(w)).length;
    let correct = 0;
    let mixed = 0;
    for (const r of data.train) {
      const score = count(r.text, POSITIVE_WORDS) - count(r.text, NEGATIVE_WORDS);
      if ((score > 0 ? 1 : 0) === r.label) correct++;
      if (count(r.text, POSITIVE_WORDS) > 0 && count(r.text, NEGATIVE_WORDS) > 0) mixed++;
    }
    expect(correct / data.train.length).toBeGreaterThan(0.9);
    expect(mixed).toBeGreaterThan(0);
    // Different seeds give different data.
    expect((await load(makeImdbArchive(100, 6))).train.map((r) => r.text)).not.toEqual(texts);
  });

  it("says when the archive is not IMDB", async () => {
    const err = await datasetError(
      load(makeTarGz([{ path: "photos/cat.jpg", text: "meow" }, { path: "notes.txt", text: "hi" }])),
    );
    expect(err.message).toContain("no aclImdb/train/pos/*.txt entries found");
    expect(err.message).toContain("this does not look like the IMDB archive aclImdb_v1.tar.gz");
    expect(err.message).toContain("photos/cat.jpg");
  });

  it("says which parts are missing", async () => {
    const files = makeImdbFiles(3, 1).filter((f) => !f.path.startsWith("aclImdb/test/neg/"));
    const err = await datasetError(load(makeTarGz(files)));
    expect(err.message).toContain("aclImdb/test/neg/");
    expect(err.message).toContain("train/pos: 3");
    expect(err.message).toContain("test/neg: 0");
  });

  it("rejects two copies of the same review", async () => {
    const files = makeImdbFiles(2, 1);
    const copy = files.filter((f) => f.path.startsWith("aclImdb/train/pos/")).map((f) => ({ ...f, path: `copy/${f.path}` }));
    const err = await datasetError(load(makeTarGz([...files, ...copy])));
    expect(err.message).toMatch(/two train\/pos reviews with id/);
  });

  it("passes archive errors through", async () => {
    const archive = makeImdbArchive(3);
    await expect(load(archive.subarray(0, archive.byteLength - 10))).rejects.toBeInstanceOf(ArchiveError);
  });
});

describe("loadImdb (Node)", () => {
  it("reads an extracted folder exactly like the archive", async () => {
    const files = makeImdbFiles(7, 11);
    const archive = makeTarGz(files);
    const archivePath = path.join(tmp, "aclImdb_v1.tar.gz");
    await writeFile(archivePath, archive);
    const parent = path.join(tmp, "extracted");
    await extract(files, parent);

    const fromStream = await load(archive);
    const progress: [number, number][] = [];
    const fromFile = await loadImdb(archivePath, { onProgress: (d, t) => progress.push([d, t]) });
    const fromParent = await loadImdb(parent);
    const fromFolder = await loadImdb(path.join(parent, "aclImdb"));
    expect(fromFile).toEqual(fromStream);
    expect(fromParent).toEqual(fromStream);
    expect(fromFolder).toEqual(fromStream);
    expect(progress.at(-1)).toEqual([archive.byteLength, archive.byteLength]);
  });

  it("reports folder progress as files read", async () => {
    const dir = path.join(tmp, "progress");
    await extract(makeImdbFiles(3, 2), dir);
    const progress: [number, number][] = [];
    await loadImdb(dir, { onProgress: (d, t) => progress.push([d, t]) });
    expect(progress.at(-1)).toEqual([12, 12]);
  });

  it("explains missing data", async () => {
    const missing = path.join(tmp, "nope", "aclImdb_v1.tar.gz");
    const err = await datasetError(loadImdb(missing, { source: "cache" }));
    expect(err.message).toContain(`no IMDB data at ${missing}`);
    expect(err.message).toContain("moviesentiments download");
    expect(err.message).toContain("--data PATH");
    expect(err.message).toContain("MOVIESENTIMENTS_DATA");
  });

  it("explains a folder that is not IMDB", async () => {
    const dir = path.join(tmp, "other");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "readme.txt"), "hello");
    const err = await datasetError(loadImdb(dir));
    expect(err.message).toContain("is not the IMDB data");
  });

  it("a damaged archive file gets the portable reader's explanation (read through zlib first)", async () => {
    const archive = makeTarGz(makeImdbFiles(40, 40));
    const file = path.join(tmp, "damaged.tar.gz");
    // cut short: the same error as reading the bytes from a stream
    const cut = archive.subarray(0, Math.floor(archive.byteLength * 0.6));
    await writeFile(file, cut);
    const truncated = await loadImdb(file).catch((e: unknown) => e);
    expect(truncated).toBeInstanceOf(ArchiveError);
    expect((truncated as ArchiveError).code).toBe("truncated");
    expect((truncated as ArchiveError).message).toBe(((await load(cut).catch((e: unknown) => e)) as ArchiveError).message);
    // bytes flipped inside the compressed data
    const corrupt = archive.slice();
    for (let i = 40; i < 90; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    await writeFile(file, corrupt);
    const err = await loadImdb(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as ArchiveError).message).toContain("download it again");
    // a sound archive of something else: not the dataset
    await writeFile(file, makeTarGz([{ path: "other/readme.txt", text: "hello" }]));
    expect((await datasetError(loadImdb(file))).message).toContain("does not look like the IMDB archive");
  });

  it("explains a file that is not an archive", async () => {
    const file = path.join(tmp, "page.html");
    await writeFile(file, "<html><body>Not Found</body></html>");
    await expect(loadImdb(file)).rejects.toThrow(/HTML/);
  });
});

describe("resolveDataPath", () => {
  const env = { HOME: "/home/u", XDG_CACHE_HOME: "/xdg" };
  it("prefers --data, then MOVIESENTIMENTS_DATA, then the cache", () => {
    expect(resolveDataPath("/a/b.tar.gz", { ...env, MOVIESENTIMENTS_DATA: "/env/x" })).toEqual({
      path: "/a/b.tar.gz",
      source: "option",
    });
    expect(resolveDataPath(undefined, { ...env, MOVIESENTIMENTS_DATA: "/env/x" })).toEqual({
      path: "/env/x",
      source: "env",
    });
    expect(resolveDataPath(undefined, env)).toEqual({
      path: "/xdg/moviesentiments/aclImdb_v1.tar.gz",
      source: "cache",
    });
    expect(resolveDataPath("rel/data", {}).path).toBe(path.resolve("rel/data"));
  });

  it("uses ~/.cache without XDG_CACHE_HOME (or with a relative one)", () => {
    expect(cacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/moviesentiments");
    expect(cacheDir({})).toBe(path.join(homedir(), ".cache", "moviesentiments"));
    expect(cacheDir({ XDG_CACHE_HOME: "relative" })).toBe(cacheDir({}));
  });
});

describe("random", () => {
  it("mulberry32 is deterministic and uniform-looking", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it("shuffleInPlace and permutation give permutations", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer(), (arr, seed) => {
        const copy = [...arr];
        const out = shuffleInPlace(copy, mulberry32(seed));
        expect(out).toBe(copy);
        expect([...copy].sort((x, y) => x - y)).toEqual([...arr].sort((x, y) => x - y));
      }),
    );
    const p = permutation(1000, mulberry32(1));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(permutation(1000, mulberry32(2)));
  });
});

describe("stratifiedSplit", () => {
  it("keeps each label's proportion, covers every index once, and sorts both parts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (labels, fraction, seed) => {
          const { fit, validation } = stratifiedSplit(labels, fraction, seed);
          expect(fit.length + validation.length).toBe(labels.length);
          const all = [...fit, ...validation].sort((a, b) => a - b);
          expect(all).toEqual(labels.map((_, i) => i));
          for (const part of [fit, validation]) {
            for (let i = 1; i < part.length; i++) expect(part[i]!).toBeGreaterThan(part[i - 1]!);
          }
          for (const label of new Set(labels)) {
            const n = labels.filter((l) => l === label).length;
            const v = [...validation].filter((i) => labels[i] === label).length;
            expect(v).toBe(Math.round(fraction * n));
          }
          // deterministic
          expect(stratifiedSplit(labels, fraction, seed)).toEqual({ fit, validation });
        },
      ),
    );
  });

  it("depends on the seed, and validates the fraction", () => {
    const labels = Uint8Array.from({ length: 1000 }, (_, i) => i % 2);
    const a = stratifiedSplit(labels, 0.2, 1);
    expect(a.validation.length).toBe(200);
    expect(a.fit.length).toBe(800);
    expect(stratifiedSplit(labels, 0.2, 2).validation).not.toEqual(a.validation);
    expect(stratifiedSplit(labels, 0, 1).validation.length).toBe(0);
    expect(() => stratifiedSplit(labels, 1.5, 1)).toThrow(RangeError);
    expect(() => stratifiedSplit(labels, Number.NaN, 1)).toThrow(RangeError);
  });
});

describe("the real IMDB archive", () => {
  if (!realExists) {
    console.warn(`skipping the real-archive test: ${REAL_ARCHIVE} is absent (set MOVIESENTIMENTS_DATA, or see ../shared/data/README.md)`);
  }
  it.skipIf(!realExists)(
    `reads 12,500 reviews per split and class from the real archive (skipped when it is absent)`,
    async () => {
      const start = performance.now();
      const data = await loadImdb(REAL_ARCHIVE);
      const seconds = (performance.now() - start) / 1000;
      console.log(`loaded the real IMDB archive in ${seconds.toFixed(2)} s`);
      for (const split of ["train", "test"] as const) {
        const reviews = data[split];
        expect(reviews).toHaveLength(25_000);
        expect(reviews.filter((r) => r.label === 0)).toHaveLength(12_500);
        expect(reviews.filter((r) => r.label === 1)).toHaveLength(12_500);
        expect(reviews.every((r) => r.split === split && r.text.length > 0)).toBe(true);
        expect(reviews.every((r) => (r.label === 1 ? r.rating >= 7 : r.rating <= 4))).toBe(true);
        // sorted by label, then id; ids 0..12499 per class
        expect(reviews[0]).toMatchObject({ label: 0, id: 0 });
        expect(reviews[12_499]).toMatchObject({ label: 0, id: 12_499 });
        expect(reviews[12_500]).toMatchObject({ label: 1, id: 0 });
      }
      expect(data.train.some((r) => r.text.includes("<br />"))).toBe(true);
    },
  );
});
