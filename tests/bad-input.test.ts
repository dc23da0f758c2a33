// Bad input, every way in through the CLI: each gets a clear one-line message and exit
// code 2 (never a stack trace), and nothing is lost: no half-written output, no damaged
// model folder. Messy-but-valid input (huge reviews, a million rows, HTML, emoji, RTL,
// control characters, NUL bytes) is scored.

import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CsvParser } from "../src/core/table-formats.ts";
import { buildCli, isolatedEnv, oneLineError, runCli, startCli, trainTinyModel, type CliResult } from "./helpers/cli.ts";
import { makeImdbArchive } from "./helpers/make-archive.ts";

const tmp = mkdtempSync(join(tmpdir(), "ms-bad-input-"));
let modelDir: string;

beforeAll(async () => {
  buildCli();
  modelDir = await trainTinyModel(join(tmp, "train"));
}, 300_000);

afterAll(() => {
  try {
    chmodSync(join(tmp, "readonly"), 0o755);
  } catch {
    // not made
  }
  rmSync(tmp, { recursive: true, force: true });
});

function file(name: string, content: string | Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

function cli(args: string[], input?: string): Promise<CliResult> {
  return runCli(args, { env: isolatedEnv(tmp), cwd: tmp, input });
}

function predict(args: string[], input?: string): Promise<CliResult> {
  return cli(["predict", ...args, "--model", modelDir], input);
}

/** Exit code 2, one line on stderr matching `message`, no stack trace. */
function expectUserError(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const line = oneLineError(r);
  expect(line, r.stderr).toBeDefined();
  expect(line).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

function csvRows(text: string): string[][] {
  const p = new CsvParser();
  return p.end(p.push(text)).map((r) => r.fields);
}

describe("empty text", () => {
  it("a single prediction of empty or whitespace-only text is an error", async () => {
    for (const text of ["", "   ", "\t\n "]) {
      const r = await cli(["--text", text, "--model", modelDir]);
      expectUserError(r, /the review is empty/);
      expect(r.stdout).toBe("");
    }
  });

  it("in a file, the row gets an empty label and an error; the others are scored", async () => {
    const r = await predict([file("empty-rows.txt", "good film\n \nbad film\n")]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(r.stdout);
    expect(rows[2]).toEqual([" ", "", "", "", "the review is only whitespace"]);
    expect(rows[1]![1]).not.toBe("");
    expect(rows[3]![1]).not.toBe("");
  });
});

describe("encodings and binary files", () => {
  it("bytes that are not UTF-8: the error names the line and suggests --encoding", async () => {
    const bytes = Buffer.concat([Buffer.from("id,text\n1,fine\n2,also fine\n3,caf"), Buffer.from([0xe9]), Buffer.from(" cr\xe8me\n", "latin1")]);
    const out = join(tmp, "never-written.csv");
    const r = await predict([file("latin1-data.csv", bytes), "--out", out]);
    expectUserError(r, /line 4: byte 0xe9 .* is not valid UTF-8.*--encoding.*latin1/);
    expect(existsSync(out)).toBe(false);
    const ok = await predict([join(tmp, "latin1-data.csv"), "--encoding", "latin1"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(csvRows(ok.stdout)[3]![1]).toBe("café crème");
  });

  it("names the right line far into a large file", async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => `review number ${i} is fine`);
    const bytes = Buffer.concat([Buffer.from(lines.join("\n") + "\n"), Buffer.from([0x80, 0x0a])]);
    const r = await predict([file("late-bad-byte.txt", bytes), "--out", join(tmp, "late.csv")]);
    expectUserError(r, /line 50001: byte 0x80/);
  });

  it("UTF-16 text is recognised and read with --encoding utf-16le", async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("text\ngreat film\n", "utf16le")]);
    expectUserError(await predict([file("utf16.csv", utf16)]), /looks like UTF-16LE text: name its encoding with --encoding utf-16le/);
    expectUserError(await predict([file("utf16-nobom.csv", Buffer.from("text\ngreat film\n", "utf16le"))]), /--encoding utf-16le/);
    expectUserError(await predict([file("utf16-be.csv", Buffer.from("\ufefftext\n", "utf16le").swap16())]), /--encoding utf-16be/);
    const ok = await predict([join(tmp, "utf16.csv"), "--encoding", "utf-16le"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(csvRows(ok.stdout)[1]![0]).toBe("great film");
  });

  it("binary files are recognised as such", async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ["reviews.csv", gzipSync(Buffer.from("text\ngood\n")), /looks like gzip-compressed data/],
      ["reviews.txt", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /looks like a PNG image/],
      ["reviews.jsonl", Buffer.from([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0]), /looks like a ZIP archive/],
      ["random.txt", Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24), /looks like binary data, not text/],
      ["imdb.csv", makeImdbArchive(2), /looks like gzip-compressed data/],
    ];
    for (const [name, bytes, message] of cases) expectUserError(await predict([file(`bin-${name}`, bytes)]), message);
  });

  it("an unknown --encoding is an error", async () => {
    expectUserError(await predict([file("enc.txt", "good\n"), "--encoding", "klingon"]), /unknown --encoding "klingon"/);
  });
});

