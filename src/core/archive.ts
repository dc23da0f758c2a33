// Streaming .tar.gz reader that runs unchanged in Node 20 and in browsers.
//
// The compressed bytes are piped through the platform's DecompressionStream("gzip")
// and the tar stream is parsed here, block by block, keeping only a 512-byte carry
// buffer for headers split across chunks. Entry data is copied once, into a buffer of
// exactly the entry's size, and only for entries the caller wants.
//
// Nothing in this file may use Node-only modules (fs, process, Buffer) or the DOM.

/** What went wrong, for callers that want to react to a kind of failure. */
export type ArchiveErrorCode =
  /** the input has no bytes at all */
  | "empty"
  /** the input is not gzip data (zip, bzip2, an HTML page, ...) */
  | "not-gzip"
  /** the gzip or tar data stops before its end */
  | "truncated"
  /** the gzip data fails its integrity checks */
  | "corrupt"
  /** the decompressed data is not a tar archive */
  | "not-tar";

/** A clear, typed error about the archive's bytes, saying what was found and what to do. */
export class ArchiveError extends Error {
  readonly code: ArchiveErrorCode;
  constructor(code: ArchiveErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ArchiveError";
    this.code = code;
  }
}

/** One regular file from the archive. */
export interface TarEntry {
  /** the path inside the archive, e.g. "aclImdb/train/pos/123_9.txt" */
  path: string;
  /** the file's bytes (a fresh buffer the caller may keep) */
  data: Uint8Array;
}

/**
 * Decide whether a regular file's data is wanted. Entries for which this returns
 * false are skipped without copying their data.
 */
export type TarEntryFilter = (path: string, size: number) => boolean;

export interface ReadTarGzOptions {
  /** called as compressed bytes are read, with the running total */
  onProgress?: (compressedBytesRead: number) => void;
  /** which regular files to return; all of them when absent */
  filter?: TarEntryFilter;
}

const BLOCK = 512;
/** How far (bytes) reading the compressed input may run ahead of the decompressed output consumed. */
const MAX_LEAD = 4 << 20;
/** Largest GNU long-name or pax header we agree to buffer. */
const MAX_META_SIZE = 1 << 20;

/**
 * Read the regular files of a gzip-compressed tar archive, in archive order.
 * Directories, links and other non-regular entries are skipped.
 *
 * An uncompressed tar archive is accepted as well (recognised by its ustar magic).
 *
 * @throws ArchiveError when the bytes are not a (complete) .tar.gz archive.
 */
