// Test helpers: a small tar writer and a synthetic IMDB-layout archive.
//
// makeTarGz() writes real ustar archives (with GNU long names or pax headers for long
// paths when asked) and gzips them with node:zlib, so the reader under test is checked
// against independently produced bytes.

import { gzipSync } from "node:zlib";
import { mulberry32, type Rng } from "../../src/core/random.ts";

export interface TarFile {
  path: string;
  /** file contents; ignored for directories and symlinks */
  text?: string | Uint8Array;
  /** default "file" */
  type?: "file" | "dir" | "symlink";
  /** symlink target */
  linkTo?: string;
}

export interface TarOptions {
  /**
   * How to store paths that do not fit the 100-byte name field:
   * "auto" (default): the ustar prefix field when the path splits at a "/" into
   * <=155 + <=100 bytes, else a GNU long-name ("L") entry;
   * "ustar": the prefix field only (throws when impossible);
   * "gnu": always a GNU "L" entry, with the old GNU magic;
   * "pax": always a pax extended header ("x") with path=.
   */
  longNames?: "auto" | "ustar" | "gnu" | "pax";
  /** modification time in seconds (default: a fixed date, so archives are reproducible) */
  mtime?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function bytesOf(text: string | Uint8Array | undefined): Uint8Array {
  if (text === undefined) return new Uint8Array(0);
  return typeof text === "string" ? encoder.encode(text) : text;
}

function writeString(block: Uint8Array, offset: number, length: number, value: string | Uint8Array): void {
  const bytes = bytesOf(value);
  if (bytes.byteLength > length) throw new Error(`tar field too long (${bytes.byteLength} > ${length})`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

interface HeaderFields {
  name: Uint8Array;
  prefix?: Uint8Array;
  size: number;
  type: string;
  linkName?: string;
  mode?: number;
  mtime: number;
  gnu?: boolean;
}

function header(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode ?? 0o644);
  writeOctal(block, 108, 8, 1000);
  writeOctal(block, 116, 8, 1000);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.fill(0x20, 148, 156); // checksum placeholder
  writeString(block, 156, 1, fields.type);
  if (fields.linkName) writeString(block, 157, 100, fields.linkName);
  if (fields.gnu) {
    writeString(block, 257, 8, "ustar  \0");
  } else {
    writeString(block, 257, 6, "ustar\0");
    writeString(block, 263, 2, "00");
  }
  writeString(block, 265, 32, "test");
  writeString(block, 297, 32, "test");
  if (!fields.gnu && fields.prefix) writeString(block, 345, 155, fields.prefix);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

function padded(data: Uint8Array): Uint8Array[] {
  const pad = (BLOCK - (data.byteLength % BLOCK)) % BLOCK;
  return pad ? [data, new Uint8Array(pad)] : [data];
}

/** Split a path into ustar prefix + name, or null when it cannot be done. */
function ustarSplit(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | null {
  for (let i = Math.min(path.byteLength - 1, 155); i > 0; i--) {
    if (path[i] === 0x2f /* / */ && path.byteLength - i - 1 <= 100 && path.byteLength - i - 1 > 0) {
      return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
    }
  }
  return null;
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n", where len counts every byte, its own digits included.
  const bodyLength = encoder.encode(` ${key}=${value}\n`).byteLength;
  let len = bodyLength + String(bodyLength).length;
  if (String(len).length !== String(bodyLength).length) len = bodyLength + String(len).length;
  return `${len} ${key}=${value}\n`;
}

/** An uncompressed tar archive of the given files, ending with two zero blocks. */
export function makeTar(files: TarFile[], options: TarOptions = {}): Uint8Array {
  const mode = options.longNames ?? "auto";
  const mtime = options.mtime ?? 1_300_000_000;
  const parts: Uint8Array[] = [];
  for (const file of files) {
    const type = file.type ?? "file";
    const data = type === "file" ? bytesOf(file.text) : new Uint8Array(0);
    const typeFlag = type === "file" ? "0" : type === "dir" ? "5" : "2";
    const fullPath = type === "dir" && !file.path.endsWith("/") ? `${file.path}/` : file.path;
    const pathBytes = encoder.encode(fullPath);
    const base = { size: data.byteLength, type: typeFlag, linkName: file.linkTo, mtime, mode: type === "dir" ? 0o755 : 0o644 };

    const fits = pathBytes.byteLength <= 100;
    const useGnu = mode === "gnu" && !fits;
    const usePax = mode === "pax" && !fits;
    const split = fits || useGnu || usePax ? null : ustarSplit(pathBytes);
    const gnuFallback = !fits && !useGnu && !usePax && !split;
    if (gnuFallback && mode === "ustar") throw new Error(`path cannot be stored in ustar prefix+name: ${fullPath}`);

    if (useGnu || gnuFallback) {
      const longData = new Uint8Array(pathBytes.byteLength + 1);
      longData.set(pathBytes);
      parts.push(header({ name: encoder.encode("././@LongLink"), size: longData.byteLength, type: "L", mtime: 0, gnu: true }));
      parts.push(...padded(longData));
      parts.push(header({ ...base, name: pathBytes.subarray(0, 100), gnu: true }));
    } else if (usePax) {
      const paxData = encoder.encode(paxRecord("path", fullPath));
      parts.push(header({ name: encoder.encode("PaxHeaders/entry"), size: paxData.byteLength, type: "x", mtime }));
      parts.push(...padded(paxData));
      parts.push(header({ ...base, name: pathBytes.subarray(0, 100) }));
    } else if (split) {
      parts.push(header({ ...base, name: split.name, prefix: split.prefix }));
    } else {
      parts.push(header({ ...base, name: pathBytes }));
    }
    if (data.byteLength) parts.push(...padded(data));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/** A gzip-compressed tar archive of the given files. */
export function makeTarGz(files: TarFile[], options: TarOptions = {}): Uint8Array {
  const gz = gzipSync(makeTar(files, options));
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/** A web ReadableStream over bytes, delivered in chunks of chunkSize. */
export function streamOf(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pos >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.byteLength, pos + chunkSize);
      controller.enqueue(bytes.slice(pos, end));
      pos = end;
    },
  });
}

// --- synthetic IMDB --------------------------------------------------------------

export const POSITIVE_WORDS = [
  "great", "loved", "wonderful", "excellent", "brilliant", "superb", "enjoyed", "beautiful",
  "masterpiece", "perfect", "touching", "fantastic", "favorite", "best", "delightful",
];
export const NEGATIVE_WORDS = [
  "awful", "boring", "worst", "terrible", "waste", "dull", "poor", "horrible",
  "disappointing", "stupid", "mess", "bad", "lame", "pointless", "annoying",
];
const NEUTRAL_WORDS = [
  "the", "movie", "film", "a", "and", "of", "to", "was", "it", "this", "story", "actor",
  "actress", "plot", "scene", "character", "director", "is", "in", "with", "but", "that",
  "ending", "music", "camera", "script", "i", "watched", "saw", "time", "about", "really",
  "just", "one", "cast", "role", "minutes", "first", "people", "show", "series", "think",
];

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)] as T;
}

