// Node-side helpers for scripts/bench.js, bundled by it with Vite (they import the
// project's TypeScript sources). One subcommand per call, results as one JSON line on
// standard output:
//
//   export-test  --data PATH --out FILE      the test reviews, one per line, for `predict`
//   predictor    --model DIR --input FILE    in-process batch prediction with Predictor
//   tiny-archive --out FILE --per-class N    a synthetic IMDB-layout archive (smoke runs)
//   browser      --data PATH [options]       the browser benchmark in headless Chromium

import { createReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadImdb } from "../../src/node/data.ts";
import { loadModelDir } from "../../src/node/model-files.ts";
import { Predictor } from "../../src/core/predict.ts";
import { makeImdbArchive } from "../../tests/helpers/make-archive.ts";
// static, so that the bundle is one file and REPO_ROOT (found from import.meta.url) is right
import { browserSkipReason, launchBrowser, openPage, startDevServer } from "../../tests/helpers/browser.ts";
import type { BrowserBenchOptions, BrowserBenchResult } from "./browser-types.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: "string" },
    out: { type: "string" },
    model: { type: "string" },
    input: { type: "string" },
    "per-class": { type: "string" },
    "limit-per-label": { type: "string", default: "0" },
    "max-epochs": { type: "string", default: "6" },
    "budget-ms": { type: "string", default: "120000" },
    target: { type: "string", default: "0.91" },
    systems: { type: "string", default: "webgpu,cpu,tfjs" },
    "tfjs-vocab": { type: "string", default: "10000" },
    "tfjs-batch": { type: "string", default: "256" },
    "tfjs-lr": { type: "string", default: "0.01" },
    "tfjs-epochs": { type: "string", default: "6" },
    "tfjs-normalize": { type: "boolean", default: false },
    reps: { type: "string", default: "3" },
  },
});

function need(name: keyof typeof values): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new Error(`--${name} is required`);
  return v;
}

async function exportTest(): Promise<void> {
  const data = await loadImdb(need("data"));
  // a review per line: the CLI's plain-text input (line breaks inside a review would split it)
  let joined = 0;
  const lines = data.test.map((r) => {
    if (/[\r\n]/.test(r.text)) joined++;
    return r.text.replace(/[\r\n]+/g, " ");
  });
  const out = need("out");
  writeFileSync(out, lines.join("\n") + "\n");
  writeFileSync(out + ".labels", data.test.map((r) => r.label).join("\n") + "\n");
  emit({ n: lines.length, bytes: statSync(out).size, reviewsWithLineBreaks: joined });
}