export async function* readTarGz(
  stream: ReadableStream<Uint8Array>,
  options?: ReadTarGzOptions | ((compressedBytesRead: number) => void),
): AsyncGenerator<TarEntry, void, undefined> {
  const opts: ReadTarGzOptions = typeof options === "function" ? { onProgress: options } : (options ?? {});
  const onProgress = opts.onProgress;
  const input = stream.getReader();
  let compressedRead = 0;
  let stopped = false;

  // Peek at the first bytes to tell gzip from other formats before decompressing.
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    while (headBytes < BLOCK) {
      const { done, value } = await input.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      head.push(value);
      headBytes += value.byteLength;
      compressedRead += value.byteLength;
    }
  } catch (err) {
    input.releaseLock();
    throw err;
  }
  if (headBytes > 0) onProgress?.(compressedRead);
  const first = concat(head, Math.min(headBytes, BLOCK));
  const format = sniffFormat(first);

  if (format !== "gzip" && format !== "tar") {
    await input.cancel().catch(() => undefined);
    if (format === "empty") {
      throw new ArchiveError("empty", "the archive is an empty file (0 bytes); download it again");
    }
    throw new ArchiveError(
      "not-gzip",
      `this is not a .tar.gz archive: ${format}. ` +
        "Expected the gzip-compressed IMDB archive aclImdb_v1.tar.gz (it starts with the bytes 1f 8b); download it again",
    );
  }

  // Replays the peeked chunks, then the rest of the input, counting bytes.
  let headIndex = 0;
  let tarConsumed = 0;
  const gate: { wake: (() => void) | null } = { wake: null };
  let sourceErrored = false;
  const source = new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        const peeked = head[headIndex];
        if (peeked) {
          head[headIndex++] = EMPTY;
          controller.enqueue(peeked);
          return;
        }
        // Backpressure: Node's DecompressionStream accepts input without limit, so keep
        // the compressed bytes read at most MAX_LEAD ahead of the decompressed bytes
        // consumed. Deflate never makes data much larger, so once the consumer has
        // taken all the output, the gate is open again: this cannot deadlock.
        while (!stopped && compressedRead >= tarConsumed + MAX_LEAD) {
          await new Promise<void>((resolve) => (gate.wake = resolve));
        }
        if (stopped) return;
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await input.read();
        } catch (err) {
          sourceErrored = true;
          throw err;
        }
        if (stopped) return;
        if (result.done) {
          controller.close();
          return;
        }
        compressedRead += result.value.byteLength;
        onProgress?.(compressedRead);
        controller.enqueue(result.value);
      },
      cancel: async (reason) => {
        stopped = true;
        gate.wake?.();
        await input.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );

  const tarStream =
    format === "gzip"
      ? source.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
      : source;
  const reader = tarStream.getReader();
  const parser = new TarParser(opts.filter);
  const out: TarEntry[] = [];
  let finished = false;

  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        if (sourceErrored) throw err; // an I/O error of the input, not of the archive
        throw decompressionError(err, compressedRead);
      }
      if (result.done) break;
      tarConsumed += result.value.byteLength;
      if (gate.wake) {
        gate.wake();
        gate.wake = null;
      }
      parser.push(result.value, out);
      for (let i = 0; i < out.length; i++) {
        const entry = out[i] as TarEntry;
        out[i] = EMPTY_ENTRY;
        yield entry;
      }
      out.length = 0;
    }
    parser.finish(compressedRead);
    finished = true;
  } finally {
    if (!finished && !stopped) {
      // The consumer stopped early or an error was thrown: stop reading the input.
      // (Cancelling the decompressed stream does not reliably reach the input.)
      stopped = true;
      gate.wake?.();
      await reader.cancel().catch(() => undefined);
      await input.cancel().catch(() => undefined);
    }
    reader.releaseLock();
  }
}

/** Read every wanted regular file of a .tar.gz archive into memory. */
export async function readAllTarGz(
  stream: ReadableStream<Uint8Array>,
  options?: ReadTarGzOptions,
): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for await (const entry of readTarGz(stream, options)) entries.push(entry);
  return entries;
}

const EMPTY = new Uint8Array(0);
const EMPTY_ENTRY: TarEntry = { path: "", data: EMPTY };

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let pos = 0;
  for (const chunk of chunks) {
    if (pos >= length) break;
    const n = Math.min(chunk.byteLength, length - pos);
    out.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n), pos);
    pos += n;
  }
  return out;
}

