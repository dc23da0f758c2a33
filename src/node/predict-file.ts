// Batch scoring of files: `moviesentiments predict INPUT` and `moviesentiments evaluate
// INPUT --label COLUMN`. Input is read, scored and written in chunks (memory stays flat
// however large the file); output goes to a temporary file renamed into place only when
// complete. Every problem with the input is one clear line and exit code 2.

import { createReadStream, existsSync, realpathSync, statSync, type Stats } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EmptyTextError, predictionFromLogit, type Contribution, type Label } from "../core/predict.ts";
import { ModelError, type SentimentModel } from "../core/model-format.ts";
import { binaryMetrics } from "../core/metrics.ts";
import {
  appendJsonFields,
  canonicalEncoding,
  formatCsvRow,
  formatFromName,
  freshName,
  pickColumn,
  sniffBinary,
  TABLE_FORMATS,
  TableFormatError,
  TableReader,
  TextChunkDecoder,
  type TableFormat,
  type TableRow,
} from "../core/table-formats.ts";
import { defaultModelDir, loadModelDir } from "./model-files.ts";
import { createProgressBar } from "./progress.ts";
import { InlineScorer, isScoreWorker, runScoreWorker, workerEntry, WorkerPool, type Scorer, type ScoreResult } from "./score-worker.ts";

/** Bad input or settings: one line for the user, exit code 2. */
export class InputError extends Error {
  override name = "InputError";
}

export interface CliIo {
  out: (s: string) => void;
  log: (s: string) => void;
  /** where scored rows go without --out (default: process.stdout) */
  stdout?: NodeJS.WritableStream;
  /** standard input for INPUT "-" (default: process.stdin) */
  stdin?: NodeJS.ReadableStream;
}

const PREDICT_OPTIONS = {
  column: { type: "string" },
  out: { type: "string" },
  format: { type: "string" },
  explain: { type: "string" },
  encoding: { type: "string" },
  model: { type: "string" },
  workers: { type: "string" },
  label: { type: "string" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
} as const;

type Opts = { [K in keyof typeof PREDICT_OPTIONS]?: (typeof PREDICT_OPTIONS)[K]["type"] extends "string" ? string : boolean };

const PREDICT_ALLOWED = new Set(["column", "out", "format", "explain", "encoding", "model", "workers", "debug"]);
const EVALUATE_ALLOWED = new Set(["column", "label", "format", "encoding", "model", "workers", "json", "debug"]);

/** Rows per scoring batch, and text per batch (UTF-16 code units). */
const BATCH_ROWS = 4096;
const BATCH_CHARS = 512 * 1024;
/** Input bytes per read. */
const READ_CHUNK = 1 << 20;

function parseCommand(argv: string[], command: string, allowed: Set<string>): { opts: Opts; input: string } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: PREDICT_OPTIONS, allowPositionals: true, strict: false });
  } catch (e) {
    throw new InputError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  const { values, positionals } = parsed;
  for (const [key, value] of Object.entries(values)) {
    if (!(key in PREDICT_OPTIONS)) throw new InputError(`--${key} does not apply to ${command} (see --help)`);
    if (!allowed.has(key)) throw new InputError(`--${key} does not apply to ${command} (see --help)`);
    const type = PREDICT_OPTIONS[key as keyof typeof PREDICT_OPTIONS].type;
    if (type === "string" && typeof value !== "string") throw new InputError(`--${key} needs a value (see --help)`);
  }
  // positionals[0] is the command itself
  const rest = positionals[0] === command ? positionals.slice(1) : positionals;
  if (rest.length === 0)
    throw new InputError(
      command === "predict"
        ? "predict needs an INPUT file: moviesentiments predict reviews.csv [--out scored.csv] (use - for standard input)"
        : "evaluate INPUT needs a file with a label column: moviesentiments evaluate reviews.csv --label label",
    );
  if (rest.length > 1) throw new InputError(`one INPUT file at a time (got ${rest.map((r) => `"${r}"`).join(", ")})`);
  return { opts: values as Opts, input: rest[0]! };
}

function intOption(opts: Opts, key: "explain" | "workers", fallback: number, max: number): number {
  const raw = opts[key];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(v) || v < 0 || v > max) throw new InputError(`--${key} must be an integer from 0 to ${max} (got "${raw}")`);
  return v;
}

