// Measurement, off by default: drop the real aclImdb_v1.tar.gz into the production app
// and train it on WebGPU, then the same settings on the CPU, and record where the time
// went. Run with:
//   MOVIESENTIMENTS_E2E_FULL=1 npx vitest run tests/e2e/full-archive.test.ts
// Settings override the form's defaults, e.g. MOVIESENTIMENTS_E2E_SETTINGS='{"epochs":"3","refit":false}'
// (keys: lr, lrDecay, l2, epochs, batchSize, validationFraction, patience, refit; backends: MOVIESENTIMENTS_E2E_BACKENDS=webgpu,cpu).
// Results: test-artifacts/e2e/full-archive.json and the console.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ElementHandle, Page } from "puppeteer-core";
import { afterAll, describe, expect, it } from "vitest";
import { browserSkipReason, launchBrowser, type LaunchedBrowser } from "../helpers/browser.ts";
import { artifactPath, buildApp, byId, DEEP_QUERY, setValue, until } from "./app-helpers.ts";
import { ROOT, startServe, type Served } from "./serve-helper.ts";

const ARCHIVE = resolve(process.env.MOVIESENTIMENTS_DATA ?? join(ROOT, "..", "shared", "data", "aclImdb_v1.tar.gz"));
const enabled = process.env.MOVIESENTIMENTS_E2E_FULL === "1";
const skip = !enabled
  ? "set MOVIESENTIMENTS_E2E_FULL=1 to run this measurement"
  : !existsSync(ARCHIVE)
    ? `no archive at ${ARCHIVE} (set MOVIESENTIMENTS_DATA)`
    : browserSkipReason();

interface RunResult {
  backend: string;
  device: string;
  testAccuracy: number;
  dropToModelSeconds: number;
  /** the comparison table's figures (seconds), when both backends ran */
  seconds: Record<string, number>;
}

describe.skipIf(skip !== undefined)(`full archive in the browser${skip ? ` (${skip})` : ""}`, () => {
  let tmp: string;
  let served: Served | undefined;
  let launched: LaunchedBrowser | undefined;

  afterAll(async () => {
    await launched?.close();
    served?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("drops aclImdb_v1.tar.gz and trains it on each backend", async () => {
    tmp = mkdtempSync(join(tmpdir(), "ms-full-"));
    buildApp(join(tmp, "app"));
    served = await startServe(["--dir", join(tmp, "app")]);
    launched = await launchBrowser();
    const page: Page = await launched.browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("console", (m) => console.log(`[page ${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => console.log(`[page uncaught] ${String(e)}`));
    await page.goto(`${served.url}#/training`, { waitUntil: "load" });
    await page.evaluate(DEEP_QUERY);
    const overrides = JSON.parse(process.env.MOVIESENTIMENTS_E2E_SETTINGS ?? "{}") as Record<string, string | boolean>;
    const backends = (process.env.MOVIESENTIMENTS_E2E_BACKENDS ?? "webgpu,cpu").split(",");
    await until(page, () => {
      const o = (window as unknown as { __deepAll(s: string): HTMLOptionElement[] }).__deepAll("#set-backend option")[0];
      return o && !o.textContent!.includes("checking");
    });
    for (const [k, v] of Object.entries(overrides)) {
      if (typeof v === "boolean") {
        const box = await byId(page, `set-${k}`);
        if ((await box.evaluate((b) => (b as HTMLInputElement).checked)) !== v) await box.click();
      } else await setValue(page, `set-${k}`, v);
    }
    await setValue(page, "set-backend", backends[0]!);
    const results: RunResult[] = [];
    const t0 = Date.now();
    const input = (await byId(page, "file")) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(ARCHIVE);
    for (let i = 0; i < backends.length; i++) {
      const id = `r${i + 1}`;
      if (i > 0) await (await byId(page, "train-other")).click();
      await until(
        page,
        new Function(`const r = window.__deepAll("tr[data-run='${id}']")[0]; return r && r.dataset.status !== "running";`) as () => boolean,
        900_000,
      );
      const row = await page.evaluate(
        (runId) => {
          const r = (window as unknown as { __deepAll(s: string): HTMLTableRowElement[] }).__deepAll(`tr[data-run='${runId}']`)[0]!;
          return { status: r.dataset.status, acc: Number(r.dataset.testAccuracy), cells: [...r.cells].map((c) => c.innerText) };
        },
        id,
      );
      console.log(`${id}: ${JSON.stringify(row)}`);
      expect(row.status).toBe("done");
      results.push({
        backend: backends[i]!,
        device: row.cells[1] ?? "",
        testAccuracy: row.acc,
        // the first run's wall time from handing over the file to its model
        dropToModelSeconds: i === 0 ? (Date.now() - t0) / 1000 : NaN,
        seconds: {},
      });
    }
    if (backends.length === 2) {
      const cells = await page.evaluate(() =>
        (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("#comparison td[data-key]").map((td) => [td.dataset.backend!, td.dataset.key!, Number(td.dataset.seconds)] as const),
      );
      for (const r of results) for (const [b, k, s] of cells) if (b === r.backend) r.seconds[k] = s;
    }
    await page.screenshot({ path: artifactPath("full-archive-training.png"), fullPage: true });
    const report = { archive: ARCHIVE, settings: overrides, results, measuredAt: new Date().toISOString() };
    writeFileSync(artifactPath("full-archive.json"), JSON.stringify(report, null, 1));
    console.log(JSON.stringify(report, null, 1));
  }, 1_800_000);
});
