// Download aclImdb_v1.tar.gz into the cache: streamed to a private partial file
// while its MD5 is computed, then checked and renamed into place atomically, so the
// destination is either absent or complete.

import { createHash } from "node:crypto";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { cachedArchivePath } from "./data.ts";

/** The official archive of the Large Movie Review Dataset v1.0. */
export const IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz";
/** MD5 of the official archive (84,125,825 bytes). */
export const IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a";

/** A download that failed; nothing was left at the destination. */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DownloadError";
  }
}

export interface DownloadOptions {
  /** default: the official archive's URL */
  url?: string;
  /** expected MD5 (hex); default: the official archive's; null skips the check */
  md5?: string | null;
  /** default: `<cacheDir>/aclImdb_v1.tar.gz` */
  dest?: string;
  /** called as bytes arrive; total is the Content-Length when the server sends one */
  onProgress?: (received: number, total: number | undefined) => void;
  /** aborts the download (the partial file is removed) */
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  md5: string;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici puts the interesting part ("ECONNREFUSED ...") in the cause.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message && cause.message !== err.message
    ? `${err.message} (${cause.message})`
    : err.message;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Download the IMDB archive (or any file) to `dest`, verifying its MD5.
 * @throws DownloadError on HTTP errors, network errors, short bodies and checksum mismatches
 */
export async function downloadArchive(options: DownloadOptions = {}): Promise<DownloadResult> {
  const url = options.url ?? IMDB_URL;
  const expected = options.md5 === undefined ? IMDB_MD5 : options.md5;
  const dest = path.resolve(options.dest ?? cachedArchivePath());
  const part = `${dest}.part-${process.pid}`;
  const advice = `download it by hand from ${url} and pass --data PATH`;

  let file: FileHandle | undefined;
  let received = 0;
  try {
    await mkdir(path.dirname(dest), { recursive: true });

    let response: Response;
    try {
      response = await fetch(url, { signal: options.signal, redirect: "follow" });
    } catch (err) {
      throw new DownloadError(
        `could not download ${url}: ${errorText(err)}. Check the network connection and try again, or ${advice}`,
        { cause: err },
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new DownloadError(
        `could not download ${url}: the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}. ` +
          `Try again later, or ${advice}`,
      );
    }
    if (!response.body) throw new DownloadError(`could not download ${url}: the response has no body`);

    // With a Content-Encoding, Content-Length counts encoded bytes: no length check then.
    const lengthHeader = response.headers.get("content-length");
    const total =
      lengthHeader && !response.headers.get("content-encoding") && /^\d+$/.test(lengthHeader)
        ? Number(lengthHeader)
        : undefined;

    file = await open(part, "w");
    const hash = createHash("md5");
    const reader = response.body.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new DownloadError(
            `the download of ${url} was interrupted after ${mb(received)}: ${errorText(err)}. Try again`,
            { cause: err },
          );
        }
        if (chunk.done) break;
        hash.update(chunk.value);
        await file.write(chunk.value);
        received += chunk.value.byteLength;
        options.onProgress?.(received, total);
      }
    } finally {
      reader.releaseLock();
    }
    await file.close();
    file = undefined;

    if (total !== undefined && received !== total) {
      throw new DownloadError(
        `the download of ${url} is incomplete: got ${received} of ${total} bytes. Try again`,
      );
    }
    const got = hash.digest("hex");
    if (expected && got !== expected.toLowerCase()) {
      throw new DownloadError(
        `checksum mismatch for ${url}: expected MD5 ${expected.toLowerCase()}, got ${got} ` +
          `(${received} bytes). The file was not saved; try again, or ${advice}`,
      );
    }
    await rename(part, dest);
    return { path: dest, bytes: received, md5: got };
  } catch (err) {
    await file?.close().catch(() => undefined);
    await rm(part, { force: true }).catch(() => undefined);
    if (err instanceof DownloadError) throw err;
    if (options.signal?.aborted) {
      throw new DownloadError(`the download of ${url} was cancelled`, { cause: err });
    }
    throw new DownloadError(`could not download ${url} to ${dest}: ${errorText(err)}`, { cause: err });
  }
}
