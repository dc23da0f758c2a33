// Test helpers: build the CLI bundle (once per source state, shared by test files that
// run at the same time), run it as a child process, and train a tiny model with it.
//
// The bundle goes to <tmpdir>/moviesentiments-test-cli-<hash of the sources>/. Test files
// run in parallel processes: each builds into a private folder and renames it into place;
// whoever renames first wins, the others see the folder and use it. A stale bundle is
// impossible because the folder name is the hash of everything that goes into it.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeImdbArchive } from "./make-archive.ts";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

function hashSources(): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|wgsl|json)$/.test(e.name)) {
        h.update(p);
        h.update(readFileSync(p));
      }
    }
  };
  walk(join(REPO, "src"));
  for (const f of ["vite.cli.config.ts", "package.json"]) if (existsSync(join(REPO, f))) h.update(readFileSync(join(REPO, f)));
  return h.digest("hex").slice(0, 16);
}

function tryBuild(outDir: string): string | undefined {
  const vite = spawnSync(
    process.execPath,
    [join(REPO, "node_modules/vite/bin/vite.js"), "build", "--config", "vite.cli.config.ts", "--outDir", outDir, "--emptyOutDir", "--logLevel", "error"],
    { cwd: REPO, encoding: "utf8", timeout: 120_000 },
  );
  const viteOut = join(outDir, "moviesentiments.js");
  if (vite.status === 0 && existsSync(viteOut)) return "moviesentiments.js";
  // fallback (e.g. while src/node/webgpu.ts does not exist yet)
  rmSync(outDir, { recursive: true, force: true });
  const rd = spawnSync(
    process.execPath,
    [join(REPO, "node_modules/rolldown/bin/cli.mjs"), "src/node/cli.ts", "--dir", outDir, "--platform", "node", "--format", "esm", "--external", "./webgpu.ts"],
    { cwd: REPO, encoding: "utf8", timeout: 120_000 },
  );
  if (rd.status === 0 && existsSync(join(outDir, "cli.js"))) return "cli.js";
  throw new Error(`building the CLI failed.\nvite: ${vite.stdout}\n${vite.stderr}\nrolldown: ${rd.stdout}\n${rd.stderr}`);
}

let built: string | undefined;

/** Bundles of older source states, unused for a day: nobody needs them any more. */
function removeStaleBuilds(): void {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith("moviesentiments-test-cli-")) continue;
    const p = join(tmpdir(), name);
    try {
      if (statSync(p).mtimeMs < dayAgo) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** The path of a CLI bundle built from the current sources. */
export function buildCli(): string {
  if (built) return built;
  const root = join(tmpdir(), `moviesentiments-test-cli-${hashSources()}`);
  const entryFile = join(root, "ENTRY");
  if (existsSync(entryFile)) {
    const entry = join(root, readFileSync(entryFile, "utf8").trim());
    if (existsSync(entry)) return (built = entry);
  }
  removeStaleBuilds();
  const staging = mkdtempSync(join(tmpdir(), "moviesentiments-test-cli-staging-"));
  const name = tryBuild(join(staging, "out"));
  writeFileSync(join(staging, "out", "ENTRY"), name!);
  try {
    renameSync(join(staging, "out"), root);
  } catch {
    // another test file got there first: its bundle is the same
  }
  rmSync(staging, { recursive: true, force: true });
  const entry = join(root, readFileSync(entryFile, "utf8").trim());
  if (!existsSync(entry)) throw new Error(`the CLI bundle is missing at ${entry}`);
  return (built = entry);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** written to the child's standard input, which is then closed */
  input?: string | Uint8Array;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Environment that keeps a test away from the user's data and cache. */
export function isolatedEnv(scratch: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MOVIESENTIMENTS_DATA: join(scratch, "no-data-here"),
    XDG_CACHE_HOME: join(scratch, "cache"),
    FORCE_COLOR: "0",
  };
}

/** Start the CLI as a child process (stdin is a pipe). */
export function startCli(args: string[], options: RunOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [buildCli(), ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return child;
}

/** Run the CLI to completion and collect its output. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = startCli(args, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin!.on("error", () => {}); // the CLI may exit before reading everything
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

/**
 * Train a tiny model with the CLI from a synthetic archive of nPerClass reviews a class
 * (3 epochs, 2^16 buckets). Returns the model folder.
 */
export async function trainTinyModel(dir: string, nPerClass = 100, seed = 1): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const archive = join(dir, `tiny-imdb-${nPerClass}-${seed}.tar.gz`);
  writeFileSync(archive, makeImdbArchive(nPerClass, seed));
  const modelDir = join(dir, "model");
  const r = await runCli(["train", "--data", archive, "--out", modelDir, "--epochs", "3", "--hash-bits", "16", "--patience", "0"], {
    env: isolatedEnv(dir),
  });
  if (r.code !== 0) throw new Error(`training the tiny model failed (exit ${r.code}):\n${r.stderr}`);
  return modelDir;
}

/** An error printed as the CLI promises: one line on stderr, no stack trace. */
export function oneLineError(r: CliResult): string | undefined {
  const lines = r.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("scored "));
  const errorLines = lines.filter((l) => l.startsWith("moviesentiments: error: "));
  if (errorLines.length !== 1 || /\n\s+at /.test(r.stderr)) return undefined;
  return errorLines[0];
}