function formatOption(opts: Opts): TableFormat | undefined {
  if (opts.format === undefined) return undefined;
  const f = opts.format.toLowerCase().replace(/^\./, "");
  const alias: Record<string, TableFormat> = { ndjson: "jsonl", text: "txt", tab: "tsv" };
  const format = (alias[f] ?? f) as TableFormat;
  if (!TABLE_FORMATS.includes(format)) throw new InputError(`--format must be one of csv, tsv, jsonl, txt (got "${opts.format}")`);
  return format;
}

function encodingOption(opts: Opts): string {
  const label = opts.encoding ?? "utf-8";
  const canonical = canonicalEncoding(label);
  if (!canonical) throw new InputError(`unknown --encoding "${label}" (try utf-8, latin1, windows-1252, utf-16le)`);
  return canonical;
}

function inputFormat(input: string, opts: Opts): TableFormat {
  const f = formatOption(opts);
  if (f) return f;
  if (input === "-") return "txt";
  const byName = formatFromName(input);
  if (byName) return byName;
  throw new InputError(`cannot tell the format of ${input} from its name: pass --format csv, tsv, jsonl or txt (one review a line)`);
}

function loadModel(opts: Opts): SentimentModel {
  return loadModelDir(opts.model ? resolve(opts.model) : defaultModelDir());
}

// ---- files ---------------------------------------------------------------------------

function errnoMessage(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file or folder";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    case "ENOTDIR":
      return "a part of the path is not a folder";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    case "ENAMETOOLONG":
      return "the name is too long";
    case "EIO":
      return "input/output error";
    default:
      return undefined;
  }
}

function statInput(input: string): Stats {
  let st: Stats;
  try {
    st = statSync(input);
  } catch (e) {
    const why = errnoMessage(e);
    if (why) throw new InputError(`cannot read ${input}: ${why}`);
    throw e;
  }
  if (st.isDirectory()) throw new InputError(`${input} is a folder, not a file of reviews`);
  return st;
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Where output goes: a temporary file beside OUT, renamed over OUT when complete; or stdout. */
interface Sink {
  /** the strings, in order (encoded as UTF-8) */
  write(parts: readonly string[]): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
  /** the reader went away (stdout closed early): stop quietly */
  readonly closed: boolean;
}

/**
 * Output gathered as UTF-8 bytes: each string is encoded straight into one buffer, which
 * goes out whole once it holds `flushAt` bytes. No joined strings on the way: joining each
 * batch's rows, then the batches, then encoding the result copied every byte three times.
 */
export class Utf8Gatherer {
  private buf: Buffer;
  private at = 0;
  private readonly flushAt: number;
  /** the buffer goes out and is not written again: a new one is started after each flush */
  private readonly handedOver: boolean;
  private readonly out: (bytes: Buffer) => Promise<void>;

  constructor(flushAt: number, handedOver: boolean, out: (bytes: Buffer) => Promise<void>) {
    this.flushAt = flushAt;
    this.handedOver = handedOver;
    this.out = out;
    this.buf = Buffer.allocUnsafe(2 * flushAt);
  }

  async add(parts: readonly string[]): Promise<void> {
    for (const s of parts) {
      // a UTF-16 code unit is at most 3 bytes of UTF-8
      if (this.at + 3 * s.length > this.buf.length) {
        await this.flush();
        if (3 * s.length > this.buf.length) {
          await this.out(Buffer.from(s, "utf8"));
          continue;
        }
      }
      this.at += this.buf.write(s, this.at);
    }
    if (this.at >= this.flushAt) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.at === 0) return;
    const bytes = this.buf.subarray(0, this.at);
    this.at = 0;
    if (this.handedOver) this.buf = Buffer.allocUnsafe(this.buf.length);
    await this.out(bytes);
  }

  discard(): void {
    this.at = 0;
  }
}

