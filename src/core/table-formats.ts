// Tables of reviews in and out: CSV, TSV, JSON Lines and plain text (one review a line).
//
// Everything here is pure TypeScript over strings and bytes, with no file system, so the
// CLI and the browser app read and write the same way. Readers are streaming push
// parsers: feed them chunks of any size, split anywhere, and they hand back complete
// rows with the line each row starts on; memory holds one unfinished row at most.
// Every problem with the input is a TableFormatError naming the line.

export type TableFormat = "csv" | "tsv" | "jsonl" | "txt";
export const TABLE_FORMATS: readonly TableFormat[] = ["csv", "tsv", "jsonl", "txt"];

export type TableErrorKind =
  /** bytes that are not text in the expected encoding */
  | "encoding"
  /** the input is not text at all (an archive, an image, an executable...) */
  | "binary"
  /** malformed CSV/TSV/JSONL */
  | "syntax"
  /** a field or line longer than the reader accepts */
  | "limit"
  /** an encoding name the platform does not know */
  | "settings";

/** Input that cannot be read as a table. `line` is 1-based, when known. */
export class TableFormatError extends Error {
  override name = "TableFormatError";
  readonly kind: TableErrorKind;
  readonly line: number | undefined;
  /** for "encoding" errors: the encoding the input seems to be in, when there is a clue */
  readonly suggestedEncoding: string | undefined;
  constructor(kind: TableErrorKind, message: string, line?: number, suggestedEncoding?: string) {
    super(message);
    this.kind = kind;
    this.line = line;
    this.suggestedEncoding = suggestedEncoding;
  }
}

/** The format a file name suggests, from its extension; undefined when it suggests none. */
export function formatFromName(name: string): TableFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(name);
  switch (m?.[1]?.toLowerCase()) {
    case "csv":
      return "csv";
    case "tsv":
    case "tab":
      return "tsv";
    case "jsonl":
    case "ndjson":
      return "jsonl";
    case "txt":
    case "text":
      return "txt";
    default:
      return undefined;
  }
}

/** Longest field, line or record the readers accept (in UTF-16 code units). */
export const DEFAULT_MAX_FIELD_CHARS = 64 * 1024 * 1024;

// ---- bytes -> text ---------------------------------------------------------------

/**
 * What the first bytes of an input look like when they are not text: a description such
 * as "gzip-compressed data", or undefined when they could be text. A few stray NUL or
 * control bytes are allowed (real text has them); a high share of them is not.
 */
export function sniffBinary(head: Uint8Array, encoding = "utf-8"): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return "gzip-compressed data (decompress it first)";
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) return "a ZIP archive (extract it first)";
  if (starts(0x42, 0x5a, 0x68)) return "bzip2-compressed data (decompress it first)";
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz-compressed data (decompress it first)";
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return "zstd-compressed data (decompress it first)";
  if (starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return "a 7-Zip archive (extract it first)";
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return "a PDF document";
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "a PNG image";
  if (starts(0xff, 0xd8, 0xff)) return "a JPEG image";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "a GIF image";
  if (starts(0x7f, 0x45, 0x4c, 0x46)) return "an executable (ELF)";
  if (starts(0x4d, 0x5a) && head.subarray(0, 64).includes(0)) return "an executable (Windows)";
  if (starts(0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66)) return "an SQLite database";
  if (starts(0xd0, 0xcf, 0x11, 0xe0)) return "an old Microsoft Office document (save it as CSV)";
  if (head.length >= 262 && head[257] === 0x75 && head[258] === 0x73 && head[259] === 0x74 && head[260] === 0x61 && head[261] === 0x72)
    return "a tar archive (extract it first)";
  const enc = encoding.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (enc.startsWith("utf16") || enc === "ucs2") return undefined;
  const n = Math.min(head.length, 8192);
  if (n === 0) return undefined;
  let nul = 0;
  let control = 0;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b === 0) {
      nul++;
      if (i & 1) oddNul++;
      else evenNul++;
    } else if (b < 0x20 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 27) control++;
  }
  if (nul > n / 4 && (oddNul > 0.9 * nul || evenNul > 0.9 * nul)) return oddNul > evenNul ? "UTF-16LE text" : "UTF-16BE text";
  if (nul + control > Math.max(4, n / 10)) return "binary data, not text";
  return undefined;
}

