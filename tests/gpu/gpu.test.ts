// GPU kernels and the WebGPU backend, checked against the CPU reference inside headless
// Chromium (WebGPU on SwiftShader). The checks themselves run in the page
// (tests/gpu/harness.ts); this file serves it, drives it and asserts on the results.
// Without Chromium or a WebGPU adapter the tests skip, except on CI (CI=true), where
// they fail.

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Page } from "puppeteer-core";
import { browserSkipReason, isCi, launchBrowser, openPage, startDevServer, type DevServer, type LaunchedBrowser } from "../helpers/browser.ts";
import { GPU_CHECKS, type GpuCheckResult } from "./harness-types.ts";

const skipReason = browserSkipReason();

function describeResult(r: GpuCheckResult): string {
  const diffs = Object.entries(r.maxAbsDiff)
    .map(([k, v]) => `${k} ${v.toExponential(2)}`)
    .join(", ");
  return [
    `[gpu] ${r.name} (${r.ms} ms)`,
    `  max |gpu - cpu|: ${diffs || "-"}`,
    `  tolerance: ${r.tolerance}`,
    ...r.notes.map((n) => `  ${n}`),
  ].join("\n");
}

describe("WebGPU kernels and backend vs the CPU reference (Chromium, SwiftShader)", () => {
  let server: DevServer | undefined;
  let browser: LaunchedBrowser | undefined;
  let page: Page | undefined;
  let noAdapter: string | undefined;

  beforeAll(async () => {
    if (skipReason) {
      console.warn(`[gpu] ${skipReason}`);
      return;
    }
    server = await startDevServer();
    browser = await launchBrowser();
    page = await openPage(browser.browser, `${server.url}tests/gpu/gpu-harness.html`, "[gpu page]");
    await page.waitForFunction(() => window.gpuHarness !== undefined, { timeout: 60_000 });
    const probe = await page.evaluate(() => window.gpuHarness!.probe());
    if (probe.adapter === null) {
      noAdapter = probe.reason ?? "no adapter";
      console.warn(`[gpu] no WebGPU adapter in Chromium (${noAdapter}); ${isCi() ? "failing (CI)" : "skipping"}`);
    } else console.log(`[gpu] adapter: ${probe.adapter}; features: ${probe.features.join(", ")}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test.for(GPU_CHECKS)("%s", async (name, ctx) => {
    if (skipReason) ctx.skip(skipReason);
    if (noAdapter) {
      if (isCi()) throw new Error(`no WebGPU adapter in Chromium on CI: ${noAdapter}`);
      ctx.skip(`no WebGPU adapter in Chromium: ${noAdapter}`);
    }
    const result = await page!.evaluate((n) => window.gpuHarness!.runCheck(n), name);
    console.log(describeResult(result));
    expect(result.validationErrors).toEqual([]);
    expect(result.failures).toEqual([]);
  });
});