async function openFileSink(out: string, inputStat: Stats | undefined): Promise<Sink> {
  const path = resolve(out);
  const dir = dirname(path);
  let dirStat: Stats;
  try {
    dirStat = statSync(dir);
  } catch (e) {
    const why = errnoMessage(e);
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new InputError(`cannot write ${out}: the folder ${dir} does not exist (create it first)`);
    if (why) throw new InputError(`cannot write ${out}: ${why}`);
    throw e;
  }
  if (!dirStat.isDirectory()) throw new InputError(`cannot write ${out}: ${dir} is not a folder`);
  if (existsSync(path)) {
    const st = statSync(path);
    if (st.isDirectory()) throw new InputError(`cannot write ${out}: it is a folder (give a file name)`);
    if (inputStat && sameFile(st, inputStat)) throw new InputError(`--out ${out} is the input file: refusing to write over it (choose another name)`);
  }
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, "wx");
  } catch (e) {
    const why = errnoMessage(e);
    if (why) throw new InputError(`cannot write ${out}: ${why}`);
    throw e;
  }
  let done = false;
  // the write is awaited before the buffer is filled again, so one buffer serves throughout
  const gathered = new Utf8Gatherer(1 << 20, false, async (bytes) => {
    try {
      await fh.write(bytes);
    } catch (e) {
      const why = errnoMessage(e);
      if (why) throw new InputError(`cannot write ${out}: ${why}`);
      throw e;
    }
  });
  return {
    closed: false,
    write: (parts) => gathered.add(parts),
    async finish() {
      await gathered.flush();
      try {
        await fh.sync();
        await fh.close();
        done = true;
        await rename(tmp, path);
      } catch (e) {
        await rm(tmp, { force: true });
        const why = errnoMessage(e);
        if (why) throw new InputError(`cannot write ${out}: ${why}`);
        throw e;
      }
    },
    async abort() {
      gathered.discard();
      if (!done) await fh.close().catch(() => {});
      done = true;
      await rm(tmp, { force: true });
    },
  };
}

function streamSink(stream: NodeJS.WritableStream): Sink {
  let closed = false;
  let failure: Error | undefined;
  const onError = (e: Error) => {
    if ((e as NodeJS.ErrnoException).code === "EPIPE") closed = true;
    else failure = e;
  };
  stream.on("error", onError);
  // the stream keeps each buffer it is given until it is written out
  const gathered = new Utf8Gatherer(1 << 18, true, async (bytes) => {
    if (closed) return;
    if (failure) throw failure;
    if (!stream.write(bytes)) {
      await new Promise<void>((res) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("error", done);
          stream.off("close", done);
          res();
        };
        stream.on("drain", done);
        stream.on("error", done);
        stream.on("close", done);
      });
    }
    if (failure) throw failure;
  });
  return {
    get closed() {
      return closed;
    },
    write: (parts) => gathered.add(parts),
    async finish() {
      await gathered.flush();
      stream.off("error", onError);
      // keep swallowing a late EPIPE
      stream.on("error", () => {});
    },
    async abort() {
      gathered.discard();
    },
  };
}

// ---- reading and scoring -----------------------------------------------------------

/** What a row becomes once its text is chosen: a text to score, or the reason it cannot be. */
interface Pending {
  row: TableRow;
  /** index into the batch's texts, or -1 */
  textIndex: number;
  error?: string;
  /** evaluate: 0/1 */
  label?: number;
}

interface Batch {
  items: Pending[];
  texts: string[];
  chars: number;
}

interface ReadOptions {
  input: string;
  format: TableFormat;
  encoding: string;
  column: string;
  columnExplicit: boolean;
  /** evaluate: the label column */
  labelColumn?: string;
  explain: number;
  stdin?: NodeJS.ReadableStream;
  inputStat?: Stats;
  signal: { aborted: boolean };
  onStream?: (s: NodeJS.ReadableStream) => void;
}

interface TableShape {
  /** CSV/TSV header, or ["text"] for plain text; undefined for JSONL */
  header?: string[];
  /** the text column (CSV/TSV/txt) */
  textIndex?: number;
  /** the text field (JSONL) */
  textField?: string;
  labelIndex?: number;
  labelField?: string;
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 30).map((n) => JSON.stringify(n));
  return shown.join(", ") + (names.length > 30 ? `, ... (${names.length} in all)` : "");
}

function where(input: string): string {
  return input === "-" ? "standard input" : input;
}

const LABEL_VALUES: Record<string, number> = { positive: 1, pos: 1, "1": 1, negative: 0, neg: 0, "0": 0 };

function parseLabel(v: unknown, line: number, name: string): number {
  if (v === 1 || v === true) return 1;
  if (v === 0 || v === false) return 0;
  const key = typeof v === "string" ? v.trim().toLowerCase() : undefined;
  const label = key === undefined ? undefined : LABEL_VALUES[key];
  if (label === undefined)
    throw new InputError(`line ${line}: the ${name} ${JSON.stringify(v === undefined ? null : v)} is not positive/negative or 1/0`);
  return label;
}

/**
 * Reads a table and calls onShape once (when the columns are known), then onBatch for
 * each batch of rows, in order, with their scores. Batches are scored concurrently
 * (up to maxInFlight at a time) but delivered in input order.
 */
