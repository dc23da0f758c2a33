// End to end: the app meets bad input and failing hardware. Each case gets a clear
// message in the page, the page keeps working, and a model trained before stays
// usable for prediction:
//   - files that are not the IMDB archive (zip, empty, truncated, another tar.gz, an
//     HTML page), and a 2 GB file refused by its size before it is read;
//   - WebGPU missing (Chromium started without its WebGPU switches: no adapter);
//   - the WebGPU device lost in the middle of a run (a test hook, on with ?test-hooks);
//   - a 10 MB review pasted into Make Prediction.
// Where no Chromium exists the tests skip with that reason (on CI, CI=true, they fail).
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type ElementHandle, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserSkipReason, CHROMIUM_ARGS, findChromium, type LaunchedBrowser } from "../helpers/browser.ts";
import { makeImdbArchive, makeTarGz } from "../helpers/make-archive.ts";
import { artifactPath, byId, setValue, textOf, until, waitFor } from "./app-helpers.ts";
import { openApp, startAppFixture, watchPage, type AppFixture } from "./app-fixture.ts";
import type { Served } from "./serve-helper.ts";

const skipReason = browserSkipReason();
if (skipReason) console.warn(`robustness end-to-end tests: ${skipReason}`);

type DeepWindow = Window & { __deepAll(selector: string): HTMLElement[] };

/** Console errors the page is expected to log in a test (the backend logs a device loss). */
const EXPECTED_ERRORS = [/The WebGPU device was lost/];

/** Watches a page for console errors (but the expected ones), uncaught exceptions and failed requests. */
const watch = (page: Page): string[] => watchPage(page, EXPECTED_ERRORS);

const runStatus = (page: Page, id: string, timeout = 120_000) =>
  until(
    page,
    new Function(`const r = window.__deepAll("tr[data-run='${id}']")[0]; return r && r.dataset.status !== "running" ? r.dataset.status : null;`) as () => string,
    timeout,
  );

