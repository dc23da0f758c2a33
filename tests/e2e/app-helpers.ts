// Shared steps of the end-to-end tests: build the app, serve it with serve.js, and
// drive its pages in Chromium (elements are found through the shadow roots).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ElementHandle, Page } from "puppeteer-core";
import { ROOT } from "./serve-helper.ts";

export const ARTIFACTS = join(ROOT, "test-artifacts", "e2e");

/** `vite build` of the app (with the assets plugin) into outDir. */
export function buildApp(outDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules", "vite", "bin", "vite.js"), "build", "--config", "tests/e2e/vite.app.config.ts", "--outDir", outDir, "--emptyOutDir", "--logLevel", "warn"],
    // Vitest sets NODE_ENV=test, which would make Vite pick Lit's development build
    { cwd: ROOT, env: { ...env, NODE_ENV: "production" }, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`vite build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  if (!existsSync(join(outDir, "index.html"))) throw new Error(`vite build wrote no index.html to ${outDir}`);
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The element with this id anywhere in the page's shadow roots. */
export async function byId(page: Page, id: string, timeout = 30_000): Promise<ElementHandle<Element>> {
  return waitFor(page, `pierce/#${id}`, timeout);
}

/**
 * The first element matching a (pierce/) selector, polled with page.$. (waitForSelector
 * with the pierce handler sometimes missed elements that page.$ found at once.)
 */
export async function waitFor(page: Page, selector: string, timeout = 30_000): Promise<ElementHandle<Element>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const el = await page.$(selector);
    if (el) return el;
    if (Date.now() > deadline) throw new Error(`${selector} did not appear within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function textOf(page: Page, id: string, timeout?: number): Promise<string> {
  const el = await byId(page, id, timeout);
  return el.evaluate((e) => (e as HTMLElement).innerText);
}

/** Set an input's value and fire the events the components listen to. */
export async function setValue(page: Page, id: string, value: string): Promise<void> {
  const el = await byId(page, id);
  await el.evaluate((e, v) => {
    const input = e as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
    input.value = v;
    input.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
    input.dispatchEvent(new Event("change", { bubbles: true, composed: true }));
  }, value);
}

/** Wait until `fn` (run in the page) returns a truthy value; returns it. */
export async function until<T>(page: Page, fn: () => T, timeout = 60_000): Promise<T> {
  const handle = await page.waitForFunction(fn, { timeout, polling: 100 });
  return (await handle.jsonValue()) as T;
}

/** querySelectorAll through every shadow root (runs in the page). */
export const DEEP_QUERY = `
  window.__deepAll = (selector) => {
    const out = [];
    const visit = (root) => {
      out.push(...root.querySelectorAll(selector));
      for (const el of root.querySelectorAll("*")) if (el.shadowRoot) visit(el.shadowRoot);
    };
    visit(document);
    return out;
  };
`;