async function scoreTable(
  o: ReadOptions,
  scorerFor: (batchNumber: number) => Scorer,
  onShape: (shape: TableShape) => Promise<void>,
  onBatch: (batch: Batch, result: ScoreResult) => Promise<boolean>,
  onBytes: (n: number) => void,
  maxInFlight: () => number,
): Promise<{ rows: number }> {
  const decoder = new TextChunkDecoder(o.encoding);
  const reader = new TableReader({ format: o.format });
  let shape: TableShape | undefined;
  let batch: Batch = { items: [], texts: [], chars: 0 };
  let batchNumber = 0;
  const inFlight: { batch: Batch; result: Promise<ScoreResult> }[] = [];
  let rows = 0;
  let stop = false;

  const deliverOldest = async (): Promise<void> => {
    const next = inFlight.shift()!;
    const result = await next.result;
    if (!(await onBatch(next.batch, result))) stop = true;
  };
  const dispatch = async (): Promise<void> => {
    if (batch.items.length === 0) return;
    const b = batch;
    batch = { items: [], texts: [], chars: 0 };
    const result = scorerFor(batchNumber++).score(b.texts, o.explain);
    result.catch(() => {}); // observed in deliverOldest
    inFlight.push({ batch: b, result });
    while (inFlight.length > maxInFlight()) await deliverOldest();
  };

  const setShape = async (first: TableRow | undefined): Promise<void> => {
    if (o.format === "jsonl") {
      const obj = first?.json?.value ?? {};
      const keys = Object.keys(obj);
      let textField: string | undefined;
      if (Object.hasOwn(obj, o.column)) textField = o.column;
      else if (!o.columnExplicit && keys.length === 1) textField = keys[0];
      if (first && textField === undefined)
        throw new InputError(
          `line ${first.line} of ${where(o.input)}: no "${o.column}" field; the fields there are ${listNames(keys)} (choose one with --column)`,
        );
      shape = { textField: textField ?? o.column };
      if (o.labelColumn !== undefined) {
        if (first && !Object.hasOwn(obj, o.labelColumn))
          throw new InputError(`line ${first.line} of ${where(o.input)}: no "${o.labelColumn}" field for the labels; the fields there are ${listNames(keys)} (choose one with --label)`);
        shape.labelField = o.labelColumn;
      }
    } else if (o.format === "txt") {
      if (o.labelColumn !== undefined) throw new InputError("plain text has no label column: evaluate a CSV, TSV or JSONL file with --label");
      shape = { header: ["text"], textIndex: 0 };
    } else {
      const header = reader.header;
      if (!header) throw new InputError(`${where(o.input)} is empty: a ${o.format.toUpperCase()} file needs a header line naming its columns`);
      const textIndex = pickColumn(header, o.column, o.columnExplicit);
      if (textIndex === undefined)
        throw new InputError(`${where(o.input)} has no column "${o.column}"; its columns are ${listNames(header)} (choose one with --column)`);
      shape = { header, textIndex };
      if (o.labelColumn !== undefined) {
        const labelIndex = pickColumn(header, o.labelColumn, true);
        if (labelIndex === undefined)
          throw new InputError(`${where(o.input)} has no label column "${o.labelColumn}"; its columns are ${listNames(header)} (choose one with --label)`);
        shape.labelIndex = labelIndex;
      }
    }
    await onShape(shape);
  };

  const addRow = async (row: TableRow): Promise<void> => {
    if (!shape) await setShape(row);
    const s = shape!;
    rows++;
    let text: unknown;
    let label: unknown;
    if (row.json) {
      const v = row.json.value;
      text = Object.hasOwn(v, s.textField!) ? v[s.textField!] : undefined;
      if (s.labelField !== undefined) label = Object.hasOwn(v, s.labelField) ? v[s.labelField] : undefined;
    } else {
      text = row.cells![s.textIndex!];
      if (s.labelIndex !== undefined) label = row.cells![s.labelIndex];
    }
    const item: Pending = { row, textIndex: -1 };
    if (typeof text !== "string") {
      item.error =
        text === undefined
          ? `no "${s.textField}" field in this row`
          : text === null
            ? `the "${s.textField}" field is null`
            : `the "${s.textField}" field is ${Array.isArray(text) ? "an array" : `a ${typeof text}`}, not text`;
    } else if (text.trim() === "") {
      item.error = text === "" ? "the review is empty" : "the review is only whitespace";
    } else {
      // evaluate: a row with text needs a label (rows without text are skipped and counted)
      if (s.labelField !== undefined || s.labelIndex !== undefined)
        item.label = parseLabel(label, row.line, s.labelField !== undefined ? `"${s.labelField}" field` : "label");
      item.textIndex = batch.texts.length;
      batch.texts.push(text);
      batch.chars += text.length;
    }
    batch.items.push(item);
    if (batch.items.length >= BATCH_ROWS || batch.chars >= BATCH_CHARS) await dispatch();
  };

  let stream: NodeJS.ReadableStream;
  if (o.input === "-") stream = o.stdin ?? process.stdin;
  else stream = createReadStream(o.input, { highWaterMark: READ_CHUNK });
  o.onStream?.(stream);
  let first = true;
  const rowBuf: TableRow[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
      if (o.signal.aborted || stop) break;
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      if (first && bytes.length > 0) {
        first = false;
        const what = sniffBinary(bytes.subarray(0, 8192), o.encoding);
        if (what?.startsWith("UTF-16"))
          throw new InputError(`${where(o.input)} looks like ${what}: name its encoding with --encoding ${what.startsWith("UTF-16LE") ? "utf-16le" : "utf-16be"}`);
        if (what) throw new InputError(`${where(o.input)} is not a text file of reviews: it looks like ${what}`);
      }
      onBytes(bytes.length);
      rowBuf.length = 0;
      reader.push(decoder.push(bytes), rowBuf);
      if (!shape && reader.header && o.format !== "jsonl") await setShape(undefined);
      for (const r of rowBuf) {
        await addRow(r);
        if (stop) break;
      }
    }
    if (!o.signal.aborted && !stop) {
      rowBuf.length = 0;
      reader.push(decoder.end(), rowBuf);
      reader.end(rowBuf);
      for (const r of rowBuf) await addRow(r);
      if (!shape) await setShape(undefined); // no rows (an empty CSV/TSV has no header: an error)
      await dispatch();
      while (inFlight.length > 0 && !stop) await deliverOldest();
    }
  } catch (e) {
    if (o.signal.aborted) return { rows };
    if (e instanceof TableFormatError) {
      const hint =
        e.kind !== "encoding"
          ? ""
          : e.suggestedEncoding
            ? `: name its encoding with --encoding ${e.suggestedEncoding}`
            : ". If the file is in another encoding, name it with --encoding (old review corpora are often Latin-1: --encoding latin1)";
      throw new InputError(`${where(o.input)}, ${e.message}${hint}`);
    }
    if ((e as NodeJS.ErrnoException).code === "EISDIR") throw new InputError(`${where(o.input)} is a folder, not a file of reviews`);
    const why = errnoMessage(e);
    if (why && (e as NodeJS.ErrnoException).syscall === "read") throw new InputError(`cannot read ${where(o.input)}: ${why}`);
    throw e;
  } finally {
    if (o.input !== "-") (stream as ReturnType<typeof createReadStream>).destroy();
    await Promise.allSettled(inFlight.map((f) => f.result));
  }
  return { rows };
}

