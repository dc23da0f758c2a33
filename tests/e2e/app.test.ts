// End to end: the production build served by scripts/serve.js, in headless Chromium
// with WebGPU on SwiftShader. Every page renders without console errors; predictions,
// escaping, training on both backends, saving, downloading and bad drops work.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Predictor } from "../../src/core/predict.ts";
import { loadModelDir } from "../../src/node/model-files.ts";
import { browserSkipReason, type LaunchedBrowser } from "../helpers/browser.ts";
import { artifactPath, byId, setValue, textOf, until, waitFor } from "./app-helpers.ts";
import { openApp, startAppFixture, watchPage, type AppFixture } from "./app-fixture.ts";
import type { Served } from "./serve-helper.ts";

const skipReason = browserSkipReason();
if (skipReason) console.warn(`app end-to-end tests: ${skipReason}`);

const PAGES = [
  { hash: "#/", name: "home", ready: "source-link" },
  { hash: "#/predict", name: "predict", ready: "review" },
  { hash: "#/training", name: "training", ready: "why" },
  { hash: "#/epoch-metrics", name: "epoch-metrics", ready: "epoch-table" },
] as const;

describe.skipIf(skipReason !== undefined)(`the web app, end to end${skipReason ? ` (${skipReason})` : ""}`, () => {
  let tmp: string;
  let served: Served;
  let launched: LaunchedBrowser;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];
  let fixture: AppFixture | undefined;
  let archivePath: string;
  let downloads: string;

  beforeAll(async () => {
    fixture = await startAppFixture("ms-e2e-");
    ({ tmp, served, launched, archivePath } = fixture);
    downloads = join(tmp, "downloads");
    mkdirSync(downloads);
    browser = launched.browser;
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    problems = watchPage(page);
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
  }, 180_000);

  afterAll(async () => {
    await fixture?.close();
  });

  const open = (hash: string) => openApp(page, served, hash);

  async function navigate(hash: string): Promise<void> {
    // in-app navigation keeps the page's state (runs live in memory)
    await page.evaluate((h) => (location.hash = h), hash);
  }

  it("renders every page without console errors, and keeps screenshots", async () => {
    for (const p of PAGES) {
      await open(p.hash);
      await byId(page, p.ready);
      const title = await page.evaluate(() => document.title);
      expect(title).toContain(PAGES.length > 0 ? "MovieSentiments" : "");
      // nav names all four pages
      const nav = await page.evaluate(() => [...(window as unknown as { __deepAll(s: string): Element[] }).__deepAll("nav a")].map((a) => a.textContent));
      expect(nav).toEqual(["Home", "Make Prediction", "Training Progress", "Epoch Metrics"]);
      await new Promise((r) => setTimeout(r, 300));
      await page.screenshot({ path: artifactPath(`${p.name}.png`), fullPage: true });
    }
    // home shows the model's metrics, read from model.json
    await open("#/");
    const acc = await textOf(page, "test-metrics");
    expect(acc).toMatch(/accuracy\s+\d+\.\d\d%/);
    expect(await textOf(page, "confusion")).toMatch(/actually positive/);
    expect(await (await byId(page, "source-link")).evaluate((a) => (a as HTMLAnchorElement).href)).toMatch(/^https:\/\//);
    await byId(page, "strongest");
    // the shipped model's curves name only the runs it has (no selection run without a validation split)
    await open("#/training");
    await byId(page, "why");
    const model = (await page.evaluate(async () => {
      const manifest = (await (await fetch("app-assets.json")).json()) as { model: string };
      return (await fetch(manifest.model)).json();
    })) as { history: { selection: unknown[] } };
    const labels = await page.evaluate(() =>
      (window as unknown as { __deepAll(s: string): (Element & { series: { label: string }[] })[] }).__deepAll("#shipped-loss")[0]!.series.map((s) => s.label),
    );
    expect(labels.some((l) => l.startsWith("final (all of train/)"))).toBe(true);
    expect(labels.some((l) => l.startsWith("validation run"))).toBe(model.history.selection.length > 0);
    expect(problems).toEqual([]);
  }, 120_000);

  it("gives a typed review a label and both probabilities", async () => {
    await open("#/predict");
    await setValue(page, "review", "A wonderful, moving film with superb acting. I loved it.");
    await (await byId(page, "predict")).click();
    const label = await textOf(page, "label");
    expect(["Positive", "Negative"]).toContain(label);
    const neg = parseFloat(await textOf(page, "p-negative"));
    const pos = parseFloat(await textOf(page, "p-positive"));
    expect(neg + pos).toBeCloseTo(100, 1);
    expect(await textOf(page, "shaded")).toContain("wonderful");
    // an example in one click
    await (await waitFor(page, "pierce/button[data-example='1']"))!.click();
    await until(page, () => (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("#shaded")[0]?.innerText.includes("waste"));
    // empty text: a friendly message
    await setValue(page, "review", "   ");
    await (await byId(page, "predict")).click();
    expect(await textOf(page, "message")).toMatch(/Nothing to score/);
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows negated words as NOT_word in the contributions, with a note saying what that means", async () => {
    await open("#/predict");
    await setValue(page, "review", "It was not good. Not funny, not moving, and I did not care about anyone in it.");
    await (await byId(page, "predict")).click();
    await textOf(page, "label");
    const lists = (await textOf(page, "top-positive")) + (await textOf(page, "top-negative"));
    expect(lists).toMatch(/NOT_/);
    expect(await textOf(page, "negation-note")).toMatch(/follows a negation/);
    // the shaded review shows the words as typed
    expect(await textOf(page, "shaded")).not.toMatch(/NOT_/);
    expect(problems).toEqual([]);
  }, 60_000);

  it("never runs user text as HTML", async () => {
    await open("#/predict");
    await page.evaluate(() => ((window as unknown as { __xss: number }).__xss = 0));
    const attack =
      '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> ' +
      "&lt;img src=y onerror=window.__xss=3&gt; &lt;script&gt;window.__xss=4&lt;/script&gt; a great film";
    await setValue(page, "review", attack);
    await (await byId(page, "predict")).click();
    const shaded = await textOf(page, "shaded");
    // the decoded entities are shown as the characters they are
    expect(shaded).toContain("<img src=y onerror=window.__xss=3>");
    expect(shaded).toContain("<script>window.__xss=4</script>");
    await new Promise((r) => setTimeout(r, 500));
    const result = await page.evaluate(() => {
      const w = window as unknown as { __xss: number; __deepAll(s: string): Element[] };
      return { xss: w.__xss, imgs: w.__deepAll("#result img, #shaded img, #shaded script").length };
    });
    expect(result).toEqual({ xss: 0, imgs: 0 });
    expect(problems).toEqual([]);
  }, 60_000);

  // The page's thread only renders the capped view: scoring runs in the worker, which
  // tests/ui/page-thread.test.ts checks from the import graph (no timing asserted here).
  it("scores a megabyte review and shows a capped explanation", async () => {
    await open("#/predict");
    await byId(page, "review");
    await page.evaluate(() => {
      const w = window as unknown as { __deepAll(s: string): HTMLTextAreaElement[] };
      const t = w.__deepAll("#review")[0]!;
      t.value = "The film was good, then dull, then wonderful again. ".repeat(20_500);
      t.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
    });
    await (await byId(page, "predict")).click();
    const note = await textOf(page, "truncated", 60_000);
    expect(note).toMatch(/showing the first 2,000 of [\d,]+ tokens/);
    expect(problems).toEqual([]);
  }, 90_000);

  it("trains a small archive on WebGPU and on the CPU, with live curves and both timings", async () => {
    await open("#/training");
    // the WebGPU adapter's name is shown
    await until(page, () => {
      const o = (window as unknown as { __deepAll(s: string): HTMLOptionElement[] }).__deepAll("#set-backend option")[0];
      return o && !o.textContent!.includes("checking") ? o.textContent : null;
    });
    const gpuOption = await page.evaluate(() => (window as unknown as { __deepAll(s: string): HTMLOptionElement[] }).__deepAll("#set-backend option")[0]!.textContent);
    expect(gpuOption).toMatch(/^WebGPU \(.+\)$/);
    expect(gpuOption).not.toMatch(/not available/);
    await setValue(page, "set-backend", "webgpu");
    await setValue(page, "set-epochs", "3");
    await setValue(page, "set-batchSize", "8");
    await setValue(page, "set-lr", "1");
    await setValue(page, "set-lrDecay", "0");
    const input = (await byId(page, "file")) as import("puppeteer-core").ElementHandle<HTMLInputElement>;
    await input.uploadFile(archivePath);
    await byId(page, "data-ready");
    const done = (id: string) =>
      until(
        page,
        new Function(`return (window.__deepAll("tr[data-run='${id}']")[0] || {}).dataset?.status !== "running" && window.__deepAll("tr[data-run='${id}']").length > 0`) as () => boolean,
        120_000,
      );
    await done("r1");
    const points = await (await byId(page, "live-loss")).evaluate((c) => (c as unknown as { pointCounts: number[] }).pointCounts);
    expect(points.length).toBeGreaterThan(0);
    expect(Math.max(...points)).toBe(3);
    // the same settings on the CPU
    await (await byId(page, "train-other")).click();
    await done("r2");
    const statuses = await page.evaluate(() =>
      (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("tr[data-run]").map((r) => [r.dataset.run, r.dataset.status, r.dataset.testAccuracy]),
    );
    expect(statuses.map((s) => s[1])).toEqual(["done", "done"]);
    for (const s of statuses) expect(Number(s[2])).toBeGreaterThan(0.8);
    const timing = await page.evaluate(() =>
      (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("#comparison td[data-key]").map((td) => [td.dataset.backend, td.dataset.key, Number(td.dataset.seconds)]),
    );
    for (const backend of ["webgpu", "cpu"]) {
      for (const key of ["epoch", "epoch-train", "total"]) {
        const cell = timing.find((t) => t[0] === backend && t[1] === key);
        expect(cell, `${backend} ${key}`).toBeDefined();
        expect(cell![2] as number).toBeGreaterThan(0);
      }
    }
    const overlay = await (await byId(page, "live-accuracy")).evaluate((c) => (c as unknown as { pointCounts: number[] }).pointCounts);
    expect(overlay.filter((n) => n > 0).length).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: artifactPath("training-after-runs.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 240_000);

  it("uses, saves and downloads a trained model", async () => {
    // use the WebGPU run's model for prediction
    await (await waitFor(page, "pierce/tr[data-run='r1'] button[data-action='use']"))!.click();
    await navigate("#/predict");
    const selected = await until(page, () => {
      const s = (window as unknown as { __deepAll(s: string): HTMLSelectElement[] }).__deepAll("#model")[0];
      return s ? s.options[s.selectedIndex]?.textContent : null;
    });
    expect(selected).toMatch(/Run 1 · WebGPU/);
    await setValue(page, "review", "great wonderful superb");
    await (await byId(page, "predict")).click();
    expect(await textOf(page, "label")).toBe("Positive");
    await page.screenshot({ path: artifactPath("predict-browser-model.png"), fullPage: true });

    // save in IndexedDB, and find it again after a reload
    await navigate("#/training");
    await (await waitFor(page, "pierce/tr[data-run='r2'] button[data-action='save']"))!.click();
    await waitFor(page, "pierce/#saved tr[data-saved]");
    await open("#/training");
    await waitFor(page, "pierce/#saved tr[data-saved]", 20_000);

    // download the saved model's files; the CLI's loader reads them
    await (await waitFor(page, "pierce/#saved button[data-action='download']"))!.click();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const names = readdirSync(downloads);
      if (names.includes("model.json") && names.filter((n) => n.endsWith(".f16")).length === 2 && !names.some((n) => n.endsWith(".crdownload"))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const model = loadModelDir(downloads);
    expect(new Predictor(model).predict("great wonderful superb loved").label).toBe("positive");
    expect(model.training.backend.kind).toBe("cpu");

    // the saved model is offered on the prediction page after the reload
    await navigate("#/predict");
    const options = await until(page, () => {
      const s = (window as unknown as { __deepAll(s: string): HTMLSelectElement[] }).__deepAll("#model")[0];
      return s && s.options.length > 1 ? [...s.options].map((o) => o.textContent) : null;
    });
    expect(options!.some((o) => o?.includes("saved in this browser"))).toBe(true);
    expect(problems).toEqual([]);
  }, 120_000);

  it("stops a run on request, keeping the best epoch so far", async () => {
    await open("#/training");
    await setValue(page, "set-backend", "cpu");
    await setValue(page, "set-epochs", "1000");
    await setValue(page, "set-patience", "0");
    const refit = await byId(page, "set-refit");
    if (await refit.evaluate((b) => (b as HTMLInputElement).checked)) await refit.click();
    const input = (await byId(page, "file")) as import("puppeteer-core").ElementHandle<HTMLInputElement>;
    await input.uploadFile(archivePath);
    // the curves grow while the run goes on
    await until(page, () => {
      const c = (window as unknown as { __deepAll(s: string): { pointCounts: number[] }[] }).__deepAll("#live-loss")[0];
      return c && Math.max(0, ...c.pointCounts) >= 2;
    });
    await (await byId(page, "stop")).click();
    const status = await until(
      page,
      () => {
        const r = (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("tr[data-run='r1']")[0];
        return r && r.dataset.status !== "running" ? r.dataset.status : null;
      },
      60_000,
    );
    expect(status).toBe("stopped");
    const row = await textOf(page, "runs");
    expect(row).toMatch(/stopped by you; the model keeps the best epoch so far/);
    await waitFor(page, "pierce/tr[data-run='r1'] button[data-action='use']");
    expect(problems).toEqual([]);
  }, 120_000);

  it("answers a bad drop with a clear message and keeps working", async () => {
    await open("#/training");
    // train first so there is a model to keep, on the archive the server offers
    const input = (await byId(page, "file")) as import("puppeteer-core").ElementHandle<HTMLInputElement>;
    await setValue(page, "set-backend", "cpu");
    await setValue(page, "set-epochs", "2");
    expect(await textOf(page, "use-offered")).toMatch(/Use small-imdb\.tar\.gz from this server \(\d+\.\d kB\)/);
    await (await byId(page, "use-offered")).click();
    await until(page, () => (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("tr[data-run='r1']")[0]?.dataset.status === "done", 120_000);
    const zipPath = join(tmp, "aclImdb_v1.zip");
    writeFileSync(zipPath, new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array(300).fill(7)]));
    await input.uploadFile(zipPath);
    expect(await textOf(page, "data-error")).toMatch(/aclImdb_v1\.zip: this is not a \.tar\.gz archive/);
    const emptyPath = join(tmp, "empty.tar.gz");
    writeFileSync(emptyPath, new Uint8Array(0));
    await input.uploadFile(emptyPath);
    await until(page, () => (window as unknown as { __deepAll(s: string): HTMLElement[] }).__deepAll("#data-error")[0]?.innerText.includes("empty"));
    await page.screenshot({ path: artifactPath("training-bad-drop.png"), fullPage: true });
    // the reviews read before stay loaded, and the trained model still predicts
    expect(await textOf(page, "data-ready")).toMatch(/Loaded 120 training and 120 test reviews from small-imdb\.tar\.gz/);
    const disabled = await (await byId(page, "train")).evaluate((b) => (b as HTMLButtonElement).disabled);
    expect(disabled).toBe(false);
    await (await waitFor(page, "pierce/tr[data-run='r1'] button[data-action='use']"))!.click();
    await navigate("#/predict");
    await setValue(page, "review", "awful boring waste");
    await (await byId(page, "predict")).click();
    expect(await textOf(page, "label")).toBe("Negative");
    // the epoch metrics page shows the browser run and its reliability diagram
    await navigate("#/epoch-metrics");
    expect(await textOf(page, "epoch-table")).toMatch(/Run 1 · CPU \(this browser\)/);
    expect(await textOf(page, "ece")).toMatch(/ECE \d+\.\d\d%/);
    await page.screenshot({ path: artifactPath("epoch-metrics-after-runs.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 180_000);
});
