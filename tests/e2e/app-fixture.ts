// The setup both end-to-end suites share: a production build of the app served by
// scripts/serve.js (offering a small generated archive, as `npm start -- --data FILE`
// does), with the shipped model and records, or small stand-ins trained here where the
// repository has none, and headless Chromium with WebGPU on SwiftShader.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { loadImdbFromTarGz } from "../../src/core/dataset.ts";
import { DEFAULT_PIPELINE, trainPipeline } from "../../src/core/pipeline.ts";
import { CpuBackend } from "../../src/cpu-reference/backend.ts";
import { saveModelDir } from "../../src/node/model-files.ts";
import { runSweep, SWEEP_VALIDATION_FRACTION } from "../../src/node/sweep.ts";
import { launchBrowser, type LaunchedBrowser } from "../helpers/browser.ts";
import { makeImdbArchive, streamOf } from "../helpers/make-archive.ts";
import { buildApp, DEEP_QUERY } from "./app-helpers.ts";
import { ROOT, startServe, type Served } from "./serve-helper.ts";

export interface AppFixture {
  /** a scratch folder, removed by close() */
  tmp: string;
  served: Served;
  launched: LaunchedBrowser;
  /** the small archive the server offers */
  archivePath: string;
  close(): Promise<void>;
}

export async function startAppFixture(prefix: string): Promise<AppFixture> {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const args: string[] = [];
  const standIn = async () => loadImdbFromTarGz(streamOf(makeImdbArchive(40, 11)));
  if (!existsSync(join(ROOT, "model", "model.json"))) {
    const model = await trainPipeline(
      await standIn(),
      { ...DEFAULT_PIPELINE, features: { ...DEFAULT_PIPELINE.features, hashBits: 14 }, training: { ...DEFAULT_PIPELINE.training, epochs: 3, batchSize: 4 } },
      () => new CpuBackend(),
    );
    saveModelDir(join(tmp, "model"), model);
    args.push("--model", join(tmp, "model"));
  }
  if (!existsSync(join(ROOT, "records", "sweep.json"))) {
    await runSweep(
      await standIn(),
      { ...DEFAULT_PIPELINE, features: { ...DEFAULT_PIPELINE.features, hashBits: 12 }, training: { ...DEFAULT_PIPELINE.training, batchSize: 8 }, validationFraction: SWEEP_VALIDATION_FRACTION },
      { outFile: join(tmp, "records", "sweep.json"), epochs: 12, log: () => {}, makeBackend: async () => new CpuBackend() },
    );
    args.push("--records", join(tmp, "records"));
  }
  const archivePath = join(tmp, "small-imdb.tar.gz");
  writeFileSync(archivePath, makeImdbArchive(60, 3));
  buildApp(join(tmp, "app"));
  const served = await startServe(["--dir", join(tmp, "app"), "--data", archivePath, ...args]);
  const launched = await launchBrowser();
  return {
    tmp,
    served,
    launched,
    archivePath,
    close: async () => {
      await launched.close();
      served.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Collects a page's console errors (except those matching `expected`), uncaught
 * exceptions, failed requests (downloads of blob: URLs are reported as aborted requests,
 * and do not count) and HTTP errors; console warnings are passed on to the test's log.
 */
export function watchPage(page: Page, expected: RegExp[] = []): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !expected.some((re) => re.test(m.text()))) problems.push(`console error: ${m.text()}`);
    else if (m.type() === "warn") console.warn(`[page] ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e instanceof Error ? e.message : String(e)}`));
  page.on("requestfailed", (r) => {
    if (!r.url().startsWith("blob:")) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

/** A fresh load of the app at `path` (query and hash; a goto to the same URL with another hash would not reload). */
export async function openApp(page: Page, served: Served, path: string): Promise<void> {
  await page.goto("about:blank");
  await page.goto(`${served.url}${path}`, { waitUntil: "load" });
  await page.evaluate(DEEP_QUERY);
}