// ---- output rows -------------------------------------------------------------------

const PROB_SCALE = 1_000_000;

/** P(negative) and P(positive) with six decimals that add up to exactly 1. */
export function probabilityStrings(logit: number): { label: Label; negative: string; positive: string } {
  const p = predictionFromLogit(logit);
  const k = Math.round(p.probabilities.positive * PROB_SCALE);
  return { label: p.label, positive: (k / PROB_SCALE).toFixed(6), negative: ((PROB_SCALE - k) / PROB_SCALE).toFixed(6) };
}

function contributionsText(list: readonly Contribution[]): string {
  return list.map((c) => `${c.ngram} (${c.contribution >= 0 ? "+" : ""}${c.contribution.toFixed(3)})`).join(" | ");
}

function contributionsJson(list: readonly Contribution[]): { ngram: string; contribution: number }[] {
  return list.map((c) => ({ ngram: c.ngram, contribution: Number(c.contribution.toFixed(4)) }));
}

interface OutputNames {
  label: string;
  pNegative: string;
  pPositive: string;
  topPositive: string;
  topNegative: string;
  error: string;
}

function outputNames(taken: readonly string[]): OutputNames {
  const set = new Set(taken);
  const take = (n: string) => {
    const f = freshName(n, set);
    set.add(f);
    return f;
  };
  return {
    label: take("label"),
    pNegative: take("p_negative"),
    pPositive: take("p_positive"),
    topPositive: take("top_positive"),
    topNegative: take("top_negative"),
    error: take("error"),
  };
}

