// The IMDB Large Movie Review Dataset: archive entries -> Reviews, plus a seeded,
// stratified train/validation split. Runs unchanged in Node and in browsers.

import { readTarGz } from "./archive.ts";
import { mulberry32, shuffleInPlace } from "./random.ts";
import type { Review } from "./types.ts";

/** The labelled reviews of the archive, each split sorted by label, then id. */
export interface ImdbDataset {
  train: Review[];
  test: Review[];
}

/** The data is readable but is not (all of) the IMDB dataset. */
export class DatasetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatasetError";
  }
}

/** What a review's path says about it. */
export interface ReviewPathInfo {
  split: "train" | "test";
  label: 0 | 1;
  id: number;
  rating: number;
}

// "<anything>/train/pos/123_9.txt"; the unlabelled train/unsup/ reviews do not match.
const REVIEW_PATH = /(?:^|\/)(train|test)\/(pos|neg)\/(\d+)_(\d+)\.txt$/;

/** Parse e.g. "aclImdb/train/pos/123_9.txt"; null for anything that is not a labelled review. */
export function parseReviewPath(path: string): ReviewPathInfo | null {
  const m = REVIEW_PATH.exec(path);
  if (!m) return null;
  return {
    split: m[1] === "train" ? "train" : "test",
    label: m[2] === "pos" ? 1 : 0,
    id: Number(m[3]),
    rating: Number(m[4]),
  };
}

const GROUPS = ["train/pos", "train/neg", "test/pos", "test/neg"] as const;
const SAMPLE_PATHS = 5;

/**
 * Collects reviews from archive entries or files, then checks that the result looks
 * like IMDB and sorts it. Shared by the archive reader and the Node folder reader so
 * both give identical results.
 */
export class ImdbCollector {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private readonly reviews: ImdbDataset = { train: [], test: [] };
  private filesSeen = 0;
  private readonly samples: string[] = [];

  /** Note a file's path; true when it is a labelled review that add() should get. */
  wants(path: string): boolean {
    this.filesSeen++;
    if (this.samples.length < SAMPLE_PATHS) this.samples.push(path);
    return REVIEW_PATH.test(path);
  }

  /** Add one review file (its path must satisfy parseReviewPath). */
  add(path: string, data: Uint8Array | string): void {
    const info = parseReviewPath(path);
    if (!info) throw new DatasetError(`not an IMDB review path: ${path}`);
    const text = typeof data === "string" ? data : this.decoder.decode(data);
    this.reviews[info.split].push({ split: info.split, label: info.label, rating: info.rating, id: info.id, text });
  }

  /**
   * Check and sort the collected reviews.
   * @param source what was read, for error messages (e.g. "the archive", "the folder X")
   */
  finish(source = "the archive"): ImdbDataset {
    const counts = new Map<string, number>(GROUPS.map((g) => [g, 0]));
    for (const split of ["train", "test"] as const) {
      for (const r of this.reviews[split]) {
        const key = `${split}/${r.label === 1 ? "pos" : "neg"}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const total = this.reviews.train.length + this.reviews.test.length;
    if (total === 0) {
      const seen =
        this.filesSeen === 0
          ? "it has no files at all"
          : `it has ${this.filesSeen} file${this.filesSeen === 1 ? "" : "s"}, e.g. ${this.samples.join(", ")}`;
      throw new DatasetError(
        `no aclImdb/train/pos/*.txt entries found in ${source}: this does not look like the IMDB archive ` +
          `aclImdb_v1.tar.gz (${seen})`,
      );
    }
    const missing = GROUPS.filter((g) => counts.get(g) === 0);
    if (missing.length > 0) {
      const found = GROUPS.map((g) => `${g}: ${counts.get(g)}`).join(", ");
      throw new DatasetError(
        `${source} is not the complete IMDB dataset: no reviews in ${missing.map((g) => `aclImdb/${g}/`).join(", ")} ` +
          `(found ${found}). Download aclImdb_v1.tar.gz again`,
      );
    }
    for (const split of ["train", "test"] as const) {
      const list = this.reviews[split];
      list.sort(compareReviews);
      for (let i = 1; i < list.length; i++) {
        const a = list[i - 1] as Review;
        const b = list[i] as Review;
        if (a.label === b.label && a.id === b.id) {
          throw new DatasetError(
            `${source} has two ${split}/${a.label === 1 ? "pos" : "neg"} reviews with id ${a.id} ` +
              `(ratings ${a.rating} and ${b.rating}): it holds more than one copy of the dataset`,
          );
        }
      }
    }
    return this.reviews;
  }
}

/** Order: negatives before positives, then by id. */
function compareReviews(a: Review, b: Review): number {
  return a.label - b.label || a.id - b.id;
}

export interface LoadImdbOptions {
  /** called as compressed bytes are read, with the running total */
  onProgress?: (compressedBytesRead: number) => void;
}

/**
 * Read the IMDB reviews from aclImdb_v1.tar.gz (the official archive, or a copy
 * without train/unsup/ and *.feat). Unneeded entries are skipped without copying.
 *
 * @throws ArchiveError when the bytes are not a complete .tar.gz archive
 * @throws DatasetError when the archive is not the IMDB dataset
 */
export async function loadImdbFromTarGz(
  stream: ReadableStream<Uint8Array>,
  opts: LoadImdbOptions = {},
): Promise<ImdbDataset> {
  const collector = new ImdbCollector();
  const entries = readTarGz(stream, {
    onProgress: opts.onProgress,
    filter: (path) => collector.wants(path),
  });
  for await (const entry of entries) collector.add(entry.path, entry.data);
  return collector.finish("the archive");
}

/**
 * A seeded split of example indices into fit and validation sets, stratified by label:
 * each label value keeps round(fraction * count) of its examples for validation.
 * Both index arrays are sorted ascending. The same labels, fraction and seed always
 * give the same split.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
): { fit: Uint32Array; validation: Uint32Array } {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`validation fraction must be between 0 and 1, got ${fraction}`);
  }
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    let list = byLabel.get(label);
    if (!list) byLabel.set(label, (list = []));
    list.push(i);
  }
  const rng = mulberry32(seed);
  const keys = [...byLabel.keys()].sort((a, b) => a - b);
  let nValidation = 0;
  const chosen: number[][] = [];
  for (const key of keys) {
    const list = byLabel.get(key) as number[];
    shuffleInPlace(list, rng);
    const take = Math.round(fraction * list.length);
    chosen.push(list.slice(0, take));
    nValidation += take;
  }
  const isValidation = new Uint8Array(labels.length);
  for (const list of chosen) for (const i of list) isValidation[i] = 1;
  const validation = new Uint32Array(nValidation);
  const fit = new Uint32Array(labels.length - nValidation);
  let v = 0;
  let f = 0;
  for (let i = 0; i < labels.length; i++) {
    if (isValidation[i]) validation[v++] = i;
    else fit[f++] = i;
  }
  return { fit, validation };
}
