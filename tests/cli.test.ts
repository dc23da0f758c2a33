// The CLI end to end, in child processes: the bundle is built once into a temporary
// folder, a tiny model is trained from a synthetic archive, and the outputs and exit
// codes are checked. `--model` is always passed (the bundle lives outside the package).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeImdbArchive } from "./helpers/make-archive.ts";

const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), "moviesentiments-cli-test-"));
const buildDir = join(tmp, "build");
const cli = join(buildDir, "cli.js");
const archive = join(tmp, "tiny-imdb.tar.gz");
const modelDir = join(tmp, "model");
const N_PER_CLASS = 60;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: tmp,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, MOVIESENTIMENTS_DATA: join(tmp, "no-data-here"), XDG_CACHE_HOME: join(tmp, "cache"), ...env },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A one-line error on stderr: no stack trace, nothing on stdout. */
function expectOneLineError(r: Run, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^moviesentiments: error: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let trainRun: Run;

beforeAll(() => {
  const build = spawnSync(
    process.execPath,
    [join(REPO, "node_modules/rolldown/bin/cli.mjs"), "src/node/cli.ts", "--dir", buildDir, "--platform", "node", "--format", "esm", "--external", "./webgpu.ts"],
    { cwd: REPO, encoding: "utf8", timeout: 120_000 },
  );
  if (build.status !== 0 || !existsSync(cli)) throw new Error(`building the CLI failed:\n${build.stdout}\n${build.stderr}`);
  writeFileSync(archive, makeImdbArchive(N_PER_CLASS, 3));
  trainRun = run(["train", "--data", archive, "--out", modelDir, "--epochs", "3", "--hash-bits", "16", "--patience", "0"]);
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("moviesentiments train", () => {
  it("trains a tiny model from an archive and saves it", () => {
    expect(trainRun.code, trainRun.stderr).toBe(0);
    expect(existsSync(join(modelDir, "model.json"))).toBe(true);
    expect(readdirSync(modelDir).filter((f) => f.endsWith(".f16"))).toHaveLength(2);
    const meta = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8"));
    expect(meta.features.hashBits).toBe(16);
    expect(meta.training.config.epochs).toBe(3);
    expect(meta.training.nTrain).toBe(2 * N_PER_CLASS);
    expect(meta.metrics.test.n).toBe(2 * N_PER_CLASS);
    expect(trainRun.stderr).toMatch(/saved the model to/);
  });

  /** Trains with --workers 2 and --workers 0 and checks that both saved the same model. */
  function threadsAndInline(name: string, args: string[]) {
    const threads = run([...args, "--out", join(tmp, `${name}-threads`), "--workers", "2"]);
    const inline = run([...args, "--out", join(tmp, `${name}-inline`), "--workers", "0"]);
    expect(threads.code, threads.stderr).toBe(0);
    expect(inline.code, inline.stderr).toBe(0);
    const files = (dir: string) => readdirSync(join(tmp, dir)).filter((f) => f.endsWith(".f16")).sort();
    expect(files(`${name}-threads`)).toEqual(files(`${name}-inline`));
    for (const f of files(`${name}-inline`)) expect(readFileSync(join(tmp, `${name}-threads`, f))).toEqual(readFileSync(join(tmp, `${name}-inline`, f)));
    const meta = (dir: string) => JSON.parse(readFileSync(join(tmp, dir, "model.json"), "utf8"));
    expect(meta(`${name}-threads`).metrics).toEqual(meta(`${name}-inline`).metrics);
    expect(meta(`${name}-threads`).training.bestEpoch).toBe(meta(`${name}-inline`).training.bestEpoch);
    return { threads, inline, meta: meta(`${name}-inline`) };
  }

  it("--workers 2 (the two seeds' runs at once, on two threads) saves the same model as --workers 0", () => {
    const { threads, meta } = threadsAndInline("seeds", ["train", "--data", archive, "--epochs", "4", "--hash-bits", "12", "--lr", "8"]);
    expect(threads.stderr).toMatch(/refit: training on all \d+ reviews of train\/ for 4 epochs, 2 runs with different seeds, averaged/);
    expect(threads.stderr).toMatch(/trained 4 epochs, the mean of 2 runs with different seeds/);
    expect(meta.training.seeds).toBe(2);
    expect(meta.training.validationFraction).toBe(0);
    expect(meta.history.final).toHaveLength(4);
  });

  it("--workers 2 with a validation split (selection and refit at once) saves the same model as --workers 0", () => {
    const args = ["train", "--data", archive, "--epochs", "6", "--hash-bits", "12", "--patience", "2", "--lr", "8", "--validation-fraction", "0.2", "--seeds", "1"];
    const { threads, inline, meta } = threadsAndInline("select", args);
    expect(threads.stderr).toMatch(/refit: training on all \d+ reviews of train\/ alongside/);
    expect(inline.stderr).toMatch(/refit: training on all \d+ reviews of train\/ for \d+ epochs/);
    expect(threads.stderr).toMatch(/chose \d+ epochs on validation/);
    expect(meta.training.seeds).toBeUndefined();
    expect(meta.history.selection.length).toBeGreaterThan(0);
  });

  it("sweep keeps dropout and negation scope off unless given, and records what it ran", () => {
    const base = ["sweep", "--data", archive, "--epochs", "2", "--hash-bits", "12"];
    const off = run([...base, "--out", join(tmp, "sweep-off.json")]);
    expect(off.code, off.stderr).toBe(0);
    const recOff = JSON.parse(readFileSync(join(tmp, "sweep-off.json"), "utf8"));
    expect(recOff.features.negationScope).toBe(0);
    expect(recOff.command).not.toMatch(/--negation-scope|--dropout/);
    expect(recOff.runs).toHaveLength(4);
    // a validation split whatever train's default is, and every epoch scored on it
    expect(recOff.validationFraction).toBe(0.2);
    for (const r of recOff.runs) for (const h of r.history) expect(h.validation.accuracy).toBeGreaterThan(0);
    const on = run([...base, "--out", join(tmp, "sweep-on.json"), "--negation-scope", "2", "--dropout", "0.3"]);
    expect(on.code, on.stderr).toBe(0);
    const recOn = JSON.parse(readFileSync(join(tmp, "sweep-on.json"), "utf8"));
    expect(recOn.features.negationScope).toBe(2);
    expect(recOn.command).toMatch(/--dropout 0.3 --negation-scope 2/);
    expect(recOn.command).not.toMatch(/--validation-fraction/);
    const other = run([...base, "--out", join(tmp, "sweep-other.json"), "--validation-fraction", "0.3"]);
    expect(other.code, other.stderr).toBe(0);
    const recOther = JSON.parse(readFileSync(join(tmp, "sweep-other.json"), "utf8"));
    expect(recOther.validationFraction).toBe(0.3);
    expect(recOther.command).toMatch(/--validation-fraction 0.3/);
    expectOneLineError(run([...base, "--out", join(tmp, "never.json"), "--validation-fraction", "0"]), /sweep needs a validation split/);
  });

  it("--seeds must be a whole number from 1 to 16", () => {
    expectOneLineError(run(["train", "--data", archive, "--out", join(tmp, "never"), "--seeds", "0"]), /seeds must be an integer from 1 to 16/);
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });

  it("--workers must be a whole number", () => {
    expectOneLineError(run(["train", "--data", archive, "--out", join(tmp, "never"), "--workers", "two"]), /--workers must be an integer/);
  });

  it("--lr 0 exits 2 before reading any data", () => {
    const r = run(["train", "--data", join(tmp, "missing.tar.gz"), "--out", join(tmp, "never"), "--lr", "0"]);
    expectOneLineError(r, /learning rate/);
    expect(r.stderr).not.toMatch(/IMDB|missing\.tar\.gz/);
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });

  it.each([
    [["--epochs", "0"], /epochs/],
    [["--l2=-1"], /L2/], // "--l2 -1" is refused by node:util parseArgs as ambiguous
    [["--batch-size", "2.5"], /batch-size/],
    [["--lr", "abc"], /--lr must be a number/],
  ])("bad setting %j exits 2 with one line", (extra, message) => {
    const r = run(["train", "--data", join(tmp, "missing.tar.gz"), "--out", join(tmp, "never"), ...extra]);
    expectOneLineError(r, message);
  });

  it("missing data: exit 2, says what was looked for and what to do", () => {
    const r = run(["train", "--data", join(tmp, "missing.tar.gz"), "--out", join(tmp, "never"), "--epochs", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.tar\.gz/);
    expect(r.stderr).toMatch(/download/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("moviesentiments --text", () => {
  it("--json prints exactly {label, probabilities: {negative, positive}}", () => {
    for (const text of ["I loved it, a wonderful and brilliant film!", "Awful, boring, the worst waste of time."]) {
      const r = run(["--text", text, "--json", "--model", modelDir]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      const obj = JSON.parse(lines[0]!);
      expect(Object.keys(obj)).toEqual(["label", "probabilities"]);
      expect(Object.keys(obj.probabilities).sort()).toEqual(["negative", "positive"]);
      expect(["positive", "negative"]).toContain(obj.label);
      const { negative: p, positive: q } = obj.probabilities;
      expect(typeof p).toBe("number");
      expect(typeof q).toBe("number");
      expect(p).toBeGreaterThanOrEqual(0);
      expect(q).toBeLessThanOrEqual(1);
      expect(p + q).toBeCloseTo(1, 12);
      expect(obj.label).toBe(q >= 0.5 ? "positive" : "negative");
    }
  });

  it("the tiny model gets the obvious cases right", () => {
    const pos = JSON.parse(run(["--text", "wonderful brilliant superb masterpiece", "--json", "--model", modelDir]).stdout);
    const neg = JSON.parse(run(["--text", "awful terrible horrible boring", "--json", "--model", modelDir]).stdout);
    expect(pos.label).toBe("positive");
    expect(neg.label).toBe("negative");
  });

  it("plain output: `label  (negative 0.xx, positive 0.yy)`", () => {
    const r = run(["--text", "I loved the movie!", "--model", modelDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^(positive|negative) {2}\(negative [01]\.\d\d, positive [01]\.\d\d\)\n$/);
    const m = /negative ([\d.]+), positive ([\d.]+)/.exec(r.stdout)!;
    expect(Number(m[1]) + Number(m[2])).toBeCloseTo(1, 1);
  });

  it.each([[""], ["   "], [" \n\t "]])("empty or whitespace-only text %j: exit 2 with a message", (text) => {
    const r = run(["--text", text, "--model", modelDir]);
    expectOneLineError(r, /empty/);
    const j = run(["--text", text, "--json", "--model", modelDir]);
    expect(j.code).toBe(2);
    expect(j.stdout).toBe("");
  });

  it("a model folder that does not exist: exit 2, names it", () => {
    const missing = join(tmp, "no-model");
    const r = run(["--text", "fine", "--model", missing]);
    expectOneLineError(r, /no model folder/);
    expect(r.stderr).toContain(missing);
  });
});

describe("moviesentiments evaluate", () => {
  it("--json prints exactly accuracy, precision, recall, f1, roc_auc, log_loss, n", () => {
    const r = run(["evaluate", "--data", archive, "--model", modelDir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const obj = JSON.parse(lines[0]!);
    expect(Object.keys(obj).sort()).toEqual(["accuracy", "f1", "log_loss", "n", "precision", "recall", "roc_auc"]);
    expect(obj.n).toBe(2 * N_PER_CLASS);
    for (const k of ["accuracy", "precision", "recall", "f1", "roc_auc"]) {
      expect(obj[k]).toBeGreaterThanOrEqual(0);
      expect(obj[k]).toBeLessThanOrEqual(1);
    }
    expect(obj.log_loss).toBeGreaterThan(0);
    // the metrics the training run recorded are those of the saved (float16) model
    const meta = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8"));
    for (const k of ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]) expect(obj[k]).toBeCloseTo(meta.metrics.test[k], 10);
  });
});

describe("usage", () => {
  it("--help: exit 0, usage on stdout", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage:/);
    expect(r.stdout).toMatch(/--text/);
    expect(r.stdout).toMatch(/train/);
    expect(r.stdout).toMatch(/evaluate/);
  });

  it("--version: exit 0", () => {
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("an unknown option: exit 2, one line, no stack", () => {
    expectOneLineError(run(["--bogus", "--model", modelDir]), /bogus/);
    expectOneLineError(run(["train", "--frobnicate", "3"]), /frobnicate/);
  });

  it("an unknown command or nothing to do: exit 2, one line", () => {
    expectOneLineError(run(["fly"]), /unknown command "fly"/);
    expectOneLineError(run([]), /nothing to do/);
  });
});
