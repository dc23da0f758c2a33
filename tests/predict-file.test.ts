// `moviesentiments predict INPUT` and `evaluate INPUT --label`, end to end in child
// processes, with a tiny model trained from a synthetic archive in beforeAll.

import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Predictor } from "../src/core/predict.ts";
import { CsvParser, JsonlParser } from "../src/core/table-formats.ts";
import { loadModelDir } from "../src/node/model-files.ts";
import { buildCli, isolatedEnv, oneLineError, runCli, trainTinyModel, type CliResult } from "./helpers/cli.ts";
import { NEGATIVE_WORDS, POSITIVE_WORDS } from "./helpers/make-archive.ts";

const tmp = mkdtempSync(join(tmpdir(), "ms-predict-file-"));
let modelDir: string;
let predictor: Predictor;

beforeAll(async () => {
  buildCli();
  modelDir = await trainTinyModel(join(tmp, "train"));
  predictor = new Predictor(loadModelDir(modelDir));
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

function predict(args: string[], input?: string): Promise<CliResult> {
  return runCli(["predict", ...args, "--model", modelDir], { env: isolatedEnv(tmp), cwd: tmp, input });
}

function csvRows(text: string, delimiter = ","): string[][] {
  const p = new CsvParser({ delimiter });
  return p.end(p.push(text)).map((r) => r.fields);
}

function jsonRows(text: string): Record<string, unknown>[] {
  const p = new JsonlParser();
  return p.end(p.push(text)).map((r) => r.value);
}

function expected(text: string): { label: string; pos: number } {
  const p = predictor.predict(text);
  return { label: p.label, pos: p.probabilities.positive };
}

const REVIEWS = [
  `This movie was ${POSITIVE_WORDS[0]} and ${POSITIVE_WORDS[1]}, the cast was ${POSITIVE_WORDS[2]}.`,
  `A ${NEGATIVE_WORDS[0]}, ${NEGATIVE_WORDS[1]} film. "Worst" ending; I want my time back.`,
  `Multi-line review:\nfirst line ${POSITIVE_WORDS[3]}\r\nsecond line "quoted" ${POSITIVE_WORDS[4]}`,
  `${NEGATIVE_WORDS[2]} <br /><br /> ${NEGATIVE_WORDS[3]} — émoji 🎬 and עברית text`,
];

describe("predict CSV", () => {
  it("keeps every row and column in order and adds label, p_negative, p_positive, error", async () => {
    const esc = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const input = file("reviews.csv", "id,text,stars\n" + REVIEWS.map((r, i) => `${i + 1},${esc(r)},${i}`).join("\r\n") + "\n");
    const r = await predict([input]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(r.stdout);
    expect(rows[0]).toEqual(["id", "text", "stars", "label", "p_negative", "p_positive", "error"]);
    expect(rows).toHaveLength(REVIEWS.length + 1);
    REVIEWS.forEach((text, i) => {
      const row = rows[i + 1]!;
      expect(row.slice(0, 3)).toEqual([String(i + 1), text, String(i)]);
      const e = expected(text);
      expect(row[3]).toBe(e.label);
      expect(Number(row[5])).toBeCloseTo(e.pos, 6);
      expect(Number(row[4]) + Number(row[5])).toBeCloseTo(1, 12);
      expect(row[4]).toMatch(/^[01]\.\d{6}$/);
      expect(row[6]).toBe("");
    });
    expect(r.stderr).toMatch(/^scored 4 reviews/m);
    expect(r.stderr).not.toMatch(/\r/); // no progress bar when stderr is not a terminal
  });

  it("uses the only column whatever its name, and --column to choose one", async () => {
    const only = await predict([file("only.csv", `review\n${POSITIVE_WORDS[0]} movie\n`)]);
    expect(only.code, only.stderr).toBe(0);
    expect(csvRows(only.stdout)[1]![1]).toBe(expected(`${POSITIVE_WORDS[0]} movie`).label);
    const chosen = await predict([file("two.csv", `id,body\n7,${NEGATIVE_WORDS[0]} movie\n`), "--column", "body"]);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(csvRows(chosen.stdout)[1]).toEqual(["7", `${NEGATIVE_WORDS[0]} movie`, expected(`${NEGATIVE_WORDS[0]} movie`).label, expect.any(String), expect.any(String), ""]);
  });

  it("renames added columns that would collide with the input's", async () => {
    const r = await predict([file("labelled.csv", `text,label\n${POSITIVE_WORDS[0]},positive\n`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(csvRows(r.stdout)[0]).toEqual(["text", "label", "predicted_label", "p_negative", "p_positive", "error"]);
  });

  it("marks empty and whitespace-only rows with an error and scores the others", async () => {
    const r = await predict([file("gaps.csv", `id,text\n1,${POSITIVE_WORDS[0]}\n2,\n3,"  \t "\n4,${NEGATIVE_WORDS[0]}\n`)]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(r.stdout);
    expect(rows).toHaveLength(5);
    expect(rows[2]).toEqual(["2", "", "", "", "", "the review is empty"]);
    expect(rows[3]).toEqual(["3", "  \t ", "", "", "", "the review is only whitespace"]);
    expect(rows[1]![2]).toBe(expected(POSITIVE_WORDS[0]!).label);
    expect(rows[4]![2]).toBe(expected(NEGATIVE_WORDS[0]!).label);
    expect(r.stderr).toMatch(/2 rows not scored .*line 3: the review is empty; line 4: the review is only whitespace/);
  });

  it("adds the strongest n-grams each way with --explain N", async () => {
    const text = `${POSITIVE_WORDS[0]} ${POSITIVE_WORDS[1]} but ${NEGATIVE_WORDS[0]}`;
    const r = await predict([file("explain.csv", `text\n${text}\n`), "--explain", "2"]);
    expect(r.code, r.stderr).toBe(0);
    const [header, row] = csvRows(r.stdout);
    expect(header).toEqual(["text", "label", "p_negative", "p_positive", "top_positive", "top_negative", "error"]);
    const e = predictor.explain(text, 2);
    const fmt = (list: typeof e.topPositive) => list.map((c) => `${c.ngram} (${c.contribution >= 0 ? "+" : ""}${c.contribution.toFixed(3)})`).join(" | ");
    expect(row![4]).toBe(fmt(e.topPositive));
    expect(row![5]).toBe(fmt(e.topNegative));
    expect(row![4]!.split(" | ")).toHaveLength(Math.min(2, e.topPositive.length));
  });

  it("reads TSV and writes TSV", async () => {
    const r = await predict([file("reviews.tsv", `id\ttext\n1\t${POSITIVE_WORDS[0]}, really\n2\t"quoted\ttab"\n`)]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(r.stdout, "\t");
    expect(rows[0]).toEqual(["id", "text", "label", "p_negative", "p_positive", "error"]);
    expect(rows[1]!.slice(0, 3)).toEqual(["1", `${POSITIVE_WORDS[0]}, really`, expected(`${POSITIVE_WORDS[0]}, really`).label]);
    expect(rows[2]![1]).toBe("quoted\ttab");
  });
});

describe("predict JSONL and plain text", () => {
  it("JSONL: appends fields to each object, leaving its text exactly as it was", async () => {
    const lines = [
      `{"id": 12345678901234567890, "text": ${JSON.stringify(REVIEWS[0])}, "meta": {"a": [1, 2.50]}}`,
      "",
      `{"text":${JSON.stringify(REVIEWS[1])}}`,
      `{"id": 3, "text": "   "}`,
      `{"id": 4, "body": "no text field"}`,
      `{"id": 5, "text": 42}`,
    ];
    const r = await predict([file("reviews.jsonl", lines.join("\n") + "\n")]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trimEnd().split("\n");
    expect(out).toHaveLength(5);
    expect(out[0]!.startsWith(`{"id": 12345678901234567890, "text": ${JSON.stringify(REVIEWS[0])}, "meta": {"a": [1, 2.50]},"label":`)).toBe(true);
    const objs = jsonRows(r.stdout);
    expect(objs[0]!.label).toBe(expected(REVIEWS[0]!).label);
    expect(objs[1]!.p_positive).toBeCloseTo(expected(REVIEWS[1]!).pos, 6);
    expect(objs[2]).toMatchObject({ id: 3, label: null, p_negative: null, p_positive: null, error: "the review is only whitespace" });
    expect(objs[3]).toMatchObject({ id: 4, label: null, error: 'no "text" field in this row' });
    expect(objs[4]).toMatchObject({ id: 5, label: null, error: 'the "text" field is a number, not text' });
  });

  it("JSONL: the only field is the text whatever its name; --explain gives arrays", async () => {
    const r = await predict([file("single.jsonl", `{"review": "${POSITIVE_WORDS[0]} film"}\n`), "--explain", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const [obj] = jsonRows(r.stdout);
    expect(obj).toMatchObject({ review: `${POSITIVE_WORDS[0]} film`, label: expected(`${POSITIVE_WORDS[0]} film`).label });
    expect(obj!.top_positive).toEqual([{ ngram: expect.any(String), contribution: expect.any(Number) }]);
  });

  it("plain text: one review a line, blank lines kept as unscored rows, CSV out", async () => {
    const r = await predict([file("reviews.txt", `${POSITIVE_WORDS[0]} film\r\n\n${NEGATIVE_WORDS[0]}, "so" bad`)]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(r.stdout);
    expect(rows.map((row) => row.slice(0, 2))).toEqual([
      ["text", "label"],
      [`${POSITIVE_WORDS[0]} film`, expected(`${POSITIVE_WORDS[0]} film`).label],
      ["", ""],
      [`${NEGATIVE_WORDS[0]}, "so" bad`, expected(`${NEGATIVE_WORDS[0]}, "so" bad`).label],
    ]);
    expect(rows[2]![4]).toBe("the review is empty");
  });

  it("reads standard input with -, as plain text unless --format says otherwise", async () => {
    const txt = await predict(["-"], `${POSITIVE_WORDS[0]}\n${NEGATIVE_WORDS[0]}\n`);
    expect(txt.code, txt.stderr).toBe(0);
    expect(csvRows(txt.stdout).map((r) => r[1])).toEqual(["label", expected(POSITIVE_WORDS[0]!).label, expected(NEGATIVE_WORDS[0]!).label]);
    const json = await predict(["-", "--format", "jsonl"], `{"text": "${POSITIVE_WORDS[0]}"}\n`);
    expect(json.code, json.stderr).toBe(0);
    expect(jsonRows(json.stdout)[0]!.label).toBe(expected(POSITIVE_WORDS[0]!).label);
  });

  it("decodes Latin-1 with --encoding latin1", async () => {
    const bytes = Buffer.concat([Buffer.from("text\n"), Buffer.from("caf\xe9 ", "latin1"), Buffer.from(`${POSITIVE_WORDS[0]}\n`)]);
    const r = await predict([file("latin1.csv", bytes), "--encoding", "latin1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(csvRows(r.stdout)[1]!.slice(0, 2)).toEqual([`café ${POSITIVE_WORDS[0]}`, expected(`café ${POSITIVE_WORDS[0]}`).label]);
  });
});

describe("predict --out", () => {
  it("writes the file atomically (no temporary file left) in the format its name says", async () => {
    const input = file("to-jsonl.csv", `id,text\n1,${POSITIVE_WORDS[0]}\n2,\n`);
    const outDir = mkdtempSync(join(tmp, "out-"));
    const out = join(outDir, "scored.jsonl");
    const r = await predict([input, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(readdirSync(outDir)).toEqual(["scored.jsonl"]);
    const objs = jsonRows(readFileSync(out, "utf8"));
    expect(objs[0]).toMatchObject({ id: "1", text: POSITIVE_WORDS[0], label: expected(POSITIVE_WORDS[0]!).label });
    expect(objs[1]).toMatchObject({ id: "2", text: "", label: null, error: "the review is empty" });
  });

  it("replaces an existing output file only when complete", async () => {
    const out = file("existing.csv", "old contents\n");
    const r = await predict([file("new-input.csv", `text\n${POSITIVE_WORDS[0]}\n`), "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toMatch(/^text,label,p_negative,p_positive,error\n/);
  });

  it("refuses to write over its input, by any name", async () => {
    const input = file("self.csv", `text\n${POSITIVE_WORDS[0]}\n`);
    const before = readFileSync(input, "utf8");
    symlinkSync(input, join(tmp, "self-link.csv"));
    linkSync(input, join(tmp, "self-hard.csv"));
    for (const out of [input, join(tmp, ".", "self.csv"), join(tmp, "self-link.csv"), join(tmp, "self-hard.csv")]) {
      const r = await predict([input, "--out", out]);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLineError(r)).toMatch(/is the input file: refusing to write over it/);
    }
    expect(readFileSync(input, "utf8")).toBe(before);
  });

  /** Scores `input` on this thread and on two workers; both must write the same rows. */
  async function sameWithWorkers(input: string, nRows: number, extra: string[] = []): Promise<void> {
    const a = await predict([input, "--workers", "0", ...extra]);
    const b = await predict([input, "--workers", "2", ...extra]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/2 threads/);
    expect(b.stdout).toBe(a.stdout);
    expect(csvRows(a.stdout)).toHaveLength(nRows + 1);
  }

  it("gives the same output with worker threads and without", async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => `${i},"${POSITIVE_WORDS[i % 15]} ${NEGATIVE_WORDS[(i * 7) % 15]} ${"film ".repeat(i % 5)}"`);
    const input = file("many.csv", "id,text\n" + rows.join("\n") + "\n");
    await sameWithWorkers(input, 10_000);
    await sameWithWorkers(input, 10_000, ["--explain", "2"]);
  });

  it("gives the same output when a file of several batches starts its workers at once (over 2 MB)", async () => {
    const filler = "the plot moves along and the cast does its job ".repeat(5);
    const rows = Array.from({ length: 9_000 }, (_, i) => `${i},"${POSITIVE_WORDS[i % 15]} ${filler}${NEGATIVE_WORDS[(i * 7) % 15]}"`);
    const input = file("big.csv", "id,text\n" + rows.join("\n") + "\n");
    expect(statSync(input).size).toBeGreaterThan(2 * 1024 * 1024);
    await sameWithWorkers(input, 9_000);
  });
});

describe("evaluate INPUT --label", () => {
  it("measures the model on the user's CSV (labels positive/negative)", async () => {
    const texts = [...POSITIVE_WORDS.map((w) => [w, "positive"]), ...NEGATIVE_WORDS.map((w) => [w, "Negative"])];
    const input = file("labelled-eval.csv", "text,sentiment\n" + texts.map(([t, l]) => `${t} movie,${l}`).join("\n") + "\n,positive\n");
    const r = await runCli(["evaluate", input, "--label", "sentiment", "--model", modelDir, "--json"], { env: isolatedEnv(tmp) });
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.n).toBe(30);
    expect(m.skipped).toBe(1);
    const correct = texts.filter(([t, l]) => expected(`${t} movie`).label === l!.toLowerCase()).length;
    expect(m.accuracy).toBeCloseTo(correct / 30, 12);
    expect(r.stderr).toMatch(/skipped 1 row with no text to score \(line 32\)/);
  });

  it("reads 1/0 labels from JSONL and prints the metrics table", async () => {
    const input = file("labelled.jsonl", `{"text": "${POSITIVE_WORDS[0]}", "label": 1}\n{"text": "${NEGATIVE_WORDS[0]}", "label": "0"}\n`);
    const r = await runCli(["evaluate", input, "--model", modelDir], { env: isolatedEnv(tmp) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^accuracy {2}\d\.\d{4}\n/);
    expect(r.stdout).toMatch(/confusion/);
  });

  it("rejects a label that is not positive/negative or 1/0, naming the line", async () => {
    const input = file("bad-label.csv", `text,label\ngood,positive\nbad,maybe\n`);
    const r = await runCli(["evaluate", input, "--label", "label", "--model", modelDir], { env: isolatedEnv(tmp) });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/line 3: the label "maybe" is not positive\/negative or 1\/0/);
  });

  it("lists the columns when the label column is missing", async () => {
    const input = file("no-label.csv", `text,stars\ngood,5\n`);
    const r = await runCli(["evaluate", input, "--label", "sentiment", "--model", modelDir], { env: isolatedEnv(tmp) });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/no label column "sentiment"; its columns are "text", "stars"/);
  });
});

describe("predict with no temporary files left behind", () => {
  it("leaves the output folder clean after an error", async () => {
    const outDir = mkdtempSync(join(tmp, "clean-"));
    const r = await predict([file("broken.csv", `text\n"never closed\n`), "--out", join(outDir, "x.csv")]);
    expect(r.code).toBe(2);
    expect(readdirSync(outDir)).toEqual([]);
    expect(existsSync(join(outDir, "x.csv"))).toBe(false);
  });
});
