#!/usr/bin/env node
// npm run bench: this project against scikit-learn and TensorFlow.js, every figure
// measured in this one run on this machine, printed as markdown tables.
//
//   node scripts/bench.js [--data PATH] [--quick] [--reps N] [--out FILE.md] [--json FILE]
//
// 1. CPU, raw archive to evaluated model, and batch prediction from raw text: this
//    project's CLI (shipped settings, and the original project's recipe), scikit-learn's
//    NB-weighted 1-3-gram pipeline and its tf-idf pipeline (Debian's python3-sklearn).
// 2. One prediction from a cold start: `moviesentiments --text` against `node -e 0`.
// 3. In headless Chromium, one page: this project on WebGPU and on the CPU reference,
//    and TensorFlow.js (WebGPU backend) on a dense bag of words.
//
// Parts that cannot run here (no scikit-learn, no Chromium) are skipped with the reason.
// A part that fails is reported and makes the exit code 1, after the other parts ran.
// Progress goes to standard error, the tables to standard output (and --out).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, homedir, loadavg, tmpdir, totalmem, availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HELP = `usage: node scripts/bench.js [options]

  --data PATH        aclImdb_v1.tar.gz (default: $MOVIESENTIMENTS_DATA, the download cache,
                     then ../shared/data/aclImdb_v1.tar.gz beside the repository)
  --quick            one repetition of each training, fewer cold starts, a shorter browser run
  --reps N           repetitions of each training and prediction timing (default 3; --quick 1)
  --cold-reps N      cold starts of each command (default 20; --quick 10)
  --python PATH      the Python with scikit-learn (default /usr/bin/python3, then python3)
  --cli PATH         the CLI bundle to measure (default dist/cli/moviesentiments.js, built
                     from the sources when missing or older than them)
  --skip-sklearn, --skip-browser, --skip-cold, --skip-original   leave a part out
  --browser-limit N  reviews per split and label in the browser part (default 0 = all)
  --browser-epochs N epochs for this project in the browser (default 6; --quick 3)
  --tfjs-epochs N    epochs for TensorFlow.js (default 3; --quick 1)
  --tfjs-vocab N     words in TensorFlow.js's bag of words (default 10000)
  --browser-budget S stop a browser system after S seconds of training (default 300)
  --work-dir DIR     scratch folder (default: a new one under the system's temp folder, removed after)
  --out FILE         also write the tables to FILE
  --json FILE        write every raw measurement as JSON
  --smoke            tiny settings for the test suite (use with a tiny archive)
  -h, --help         this help`;

const { values: opt } = parseArgs({
  options: {
    data: { type: "string" },
    quick: { type: "boolean", default: false },
    reps: { type: "string" },
    "cold-reps": { type: "string" },
    python: { type: "string" },
    cli: { type: "string" },
    "skip-sklearn": { type: "boolean", default: false },
    "skip-browser": { type: "boolean", default: false },
    "skip-cold": { type: "boolean", default: false },
    "skip-original": { type: "boolean", default: false },
    "browser-limit": { type: "string" },
    "browser-epochs": { type: "string" },
    "tfjs-epochs": { type: "string" },
    "tfjs-vocab": { type: "string" },
    "browser-budget": { type: "string" },
    "work-dir": { type: "string" },
    out: { type: "string" },
    json: { type: "string" },
    smoke: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}

const quick = opt.quick || opt.smoke;
const intOpt = (name, fallback) => {
  const raw = opt[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) fail(`--${name} must be a whole number (got "${raw}")`);
  return v;
};
const REPS = Math.max(1, intOpt("reps", quick ? 1 : 3));
const COLD_REPS = Math.max(1, intOpt("cold-reps", opt.smoke ? 3 : quick ? 10 : 20));
const TEXT = "I loved the movie! The acting was superb, and the story kept me hooked to the end.";
/** extra training options in smoke runs: small and quick */
const SMOKE_TRAIN = opt.smoke ? ["--epochs", "2", "--hash-bits", "16"] : [];

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}
const log = (s) => process.stderr.write(`[bench] ${s}\n`);

// ---- small utilities ------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmtS = (s) => (s == null || !Number.isFinite(s) ? "-" : s >= 100 ? `${s.toFixed(0)} s` : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(2)} s`);
const fmtMs = (ms) => (ms == null || !Number.isFinite(ms) ? "-" : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const fmtAcc = (a) => (a == null || !Number.isFinite(a) ? "-" : a.toFixed(4));
const fmtInt = (n) => (n == null || !Number.isFinite(n) ? "-" : Math.round(n).toLocaleString("en-US"));
const fmtMB = (bytes) => (bytes == null || !Number.isFinite(bytes) ? "-" : bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`);
const fmtRatio = (r) => (r == null || !Number.isFinite(r) ? "-" : r >= 10 ? `${r.toFixed(0)}x` : r >= 0.1 ? `${r.toFixed(2)}x` : `${r.toPrecision(2)}x`);
const times = (xs, f) => xs.map(f).join(", ");
/** "13 (fixed), mean of 2 runs" or "5 (chosen on validation)": how a training run got its epochs. */
const epochsNote = (t) => `${t.bestEpoch} (${t.chosenOnValidation ? "chosen on validation" : "fixed"})${t.seeds > 1 ? `, mean of ${t.seeds} runs` : ""}`;

/** Runs a command to completion; resolves with code, output, wall time and peak RSS (bytes, when measurable). */
function run(cmd, args, { cwd = REPO, env = process.env, input, timeoutMs = 3_600_000, echo = false } = {}) {
  return new Promise((resolvePromise) => {
    const useTime = existsSync("/usr/bin/time");
    const timeFile = useTime ? join(WORK, `time-${process.hrtime.bigint()}.txt`) : null;
    const argv = useTime ? ["-f", "%M", "-o", timeFile, cmd, ...args] : args;
    const t0 = process.hrtime.bigint();
    const child = spawn(useTime ? "/usr/bin/time" : cmd, argv, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    let peak = 0;
    // without /usr/bin/time: poll the child's high-water mark (Linux)
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
            if (m) peak = Math.max(peak, Number(m[1]) * 1024);
          } catch {
            // gone, or not Linux
          }
        }, 20);
    child.stdout.on("data", (b) => out.push(b));
    child.stderr.on("data", (b) => {
      err.push(b);
      if (echo) process.stderr.write(b);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => err.push(Buffer.from(String(e))));
    child.on("close", (code) => {
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let maxRss = peak || null;
      if (timeFile && existsSync(timeFile)) {
        const lines = readFileSync(timeFile, "utf8").trim().split("\n");
        const kb = Number(lines[lines.length - 1]);
        if (Number.isFinite(kb) && kb > 0) maxRss = kb * 1024;
        rmSync(timeFile, { force: true });
      }
      resolvePromise({ code, wallS, maxRss, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

const lastLines = (s, n = 6) => s.trim().split("\n").slice(-n).join("\n");
const dirBytes = (dir) => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);

// ---- setup ----------------------------------------------------------------------

function resolveData() {
  const candidates = [];
  if (opt.data) return resolve(opt.data);
  if (process.env.MOVIESENTIMENTS_DATA) candidates.push(process.env.MOVIESENTIMENTS_DATA);
  const xdg = process.env.XDG_CACHE_HOME;
  candidates.push(join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".cache"), "moviesentiments", "aclImdb_v1.tar.gz"));
  candidates.push(resolve(REPO, "../shared/data/aclImdb_v1.tar.gz"));
  const found = candidates.find((p) => existsSync(p));
  if (!found) fail(`no dataset: pass --data PATH to aclImdb_v1.tar.gz (looked at ${candidates.join(", ")}; \`moviesentiments download\` fills the cache)`);
  return resolve(found);
}

const DATA = resolveData();
if (!existsSync(DATA) || !statSync(DATA).isFile()) fail(`--data ${DATA}: not a file (the benchmark reads the .tar.gz archive)`);
const WORK = opt["work-dir"] ? resolve(opt["work-dir"]) : mkdtempSync(join(tmpdir(), "moviesentiments-bench-"));
mkdirSync(WORK, { recursive: true });

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

async function viteBuild(config) {
  const { build } = await import("vite");
  await build({ ...config, logLevel: "warn" });
}

/** The CLI bundle to measure: --cli, else dist/cli built from the current sources. */
async function prepareCli() {
  if (opt.cli) return resolve(opt.cli);
  const cli = join(REPO, "dist/cli/moviesentiments.js");
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestMtime(join(REPO, "src"))) {
    log("building the CLI (vite build --config vite.cli.config.ts)");
    await viteBuild({ configFile: join(REPO, "vite.cli.config.ts"), root: REPO });
  }
  return cli;
}