/** Unique keys for a CSV header turned into JSON objects (repeated names get a suffix). */
function uniqueKeys(header: readonly string[]): string[] {
  const seen = new Set<string>();
  return header.map((h) => {
    let k = h;
    for (let n = 2; seen.has(k); n++) k = `${h}_${n}`;
    seen.add(k);
    return k;
  });
}

// ---- predict -------------------------------------------------------------------------

function defaultWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism()));
}

function makeScorerFactory(
  model: SentimentModel,
  workers: number,
  inputBytes?: number,
): { scorerFor: (n: number) => Scorer; close: () => Promise<void>; threads: () => number } {
  const inline = new InlineScorer(model);
  let pool: WorkerPool | undefined;
  const entry = workers > 0 ? workerEntry() : undefined;
  // A file that holds several batches starts the workers now, while its first batch is
  // read; otherwise the first batch is scored here, and workers start only when there
  // is a second one (a short file never pays for starting threads).
  if (entry && inputBytes !== undefined && inputBytes > 4 * BATCH_CHARS) pool = new WorkerPool(model, workers, entry);
  return {
    scorerFor: (n) => {
      if (pool) return pool;
      if (!entry || n === 0) return inline;
      pool ??= new WorkerPool(model, workers, entry);
      return pool;
    },
    close: async () => {
      await pool?.close();
    },
    threads: () => (pool ? pool.threads : 0),
  };
}