function predictor(): void {
  const t0 = performance.now();
  const model = loadModelDir(need("model"));
  const t1 = performance.now();
  const lines = readFileSync(need("input"), "utf8").split("\n").filter((l) => l.length > 0);
  const reps = Number(values.reps);
  const p = new Predictor(model);
  const times: number[] = [];
  let positive = 0;
  for (let r = 0; r < reps; r++) {
    const a = performance.now();
    positive = 0;
    for (let from = 0; from < lines.length; from += 1000) {
      for (const pr of p.predictMany(lines.slice(from, from + 1000))) if (pr.label === "positive") positive++;
    }
    times.push(performance.now() - a);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  emit({ n: lines.length, loadMs: t1 - t0, medianMs: median, timesMs: times, perSecond: lines.length / (median / 1000), positive });
}

function tinyArchive(): void {
  const out = need("out");
  writeFileSync(out, makeImdbArchive(Number(need("per-class")), 7));
  emit({ out, bytes: statSync(out).size });
}

async function browser(): Promise<void> {
  const skip = browserSkipReason();
  if (skip) {
    emit({ skipped: skip });
    return;
  }
  const dataPath = need("data");
  const size = statSync(dataPath).size;
  const server = await startDevServer({
    // a cache of our own: the tests' dev servers may be optimizing theirs at the same time
    cacheDir: "node_modules/.vite-bench",
    optimizeDeps: { include: ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-webgpu"] },
    plugins: [
      {
        name: "bench-archive",
        configureServer(s) {
          s.middlewares.use("/__bench/archive.tar.gz", (_req, res) => {
            res.setHeader("content-type", "application/gzip");
            res.setHeader("content-length", String(size));
            createReadStream(dataPath).pipe(res);
          });
        },
      },
    ],
  });
  const launched = await launchBrowser();
  let closing = false;
  try {
    const page = await openPage(launched.browser, `${server.url}scripts/bench/browser.html`, "[bench page]");
    page.on("error", (e) => console.error(`[bench page] crashed: ${e.message}`));
    page.on("framenavigated", (f) => f === page.mainFrame() && console.error(`[bench page] navigated to ${f.url()} (a reload ends the run)`));
    launched.browser.on("disconnected", () => closing || console.error("[bench] the browser disconnected mid-run"));
    await page.waitForFunction(() => window.browserBench !== undefined, { timeout: 120_000 });
    const options: BrowserBenchOptions = {
      archiveUrl: "/__bench/archive.tar.gz",
      limitPerLabel: Number(values["limit-per-label"]),
      maxEpochs: Number(values["max-epochs"]),
      budgetMs: Number(values["budget-ms"]),
      target: Number(values.target),
      systems: values.systems!.split(",").map((s) => s.trim()) as BrowserBenchOptions["systems"],
      tfjs: {
        vocab: Number(values["tfjs-vocab"]),
        batchSize: Number(values["tfjs-batch"]),
        lr: Number(values["tfjs-lr"]),
        epochs: Number(values["tfjs-epochs"]),
        normalize: values["tfjs-normalize"] === true,
      },
    };
    // a long run outlives one protocol call: start it, then poll for its result
    await page.evaluate((o) => {
      const w = window as unknown as { benchDone?: { result?: BrowserBenchResult; error?: string } };
      window.browserBench!.run(o).then(
        (result) => (w.benchDone = { result }),
        (e: unknown) => (w.benchDone = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
      );
    }, options);
    // poll, keeping the latest partial results: if the browser dies mid-run, what was
    // measured so far is still reported, with the failure
    type Done = { result?: BrowserBenchResult; error?: string };
    let latest: BrowserBenchResult | undefined;
    let done: Done | undefined;
    while (!done) {
      await new Promise((r) => setTimeout(r, 2000));
      try {
        const state = await page.evaluate(() => ({
          done: (window as unknown as { benchDone?: Done }).benchDone,
          partial: window.browserBench!.partial(),
        }));
        if (state.partial) latest = state.partial;
        done = state.done;
      } catch (error) {
        done = { error: `the page or browser died mid-run (${error instanceof Error ? error.message : String(error)})` };
      }
    }
    if (done.error && !latest) throw new Error(`the browser benchmark failed: ${done.error}`);
    const result = done.result ?? latest!;
    if (done.error) {
      for (const s of result.systems) {
        if (s.stoppedBy !== "error" && !done.result) {
          s.notes.push(`the run ended here: ${done.error.split("\n")[0]}`);
        }
      }
    }
    emit({ browserVersion: await launched.browser.version().catch(() => "Chromium"), ...result, failure: done.error?.split("\n")[0] });
  } finally {
    closing = true;
    await launched.close().catch(() => {});
    await server.close();
  }
}

// results are the one JSON line on standard output; everything else (the page's console) goes to standard error
const emit = (value: unknown) => process.stdout.write(JSON.stringify(value) + "\n");
console.log = (...args: unknown[]) => process.stderr.write(args.map(String).join(" ") + "\n");

const command = positionals[0];
const run: Record<string, () => void | Promise<void>> = {
  "export-test": exportTest,
  predictor,
  "tiny-archive": tinyArchive,
  browser,
};
const fn = command ? run[command] : undefined;
if (!fn) {
  console.error(`usage: helper.js ${Object.keys(run).join("|")} [options]`);
  process.exit(2);
}
try {
  await fn();
} catch (error) {
  console.error(`bench helper: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
}
