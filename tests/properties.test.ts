// Property-based tests (fast-check): prediction over arbitrary Unicode text, and the
// CSV/TSV/JSONL readers and writers (round trips, chunking, and garbage that must fail
// only with TableFormatError). The model is a tiny one trained with the CLI in beforeAll.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmptyTextError, Predictor } from "../src/core/predict.ts";
import { rawHalves } from "../src/core/model-format.ts";
import {
  appendJsonFields,
  CsvParser,
  firstInvalidUtf8,
  formatCsvRow,
  JsonlParser,
  LineSplitter,
  sniffBinary,
  TableFormatError,
  TableReader,
  TextChunkDecoder,
  type TableFormat,
} from "../src/core/table-formats.ts";
import { loadModelDir } from "../src/node/model-files.ts";
import { scoreTexts } from "../src/node/score-worker.ts";
import { probabilityStrings } from "../src/node/predict-file.ts";
import { buildCli, trainTinyModel } from "./helpers/cli.ts";
import { NEGATIVE_WORDS, POSITIVE_WORDS } from "./helpers/make-archive.ts";

const tmp = mkdtempSync(join(tmpdir(), "ms-properties-"));
let predictor: Predictor;

beforeAll(async () => {
  buildCli();
  predictor = new Predictor(loadModelDir(await trainTinyModel(join(tmp, "train"))));
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RUNS = { numRuns: 300 };

// ---- arbitraries ---------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const special = fc.constantFrom(
  "\u0000", "\r", "\n", "\r\n", "\t", '"', ",", "'", "n't", "<br />", "&amp;", "&nbsp;", "\ufeff", "\u200d", "\u202e",
  "é", "e\u0301", "ß", "İ", "ﬁ", "👍🏽", "👨‍👩‍👧", "🇫🇷", "עברית", "العربية", "中文", " ", "\u00a0", "\u2028",
  ...POSITIVE_WORDS.slice(0, 5), ...NEGATIVE_WORDS.slice(0, 5),
);
/** Any UTF-16 text: every code point, lone surrogates, and the characters that matter here. */
const anyText = fc.string({ unit: fc.oneof({ weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) }, { weight: 3, arbitrary: special }, { weight: 1, arbitrary: loneSurrogate }), maxLength: 200 });
/** Text that survives UTF-8 (no lone surrogates). */
const wellFormed = fc.string({ unit: fc.oneof({ weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) }, { weight: 3, arbitrary: special }), maxLength: 120 });
const scorable = anyText.filter((t) => t.trim() !== "");

/** Split s into pieces at the given fractions (chunk boundaries anywhere, even inside a pair). */
function splitAt<T extends string | Uint8Array>(s: T, cuts: number[]): T[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * s.length)))].sort((a, b) => a - b);
  const out: T[] = [];
  let at = 0;
  for (const p of points) {
    out.push(s.slice(at, p) as T);
    at = p;
  }
  out.push(s.slice(at) as T);
  return out;
}
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 });

// ---- prediction ----------------------------------------------------------------------

