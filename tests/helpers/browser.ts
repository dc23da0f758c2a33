// Browser test harness for Vitest tests that run in Node and drive Chromium: find it,
// launch it headless with WebGPU on SwiftShader (a CPU implementation, so GPU tests run
// on machines without a GPU), pipe the page console to the test output, and serve the
// repository with a Vite dev server so pages can import TypeScript and `?raw` shaders.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import puppeteer, { type Browser, type ConsoleMessage, type Page } from "puppeteer-core";
import { createServer, mergeConfig, type InlineConfig, type ViteDevServer } from "vite";

/** The repository root (the Vite root the pages are served from). */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Where Debian and Ubuntu install Chromium. */
export const DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium";

/** Chromium switches for headless WebGPU tests. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--disable-gpu-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** True on CI, where a missing browser or GPU adapter must fail the tests, not skip them. */
export function isCi(): boolean {
  return process.env.CI === "true";
}

/** The Chromium executable: $CHROMIUM_PATH if set, else /usr/bin/chromium; undefined if absent. */
export function findChromium(): string | undefined {
  const candidate = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
  return existsSync(candidate) ? candidate : undefined;
}

/**
 * Why browser tests cannot run here, or undefined when they can. On CI (CI=true) a
 * missing Chromium throws instead, so the suite fails rather than silently skipping.
 */
export function browserSkipReason(): string | undefined {
  if (findChromium()) return undefined;
  const where = process.env.CHROMIUM_PATH
    ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist`
    : `no Chromium at ${DEFAULT_CHROMIUM_PATH} (set CHROMIUM_PATH to use another)`;
  if (isCi()) throw new Error(`browser tests cannot run on CI: ${where}`);
  return `browser tests skipped: ${where}`;
}

export interface LaunchOptions {
  /** switches added after CHROMIUM_ARGS */
  extraArgs?: string[];
  /** default true */
  headless?: boolean;
}

export interface LaunchedBrowser {
  browser: Browser;
  /** the fresh profile directory, removed by close() */
  userDataDir: string;
  close(): Promise<void>;
}

/** Launches Chromium headless with a fresh temporary profile and the WebGPU switches. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(browserSkipReason() ?? "Chromium not found");
  const userDataDir = mkdtempSync(join(tmpdir(), "moviesentiments-chromium-"));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: options.headless ?? true,
      userDataDir,
      args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    browser,
    userDataDir,
    async close() {
      try {
        await browser.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Prints the page's console messages, uncaught errors and failed requests with a prefix. */
export function pipeConsole(page: Page, prefix = "[page]"): void {
  page.on("console", (message: ConsoleMessage) => {
    const type = message.type();
    const line = `${prefix} ${message.text()}`;
    if (type === "error") console.error(line);
    else if (type === "warn") console.warn(line);
    else console.log(line);
  });
  page.on("pageerror", (error) => console.error(`${prefix} uncaught: ${error instanceof Error ? error.stack : String(error)}`));
  page.on("requestfailed", (request) =>
    console.error(`${prefix} request failed: ${request.url()} (${request.failure()?.errorText ?? "unknown"})`),
  );
}

/** Opens a new page with its console piped, and navigates to `url`. */
export async function openPage(browser: Browser, url: string, prefix?: string): Promise<Page> {
  const page = await browser.newPage();
  pipeConsole(page, prefix);
  await page.goto(url, { waitUntil: "load" });
  return page;
}

export interface DevServer {
  /** e.g. http://127.0.0.1:41234/ (always ends with a slash) */
  url: string;
  server: ViteDevServer;
  close(): Promise<void>;
}

/**
 * Starts a Vite dev server on 127.0.0.1 and a free port, rooted at the repository (so
 * `${url}tests/gpu/gpu-harness.html` serves that file), with the project's vite.config.ts.
 * File watching and HMR are off: other files changing during a test must not reload
 * the page. `overrides` is merged over these settings.
 */
export async function startDevServer(overrides: InlineConfig = {}): Promise<DevServer> {
  const base: InlineConfig = {
    root: REPO_ROOT,
    logLevel: "warn",
    clearScreen: false,
    server: { host: "127.0.0.1", port: 0, strictPort: false, hmr: false, watch: null },
  };
  const server = await createServer(mergeConfig(base, overrides));
  await server.listen();
  const address = server.httpServer?.address() as AddressInfo | string | null | undefined;
  if (!address || typeof address === "string") {
    await server.close();
    throw new Error("the Vite dev server did not report a TCP address");
  }
  return {
    url: `http://127.0.0.1:${address.port}/`,
    server,
    close: () => server.close(),
  };
}