describe.skipIf(skipReason !== undefined)(`the web app under bad input and failing hardware${skipReason ? ` (${skipReason})` : ""}`, () => {
  let tmp: string;
  let served: Served;
  let launched: LaunchedBrowser;
  let browser: Browser;
  let archivePath: string;
  let fixture: AppFixture | undefined;

  beforeAll(async () => {
    fixture = await startAppFixture("ms-robust-");
    ({ tmp, served, launched, archivePath } = fixture);
    browser = launched.browser;
  }, 180_000);

  afterAll(async () => {
    await fixture?.close();
  });

  async function newPage(b: Browser = browser): Promise<{ page: Page; problems: string[] }> {
    const page = await b.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    return { page, problems: watch(page) };
  }

  const open = (page: Page, path: string) => openApp(page, served, path);

  /** Read the archive the server offers and train it on the CPU for two epochs: run r1. */
  async function trainFirstModel(page: Page): Promise<void> {
    await setValue(page, "set-backend", "cpu");
    await setValue(page, "set-epochs", "2");
    await (await byId(page, "use-offered")).click();
    expect(await runStatus(page, "r1")).toBe("done");
  }

  /** Use run `id`'s model on the prediction page and check it still gives labels. */
  async function predictWith(page: Page, id: string): Promise<void> {
    await (await waitFor(page, `pierce/tr[data-run='${id}'] button[data-action='use']`))!.click();
    await page.evaluate(() => (location.hash = "#/predict"));
    const selected = await until(page, () => {
      const s = (window as unknown as DeepWindow).__deepAll("#model")[0] as HTMLSelectElement | undefined;
      return s ? s.options[s.selectedIndex]?.textContent : null;
    });
    expect(selected).toMatch(new RegExp(`^Run ${id.slice(1)} `));
    await setValue(page, "review", "awful boring waste");
    await (await byId(page, "predict")).click();
    expect(await textOf(page, "label")).toBe("Negative");
    await setValue(page, "review", "great wonderful superb");
    await (await byId(page, "predict")).click();
    await until(page, () => (window as unknown as DeepWindow).__deepAll("#label")[0]?.innerText === "Positive");
    await page.evaluate(() => (location.hash = "#/training"));
    await byId(page, "drop");
  }

  describe("in one page, with a model trained first", () => {
    let page: Page;
    let problems: string[];
    let input: ElementHandle<HTMLInputElement>;

    beforeAll(async () => {
      ({ page, problems } = await newPage());
      await open(page, "#/training");
      await trainFirstModel(page);
      input = (await byId(page, "file")) as ElementHandle<HTMLInputElement>;
    }, 180_000);

    afterAll(async () => {
      await page?.close();
    });

    async function dropFile(name: string, bytes: Uint8Array): Promise<string> {
      const path = join(tmp, name);
      writeFileSync(path, bytes);
      await input.uploadFile(path);
      // the message names the file, so a stale message from the last drop is not taken
      return until(
        page,
        new Function(`const e = window.__deepAll("#data-error")[0]; return e && e.innerText.includes(${JSON.stringify(`${name}:`)}) ? e.innerText : null;`) as () => string,
        30_000,
      );
    }

    it("answers files that are not the IMDB archive with a clear message, keeping the reviews and the model", async () => {
      const good = makeImdbArchive(20, 9);
      const cases: [string, Uint8Array, RegExp][] = [
        ["aclImdb_v1.zip", new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array(300).fill(7)]), /this is not a \.tar\.gz archive: .*Expected the gzip-compressed IMDB archive aclImdb_v1\.tar\.gz/],
        ["empty.tar.gz", new Uint8Array(0), /the archive is an empty file \(0 bytes\); download it again/],
        ["half-downloaded.tar.gz", good.slice(0, Math.floor(good.length / 2)), /the archive is truncated \(read [\d.]+ MB\); download it again/],
        ["photos.tar.gz", makeTarGz([{ path: "photos/cat.jpg", text: "meow" }]), /this does not look like the IMDB archive aclImdb_v1\.tar\.gz \(it has 1 file, e\.g\. photos\/cat\.jpg\)/],
        ["error-page.tar.gz", new TextEncoder().encode("<!DOCTYPE html><html><body>404 Not Found</body></html>"), /this is an HTML\/XML page \(perhaps an error page saved instead of the archive\)/],
      ];
      for (const [name, bytes, message] of cases) {
        const text = await dropFile(name, bytes);
        expect(text, name).toMatch(/^Could not read the archive: /);
        expect(text, name).toMatch(message);
      }
      await page.screenshot({ path: artifactPath("robustness-bad-drop.png"), fullPage: true });
      // the reviews read before stay loaded, and the page can still train
      expect(await textOf(page, "data-ready")).toMatch(/Loaded 120 training and 120 test reviews from small-imdb\.tar\.gz/);
      expect(await (await byId(page, "train")).evaluate((b) => (b as HTMLButtonElement).disabled)).toBe(false);
      // the model trained before still predicts
      await predictWith(page, "r1");
      expect(problems).toEqual([]);
    }, 90_000);

    it("refuses a 2 GB file by its size, before reading it", async () => {
      // a sparse file: 2 GiB long, no blocks on disk
      const path = join(tmp, "big", "aclImdb_v1.tar.gz");
      rmSync(join(tmp, "big"), { recursive: true, force: true });
      mkdirSync(join(tmp, "big"));
      const fd = openSync(path, "w");
      try {
        ftruncateSync(fd, 2 * 1024 ** 3);
      } finally {
        closeSync(fd);
      }
      expect(statSync(path).size).toBe(2 * 1024 ** 3);
      // note whether the page ever shows the "Reading..." progress for it
      await page.evaluate(() => {
        const w = window as unknown as DeepWindow & { __sawReading: boolean };
        w.__sawReading = false;
        const tick = () => {
          if (w.__deepAll("#reading").length > 0) w.__sawReading = true;
          requestAnimationFrame(tick);
        };
        tick();
      });
      await input.uploadFile(path);
      const text = await until(
        page,
        () => {
          const e = (window as unknown as DeepWindow).__deepAll("#data-error")[0];
          return e && e.innerText.includes("2.15 GB") ? e.innerText : null;
        },
        10_000,
      );
      // the size check's message, not the sniffing of its first bytes (they are zeros)
      expect(text).toBe(
        "Could not read the archive: aclImdb_v1.tar.gz: it is 2.15 GB, far too big to be the IMDB archive: aclImdb_v1.tar.gz is 84.1 MB, " +
          "and files over 500.0 MB are refused without being read. Pick the aclImdb_v1.tar.gz downloaded from the dataset's home page",
      );
      expect(await page.evaluate(() => (window as unknown as { __sawReading: boolean }).__sawReading)).toBe(false);
      await page.screenshot({ path: artifactPath("robustness-2gb.png"), fullPage: true });
      // still working: the reviews are loaded, and a run trains on them
      expect(await textOf(page, "data-ready")).toMatch(/Loaded 120 training and 120 test reviews/);
      await setValue(page, "set-backend", "cpu");
      await setValue(page, "set-epochs", "1");
      await (await byId(page, "train")).click();
      expect(await runStatus(page, "r2")).toBe("done");
      await predictWith(page, "r1");
      expect(problems).toEqual([]);
    }, 60_000);

    it("cuts a 10 MB paste into Make Prediction to a million characters and says so", async () => {
      const origin = new URL(served.url).origin;
      await browser.defaultBrowserContext().overridePermissions(origin, ["clipboard-read", "clipboard-write", "clipboard-sanitized-write"]);
      await page.evaluate(() => (location.hash = "#/predict"));
      const box = await byId(page, "review");
      await setValue(page, "review", "");
      const tenMb = "This film was good, then dull, then wonderful again. ".repeat(200_000);
      expect(tenMb.length).toBeGreaterThanOrEqual(10_000_000);
      await page.evaluate((t) => navigator.clipboard.writeText(t), tenMb);
      await box.focus();
      // a real paste (Ctrl+V through the browser's clipboard), not a synthetic event
      await page.keyboard.down("Control");
      await page.keyboard.press("KeyV", { commands: ["paste"] });
      await page.keyboard.up("Control");
      const note = await textOf(page, "paste-note", 20_000);
      expect(note).toBe(
        "The pasted text has 10,600,000 characters; the review box holds at most 1,000,000, so only its first 1,000,000 were pasted. " +
          "A movie review is rarely over 10,000 characters.",
      );
      expect(await box.evaluate((t) => (t as HTMLTextAreaElement).value.length)).toBe(1_000_000);
      expect(await textOf(page, "length")).toBe("1,000,000 characters");
      await (await byId(page, "predict")).click();
      expect(["Positive", "Negative"]).toContain(await textOf(page, "label", 60_000));
      expect(await textOf(page, "truncated")).toMatch(/showing the first 2,000 of [\d,]+ tokens/);
      await page.screenshot({ path: artifactPath("robustness-long-paste.png") });
      expect(problems).toEqual([]);
    }, 90_000);

    it("scores at most a million characters of a 10 MB review put in the box some other way, and says so", async () => {
      await setValue(page, "review", "");
      // a 10 MB value set directly (as a drop of text could): the box holds it all
      await page.evaluate(() => {
        const t = (window as unknown as DeepWindow).__deepAll("#review")[0] as HTMLTextAreaElement;
        t.value = "A dull, awful film. ".repeat(500_000) + "But the ending was wonderful.";
        t.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
      });
      // Chromium lays out ten megabytes in a text area on its own; start measuring after that
      await new Promise((r) => setTimeout(r, 3000));
      await (await byId(page, "predict")).click();
      const capped = await textOf(page, "capped", 60_000);
      expect(capped).toMatch(/^This text has 10,000,029 characters; only the first 1,000,000 were scored \(at most 1,000,000 are\)\./);
      expect(await textOf(page, "label")).toBe("Negative");
      expect(await textOf(page, "truncated")).toMatch(/use all the scored text/);
      // and a short review scores as usual afterwards
      await setValue(page, "review", "a wonderful film");
      await (await byId(page, "predict")).click();
      await until(page, () => (window as unknown as DeepWindow).__deepAll("#capped").length === 0 && (window as unknown as DeepWindow).__deepAll("#label")[0]?.innerText === "Positive");
      expect(problems).toEqual([]);
    }, 90_000);
  });

  it("says when the GPU device is lost mid-run, keeps the models trained before, and trains on the CPU instead", async () => {
    const { page, problems } = await newPage();
    try {
      await open(page, "?test-hooks#/training");
      const gpuOption = await until(page, () => {
        const o = (window as unknown as DeepWindow).__deepAll("#set-backend option")[0];
        return o && !o.textContent!.includes("checking") ? o.textContent : null;
      });
      expect(gpuOption).toMatch(/^WebGPU \(.+\)$/);
      expect(gpuOption).not.toMatch(/not available/);
      await trainFirstModel(page);
      // a long WebGPU run (no validation split, so no early stop)
      await setValue(page, "set-backend", "webgpu");
      await setValue(page, "set-epochs", "40");
      await setValue(page, "set-batchSize", "8");
      await setValue(page, "set-validationFraction", "0");
      await (await byId(page, "train")).click();
      // two epochs done on the GPU, then the device goes away
      await until(page, () => {
        const r = (window as unknown as DeepWindow).__deepAll("tr[data-run='r2'] td")[4];
        return r && parseInt(r.innerText.replace(/^\d+ \+ /, ""), 10) >= 2;
      }, 60_000);
      const hook = await page.evaluate(() => (window as unknown as { __moviesentimentsTest: { loseGpuDevice(): Promise<string> } }).__moviesentimentsTest.loseGpuDevice());
      expect(hook).toBe("destroyed 1 WebGPU device");
      const alert = await textOf(page, "gpu-failed", 30_000);
      expect(alert).toMatch(/^WebGPU: the GPU device was lost during Run 2 · WebGPU\./);
      expect(alert).toMatch(/The GPU device was lost in the middle of the run \(destroyed/);
      expect(alert).toMatch(/this run kept no model; its curves so far stay/);
      expect(alert).toMatch(/Models trained before are kept and still work on the prediction page/);
      expect(await runStatus(page, "r2")).toBe("failed");
      await page.screenshot({ path: artifactPath("robustness-device-lost.png"), fullPage: true });
      // the next run defaults to the CPU; WebGPU is checked again and offered
      expect(await (await byId(page, "set-backend")).evaluate((s) => (s as HTMLSelectElement).value)).toBe("cpu");
      await until(page, () => {
        const o = (window as unknown as DeepWindow).__deepAll("#set-backend option")[0];
        return o && /^WebGPU \(.+\)$/.test(o.textContent!) && !/checking|not available/.test(o.textContent!);
      });
      // the curves of the lost run stay
      const points = await (await byId(page, "live-loss")).evaluate((c) => (c as unknown as { pointCounts: number[] }).pointCounts);
      expect(points.filter((n) => n >= 2).length).toBeGreaterThanOrEqual(2);
      // the model trained before still predicts
      await predictWith(page, "r1");
      // and the same settings run on the CPU
      const button = await byId(page, "train-on-cpu");
      expect(await button.evaluate((b) => (b as HTMLElement).innerText)).toBe("Train on the CPU instead");
      await button.click();
      expect(await runStatus(page, "r3")).toBe("done");
      const r3 = await textOf(page, "runs");
      expect(r3).toMatch(/Run 3 · CPU/);
      expect(await page.evaluate(() => (window as unknown as DeepWindow).__deepAll("#gpu-failed").length)).toBe(0);
      await predictWith(page, "r3");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 180_000);

  it("without WebGPU, says why, picks the CPU, and trains there", async () => {
    const executablePath = findChromium()!;
    const userDataDir = mkdtempSync(join(tmpdir(), "moviesentiments-chromium-nogpu-"));
    // the harness's switches without the two that turn WebGPU on: Chromium then offers
    // navigator.gpu but finds no adapter, as on a machine without a usable GPU
    const args = CHROMIUM_ARGS.filter((a) => a !== "--enable-unsafe-webgpu" && !a.startsWith("--use-webgpu-adapter"));
    const noGpu = await puppeteer.launch({ executablePath, headless: true, userDataDir, args });
    try {
      const { page, problems } = await newPage(noGpu);
      await open(page, "#/training");
      const option = await until(page, () => {
        const o = (window as unknown as DeepWindow).__deepAll("#set-backend option")[0] as HTMLOptionElement | undefined;
        return o && !o.textContent!.includes("checking") ? { text: o.textContent, disabled: o.disabled } : null;
      });
      expect(option).toEqual({ text: "WebGPU (not available here)", disabled: true });
      expect(await (await byId(page, "set-backend")).evaluate((s) => (s as HTMLSelectElement).value)).toBe("cpu");
      const reason = await textOf(page, "webgpu-reason");
      expect(reason).toMatch(/^WebGPU is not available in this browser, so runs use the CPU backend: no WebGPU adapter was found/);
      expect(reason).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/);
      // asking for WebGPU anyway gets a message, not a failed run
      await setValue(page, "set-backend", "webgpu");
      await setValue(page, "set-epochs", "2");
      await (await byId(page, "auto-start")).click();
      await (await byId(page, "use-offered")).click();
      await byId(page, "data-ready");
      await (await byId(page, "train")).click();
      expect(await textOf(page, "form-error")).toMatch(/^WebGPU is not available here \(no WebGPU adapter was found/);
      expect(await page.evaluate(() => (window as unknown as DeepWindow).__deepAll("tr[data-run]").length)).toBe(0);
      // the CPU trains
      await setValue(page, "set-backend", "cpu");
      await (await byId(page, "train")).click();
      expect(await runStatus(page, "r1")).toBe("done");
      expect(await (await byId(page, "train-other")).evaluate((b) => (b as HTMLButtonElement).disabled)).toBe(true);
      await page.screenshot({ path: artifactPath("robustness-no-webgpu.png"), fullPage: true });
      await predictWith(page, "r1");
      expect(problems).toEqual([]);
    } finally {
      await noGpu.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