async function runWithInterrupt<T>(body: (signal: { aborted: boolean }, onStream: (s: NodeJS.ReadableStream) => void) => Promise<T>): Promise<T> {
  const signal = { aborted: false };
  let current: NodeJS.ReadableStream | undefined;
  const onSignal = () => {
    signal.aborted = true;
    (current as { destroy?: () => void } | undefined)?.destroy?.(); // ends the read loop
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(signal, (s) => (current = s));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

class Interrupted extends Error {}

async function predictFile(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv, "predict", PREDICT_ALLOWED);
  const input = parsed.input;
  const opts: Opts = { ...parsed.opts, out: parsed.opts.out === "-" ? undefined : parsed.opts.out }; // --out - is standard output
  const format = inputFormat(input, opts);
  const encoding = encodingOption(opts);
  const explain = intOption(opts, "explain", 0, 100);
  const workers = intOption(opts, "workers", defaultWorkers(), 64);
  const outFormat: TableFormat = (() => {
    const byName = opts.out ? formatFromName(opts.out) : undefined;
    if (byName && byName !== "txt") return byName;
    return format === "txt" ? "csv" : format;
  })();
  if (format === "jsonl" && outFormat !== "jsonl")
    throw new InputError(`JSONL input is written as JSONL: name the output .jsonl (got --out ${opts.out})`);
  const inputStat = input === "-" ? undefined : statInput(input);
  if (inputStat && opts.out !== undefined && resolve(opts.out) === resolve(input))
    throw new InputError(`--out ${opts.out} is the input file: refusing to write over it (choose another name)`);
  const model = loadModel(opts);
  const sink = opts.out !== undefined ? await openFileSink(opts.out, inputStat) : streamSink(io.stdout ?? process.stdout);
  const scorers = makeScorerFactory(model, workers, inputStat?.size);
  const bar = createProgressBar(`scoring ${input === "-" ? "stdin" : basename(input)}`, inputStat?.size, { unit: "bytes" });
  const t0 = performance.now();
  let nScored = 0;
  const errors: { line: number; error: string }[] = [];
  let nErrors = 0;
  let bytes = 0;
  let ok = false;
  try {
    await runWithInterrupt(async (signal, onStream) => {
      let names: OutputNames;
      let keys: string[] | undefined;
      const delimiter = outFormat === "tsv" ? "\t" : ",";
      const added = (): string[] => [names.label, names.pNegative, names.pPositive, ...(explain > 0 ? [names.topPositive, names.topNegative] : []), names.error];
      await scoreTable(
        { input, format, encoding, column: opts.column ?? "text", columnExplicit: opts.column !== undefined, explain, inputStat, signal, onStream, stdin: io.stdin },
        scorers.scorerFor,
        async (shape) => {
          if (shape.header) {
            names = outputNames(shape.header);
            if (outFormat === "jsonl") keys = uniqueKeys(shape.header);
            else await sink.write([formatCsvRow([...shape.header, ...added()], delimiter)]);
          } else {
            // JSONL: each object's own keys are checked for collisions as it is written
            names = outputNames([]);
          }
        },
        async (batch, result) => {
          const parts: string[] = [];
          for (const item of batch.items) {
            const failed = item.textIndex < 0;
            let label = "";
            let pNeg = "";
            let pPos = "";
            let topPos: readonly Contribution[] = [];
            let topNeg: readonly Contribution[] = [];
            if (!failed) {
              const p = probabilityStrings(result.logits[item.textIndex]!);
              label = p.label;
              pNeg = p.negative;
              pPos = p.positive;
              const e = result.explanations?.[item.textIndex];
              if (e) {
                topPos = e.positive;
                topNeg = e.negative;
              }
              nScored++;
            } else {
              nErrors++;
              if (errors.length < 10) errors.push({ line: item.row.line, error: item.error! });
            }
            if (outFormat === "jsonl") {
              const fields: [string, unknown][] = [];
              let rowNames = names;
              if (item.row.json) {
                const own = Object.keys(item.row.json.value);
                if (own.some((k) => k === names.label || k === names.pNegative || k === names.pPositive || k === names.error || k === names.topPositive || k === names.topNegative))
                  rowNames = outputNames(own);
              }
              fields.push([rowNames.label, failed ? null : label], [rowNames.pNegative, failed ? null : Number(pNeg)], [rowNames.pPositive, failed ? null : Number(pPos)]);
              if (explain > 0) fields.push([rowNames.topPositive, contributionsJson(topPos)], [rowNames.topNegative, contributionsJson(topNeg)]);
              if (failed) fields.push([rowNames.error, item.error]);
              if (item.row.json) parts.push(appendJsonFields(item.row.json.raw, fields) + "\n");
              else {
                const obj: Record<string, unknown> = {};
                keys!.forEach((k, i) => (obj[k] = item.row.cells![i]));
                for (const [k, v] of fields) obj[k] = v;
                parts.push(JSON.stringify(obj) + "\n");
              }
            } else {
              const cells = [...item.row.cells!, label, pNeg, pPos];
              if (explain > 0) cells.push(contributionsText(topPos), contributionsText(topNeg));
              cells.push(failed ? item.error! : "");
              parts.push(formatCsvRow(cells, delimiter));
            }
          }
          await sink.write(parts);
          return !sink.closed;
        },
        (n) => {
          bytes += n;
          bar.update(bytes);
        },
        () => 2 * Math.max(1, scorers.threads()) + 1,
      );
      if (signal.aborted) throw new Interrupted();
    });
    // every row is written: the threads stop while the output is synced and renamed
    const stopping = scorers.close();
    await sink.finish();
    await stopping;
    ok = true;
  } catch (e) {
    if (e instanceof Interrupted) {
      bar.done();
      await sink.abort();
      io.log(`moviesentiments: interrupted: ${opts.out !== undefined ? `${opts.out} was not written` : "output stopped"}`);
      return 130;
    }
    throw e;
  } finally {
    if (!ok) await sink.abort();
    await scorers.close();
  }
  bar.done();
  const seconds = (performance.now() - t0) / 1000;
  const rate = seconds > 0 ? Math.round(nScored / seconds) : 0;
  io.log(
    `scored ${nScored.toLocaleString("en-US")} review${nScored === 1 ? "" : "s"} in ${seconds.toFixed(1)} s (${rate.toLocaleString("en-US")}/s, ${scorers.threads() || 1} thread${scorers.threads() > 1 ? "s" : ""})` +
      (opts.out !== undefined ? `; wrote ${opts.out}` : ""),
  );
  if (nErrors > 0) {
    const shown = errors.map((e) => `line ${e.line}: ${e.error}`).join("; ");
    io.log(`${nErrors.toLocaleString("en-US")} row${nErrors === 1 ? "" : "s"} not scored (kept, with an empty label and the reason in the error column): ${shown}${nErrors > errors.length ? "; ..." : ""}`);
  }
  return 0;
}

// ---- evaluate ------------------------------------------------------------------------

async function evaluateFile(argv: string[], io: CliIo): Promise<number> {
  const { opts, input } = parseCommand(argv, "evaluate", EVALUATE_ALLOWED);
  const format = inputFormat(input, opts);
  if (format === "txt") throw new InputError("plain text has no label column: evaluate a CSV, TSV or JSONL file with --label COLUMN");
  const encoding = encodingOption(opts);
  const workers = intOption(opts, "workers", defaultWorkers(), 64);
  const inputStat = input === "-" ? undefined : statInput(input);
  const model = loadModel(opts);
  const scorers = makeScorerFactory(model, workers, inputStat?.size);
  const bar = createProgressBar(`scoring ${input === "-" ? "stdin" : basename(input)}`, inputStat?.size, { unit: "bytes" });
  let labels = new Uint8Array(1 << 16);
  let probs = new Float64Array(1 << 16);
  let n = 0;
  const skipped: number[] = [];
  let nSkipped = 0;
  let bytes = 0;
  try {
    const interrupted = await runWithInterrupt(async (signal, onStream) => {
      await scoreTable(
        {
          input,
          format,
          encoding,
          column: opts.column ?? "text",
          columnExplicit: opts.column !== undefined,
          labelColumn: opts.label ?? "label",
          explain: 0,
          inputStat,
          signal,
          onStream,
          stdin: io.stdin,
        },
        scorers.scorerFor,
        async () => {},
        async (batch, result) => {
          for (const item of batch.items) {
            if (item.textIndex < 0) {
              nSkipped++;
              if (skipped.length < 10) skipped.push(item.row.line);
              continue;
            }
            if (n === labels.length) {
              const l = new Uint8Array(n * 2);
              l.set(labels);
              labels = l;
              const p = new Float64Array(n * 2);
              p.set(probs);
              probs = p;
            }
            labels[n] = item.label!;
            probs[n] = predictionFromLogit(result.logits[item.textIndex]!).probabilities.positive;
            n++;
          }
          return true;
        },
        (k) => {
          bytes += k;
          bar.update(bytes);
        },
        () => 2 * Math.max(1, scorers.threads()) + 1,
      );
      return signal.aborted;
    });
    bar.done();
    if (interrupted) {
      io.log("moviesentiments: interrupted");
      return 130;
    }
  } finally {
    await scorers.close();
  }
  if (nSkipped > 0)
    io.log(`skipped ${nSkipped} row${nSkipped === 1 ? "" : "s"} with no text to score (line${nSkipped === 1 ? "" : "s"} ${skipped.join(", ")}${nSkipped > skipped.length ? ", ..." : ""})`);
  if (n === 0) throw new InputError(`${where(input)} has no labelled reviews to evaluate`);
  const m = binaryMetrics(labels.subarray(0, n), probs.subarray(0, n));
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "n/a (needs both classes)");
  if (opts.json) {
    io.out(JSON.stringify({ accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1, roc_auc: Number.isFinite(m.roc_auc) ? m.roc_auc : null, log_loss: m.log_loss, n: m.n, skipped: nSkipped }));
    return 0;
  }
  io.log(`${where(input)}, ${m.n} reviews`);
  io.out(`accuracy  ${f(m.accuracy)}\nprecision ${f(m.precision)}\nrecall    ${f(m.recall)}\nf1        ${f(m.f1)}\nroc_auc   ${f(m.roc_auc)}\nlog_loss  ${f(m.log_loss)}`);
  const c = m.confusion;
  io.out(`confusion (rows: true negative/positive, columns: predicted negative/positive)\n  ${c.tn} ${c.fp}\n  ${c.fn} ${c.tp}`);
  return 0;
}

// ---- entry points --------------------------------------------------------------------

async function guarded(argv: string[], io: CliIo, body: () => Promise<number>): Promise<number> {
  const debug = argv.includes("--debug");
  try {
    return await body();
  } catch (e) {
    const err = e as Error;
    const user = err instanceof InputError || err instanceof ModelError || err instanceof EmptyTextError || err instanceof TableFormatError;
    io.log(`moviesentiments: error: ${err?.message ?? String(e)}`);
    if (debug) io.log(err?.stack ?? "");
    return user ? 2 : 1;
  }
}

/**
 * `moviesentiments predict INPUT [options]`. argv is the whole command line, the command
 * word included (its first positional is "predict"). Returns the exit code.
 */
export async function cmdPredictFile(argv: string[], io: CliIo): Promise<number> {
  if (isScoreWorker()) return runScoreWorker();
  return guarded(argv, io, () => predictFile(argv, io));
}

/** `moviesentiments evaluate INPUT --label COLUMN [options]`; argv as for cmdPredictFile. */
export async function cmdEvaluateFile(argv: string[], io: CliIo): Promise<number> {
  return guarded(argv, io, () => evaluateFile(argv, io));
}