/** Offset of the first byte that does not belong to a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let i = from;
  while (i < to) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    if (i + need >= to) return i; // truncated at the end
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Length of the longest prefix of bytes[0, end) that does not end inside a UTF-8 sequence. */
function utf8CompleteLength(bytes: Uint8Array): number {
  const end = bytes.length;
  // look back over at most 3 continuation bytes for a lead byte
  for (let back = 1; back <= Math.min(4, end); back++) {
    const b = bytes[end - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    if (b < 0x80) return end;
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return back < len ? end - back : end;
  }
  return end;
}

function countNewlines(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  let i = bytes.indexOf(10, from);
  while (i >= 0 && i < to) {
    n++;
    i = bytes.indexOf(10, i + 1);
  }
  return n;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`).join(" ");
}

/** Canonical WHATWG name for an encoding label, or undefined if the platform lacks it. */
export function canonicalEncoding(label: string): string | undefined {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    return undefined;
  }
}

/**
 * Streaming bytes -> text. UTF-8 (the default) is checked strictly: an invalid byte is
 * an error naming its line and column, never a silent U+FFFD. Any other encoding the
 * platform's TextDecoder knows (latin1, windows-1252, utf-16le, shift_jis...) works too.
 * A byte order mark at the very start is dropped.
 */
export class TextChunkDecoder {
  readonly encoding: string;
  private readonly utf8: boolean;
  private readonly decoder: TextDecoder;
  private carry: Uint8Array = new Uint8Array(0);
  private linesBefore = 0;
  /** bytes of the current line consumed before the current buffer */
  private bytesIntoLine = 0;
  private first = true;
  private decodedNewlines = 0;

  constructor(encoding = "utf-8") {
    const canonical = canonicalEncoding(encoding);
    if (!canonical) throw new TableFormatError("settings", `unknown text encoding "${encoding}" (try utf-8, latin1, windows-1252 or utf-16le)`);
    this.encoding = canonical;
    this.utf8 = canonical === "utf-8";
    this.decoder = new TextDecoder(canonical, { fatal: true, ignoreBOM: true });
  }

  push(bytes: Uint8Array): string {
    return this.decode(bytes, false);
  }

  end(): string {
    return this.decode(new Uint8Array(0), true);
  }

  private decode(bytes: Uint8Array, final: boolean): string {
    if (!this.utf8) return this.decodeOther(bytes, final);
    let buf = bytes;
    if (this.carry.length) {
      buf = new Uint8Array(this.carry.length + bytes.length);
      buf.set(this.carry);
      buf.set(bytes, this.carry.length);
    }
    const upTo = final ? buf.length : utf8CompleteLength(buf);
    let start = 0;
    if (this.first && upTo > 0) {
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
      else if (buf.length < 3 && !final && buf[0] === 0xef) {
        this.carry = buf.slice();
        return "";
      }
      this.first = false;
      if ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))
        throw new TableFormatError(
          "encoding",
          `line 1: the text starts with a UTF-16 byte order mark: it is UTF-16, not UTF-8`,
          1,
          buf[0] === 0xff ? "utf-16le" : "utf-16be",
        );
    }
    let text: string;
    try {
      text = this.decoder.decode(buf.subarray(start, upTo));
    } catch {
      const bad = firstInvalidUtf8(buf, start, upTo);
      const at = bad < 0 ? start : bad;
      this.throwInvalid(buf, at);
    }
    this.advance(buf, upTo);
    this.carry = upTo < buf.length ? buf.slice(upTo) : new Uint8Array(0);
    return text;
  }

  /** keep the line count and the byte offset of the current line's start */
  private advance(buf: Uint8Array, upTo: number): void {
    if (upTo === 0) return;
    const lastNl = buf.lastIndexOf(10, upTo - 1);
    if (lastNl >= 0) {
      this.linesBefore += countNewlines(buf, 0, upTo);
      this.bytesIntoLine = upTo - lastNl - 1;
    } else {
      this.bytesIntoLine += upTo;
    }
  }

  private throwInvalid(buf: Uint8Array, at: number): never {
    const line = this.linesBefore + countNewlines(buf, 0, at) + 1;
    const lastNl = at > 0 ? buf.lastIndexOf(10, at - 1) : -1;
    const column = lastNl >= 0 ? at - lastNl : this.bytesIntoLine + at + 1;
    throw new TableFormatError(
      "encoding",
      `line ${line}: byte ${hex(buf.subarray(at, at + 1))} (byte ${column} of the line) is not valid UTF-8`,
      line,
    );
  }

  private decodeOther(bytes: Uint8Array, final: boolean): string {
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: !final });
    } catch {
      throw new TableFormatError(
        "encoding",
        `line ${this.decodedNewlines + 1}: bytes that are not valid ${this.encoding} (near this line)`,
        this.decodedNewlines + 1,
      );
    }
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = text.indexOf("\n");
    while (i >= 0) {
      this.decodedNewlines++;
      i = text.indexOf("\n", i + 1);
    }
    return text;
  }
}

// ---- CSV / TSV -------------------------------------------------------------------

/** A parsed record: its fields and the (1-based) line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export interface CsvParserOptions {
  /** "," (CSV, the default) or "\t" (TSV) */
  delimiter?: string;
  maxFieldChars?: number;
}

/**
 * RFC 4180 CSV, as Excel and most tools write it: fields separated by the delimiter,
 * records by LF or CRLF; a field may be quoted with ", a quote inside it doubled, and a
 * quoted field may span lines. A quote inside an unquoted field is kept as text. TSV is
 * the same with a tab (quoted the same way, as Excel's "Text (tab delimited)").
 * Errors: a closing quote followed by anything but a delimiter or line end; a quote left
 * open at the end of the input; a field longer than maxFieldChars.
 */
export class CsvParser {
  readonly delimiter: string;
  private readonly delimCode: number;
  private readonly maxFieldChars: number;
  private fields: string[] = [];
  private pieces: string[] = [];
  private pieceChars = 0;
  /** inside a quoted field */
  private quoted = false;
  /** just read a quote inside a quoted field: it closes the field or starts a "" pair */
  private quotePending = false;
  /** the quoted field has closed; only a delimiter or line end may follow */
  private closed = false;
  /** the current record has begun (chars seen since the last record end) */
  private inRecord = false;
  /** a \r ended the last chunk outside quotes */
  private line = 1;
  private recordLine = 1;
  private quoteLine = 1;

  constructor(options: CsvParserOptions = {}) {
    this.delimiter = options.delimiter ?? ",";
    if (this.delimiter.length !== 1 || this.delimiter === '"' || this.delimiter === "\n" || this.delimiter === "\r")
      throw new TableFormatError("settings", `a CSV delimiter must be one character other than a quote or line break`);
    this.delimCode = this.delimiter.charCodeAt(0);
    this.maxFieldChars = options.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  }

  private addPiece(s: string): void {
    if (s.length === 0) return;
    this.pieceChars += s.length;
    if (this.pieceChars > this.maxFieldChars) {
      const mb = (this.maxFieldChars / (1024 * 1024)).toFixed(0);
      throw new TableFormatError(
        "limit",
        this.quoted
          ? `line ${this.quoteLine}: the quoted field that starts here runs on for more than ${mb} M characters: probably a quote that is never closed`
          : `line ${this.recordLine}: a field longer than ${mb} M characters`,
        this.quoted ? this.quoteLine : this.recordLine,
      );
    }
    this.pieces.push(s);
  }

  private endField(): void {
    const p = this.pieces;
    this.fields.push(p.length === 0 ? "" : p.length === 1 ? p[0]! : p.join(""));
    this.pieces = [];
    this.pieceChars = 0;
    this.closed = false;
  }

  private endRecord(out: CsvRecord[]): void {
    this.endField();
    out.push({ line: this.recordLine, fields: this.fields });
    this.fields = [];
    this.inRecord = false;
  }

  private countLines(s: string, from: number, to: number): void {
    let i = s.indexOf("\n", from);
    while (i >= 0 && i < to) {
      this.line++;
      i = s.indexOf("\n", i + 1);
    }
  }

  /** Parse a chunk; complete records are appended to `out`. */
  push(s: string, out: CsvRecord[] = []): CsvRecord[] {
    const n = s.length;
    const delim = this.delimiter;
    let i = 0;
    // cached positions of the next delimiter / newline at or after i (-1: none left)
    let nextDelim = -2;
    let nextNl = -2;
    while (i < n) {
      if (this.quoted) {
        if (this.quotePending) {
          this.quotePending = false;
          if (s.charCodeAt(i) === 34) {
            this.addPiece('"');
            i++;
            continue;
          }
          this.quoted = false;
          this.closed = true;
          continue;
        }
        const q = s.indexOf('"', i);
        const stop = q < 0 ? n : q;
        this.countLines(s, i, stop);
        this.addPiece(s.slice(i, stop));
        if (q < 0) {
          i = n;
          break;
        }
        i = q + 1;
        this.quotePending = true;
        continue;
      }
      if (!this.inRecord) {
        this.inRecord = true;
        this.recordLine = this.line;
      }
      const c = s.charCodeAt(i);
      if (this.closed) {
        if (c === this.delimCode) {
          this.endField();
          i++;
          continue;
        }
        if (c === 10) {
          this.line++;
          this.endRecord(out);
          i++;
          continue;
        }
        if (c === 13 && (i + 1 >= n || s.charCodeAt(i + 1) === 10)) {
          i++; // CR of a CRLF (or a CR at the chunk's end: the LF follows in the next chunk)
          continue;
        }
        throw new TableFormatError(
          "syntax",
          `line ${this.line}: unexpected ${describeChar(s, i)} after the closing quote of a field (a quote inside a quoted field must be doubled: "")`,
          this.line,
        );
      }
      if (c === 34 && this.pieces.length === 0) {
        this.quoted = true;
        this.quoteLine = this.line;
        i++;
        continue;
      }
      if (c === this.delimCode) {
        this.trimCr();
        this.endField();
        i++;
        continue;
      }
      if (c === 10) {
        this.trimCr();
        this.line++;
        this.endRecord(out);
        i++;
        continue;
      }
      // an unquoted run up to the next delimiter or newline
      if (nextDelim !== -1 && nextDelim < i) nextDelim = s.indexOf(delim, i);
      if (nextNl !== -1 && nextNl < i) nextNl = s.indexOf("\n", i);
      let stop = n;
      if (nextDelim >= 0) stop = nextDelim;
      if (nextNl >= 0 && nextNl < stop) stop = nextNl;
      this.addPiece(s.slice(i, stop));
      i = stop;
    }
    return out;
  }

  /** drop the CR of a CRLF that ended an unquoted field */
  private trimCr(): void {
    const last = this.pieces.length - 1;
    if (last < 0) return;
    const p = this.pieces[last]!;
    if (p.charCodeAt(p.length - 1) === 13) {
      if (p.length === 1) this.pieces.pop();
      else this.pieces[last] = p.slice(0, -1);
      this.pieceChars--;
    }
  }

  /** The input has ended: the last record (if any) is appended to `out`. */
  end(out: CsvRecord[] = []): CsvRecord[] {
    if (this.quoted && !this.quotePending)
      throw new TableFormatError(
        "syntax",
        `line ${this.quoteLine}: a quoted field starts here but its closing quote never comes (the input ends inside it)`,
        this.quoteLine,
      );
    if (this.quotePending) {
      this.quotePending = false;
      this.quoted = false;
      this.closed = true;
    }
    if (this.inRecord) {
      this.trimCrIfUnquoted();
      this.endRecord(out);
    }
    return out;
  }

  private trimCrIfUnquoted(): void {
    if (!this.closed) this.trimCr();
  }
}

function describeChar(s: string, i: number): string {
  const c = s.codePointAt(i)!;
  if (c < 0x20 || c === 0x7f) return `control character U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
  return `"${String.fromCodePoint(c)}"`;
}

const NEEDS_QUOTES_CSV = /[",\r\n]/;
const NEEDS_QUOTES_TSV = /["\t\r\n]/;

/** One CSV/TSV field, quoted when needed. */
export function formatCsvField(value: string, delimiter = ","): string {
  const re = delimiter === "," ? NEEDS_QUOTES_CSV : delimiter === "\t" ? NEEDS_QUOTES_TSV : null;
  const needs = re ? re.test(value) : value.includes(delimiter) || /["\r\n]/.test(value);
  return needs ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV/TSV record with its line ending (LF). A lone empty field is written as "". */
export function formatCsvRow(fields: readonly string[], delimiter = ","): string {
  if (fields.length === 1 && fields[0] === "") return '""\n';
  let s = "";
  for (let k = 0; k < fields.length; k++) {
    if (k > 0) s += delimiter;
    s += formatCsvField(fields[k]!, delimiter);
  }
  return s + "\n";
}

// ---- lines (plain text, JSONL) ---------------------------------------------------

export interface TextLine {
  line: number;
  text: string;
}

/** Splits text into lines (LF or CRLF; the CR is dropped). A final line without LF counts. */
export class LineSplitter {
  private pieces: string[] = [];
  private pieceChars = 0;
  private line = 1;
  private readonly maxChars: number;

  constructor(maxChars = DEFAULT_MAX_FIELD_CHARS) {
    this.maxChars = maxChars;
  }

  push(s: string, out: TextLine[] = []): TextLine[] {
    let from = 0;
    let nl = s.indexOf("\n");
    while (nl >= 0) {
      let text = s.slice(from, nl);
      if (this.pieces.length) {
        this.pieces.push(text);
        text = this.pieces.join("");
        this.pieces = [];
        this.pieceChars = 0;
      }
      if (text.length > this.maxChars) this.tooLong();
      if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
      out.push({ line: this.line++, text });
      from = nl + 1;
      nl = s.indexOf("\n", from);
    }
    if (from < s.length) {
      this.pieceChars += s.length - from;
      if (this.pieceChars > this.maxChars) this.tooLong();
      this.pieces.push(s.slice(from));
    }
    return out;
  }

  private tooLong(): never {
    throw new TableFormatError("limit", `line ${this.line}: longer than ${(this.maxChars / (1024 * 1024)).toFixed(0)} M characters`, this.line);
  }

  end(out: TextLine[] = []): TextLine[] {
    if (this.pieces.length) {
      let text = this.pieces.join("");
      if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
      out.push({ line: this.line++, text });
      this.pieces = [];
      this.pieceChars = 0;
    }
    return out;
  }
}

/** A JSON Lines record: the object, and its line's text as read (for lossless output). */
export interface JsonlRecord {
  line: number;
  value: Record<string, unknown>;
  raw: string;
}

/** Parse one JSONL line (already split). Blank lines give undefined. */
export function parseJsonlLine(text: string, line: number): JsonlRecord | undefined {
  const raw = text.trim();
  if (raw === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    const detail = (e as Error).message.replace(/^JSON\.parse: /, "").split("\n")[0];
    throw new TableFormatError("syntax", `line ${line}: not valid JSON (${detail})`, line);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const what = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new TableFormatError("syntax", `line ${line}: expected a JSON object such as {"text": "..."}, got ${what}`, line);
  }
  return { line, value: value as Record<string, unknown>, raw };
}

/** Streaming JSON Lines: one object a line; blank lines are skipped. */
export class JsonlParser {
  private readonly lines: LineSplitter;
  private readonly buf: TextLine[] = [];

  constructor(maxChars = DEFAULT_MAX_FIELD_CHARS) {
    this.lines = new LineSplitter(maxChars);
  }

  push(s: string, out: JsonlRecord[] = []): JsonlRecord[] {
    this.buf.length = 0;
    return this.collect(this.lines.push(s, this.buf), out);
  }

  end(out: JsonlRecord[] = []): JsonlRecord[] {
    this.buf.length = 0;
    return this.collect(this.lines.end(this.buf), out);
  }

  private collect(lines: TextLine[], out: JsonlRecord[]): JsonlRecord[] {
    for (const l of lines) {
      const r = parseJsonlLine(l.text, l.line);
      if (r) out.push(r);
    }
    return out;
  }
}

/**
 * A JSON object's text with fields added at the end, leaving the original text (key
 * order, number spelling, escapes) exactly as it was. `raw` must be one JSON object.
 */
export function appendJsonFields(raw: string, fields: readonly (readonly [string, unknown])[]): string {
  const text = raw.trim();
  const close = text.lastIndexOf("}");
  if (text[0] !== "{" || close < 0) throw new TypeError("appendJsonFields: not a JSON object");
  const body = text.slice(1, close).trim();
  let added = "";
  for (const [k, v] of fields) {
    if (added || body) added += ",";
    added += `${JSON.stringify(k)}:${JSON.stringify(v === undefined ? null : v)}`;
  }
  return `{${body}${added}}`;
}

// ---- whole tables ----------------------------------------------------------------

/** A row of any format: cells for CSV/TSV/plain text, the object for JSONL. */
export interface TableRow {
  line: number;
  /** CSV/TSV/txt: the row's fields (txt: one) */
  cells?: string[];
  /** JSONL: the object and its text */
  json?: JsonlRecord;
}

export interface TableReaderOptions {
  format: TableFormat;
  maxFieldChars?: number;
}

/**
 * A streaming reader for any of the formats, text in, rows out. For CSV and TSV the first
 * record is the header (available as `header` once read) and is not returned as a row;
 * every other record must have as many fields as the header. Blank lines are skipped in
 * CSV/TSV with more than one column and in JSONL; in plain text (and one-column CSV) a
 * blank line is a row with empty text.
 */
export class TableReader {
  readonly format: TableFormat;
  header: string[] | undefined;
  private readonly csv?: CsvParser;
  private readonly jsonl?: JsonlParser;
  private readonly lines?: LineSplitter;
  private readonly csvBuf: CsvRecord[] = [];
  private readonly lineBuf: TextLine[] = [];

  constructor(options: TableReaderOptions) {
    this.format = options.format;
    const max = options.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
    if (options.format === "csv" || options.format === "tsv")
      this.csv = new CsvParser({ delimiter: options.format === "csv" ? "," : "\t", maxFieldChars: max });
    else if (options.format === "jsonl") this.jsonl = new JsonlParser(max);
    else this.lines = new LineSplitter(max);
  }

  push(text: string, out: TableRow[] = []): TableRow[] {
    return this.collect(text, false, out);
  }

  end(out: TableRow[] = []): TableRow[] {
    return this.collect("", true, out);
  }

  private collect(text: string, final: boolean, out: TableRow[]): TableRow[] {
    if (this.csv) {
      this.csvBuf.length = 0;
      if (!final) this.csv.push(text, this.csvBuf);
      else this.csv.end(this.csvBuf);
      for (const r of this.csvBuf) {
        if (!this.header) {
          this.header = r.fields;
          continue;
        }
        if (r.fields.length !== this.header.length) {
          if (r.fields.length === 1 && r.fields[0] === "" && this.header.length > 1) continue; // a blank line
          throw new TableFormatError(
            "syntax",
            `line ${r.line}: ${r.fields.length} field${r.fields.length === 1 ? "" : "s"}, but the header has ${this.header.length} ` +
              `(a field that contains the delimiter, a quote or a line break must be quoted)`,
            r.line,
          );
        }
        out.push({ line: r.line, cells: r.fields });
      }
      return out;
    }
    if (this.jsonl) {
      if (!final) this.jsonl.push(text, []).forEach((j) => out.push({ line: j.line, json: j }));
      else this.jsonl.end([]).forEach((j) => out.push({ line: j.line, json: j }));
      return out;
    }
    this.lineBuf.length = 0;
    if (!final) this.lines!.push(text, this.lineBuf);
    else this.lines!.end(this.lineBuf);
    for (const l of this.lineBuf) out.push({ line: l.line, cells: [l.text] });
    return out;
  }
}

/**
 * The index of the text column: `name` if the header has it, else the only column when
 * there is just one and no name was asked for explicitly. Undefined when neither.
 */
export function pickColumn(header: readonly string[], name: string, explicit: boolean): number | undefined {
  const at = header.indexOf(name);
  if (at >= 0) return at;
  const trimmed = header.findIndex((h) => h.trim() === name);
  if (trimmed >= 0) return trimmed;
  if (!explicit && header.length === 1) return 0;
  return undefined;
}

/** A name not already in `taken`: `name`, else `predicted_name`, else `predicted_name_2`, ... */
export function freshName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  let candidate = `predicted_${name}`;
  for (let k = 2; taken.has(candidate); k++) candidate = `predicted_${name}_${k}`;
  return candidate;
}