/**
 * scripts/bench/helper.ts bundled for Node (it imports the project's TypeScript sources),
 * in a folder of this run's own two levels below the repository (the browser helpers find
 * the repository from there), removed at the end.
 */
const HELPER_DIR = join(REPO, "dist", `bench-${process.pid}`);
async function prepareHelper() {
  const outDir = HELPER_DIR;
  await viteBuild({
    configFile: false,
    root: REPO,
    build: {
      ssr: "scripts/bench/helper.ts",
      outDir,
      emptyOutDir: true,
      target: "node20",
      minify: false,
      rollupOptions: { output: { entryFileNames: "helper.js" } },
    },
  });
  return join(outDir, "helper.js");
}

function machineInfo() {
  const cpu = cpus();
  let model = cpu[0]?.model ?? "unknown";
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    cpuModel: model,
    cores: availableParallelism(),
    memoryGB: totalmem() / 1e9,
    loadAverageStart: loadavg(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

// ---- 1. CPU: training and batch prediction -----------------------------------------

async function trainOurs(cli, label, extra) {
  const reps = [];
  for (let r = 0; r < REPS; r++) {
    const out = join(WORK, `model-${label}-${r}`);
    rmSync(out, { recursive: true, force: true });
    log(`${label}: train ${r + 1}/${REPS}: moviesentiments train ${extra.join(" ")}`);
    const res = await run(process.execPath, [cli, "train", "--data", DATA, "--out", out, ...extra, ...SMOKE_TRAIN]);
    if (res.code !== 0) throw new Error(`moviesentiments train failed (exit ${res.code}):\n${lastLines(res.stderr)}`);
    const meta = JSON.parse(readFileSync(join(out, "model.json"), "utf8"));
    reps.push({ wallS: res.wallS, maxRss: res.maxRss, accuracy: meta.metrics?.test?.accuracy, pipelineS: meta.training?.seconds, bestEpoch: meta.training?.bestEpoch, chosenOnValidation: (meta.training?.validationFraction ?? 0) > 0, seeds: meta.training?.seeds ?? 1, modelBytes: dirBytes(out), modelDir: out });
    log(`${label}: ${res.wallS.toFixed(1)} s, test accuracy ${fmtAcc(meta.metrics?.test?.accuracy)}, peak RSS ${fmtMB(res.maxRss)}`);
  }
  return {
    reps,
    trainS: median(reps.map((r) => r.wallS)),
    maxRss: Math.max(...reps.map((r) => r.maxRss ?? 0)) || null,
    accuracy: reps[0].accuracy,
    accuracies: [...new Set(reps.map((r) => r.accuracy))],
    bestEpoch: reps[0].bestEpoch,
    chosenOnValidation: reps[0].chosenOnValidation,
    seeds: reps[0].seeds,
    modelBytes: reps[0].modelBytes,
    modelDir: reps[0].modelDir,
  };
}

/** `moviesentiments predict` on the test reviews; falls back to the Predictor class if the command fails. */
async function predictOurs(cli, helper, testFile, labels, modelDir, label) {
  const modelArgs = modelDir ? ["--model", modelDir] : [];
  const reps = [];
  let accuracy = null;
  for (let r = 0; r < REPS; r++) {
    const out = join(WORK, `pred-${label}.csv`);
    rmSync(out, { force: true });
    const res = await run(process.execPath, [cli, "predict", testFile, "--out", out, ...modelArgs]);
    if (res.code !== 0 || !existsSync(out)) {
      log(`${label}: \`moviesentiments predict\` failed (exit ${res.code}): ${lastLines(res.stderr, 2)}; measuring with the Predictor class instead`);
      const p = await run(process.execPath, [helper, "predictor", "--model", modelDir ?? join(REPO, "model"), "--input", testFile, "--reps", String(REPS)]);
      if (p.code !== 0) throw new Error(`the Predictor fallback failed too:\n${lastLines(p.stderr)}`);
      const j = JSON.parse(p.stdout.trim().split("\n").pop());
      return { via: "Predictor class in one Node process (the predict command failed)", perSecond: j.perSecond, wallS: [j.medianMs / 1000], accuracy: null, maxRss: p.maxRss, error: lastLines(res.stderr, 2) };
    }
    reps.push(res);
    if (accuracy === null) {
      // label is the 4th field from the end: text...,label,p_negative,p_positive,error
      const rows = readFileSync(out, "utf8").trimEnd().split("\n").slice(1);
      let right = 0;
      rows.forEach((line, i) => {
        const f = line.split(",");
        if ((f[f.length - 4] === "positive" ? 1 : 0) === labels[i]) right++;
      });
      accuracy = rows.length === labels.length ? right / labels.length : null;
    }
    log(`${label}: predict ${r + 1}/${REPS}: ${res.wallS.toFixed(2)} s (${lastLines(res.stderr, 1)})`);
  }
  const wall = median(reps.map((r) => r.wallS));
  return { via: "`moviesentiments predict FILE --out OUT.csv`, whole process", perSecond: labels.length / wall, wallS: reps.map((r) => r.wallS), accuracy, maxRss: Math.max(...reps.map((r) => r.maxRss ?? 0)) || null };
}

function findPython() {
  const candidates = opt.python ? [opt.python] : ["/usr/bin/python3", "python3"];
  const reasons = [];
  for (const py of candidates) {
    const r = spawnSync(py, [join(REPO, "scripts/bench-sklearn.py"), "--check"], { encoding: "utf8" });
    if (r.status === 0) {
      try {
        const j = JSON.parse(r.stdout.trim());
        return { exe: py, sklearn: j.sklearn, pythonVersion: j.python };
      } catch {
        // fall through
      }
    }
    reasons.push(`${py}: ${r.error ? r.error.message : (r.stderr || "").trim().split("\n").pop() || `exit ${r.status}`}`);
  }
  return { skipped: `scikit-learn not found (${reasons.join("; ")}); on Debian: apt-get install python3-sklearn` };
}

async function runSklearn(py, which) {
  const reps = [];
  for (let r = 0; r < REPS; r++) {
    log(`scikit-learn ${which}: run ${r + 1}/${REPS}`);
    const res = await run(py.exe, [join(REPO, "scripts/bench-sklearn.py"), "--data", DATA, "--only", which]);
    if (res.code !== 0) throw new Error(`scikit-learn ${which} failed (exit ${res.code}):\n${lastLines(res.stderr)}`);
    const j = JSON.parse(res.stdout.trim().split("\n").pop());
    reps.push({ ...j, wallS: res.wallS, maxRss: res.maxRss });
    log(`scikit-learn ${which}: train ${j.train_s.toFixed(1)} s, test accuracy ${fmtAcc(j.accuracy)}, predict ${fmtInt(j.predict_per_s)}/s, peak RSS ${fmtMB(res.maxRss)}`);
  }
  return {
    reps,
    trainS: median(reps.map((r) => r.train_s)),
    predictPerSecond: median(reps.map((r) => r.predict_per_s)),
    accuracy: reps[0].accuracy,
    maxRss: Math.max(...reps.map((r) => r.maxRss ?? 0)) || null,
    modelBytes: reps[0].model_bytes,
    nFeatures: reps[0].n_features,
  };
}

// ---- 2. cold start ------------------------------------------------------------------

async function coldStart(cli) {
  // a CLI bundle outside dist/cli (--cli) may not find the shipped model by itself
  const modelArgs = opt.cli ? ["--model", join(REPO, "model")] : [];
  const hyperfine = spawnSync("hyperfine", ["--version"], { encoding: "utf8" });
  const nodeCmd = [process.execPath, "-e", "0"];
  const cliCmd = [process.execPath, cli, "--text", TEXT, ...modelArgs];
  if (hyperfine.status === 0) {
    const json = join(WORK, "hyperfine.json");
    const q = (a) => a.map((s) => `'${s.replace(/'/g, `'\\''`)}'`).join(" ");
    const r = spawnSync("hyperfine", ["--warmup", "2", "--runs", String(COLD_REPS), "--export-json", json, q(nodeCmd), q(cliCmd)], { encoding: "utf8" });
    if (r.status === 0) {
      const res = JSON.parse(readFileSync(json, "utf8")).results;
      return { tool: `hyperfine ${hyperfine.stdout.trim()}, ${COLD_REPS} runs each after 2 warm-ups`, nodeS: res[0].median, cliS: res[1].median, nodeAll: res[0].times, cliAll: res[1].times };
    }
  }
  // our own loop: alternate the two, after one warm-up of each (file cache)
  const spawnTime = (cmd) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8" });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.status}): ${(r.stderr || "").trim()}`);
    return { s, stdout: r.stdout };
  };
  spawnTime(nodeCmd);
  const first = spawnTime(cliCmd);
  const nodeAll = [];
  const cliAll = [];
  for (let i = 0; i < COLD_REPS; i++) {
    nodeAll.push(spawnTime(nodeCmd).s);
    cliAll.push(spawnTime(cliCmd).s);
  }
  return { tool: `own loop (hyperfine not installed): ${COLD_REPS} runs each, alternating, after one warm-up`, nodeS: median(nodeAll), cliS: median(cliAll), nodeAll, cliAll, output: first.stdout.trim() };
}

// ---- 3. browser ---------------------------------------------------------------------

async function browserPart(helper) {
  const limit = intOpt("browser-limit", opt.smoke ? 60 : 0);
  const args = [
    helper,
    "browser",
    "--data",
    DATA,
    "--limit-per-label",
    String(limit),
    "--max-epochs",
    String(intOpt("browser-epochs", opt.smoke ? 2 : quick ? 3 : 6)),
    "--tfjs-epochs",
    String(intOpt("tfjs-epochs", opt.smoke ? 1 : quick ? 1 : 3)),
    "--tfjs-vocab",
    String(intOpt("tfjs-vocab", opt.smoke ? 500 : 10000)),
    "--tfjs-batch",
    "128",
    "--tfjs-lr",
    "0.005",
    "--budget-ms",
    String(1000 * intOpt("browser-budget", opt.smoke ? 30 : 300)),
  ];
  log(`browser: headless Chromium, WebGPU on SwiftShader (${limit ? `${limit} reviews per split and label` : "all reviews"})`);
  const res = await run(process.execPath, args, { echo: true });
  const line = res.stdout.trim().split("\n").pop() ?? "";
  if (res.code !== 0 || !line.startsWith("{")) throw new Error(`the browser benchmark failed (exit ${res.code}):\n${lastLines(res.stderr, 12)}`);
  const j = JSON.parse(line);
  return { ...j, limitPerLabel: limit };
}

// ---- report -------------------------------------------------------------------------

function report(R) {
  const L = [];
  const m = R.machine;
  L.push(`## Benchmarks`);
  L.push("");
  L.push(`Measured ${m.date.slice(0, 16).replace("T", " ")} UTC with \`${R.command}\` on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGB.toFixed(0)} GB (${m.platform}, Node ${m.node}); GPU adapter in Chromium: ${R.browser?.adapter ?? R.browserSkipped ?? "-"}.`);
  L.push(`Load average (1/5/15 min) at the start ${m.loadAverageStart.map((x) => x.toFixed(2)).join(" / ")}, at the end ${R.loadAverageEnd.map((x) => x.toFixed(2)).join(" / ")}${m.loadAverageStart[0] > m.cores * 0.5 ? ": **the machine was busy with other work during this run, so times are inflated and noisy**" : ""}.`);
  L.push(`Each timing is the median of ${REPS} run${REPS > 1 ? "s" : ""} unless stated; every figure comes from this one run.`);
  L.push("");

  // 1
  L.push(`### 1. CPU: raw archive to evaluated model, and batch prediction from raw text`);
  L.push("");
  L.push(`| system | test accuracy | train time | peak RSS (train) | predict (reviews/s) | model size |`);
  L.push(`|---|---|---|---|---|---|`);
  const nb = R.sklearn?.nb;
  const row = (name, acc, t, rss, pps, size) => L.push(`| ${name} | ${acc} | ${t} | ${rss} | ${pps} | ${size} |`);
  const vs = (ours, ref, higherBetter) => (ours != null && ref != null && Number.isFinite(ours) && Number.isFinite(ref) && ref > 0 ? ` (${fmtRatio(higherBetter ? ours / ref : ours / ref)} of NB-LR)` : "");
  const S = R.shipped;
  if (S) {
    row(
      `this project, CLI, shipped configuration (\`moviesentiments train\`)`,
      fmtAcc(S.train.accuracy),
      `${fmtS(S.train.trainS)}${vs(S.train.trainS, nb?.trainS)}`,
      `${fmtMB(S.train.maxRss)}${vs(S.train.maxRss, nb?.maxRss)}`,
      `${fmtInt(S.predict?.perSecond)}${vs(S.predict?.perSecond, nb?.predictPerSecond, true)}`,
      `${fmtMB(S.train.modelBytes)}`,
    );
  }
  const O = R.original;
  if (O) {
    row(
      `this project, the original project's recipe (\`${O.args.join(" ")}\`)`,
      fmtAcc(O.train.accuracy),
      `${fmtS(O.train.trainS)}${vs(O.train.trainS, nb?.trainS)}`,
      `${fmtMB(O.train.maxRss)}`,
      `${fmtInt(O.predict?.perSecond)}${vs(O.predict?.perSecond, nb?.predictPerSecond, true)}`,
      `${fmtMB(O.train.modelBytes)}`,
    );
  }
  if (R.sklearn?.skipped) {
    row(`scikit-learn pipelines`, `skipped: ${R.sklearn.skipped}`, "", "", "", "");
  } else if (R.sklearn) {
    if (nb) row(`scikit-learn ${R.sklearn.version}: \`CountVectorizer(ngram_range=(1,3), binary=True)\` + NB log-count ratios + \`LogisticRegression(solver="liblinear", dual=True)\`, C=1`, fmtAcc(nb.accuracy), fmtS(nb.trainS), fmtMB(nb.maxRss), fmtInt(nb.predictPerSecond), fmtMB(nb.modelBytes));
    const tf = R.sklearn.tfidf;
    if (tf) row(`scikit-learn ${R.sklearn.version}: \`TfidfVectorizer()\` + \`LogisticRegression()\``, fmtAcc(tf.accuracy), fmtS(tf.trainS), fmtMB(tf.maxRss), fmtInt(tf.predictPerSecond), fmtMB(tf.modelBytes));
  }
  L.push("");
  L.push(`- Ratios in brackets are ours / scikit-learn's NB-weighted pipeline (train time and RSS: lower is better; predict: higher is better).`);
  L.push(`- Train time. Ours: the whole \`moviesentiments train --data ARCHIVE\` process, from start to the saved model (reading the archive, featurizing, training (the epochs and runs are given below; runs go one per thread), scoring the test set every epoch for display and at the end, saving). scikit-learn: from opening the archive to the fitted model (reading with \`tarfile\`, vectorizing, NB ratios, fitting), without the interpreter's start and imports and without scoring the test set.`);
  if (S?.predict) L.push(`- Predict. Ours: ${S.predict.via}, over the ${fmtInt(R.nTest)} test reviews (one per line in a text file), start to finish: Node's start, loading the model, reading, featurizing, scoring, writing the CSV${S.predict.accuracy != null ? ` (accuracy of the written labels ${fmtAcc(S.predict.accuracy)})` : ""}; times ${times(S.predict.wallS, (s) => s.toFixed(2))} s. scikit-learn: \`predict(vectorizer.transform(texts))\` on the texts already in memory, one process.`);
  if (R.predictorInProcess) L.push(`- For reference, the \`Predictor\` class in one Node thread, texts already in memory: ${fmtInt(R.predictorInProcess.perSecond)} reviews/s (median of ${R.predictorInProcess.timesMs.length}).`);
  L.push(`- Peak RSS: the maximum resident set size of the process (\`/usr/bin/time\`); scikit-learn's includes predicting the test set after training, each pipeline in its own process.`);
  L.push(`- Model size: ours, the model folder on disk (two float16 arrays of 2^hashBits entries and model.json); scikit-learn's, the pickled fitted vectorizer (with its vocabulary), NB ratios and classifier.`);
  if (S) L.push(`- Runs: shipped ${times(S.train.reps, (r) => `${r.wallS.toFixed(1)} s`)}${O ? `; original recipe ${times(O.train.reps, (r) => `${r.wallS.toFixed(1)} s`)}` : ""}${nb ? `; scikit-learn NB ${times(nb.reps, (r) => `${r.train_s.toFixed(1)} s`)}` : ""}${R.sklearn?.tfidf ? `; scikit-learn tf-idf ${times(R.sklearn.tfidf.reps, (r) => `${r.train_s.toFixed(1)} s`)}` : ""}. Epochs: shipped ${epochsNote(S.train)}${O ? `, original recipe ${epochsNote(O.train)}` : ""}.`);
  if (S && S.train.accuracies.length > 1) L.push(`- **Repeated trainings gave different test accuracies: ${S.train.accuracies.join(", ")}.**`);
  L.push("");

  // 2
  L.push(`### 2. One prediction from a cold start`);
  L.push("");
  if (R.cold?.skipped) L.push(`Skipped: ${R.cold.skipped}`);
  else if (R.cold) {
    L.push(`| command | median time | ratio to \`node -e 0\` |`);
    L.push(`|---|---|---|`);
    L.push(`| \`node -e 0\` | ${fmtMs(R.cold.nodeS * 1000)} | 1.00x |`);
    L.push(`| \`moviesentiments --text "..."\` (shipped model) | ${fmtMs(R.cold.cliS * 1000)} | ${fmtRatio(R.cold.cliS / R.cold.nodeS)} |`);
    L.push("");
    L.push(`${R.cold.tool}.`);
  }
  L.push("");

  // 3
  L.push(`### 3. In the browser (headless Chromium, one page, same run)`);
  L.push("");
  const B = R.browser;
  if (R.browserSkipped) L.push(`Skipped: ${R.browserSkipped}`);
  else if (B) {
    L.push(`| system | median epoch (train) | median epoch (+ validation) | epochs run | time to 91% validation accuracy | best validation accuracy | test accuracy (best-validation weights) |`);
    L.push(`|---|---|---|---|---|---|---|`);
    const tfjs = B.systems.find((s) => s.system === "tfjs");
    const tfEpoch = tfjs ? median(tfjs.epochs.map((e) => e.trainMs)) : NaN;
    for (const s of B.systems) {
      const ep = median(s.epochs.map((e) => e.trainMs));
      const epTot = median(s.epochs.map((e) => e.totalMs));
      const ratio = s.system !== "tfjs" && Number.isFinite(tfEpoch) ? ` (${fmtRatio(ep / tfEpoch)} of TF.js)` : "";
      const reach = s.msToTarget != null ? `${fmtMs(s.msToTarget)} (epoch ${s.epochToTarget})` : `not reached in ${s.epochs.length} epoch${s.epochs.length === 1 ? "" : "s"}`;
      const name = `${s.label}${s.device ? ` (${s.device})` : ""}`;
      if (s.stoppedBy === "error") L.push(`| ${name} | failed: ${s.error} | | | | | |`);
      else L.push(`| ${name} | ${fmtMs(ep)}${ratio} | ${fmtMs(epTot)} | ${s.epochs.length}${s.stoppedBy === "budget" ? " (time budget)" : ""} | ${reach} | ${fmtAcc(s.bestValAccuracy)} | ${fmtAcc(s.testAccuracy)} |`);
    }
    L.push("");
    L.push(`- Data: ${B.limitPerLabel ? `**a subset: ${B.limitPerLabel} reviews per split and label**` : "all reviews"}; ${fmtInt(B.nFit)} rows to fit, ${fmtInt(B.nValidation)} validation rows (the pipeline's seeded stratified 20% split of train/), ${fmtInt(B.nTest)} test rows. Reading the archive in the page took ${fmtMs(B.loadMs)}; our featurizing (hashing, weighting; shared by both our backends) ${fmtMs(B.featurizeMs)}.`);
    for (const s of B.systems) L.push(`- ${s.label}: ${s.notes.join("; ")}. Setup (backend creation and upload${s.prepareMs ? `; vocabulary and word ids ${fmtMs(s.prepareMs)} before it` : ""}): ${fmtMs(s.setupMs)}. Epochs (train ms): ${s.epochs.map((e) => e.trainMs.toFixed(0)).join(", ")}; validation accuracy by epoch: ${s.epochs.map((e) => e.valAccuracy.toFixed(4)).join(", ")}.`);
    if (B.failure) L.push(`- **The browser run ended early: ${B.failure}. The figures above are those measured before that.**`);
    L.push(`- Time to 91% counts from the start of the system's setup (featurizing not included) to the end of the first epoch whose validation accuracy reached 0.91, validation included.`);
    L.push(`- ${B.browserVersion}, WebGPU adapter: ${B.adapter ?? "none"}.`);
  }
  L.push("");

  // targets
  L.push(`### Targets`);
  L.push("");
  L.push(`| target | measured | met |`);
  L.push(`|---|---|---|`);
  const yes = (c) => (c == null ? "n/a" : c ? "yes" : "**no**");
  const t = (name, measured, ok) => L.push(`| ${name} | ${measured} | ${yes(ok)} |`);
  if (S && nb) {
    const speed = nb.trainS / S.train.trainS;
    t("training >= 5x faster than scikit-learn's NB pipeline", `${fmtRatio(speed)} faster (${fmtS(S.train.trainS)} vs ${fmtS(nb.trainS)})`, speed >= 5);
    t("... at equal or better accuracy, >= 92.0%", `${fmtAcc(S.train.accuracy)} vs ${fmtAcc(nb.accuracy)}`, S.train.accuracy >= nb.accuracy && S.train.accuracy >= 0.92);
    if (S.predict) {
      const r = S.predict.perSecond / nb.predictPerSecond;
      t("batch prediction >= 10x the NB pipeline's throughput", `${fmtRatio(r)} (${fmtInt(S.predict.perSecond)} vs ${fmtInt(nb.predictPerSecond)} reviews/s)`, r >= 10);
    }
  } else t("comparisons with scikit-learn", "scikit-learn not measured", null);
  if (S?.predict) t("batch prediction >= 20,000 reviews/s", `${fmtInt(S.predict.perSecond)} reviews/s`, S.predict.perSecond >= 20000);
  if (R.cold && !R.cold.skipped) t("cold start <= 2.5x `node -e 0`", fmtRatio(R.cold.cliS / R.cold.nodeS), R.cold.cliS / R.cold.nodeS <= 2.5);
  if (S) {
    t("training peak RSS < 3 GB", fmtMB(S.train.maxRss), S.train.maxRss == null ? null : S.train.maxRss < 3e9);
    t("model <= 20 MB", fmtMB(S.train.modelBytes), S.train.modelBytes <= 20e6);
  }
  if (B) {
    const gpu = B.systems.find((s) => s.system === "webgpu");
    const tfjs = B.systems.find((s) => s.system === "tfjs");
    if (gpu && tfjs && gpu.epochs.length && tfjs.epochs.length) {
      const g = median(gpu.epochs.map((e) => e.trainMs));
      const f = median(tfjs.epochs.map((e) => e.trainMs));
      t("browser: faster per epoch than TF.js (same adapter)", `${fmtMs(g)} vs ${fmtMs(f)}`, g < f);
      t("browser: higher final accuracy than TF.js", `validation ${fmtAcc(gpu.bestValAccuracy)} vs ${fmtAcc(tfjs.bestValAccuracy)}; test ${fmtAcc(gpu.testAccuracy)} vs ${fmtAcc(tfjs.testAccuracy)}`, gpu.bestValAccuracy > tfjs.bestValAccuracy && gpu.testAccuracy > tfjs.testAccuracy);
    }
  }
  if (R.errors.length) {
    L.push("");
    L.push(`### Errors`);
    L.push("");
    for (const e of R.errors) L.push(`- ${e.replace(/\n/g, " / ")}`);
  }
  return L.join("\n") + "\n";
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  const R = { command: `node scripts/bench.js ${process.argv.slice(2).join(" ")}`.trim(), machine: machineInfo(), errors: [], data: DATA };
  log(`data ${DATA}; work folder ${WORK}; ${REPS} repetition(s)`);
  const attempt = async (what, f) => {
    try {
      return await f();
    } catch (e) {
      const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      log(`FAILED ${msg}`);
      R.errors.push(msg);
      return undefined;
    }
  };
  const cli = await prepareCli();
  const helper = await prepareHelper();

  // the test reviews as a text file, one per line
  const testFile = join(WORK, "test-reviews.txt");
  const exp = await run(process.execPath, [helper, "export-test", "--data", DATA, "--out", testFile]);
  if (exp.code !== 0) throw new Error(`could not read ${DATA}:\n${lastLines(exp.stderr)}`);
  const labels = readFileSync(`${testFile}.labels`, "utf8").trim().split("\n").map(Number);
  R.nTest = labels.length;

  // 1. CPU
  R.shipped = await attempt("this project, shipped configuration", async () => {
    const train = await trainOurs(cli, "shipped", []);
    const predict = await predictOurs(cli, helper, testFile, labels, opt.smoke ? train.modelDir : undefined, "shipped");
    return { train, predict };
  });
  R.predictorInProcess = await attempt("Predictor in process", async () => {
    const p = await run(process.execPath, [helper, "predictor", "--model", R.shipped?.train && opt.smoke ? R.shipped.train.modelDir : join(REPO, "model"), "--input", testFile, "--reps", String(Math.max(REPS, 3))]);
    if (p.code !== 0) throw new Error(lastLines(p.stderr));
    return JSON.parse(p.stdout.trim().split("\n").pop());
  });
  if (!opt["skip-original"]) {
    R.original = await attempt("this project, original recipe", async () => {
      const args = ["--weighting", "tfidf", "--ngram-max", "1", "--hash-bits", "21", "--lr", "0.1", "--l2", "1e-3"];
      const train = await trainOurs(cli, "original", args);
      const predict = await predictOurs(cli, helper, testFile, labels, train.modelDir, "original");
      return { args, train, predict };
    });
  }
  if (opt["skip-sklearn"]) R.sklearn = { skipped: "--skip-sklearn" };
  else {
    const py = findPython();
    if (py.skipped) {
      log(`scikit-learn: skipped: ${py.skipped}`);
      R.sklearn = { skipped: py.skipped };
    } else {
      R.sklearn = { version: py.sklearn, python: `${py.exe} (Python ${py.pythonVersion})` };
      R.sklearn.nb = await attempt("scikit-learn NB pipeline", () => runSklearn(py, "nb"));
      R.sklearn.tfidf = await attempt("scikit-learn tf-idf pipeline", () => runSklearn(py, "tfidf"));
    }
  }

  // 2. cold start
  if (opt["skip-cold"]) R.cold = { skipped: "--skip-cold" };
  else R.cold = await attempt("cold start", () => coldStart(cli));

  // 3. browser
  if (opt["skip-browser"]) R.browserSkipped = "--skip-browser";
  else {
    const b = await attempt("browser", () => browserPart(helper));
    if (b?.skipped) R.browserSkipped = b.skipped;
    else R.browser = b;
  }

  R.loadAverageEnd = loadavg();
  const md = report(R);
  process.stdout.write(md);
  if (opt.out) writeFileSync(resolve(opt.out), md);
  if (opt.json) writeFileSync(resolve(opt.json), JSON.stringify(R, null, 1));
  if (!opt["work-dir"]) rmSync(WORK, { recursive: true, force: true });
  rmSync(HELPER_DIR, { recursive: true, force: true });
  return R.errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench: ${e instanceof Error ? e.stack : String(e)}`);
    rmSync(HELPER_DIR, { recursive: true, force: true });
    process.exit(1);
  },
);
