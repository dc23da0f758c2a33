// scripts/serve.js (`npm start`): what it serves, and what it refuses.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, SERVE, startServe, type Served } from "../e2e/serve-helper.ts";

/** A raw GET (no URL normalisation, unlike fetch), for path traversal attempts. */
function rawGet(url: string, path: string, method = "GET"): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (r) => {
      let body = "";
      r.on("data", (d) => (body += String(d)));
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on("error", rej);
    req.end();
  });
}

describe("scripts/serve.js", () => {
  let dir: string;
  let server: Served;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ms-serve-"));
    mkdirSync(join(dir, "app", "assets"), { recursive: true });
    writeFileSync(join(dir, "app", "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(dir, "app", "assets", "index-abc.js"), "console.log(1)");
    mkdirSync(join(dir, "model"));
    writeFileSync(
      join(dir, "model", "model.json"),
      JSON.stringify({ arrays: { weights: { file: "weights.1234.f16" }, featureScale: { file: "feature-scale.5678.f16" } } }),
    );
    writeFileSync(join(dir, "model", "weights.1234.f16"), new Uint8Array([1, 2, 3, 4]));
    writeFileSync(join(dir, "model", "feature-scale.5678.f16"), new Uint8Array([5, 6]));
    writeFileSync(join(dir, "model", "secret.txt"), "not part of the model");
    mkdirSync(join(dir, "records"));
    writeFileSync(join(dir, "records", "sweep.json"), '{"kind":"moviesentiments-sweep","runs":[]}');
    writeFileSync(join(dir, "aclImdb_v1.tar.gz"), new Uint8Array([0x1f, 0x8b, 8, 0]));
    server = await startServe(
      ["--dir", join(dir, "app"), "--model", join(dir, "model"), "--records", join(dir, "records")],
      { ...process.env, MOVIESENTIMENTS_DATA: join(dir, "aclImdb_v1.tar.gz") },
    );
  });

  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints its address on 127.0.0.1", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.output()).toContain("offering");
  });

  it("serves the app, with types and caching", async () => {
    const index = await fetch(server.url);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/text\/html/);
    const js = await fetch(`${server.url}assets/index-abc.js`);
    expect(js.headers.get("content-type")).toMatch(/text\/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
  });

  it("answers the asset manifest from what it can serve", async () => {
    const m = await (await fetch(`${server.url}app-assets.json`)).json();
    expect(m).toEqual({
      model: "model/model.json",
      sweep: "records/sweep.json",
      archive: { url: "local-data/aclImdb_v1.tar.gz", name: "aclImdb_v1.tar.gz", bytes: 4 },
    });
  });

  it("serves model.json, the arrays it names, the records and the offered archive", async () => {
    expect(new Uint8Array(await (await fetch(`${server.url}model/weights.1234.f16`)).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect((await fetch(`${server.url}model/model.json`)).status).toBe(200);
    expect((await fetch(`${server.url}records/sweep.json`)).status).toBe(200);
    const a = await fetch(`${server.url}local-data/aclImdb_v1.tar.gz`);
    expect(a.headers.get("content-length")).toBe("4");
  });

  it.each([
    "/model/secret.txt",
    "/model/..%2F..%2Fetc%2Fpasswd",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/local-data/other.tar.gz",
    "/nope.html",
  ])("refuses %s", async (path) => {
    expect((await rawGet(server.url, path)).status).toBe(404);
  });

  it("allows only GET and HEAD", async () => {
    expect((await rawGet(server.url, "/", "POST")).status).toBe(405);
    expect((await rawGet(server.url, "/", "HEAD")).status).toBe(200);
  });

  it.each([
    [["--port", "http"], /--port must be a whole number/],
    [["--dir", "/nonexistent-ms-dir"], /has no index.html/],
    [["--bogus"], /Unknown option/],
  ])("exits with a message for %j", (args, message) => {
    const r = spawnSync(process.execPath, [SERVE, ...args], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