function makeReviewText(rng: Rng, positive: boolean): string {
  const own = positive ? POSITIVE_WORDS : NEGATIVE_WORDS;
  const other = positive ? NEGATIVE_WORDS : POSITIVE_WORDS;
  const words: string[] = [];
  const length = 20 + Math.floor(rng() * 40);
  for (let i = 0; i < length; i++) words.push(pick(rng, NEUTRAL_WORDS));
  // 2-5 words of the review's own class, sometimes one of the other class (noise).
  const nOwn = 2 + Math.floor(rng() * 4);
  for (let i = 0; i < nOwn; i++) words.splice(Math.floor(rng() * words.length), 0, pick(rng, own));
  if (rng() < 0.3) words.splice(Math.floor(rng() * words.length), 0, pick(rng, other));
  // Sentences with capitals, punctuation and the dataset's "<br />" line breaks.
  let text = "";
  let sentenceStart = true;
  for (let i = 0; i < words.length; i++) {
    let w = words[i] as string;
    if (sentenceStart) w = w.charAt(0).toUpperCase() + w.slice(1);
    text += (i === 0 ? "" : " ") + w;
    sentenceStart = false;
    if (i < words.length - 1 && rng() < 0.12) {
      text += rng() < 0.8 ? "." : "!";
      if (rng() < 0.2) text += "<br /><br />";
      sentenceStart = true;
    }
  }
  return `${text}.`;
}

/**
 * The files of a tiny IMDB-layout dataset: nPerClass reviews in each of
 * aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt (ids 0..nPerClass-1, written in a
 * shuffled order), plus the README, imdb.vocab, a train/unsup/ review, a .feat file
 * and directory entries, as in the official archive.
 */
export function makeImdbFiles(nPerClass: number, seed = 1): TarFile[] {
  const rng = mulberry32(seed);
  const reviews: TarFile[] = [];
  for (const split of ["train", "test"]) {
    for (const cls of ["pos", "neg"]) {
      for (let id = 0; id < nPerClass; id++) {
        const positive = cls === "pos";
        const rating = positive ? 7 + Math.floor(rng() * 4) : 1 + Math.floor(rng() * 4);
        reviews.push({ path: `aclImdb/${split}/${cls}/${id}_${rating}.txt`, text: makeReviewText(rng, positive) });
      }
    }
  }
  // Archive order should not matter to readers: shuffle it.
  for (let i = reviews.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = reviews[i] as TarFile;
    reviews[i] = reviews[j] as TarFile;
    reviews[j] = tmp;
  }
  const vocab = [...new Set([...POSITIVE_WORDS, ...NEGATIVE_WORDS, ...NEUTRAL_WORDS])].join("\n");
  return [
    { path: "aclImdb", type: "dir" },
    { path: "aclImdb/README", text: "Synthetic test data in the layout of the Large Movie Review Dataset v1.0.\n" },
    { path: "aclImdb/imdb.vocab", text: `${vocab}\n` },
    { path: "aclImdb/train", type: "dir" },
    { path: "aclImdb/train/pos", type: "dir" },
    { path: "aclImdb/train/neg", type: "dir" },
    { path: "aclImdb/train/unsup", type: "dir" },
    { path: "aclImdb/test", type: "dir" },
    { path: "aclImdb/test/pos", type: "dir" },
    { path: "aclImdb/test/neg", type: "dir" },
    { path: "aclImdb/train/labeledBow.feat", text: "9 0:9 1:1 2:4\n" },
    { path: "aclImdb/train/unsup/0_0.txt", text: "An unlabelled review that readers must skip." },
    ...reviews,
  ];
}

/** makeImdbFiles() as a .tar.gz archive. */
export function makeImdbArchive(nPerClass: number, seed = 1): Uint8Array {
  return makeTarGz(makeImdbFiles(nPerClass, seed));
}