describe("malformed tables", () => {
  it("a CSV without the text column lists the columns it has", async () => {
    expectUserError(await predict([file("cols.csv", "id,review,stars\n1,good,5\n")]), /has no column "text"; its columns are "id", "review", "stars" \(choose one with --column\)/);
    expectUserError(await predict([file("cols2.csv", "id,review\n1,good\n"), "--column", "body"]), /no column "body"; its columns are "id", "review"/);
  });

  it("an unclosed quote names the line it opens on", async () => {
    const out = join(tmp, "unclosed-out.csv");
    const r = await predict([file("unclosed.csv", 'id,text\n1,fine\n2,"this quote\nnever\ncloses\n'), "--out", out]);
    expectUserError(r, /line 3: a quoted field starts here but its closing quote never comes/);
    expect(existsSync(out)).toBe(false);
  });

  it("text after a closing quote, and a row with the wrong number of fields, name the line", async () => {
    expectUserError(await predict([file("afterquote.csv", 'id,text\n1,"fine"\n2,"bad"x\n')]), /line 3: unexpected "x" after the closing quote/);
    expectUserError(await predict([file("fields.csv", "id,text\n1,fine\n2,one,two\n")]), /line 3: 3 fields, but the header has 2/);
  });

  it("an empty CSV has no header", async () => {
    expectUserError(await predict([file("empty.csv", "")]), /empty\.csv is empty: a CSV file needs a header line/);
  });

  it("a malformed JSONL line names the line", async () => {
    expectUserError(await predict([file("bad.jsonl", '{"text": "good"}\n\n{"text": "bad",}\n')]), /line 3: not valid JSON/);
    expectUserError(await predict([file("array.jsonl", '{"text": "good"}\n["not", "an object"]\n')]), /line 2: expected a JSON object .* got an array/);
    expectUserError(await predict([file("nofield.jsonl", '{"review": "good", "id": 1}\n')]), /line 1 .*no "text" field; the fields there are "review", "id"/);
  });

  it("a file name with no known extension needs --format", async () => {
    expectUserError(await predict([file("reviews.dat", "good\n")]), /cannot tell the format .* pass --format/);
    const ok = await predict([join(tmp, "reviews.dat"), "--format", "txt"]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("INPUT that is missing or a folder", async () => {
    expectUserError(await predict([join(tmp, "nope.csv")]), /cannot read .*nope\.csv: no such file/);
    expectUserError(await predict([tmp, "--format", "csv"]), /is a folder/);
    expectUserError(await predict([]), /predict needs an INPUT file/);
  });

  it("bad option values", async () => {
    const input = file("opt.txt", "good\n");
    expectUserError(await predict([input, "--explain=-1"]), /--explain must be an integer/);
    expectUserError(await predict([input, "--explain", "-1"]), /--explain needs its value attached .*--explain=VALUE/);
    expectUserError(await predict([input, "--workers", "many"]), /--workers must be an integer/);
    expectUserError(await predict([input, "--format", "xlsx"]), /--format must be one of csv, tsv, jsonl, txt/);
    expectUserError(await predict([input, "--lr", "3"]), /--lr does not apply to predict/);
  });
});

describe("messy but valid text is scored", () => {
  it("a single review of 10 MB", async () => {
    const words = ["great", "awful", "movie", "plot", "<br />", "fine"];
    const big = Array.from({ length: 2_000_000 }, (_, i) => words[(i * 7) % words.length]).join(" ").slice(0, 10 * 1024 * 1024);
    expect(big.length).toBeGreaterThanOrEqual(10 * 1024 * 1024 - 10);
    const r = await predict([file("huge.csv", `id,text\n1,"${big}"\n2,short one\n`), "--out", join(tmp, "huge-out.csv")]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(readFileSync(join(tmp, "huge-out.csv"), "utf8"));
    expect(rows).toHaveLength(3);
    expect(rows[1]![1]).toBe(big);
    expect(rows[1]![2]).toMatch(/^(positive|negative)$/);
  }, 120_000);

  it("a file of one million tiny rows", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 1_000_000; i++) lines.push(i % 2 ? `great ${i}` : `awful ${i}`);
    const input = file("million.txt", lines.join("\n") + "\n");
    const out = join(tmp, "million-out.csv");
    const r = await predict([input, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/scored 1,000,000 reviews/);
    const text = readFileSync(out, "utf8");
    let n = 0;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
    expect(n).toBe(1_000_001);
    expect(text.slice(text.lastIndexOf("\n", text.length - 2) + 1)).toMatch(/^great 999999,(positive|negative),/);
  }, 120_000);

  it("HTML, emoji, right-to-left scripts, control characters and NUL bytes", async () => {
    const texts = [
      "<p>Great <b>movie</b></p><br /><br />&amp; &lt;3 <script>alert(1)</script>",
      "🎬🍿 loved it 👍🏽 family: 👨‍👩‍👧 flags: 🇫🇷",
      "סרט נהדר, אהבתי מאוד",
      "فيلم رائع جدا \u200f mixed with English",
      "control \u0001\u0002\u0007\u001b[31m chars \u007f and a bell",
      "NUL \u0000 in the \u0000 middle",
      "lone surrogate is not UTF-8, but zero-width joiners are\u200d\u200c\ufeff",
    ];
    const jsonl = texts.map((t, i) => JSON.stringify({ id: i, text: t })).join("\n") + "\n";
    const r = await predict([file("messy.jsonl", jsonl)]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(out.map((o) => o.text)).toEqual(texts);
    for (const o of out) {
      expect(o.label).toMatch(/^(positive|negative)$/);
      expect(o.p_negative + o.p_positive).toBeCloseTo(1, 12);
    }
    const esc = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const csv = await predict([file("messy.csv", "text\n" + texts.map(esc).join("\n") + "\n")]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csvRows(csv.stdout).slice(1).map((row) => row[0])).toEqual(texts);
  });
});

describe("model folders", () => {
  const variants: [string, (dir: string) => void, RegExp][] = [
    ["missing", (dir) => rmSync(dir, { recursive: true }), /no model folder at .*pass --model DIR/],
    ["not a model folder", (dir) => rmSync(join(dir, "model.json")), /model\.json is missing: .* is not a model folder/],
    ["truncated array", (dir) => truncateSync(weightsFile(dir), 1000), /weights\.[0-9a-f]+\.f16 has 1000 bytes but .* says \d+: the file is truncated/],
    ["corrupt array", (dir) => flipByte(weightsFile(dir), 77), /weights\.[0-9a-f]+\.f16 is corrupt \(checksum/],
    ["missing array", (dir) => rmSync(weightsFile(dir)), /model array weights\.[0-9a-f]+\.f16 .* is missing/],
    ["corrupt metadata", (dir) => writeFileSync(join(dir, "model.json"), '{"format": "moviesentiments-model", '), /model\.json is not valid JSON/],
    ["newer format version", (dir) => editMeta(dir, (m) => (m.formatVersion = 99)), /model format version 99, newer than this program reads .*upgrade/],
    ["arrays that do not match the sizes in the metadata", (dir) => editMeta(dir, (m) => (m.features.hashBits = 17)), /arrays must have 2\^hashBits = 131072 entries/],
  ];

  function weightsFile(dir: string): string {
    return join(dir, readdirSync(dir).find((f) => f.startsWith("weights."))!);
  }
  function flipByte(path: string, at: number): void {
    const b = readFileSync(path);
    b[at] = b[at]! ^ 0xff;
    writeFileSync(path, b);
  }
  function editMeta(dir: string, edit: (m: Record<string, any>) => void): void {
    const m = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    edit(m);
    writeFileSync(join(dir, "model.json"), JSON.stringify(m));
  }

  for (const [name, damage, message] of variants) {
    it(`${name}: single prediction, predict and evaluate all exit 2`, async () => {
      const dir = join(tmp, `model-${name.replace(/\W+/g, "-")}`);
      cpSync(modelDir, dir, { recursive: true });
      damage(dir);
      const input = file("model-test.csv", "text,label\ngood,positive\n");
      expectUserError(await cli(["--text", "a good film", "--model", dir]), message);
      expectUserError(await cli(["predict", input, "--model", dir]), message);
      expectUserError(await cli(["evaluate", input, "--model", dir]), message);
    });
  }
});

describe("training", () => {
  it("invalid settings exit 2 before reading any data", async () => {
    const missing = join(tmp, "no-such-archive.tar.gz");
    for (const [flag, value, message] of [
      ["--lr", "0", /learning rate must be a number > 0/],
      ["--epochs", "0", /epochs must be an integer >= 1/],
      ["--l2=-1", undefined, /L2 strength must be a number >= 0/],
      ["--l2", "-1", /--l2 needs its value attached/],
      ["--batch-size", "0", /batch size/],
      ["--dropout", "1", /dropout must be a number from 0 to 0.95/],
      ["--hash-bits", "40", /hashBits must be an integer from 10 to 26/],
    ] as const) {
      const r = await cli(["train", "--data", missing, "--out", join(tmp, "never"), flag, ...(value === undefined ? [] : [value])]);
      expectUserError(r, message);
      expect(r.stderr).not.toMatch(/no-such-archive|IMDB/);
    }
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });

  function folderDigest(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of readdirSync(dir).sort()) out[name] = createHash("sha256").update(readFileSync(join(dir, name))).digest("hex");
    return out;
  }

  for (const signal of ["SIGINT", "SIGKILL"] as const) {
    it(`killed halfway with ${signal}: the model folder that was there is intact and still loads`, async () => {
      const scratch = mkdtempSync(join(tmp, `kill-${signal}-`));
      const archive = join(scratch, "big.tar.gz");
      writeFileSync(archive, makeImdbArchive(1500, 7));
      const target = join(scratch, "model");
      cpSync(modelDir, target, { recursive: true });
      const before = folderDigest(target);
      const child = startCli(["train", "--data", archive, "--out", target, "--epochs", "500", "--patience", "0", "--hash-bits", "16"], {
        env: isolatedEnv(scratch),
        cwd: scratch,
      });
      let stderr = "";
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, sig) => res({ code, signal: sig })));
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`training never started an epoch:\n${stderr}`)), 90_000);
        child.stderr!.on("data", (b: Buffer) => {
          stderr += b.toString();
          if (/(select|refit) +epoch +2 /.test(stderr)) {
            clearTimeout(timer);
            res();
          }
        });
      });
      child.kill(signal);
      const end = await exited;
      if (signal === "SIGKILL") expect(end.signal).toBe("SIGKILL");
      else {
        expect(end.code, stderr).toBe(130);
        expect(stderr).toMatch(/nothing was saved/);
        expect(stderr).not.toMatch(/^\s+at /m);
      }
      expect(folderDigest(target)).toEqual(before);
      const r = await cli(["--text", "a great film", "--model", target]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^(positive|negative) /);
    }, 180_000);
  }
});