describe("prediction over arbitrary Unicode text", () => {
  it("never throws for non-empty text; probabilities are in [0, 1] and sum to 1", () => {
    fc.assert(
      fc.property(scorable, (text) => {
        const p = predictor.predict(text);
        const { negative, positive } = p.probabilities;
        expect(positive).toBeGreaterThanOrEqual(0);
        expect(positive).toBeLessThanOrEqual(1);
        expect(negative).toBeGreaterThanOrEqual(0);
        expect(negative).toBeLessThanOrEqual(1);
        expect(Math.abs(negative + positive - 1)).toBeLessThanOrEqual(Number.EPSILON);
        expect(Number.isFinite(p.logit)).toBe(true);
        expect(p.label).toBe(positive >= 0.5 ? "positive" : "negative");
        // the printed six-decimal probabilities add up to exactly 1
        const s = probabilityStrings(p.logit);
        expect(Math.round(Number(s.negative) * 1e6) + Math.round(Number(s.positive) * 1e6)).toBe(1e6);
      }),
      RUNS,
    );
  });

  it("empty and whitespace-only text is refused with EmptyTextError", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\u3000", "\ufeff"), maxLength: 20 }), (text) => {
        expect(() => predictor.predict(text)).toThrow(EmptyTextError);
      }),
    );
  });

  it("the same text always gets the same answer (also from a fresh predictor, and from explain)", () => {
    const fresh = new Predictor(predictor.model);
    fc.assert(
      fc.property(scorable, (text) => {
        const a = predictor.predict(text);
        const b = predictor.predict(text);
        const c = fresh.predict(text);
        expect(b).toEqual(a);
        expect(c).toEqual(a);
        expect(predictor.explain(text, 3).logit).toBe(a.logit);
      }),
      RUNS,
    );
  });

  it("small batches (no interleaved table) and large ones (with it) give the logits of the weighted rows, bit for bit", () => {
    fc.assert(
      fc.property(fc.array(anyText, { minLength: 1, maxLength: 8 }), (texts) => {
        const direct = new Predictor(predictor.model).logits(texts); // from the file's float16 bits
        const plainCopy = { ...predictor.model, featureWeights: { ...predictor.model.featureWeights } };
        expect(rawHalves(plainCopy)).toBeUndefined();
        expect(rawHalves(predictor.model)).toBeDefined();
        const directDecoded = new Predictor(plainCopy).logits(texts); // from the decoded arrays
        const big = Array.from({ length: 70 }, (_, i) => texts[i % texts.length]!);
        const tabled = new Predictor(predictor.model).logits(big).subarray(0, texts.length);
        const x = predictor.featurize(texts);
        const w = predictor.model.weights;
        const byDefinition = texts.map((_, i) => {
          let acc = predictor.model.bias;
          for (let k = x.rowPtr[i]!; k < x.rowPtr[i + 1]!; k++) acc += x.values[k]! * w[x.colIdx[k]!]!;
          return acc;
        });
        expect(Array.from(direct)).toEqual(byDefinition);
        expect(Array.from(directDecoded)).toEqual(byDefinition);
        expect(Array.from(tabled)).toEqual(byDefinition);
      }),
      { numRuns: 100 },
    );
  });

  it("a row's answer does not depend on the other rows in its batch", () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 12 }), scorable, fc.nat(), (others, text, at) => {
        const batch = [...others];
        const k = at % (batch.length + 1);
        batch.splice(k, 0, text);
        const alone = predictor.logits([text])[0]!;
        expect(predictor.logits(batch)[k]).toBe(alone);
        expect(predictor.predictMany(batch)[k]!.logit).toBe(alone);
        expect(scoreTexts(predictor, batch, 0).logits[k]).toBe(alone);
        const explained = scoreTexts(predictor, batch, 2);
        expect(explained.logits[k]).toBe(alone);
      }),
      { numRuns: 200 },
    );
  });
});

// ---- bytes -> text ---------------------------------------------------------------------