function formatMb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function startsWith(bytes: Uint8Array, prefix: number[], offset = 0): boolean {
  if (bytes.byteLength < offset + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[offset + i] !== prefix[i]) return false;
  return true;
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** "gzip", "tar", "empty", or a description of what the bytes look like instead. */
function sniffFormat(bytes: Uint8Array): string {
  if (bytes.byteLength === 0) return "empty";
  if (startsWith(bytes, [0x1f, 0x8b])) return "gzip";
  if (startsWith(bytes, ascii("ustar"), 257)) return "tar";
  if (startsWith(bytes, [0x50, 0x4b])) return "this is a zip file (it starts with PK)";
  if (startsWith(bytes, ascii("BZh"))) return "this is a bzip2 file";
  if (startsWith(bytes, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "this is an xz file";
  if (startsWith(bytes, [0x28, 0xb5, 0x2f, 0xfd])) return "this is a zstd file";
  if (startsWith(bytes, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return "this is a 7z file";
  if (startsWith(bytes, ascii("Rar!"))) return "this is a rar file";
  const text = new TextDecoder("utf-8", { fatal: false })
    .decode(bytes.subarray(0, Math.min(bytes.byteLength, 256)))
    .trimStart()
    .toLowerCase();
  if (text.startsWith("<!doctype html") || text.startsWith("<html") || text.startsWith("<?xml")) {
    return "this is an HTML/XML page (perhaps an error page saved instead of the archive)";
  }
  const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `it starts with the bytes ${hex}, not the gzip signature 1f 8b`;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Map a DecompressionStream failure to a truncated/corrupt ArchiveError. */
function decompressionError(err: unknown, compressedRead: number): ArchiveError {
  if (err instanceof ArchiveError) return err;
  const message = errorText(err);
  const code = (err as { code?: unknown } | null)?.code;
  const truncated =
    code === "Z_BUF_ERROR" || /unexpected end|truncat|end of (file|stream|input|data)|incomplete/i.test(message);
  if (truncated) {
    return new ArchiveError(
      "truncated",
      `the archive is truncated (read ${formatMb(compressedRead)}); download it again`,
      { cause: err },
    );
  }
  return new ArchiveError(
    "corrupt",
    `the archive is corrupt (gzip: ${message}; read ${formatMb(compressedRead)}); download it again`,
    { cause: err },
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** A NUL-terminated string field. Plain ASCII is decoded without TextDecoder. */
function readString(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  const limit = offset + length;
  let isAscii = true;
  while (end < limit) {
    const b = block[end] as number;
    if (b === 0) break;
    if (b >= 0x80) isAscii = false;
    end++;
  }
  if (end === offset) return "";
  if (!isAscii) return utf8.decode(block.subarray(offset, end));
  let s = "";
  for (let i = offset; i < end; i++) s += String.fromCharCode(block[i] as number);
  return s;
}

/** A numeric field: octal text (space/NUL padded) or GNU base-256 binary. NaN if invalid. */
function readNumber(block: Uint8Array, offset: number, length: number): number {
  const firstByte = block[offset] as number;
  if (firstByte & 0x80) {
    if (firstByte === 0xff) return Number.NaN; // negative base-256 values
    let value = firstByte & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] as number);
    return value;
  }
  let i = offset;
  const end = offset + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  if (i === end) return 0;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const b = block[i] as number;
    if (b >= 0x30 && b <= 0x37) {
      value = value * 8 + (b - 0x30);
      digits++;
    } else if (b === 0x20 || b === 0) {
      break;
    } else {
      return Number.NaN;
    }
  }
  return digits > 0 ? value : Number.NaN;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumOk(block: Uint8Array): boolean {
  const stored = readNumber(block, 148, 8);
  if (Number.isNaN(stored)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parse pax extended header records ("<len> <key>=<value>\n"). */
function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.byteLength) {
    let space = pos;
    while (space < data.byteLength && data[space] !== 0x20) space++;
    const len = Number.parseInt(readString(data, pos, space - pos), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > data.byteLength) break;
    const record = utf8.decode(data.subarray(space + 1, pos + len - 1)); // without the trailing \n
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return records;
}

// Parser states
const HEADER = 0;
const DATA = 1;
const PADDING = 2;
const END = 3;
type State = typeof HEADER | typeof DATA | typeof PADDING | typeof END;

// What the current entry's data is for
const FILE = 0;
const SKIP = 1;
const LONG_NAME = 2;
const PAX = 3;
type Kind = typeof FILE | typeof SKIP | typeof LONG_NAME | typeof PAX;

/** Incremental tar parser: feed it chunks, it appends complete wanted entries. */
class TarParser {
  private state: State = HEADER;
  private readonly header = new Uint8Array(BLOCK);
  private headerFill = 0;
  private zeroBlocks = 0;
  private entries = 0;

  // current entry
  private kind: Kind = SKIP;
  private path = "";
  private remaining = 0;
  private buffer: Uint8Array | null = null;
  private fill = 0;
  private padding = 0;

  // metadata for the next entry
  private longName: string | null = null;
  private paxPath: string | null = null;
  private paxSize: number | null = null;

  constructor(private readonly filter: TarEntryFilter | undefined) {}

  push(chunk: Uint8Array, out: TarEntry[]): void {
    const length = chunk.byteLength;
    let pos = 0;
    while (pos < length) {
      switch (this.state) {
        case HEADER: {
          if (this.headerFill === 0 && length - pos >= BLOCK) {
            this.onHeader(chunk.subarray(pos, pos + BLOCK), out);
            pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.headerFill, length - pos);
            this.header.set(chunk.subarray(pos, pos + n), this.headerFill);
            this.headerFill += n;
            pos += n;
            if (this.headerFill === BLOCK) {
              this.headerFill = 0;
              this.onHeader(this.header, out);
            }
          }
          break;
        }
        case DATA: {
          const n = Math.min(this.remaining, length - pos);
          if (this.buffer) this.buffer.set(chunk.subarray(pos, pos + n), this.fill);
          this.fill += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.endData(out);
          break;
        }
        case PADDING: {
          const n = Math.min(this.padding, length - pos);
          this.padding -= n;
          pos += n;
          if (this.padding === 0) this.state = HEADER;
          break;
        }
        case END:
          // Everything after the end-of-archive marker is ignored.
          return;
      }
    }
  }

  finish(compressedRead: number): void {
    if (this.state === END) return;
    if (this.state === HEADER && this.headerFill === 0) {
      // Clean end at a block boundary (end-of-archive blocks missing or partial).
      if (this.entries === 0 && this.zeroBlocks === 0) {
        throw new ArchiveError(
          "not-tar",
          "the archive contains no files: the decompressed data is empty, not a tar archive; download it again",
        );
      }
      return;
    }
    const where = this.state === HEADER ? "in the middle of a tar header" : `inside the entry "${this.path}"`;
    throw new ArchiveError(
      "truncated",
      `the archive is truncated (read ${formatMb(compressedRead)}; the tar data ends ${where}); download it again`,
    );
  }

  private onHeader(block: Uint8Array, out: TarEntry[]): void {
    if (isZeroBlock(block)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = END;
      return;
    }
    if (this.zeroBlocks > 0) this.zeroBlocks = 0; // a lone zero block: keep going, like GNU tar
    if (!checksumOk(block)) {
      throw new ArchiveError(
        "not-tar",
        this.entries === 0
          ? "the gzip data does not contain a tar archive (the first header's checksum is wrong); " +
              "expected aclImdb_v1.tar.gz, download it again"
          : `the tar archive is corrupt: the header after entry ${this.entries} has a bad checksum; download it again`,
      );
    }
    this.entries++;
    const headerSize = readNumber(block, 124, 12);
    if (Number.isNaN(headerSize)) {
      throw new ArchiveError("not-tar", "the tar archive is corrupt: a header has an invalid size field; download it again");
    }
    const type = block[156] as number;
    let size = headerSize;
    let kind: Kind;
    let path = "";

    if (type === 0x4c /* L: GNU long name */) {
      kind = LONG_NAME;
    } else if (type === 0x78 /* x: pax extended header */) {
      kind = PAX;
    } else if (type === 0x4b /* K: GNU long link name */ || type === 0x67 /* g: global pax header */) {
      kind = SKIP; // metadata we do not need; keeps the pending name for the next entry
    } else {
      if (this.paxSize !== null) size = this.paxSize;
      path = this.paxPath ?? this.longName ?? this.headerName(block);
      this.longName = null;
      this.paxPath = null;
      this.paxSize = null;
      const regular = type === 0x30 /* 0 */ || type === 0 || type === 0x37; /* 7: contiguous */
      kind = regular && !path.endsWith("/") && (!this.filter || this.filter(path, size)) ? FILE : SKIP;
    }

    if ((kind === LONG_NAME || kind === PAX) && size > MAX_META_SIZE) {
      throw new ArchiveError(
        "not-tar",
        `the tar archive is corrupt: an extended header claims ${size} bytes; download it again`,
      );
    }

    this.kind = kind;
    this.path = path;
    this.remaining = size;
    this.fill = 0;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.buffer = kind === SKIP ? null : new Uint8Array(size);
    if (size === 0) this.endData(out);
    else this.state = DATA;
  }

  private headerName(block: Uint8Array): string {
    const name = readString(block, 0, 100);
    // POSIX ustar ("ustar\0"): a non-empty prefix field holds the leading directories.
    // The old GNU format ("ustar  \0") uses those bytes for other things.
    if (block[257] === 0x75 && block[262] === 0 && block[345] !== 0) {
      const prefix = readString(block, 345, 155);
      if (prefix) return `${prefix}/${name}`;
    }
    return name;
  }

  private endData(out: TarEntry[]): void {
    const data = this.buffer;
    this.buffer = null;
    switch (this.kind) {
      case FILE:
        out.push({ path: this.path, data: data ?? EMPTY });
        break;
      case LONG_NAME:
        this.longName = data ? readString(data, 0, data.byteLength) : "";
        break;
      case PAX: {
        const records = parsePax(data ?? EMPTY);
        const paxPath = records.get("path");
        if (paxPath !== undefined) this.paxPath = paxPath;
        const paxSize = records.get("size");
        if (paxSize !== undefined && /^\d+$/.test(paxSize)) this.paxSize = Number(paxSize);
        break;
      }
      case SKIP:
        break;
    }
    this.state = this.padding > 0 ? PADDING : HEADER;
  }
}