describe("output paths", () => {
  it("a folder that does not exist", async () => {
    const r = await predict([file("o1.csv", "text\ngood\n"), "--out", join(tmp, "no", "such", "folder", "out.csv")]);
    expectUserError(r, /cannot write .*out\.csv: the folder .*folder does not exist/);
  });

  it("a path under a file, and a folder given as the output", async () => {
    const input = file("o2.csv", "text\ngood\n");
    expectUserError(await predict([input, "--out", join(input, "out.csv")]), /o2\.csv is not a folder/);
    expectUserError(await predict([input, "--out", tmp]), /it is a folder/);
  });

  it("a folder that cannot be written", async () => {
    const input = file("o3.csv", "text\ngood\n");
    let target: string;
    if (process.getuid?.() === 0) {
      // root ignores permission bits; sysfs refuses new files even to root
      if (!existsSync("/sys/kernel")) return;
      target = "/sys/kernel/moviesentiments-out.csv";
    } else {
      const dir = join(tmp, "readonly");
      mkdirSync(dir);
      chmodSync(dir, 0o555);
      target = join(dir, "out.csv");
    }
    expectUserError(await predict([input, "--out", target]), /cannot write .*: (permission denied|the file system is read-only|no such file)/);
  });
});

describe("scoring interrupted", () => {
  for (const signal of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
    it(`${signal} halfway: nothing appears under the output's name`, async () => {
      const dir = mkdtempSync(join(tmp, `interrupt-${signal}-`));
      const out = join(dir, "scored.csv");
      const child = startCli(["predict", "-", "--out", out, "--model", modelDir], { env: isolatedEnv(tmp), cwd: tmp });
      let stderr = "";
      child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, sig) => res({ code, signal: sig })));
      // rows keep coming and standard input stays open: the run is surely halfway
      for (let i = 0; i < 20; i++) child.stdin!.write(Array.from({ length: 500 }, (_, k) => `great film number ${i * 500 + k}`).join("\n") + "\n");
      await new Promise((r) => setTimeout(r, 1500));
      child.kill(signal);
      const end = await exited;
      expect(existsSync(out)).toBe(false);
      if (signal === "SIGKILL") {
        expect(end.signal).toBe("SIGKILL");
        // at most the hidden temporary file is left behind
        for (const name of readdirSync(dir)) expect(name).toMatch(/^\.scored\.csv\.tmp-/);
      } else {
        expect(end.code, stderr).toBe(130);
        expect(stderr).toMatch(/interrupted: .*scored\.csv was not written/);
        expect(stderr).not.toMatch(/^\s+at /m);
        expect(readdirSync(dir)).toEqual([]);
      }
    }, 60_000);
  }
});

describe("no stack trace unless --debug", () => {
  it("--debug adds the stack to the one-line message", async () => {
    const r = await predict([file("dbg.csv", "id\n1\n"), "--column", "text", "--debug"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^moviesentiments: error: .*no column "text"/);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});