describe("TextChunkDecoder", () => {
  it("decodes UTF-8 split anywhere, even inside a character", () => {
    fc.assert(
      fc.property(wellFormed, cuts, (text, where) => {
        const bytes = new TextEncoder().encode(text);
        const d = new TextChunkDecoder();
        const out = splitAt(bytes, where).map((b) => d.push(b)).join("") + d.end();
        expect(out).toBe(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      }),
      RUNS,
    );
  });

  it("finds exactly the bytes TextDecoder rejects, and names the right line", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let valid = true;
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch {
          valid = false;
        }
        const bad = firstInvalidUtf8(bytes);
        expect(bad < 0).toBe(valid);
        const d = new TextChunkDecoder();
        try {
          d.push(bytes);
          d.end();
          expect(valid || (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(TableFormatError);
          const err = e as TableFormatError;
          if (!valid && bytes[0] !== 0xef && bytes[0] !== 0xfe && bytes[0] !== 0xff) {
            let line = 1;
            for (let i = 0; i < bad; i++) if (bytes[i] === 10) line++;
            expect(err.line).toBe(line);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("reads any bytes as Latin-1 (windows-1252)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (bytes, where) => {
        const d = new TextChunkDecoder("latin1");
        const out = splitAt(bytes, where).map((b) => d.push(b)).join("") + d.end();
        // (Node's non-streaming windows-1252 decode is plain ISO-8859-1; the streaming one follows WHATWG)
        const reference = new TextDecoder("windows-1252");
        expect(out).toBe(reference.decode(bytes, { stream: true }) + reference.decode());
      }),
    );
  });

  it("strips a leading byte order mark and names the line of a bad byte across chunks", () => {
    const d = new TextChunkDecoder();
    expect(d.push(Uint8Array.of(0xef, 0xbb))).toBe("");
    expect(d.push(new TextEncoder().encode("\ufeffa\nb\n".slice(0)).subarray(2))).toBe("a\nb\n");
    d.push(new TextEncoder().encode("ok line\ncaf"));
    expect(() => d.push(Uint8Array.of(0xe9, 0x0a))).toThrow(/line 4: byte 0xe9 \(byte 4 of the line\)/);
  });

  it("tells binary from text", () => {
    expect(sniffBinary(new TextEncoder().encode("text\nplain review, with a NUL \0 byte\n"))).toBeUndefined();
    expect(sniffBinary(Uint8Array.of(0x1f, 0x8b, 8, 0))).toMatch(/gzip/);
    expect(sniffBinary(new Uint8Array(100))).toMatch(/binary|UTF-16/);
    expect(sniffBinary(Buffer.from("text\nhello\n", "utf16le"))).toMatch(/UTF-16/);
    expect(sniffBinary(Buffer.from("text\nhello\n", "utf16le"), "utf-16le")).toBeUndefined();
  });
});

// ---- CSV / TSV ---------------------------------------------------------------------------

function parseCsv(text: string, where: number[], delimiter = ","): string[][] {
  const p = new CsvParser({ delimiter });
  const out = splitAt(text, where).flatMap((piece) => p.push(piece));
  return [...out, ...p.end()].map((r) => r.fields);
}

describe("CSV and TSV", () => {
  const table = fc.integer({ min: 1, max: 5 }).chain((cols) => fc.array(fc.array(anyText, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 8 }));

  for (const delimiter of [",", "\t"]) {
    it(`round trip writer -> reader, chunked anywhere (${delimiter === "," ? "CSV" : "TSV"})`, () => {
      fc.assert(
        fc.property(table, cuts, (rows, where) => {
          const text = rows.map((r) => formatCsvRow(r, delimiter)).join("");
          expect(parseCsv(text, where, delimiter)).toEqual(rows);
        }),
        RUNS,
      );
    });
  }

  it("round trip through bytes and TableReader keeps header, rows and line numbers", () => {
    fc.assert(
      fc.property(table, cuts, (rows, where) => {
        const cleaned = rows.map((r) => r.map((c) => c.replace(/[\ud800-\udfff]/g, "?")));
        cleaned[0]![0] = cleaned[0]![0]!.replace(/^\ufeff+/, ""); // a byte order mark at the very start is dropped
        // a blank line is skipped in a table of several columns: make sure no row is [""]
        const text = cleaned.map((r) => formatCsvRow(r)).join("");
        const bytes = new TextEncoder().encode(text);
        const d = new TextChunkDecoder();
        const reader = new TableReader({ format: "csv" });
        const got = splitAt(bytes, where).flatMap((b) => reader.push(d.push(b)));
        got.push(...reader.push(d.end()), ...reader.end());
        expect(reader.header).toEqual(cleaned[0]);
        expect(got.map((r) => r.cells)).toEqual(cleaned.slice(1));
        let line = 1;
        cleaned.forEach((r, i) => {
          if (i > 0) expect(got[i - 1]!.line).toBe(line);
          line += (formatCsvRow(r).match(/\n/g) ?? []).length;
        });
      }),
      RUNS,
    );
  });

  it("garbage never crashes: rows, or a TableFormatError naming a line", () => {
    const csvish = fc.string({ unit: fc.constantFrom('"', ",", "\t", "\n", "\r", "a", "b", " ", '""', "\u0000", "é"), maxLength: 80 });
    fc.assert(
      fc.property(fc.oneof(csvish, anyText), cuts, fc.constantFrom("csv", "tsv") as fc.Arbitrary<TableFormat>, (text, where, format) => {
        const reader = new TableReader({ format });
        try {
          for (const piece of splitAt(text, where)) reader.push(piece);
          reader.end();
        } catch (e) {
          expect(e).toBeInstanceOf(TableFormatError);
          expect((e as TableFormatError).line).toBeGreaterThanOrEqual(1);
          expect((e as Error).message).toMatch(/^line \d+: /);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("examples: CRLF, quotes across chunks, quoted line breaks, literal quotes in unquoted fields", () => {
    expect(parseCsv('a,b\r\n1,"x\r\ny"\r\n', [0.5])).toEqual([["a", "b"], ["1", "x\r\ny"]]);
    for (let k = 0; k <= 12; k++) expect(parseCsv('h\n"a""b"\nc\n', [k / 12])).toEqual([["h"], ['a"b'], ["c"]]);
    expect(parseCsv('x,5" tall,y\n', [])).toEqual([["x", '5" tall', "y"]]);
    expect(parseCsv("a,b", [])).toEqual([["a", "b"]]);
    expect(parseCsv('a,""\n', [])).toEqual([["a", ""]]);
    expect(() => parseCsv('a\n"b"c\n', [])).toThrow(/line 2: unexpected "c" after the closing quote/);
    expect(() => parseCsv('a\nb\n"c\nd\n', [0.3, 0.8])).toThrow(/line 3: a quoted field starts here but its closing quote never comes/);
    expect(() => new CsvParser({ maxFieldChars: 10 }).push('"' + "x".repeat(20))).toThrow(/line 1: .*probably a quote that is never closed/);
  });

  it("a header-only CSV has no rows; a row with the wrong field count names its line", () => {
    const r = new TableReader({ format: "csv" });
    expect([...r.push("a,b\n"), ...r.end()]).toEqual([]);
    expect(r.header).toEqual(["a", "b"]);
    const bad = new TableReader({ format: "csv" });
    expect(() => bad.push('a,b\n1,2\n"3\n3",4,5\n')).toThrow(/^line 3: 3 fields, but the header has 2/);
  });
});

// ---- JSONL -----------------------------------------------------------------------------

describe("JSONL", () => {
  const jsonObject = fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });

  it("round trip: objects -> lines -> reader, chunked anywhere", () => {
    fc.assert(
      fc.property(fc.array(jsonObject, { maxLength: 6 }), cuts, fc.boolean(), (objs, where, crlf) => {
        const text = objs.map((o) => JSON.stringify(o)).join(crlf ? "\r\n" : "\n");
        const p = new JsonlParser();
        const got = splitAt(text, where).flatMap((piece) => p.push(piece));
        got.push(...p.end());
        expect(got.map((r) => r.value)).toEqual(objs.map((o) => JSON.parse(JSON.stringify(o))));
        expect(got.map((r) => r.line)).toEqual(objs.map((_, i) => i + 1));
      }),
      RUNS,
    );
  });

  it("appendJsonFields keeps the object and adds the fields", () => {
    fc.assert(
      fc.property(jsonObject, fc.constantFrom(" ", "", "\t"), fc.array(fc.tuple(anyText, fc.jsonValue({ maxDepth: 1 })), { maxLength: 4 }), (obj, pad, added) => {
        const raw = pad + JSON.stringify(obj, null, pad === "" ? undefined : 1).replace(/\n/g, " ") + pad;
        const fresh = added.filter(([k]) => !Object.hasOwn(obj, k));
        const uniq = [...new Map(fresh).entries()];
        const out = appendJsonFields(raw, uniq);
        expect(out).not.toMatch(/\n/);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify({ ...obj, ...Object.fromEntries(uniq) })));
      }),
      RUNS,
    );
  });

  it("garbage never crashes: objects, or a TableFormatError naming a line", () => {
    const jsonish = fc.string({ unit: fc.constantFrom("{", "}", "[", "]", '"', ":", ",", "\n", "\r", "a", "1", "null", " ", "\\", "\u0000"), maxLength: 60 });
    fc.assert(
      fc.property(fc.oneof(jsonish, anyText), cuts, (text, where) => {
        const p = new JsonlParser();
        try {
          for (const piece of splitAt(text, where)) p.push(piece);
          p.end();
        } catch (e) {
          expect(e).toBeInstanceOf(TableFormatError);
          expect((e as Error).message).toMatch(/^line \d+: /);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("any bytes through decoder and reader, in every format, fail only with TableFormatError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, fc.constantFrom("csv", "tsv", "jsonl", "txt") as fc.Arbitrary<TableFormat>, fc.constantFrom("utf-8", "latin1", "utf-16le"), (bytes, where, format, encoding) => {
        const d = new TextChunkDecoder(encoding);
        const reader = new TableReader({ format });
        try {
          for (const b of splitAt(bytes, where)) reader.push(d.push(b));
          reader.push(d.end());
          reader.end();
        } catch (e) {
          expect(e).toBeInstanceOf(TableFormatError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("plain text lines", () => {
  it("splits LF and CRLF lines anywhere; a last line without LF counts", () => {
    fc.assert(
      fc.property(fc.array(anyText.map((s) => s.replace(/[\r\n]/g, "")), { maxLength: 10 }), cuts, fc.boolean(), (lines, where, crlf) => {
        const text = lines.join(crlf ? "\r\n" : "\n");
        const s = new LineSplitter();
        const got = splitAt(text, where).flatMap((piece) => s.push(piece));
        got.push(...s.end());
        // a line break ends a line: a final empty "line" after the last break is not one
        const expected = text === "" ? [] : lines.at(-1) === "" ? lines.slice(0, -1) : lines;
        expect(got.map((l) => l.text)).toEqual(expected);
      }),
      RUNS,
    );
  });
});
