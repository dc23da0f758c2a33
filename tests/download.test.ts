import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DownloadError, IMDB_MD5, IMDB_URL, downloadArchive } from "../src/node/download.ts";
import { loadImdb } from "../src/node/data.ts";
import { createProgressBar } from "../src/node/progress.ts";
import { makeImdbArchive } from "./helpers/make-archive.ts";

const archive = makeImdbArchive(4, 2);
const md5 = createHash("md5").update(archive).digest("hex");

let server: Server;
let base: string;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "ms-download-"));
  server = createServer((req, res) => {
    if (req.url === "/aclImdb_v1.tar.gz") {
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": archive.byteLength });
      // in a few pieces, as a real server would
      const third = Math.ceil(archive.byteLength / 3);
      res.write(archive.subarray(0, third));
      res.write(archive.subarray(third, 2 * third));
      res.end(archive.subarray(2 * third));
    } else if (req.url === "/short") {
      // promises more bytes than it sends, then hangs up
      res.writeHead(200, { "content-length": archive.byteLength * 2 });
      res.write(archive, () => res.destroy());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(tmp, { recursive: true, force: true });
});

async function downloadError(promise: Promise<unknown>): Promise<DownloadError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DownloadError);
    return err as DownloadError;
  }
  throw new Error("expected a DownloadError");
}

describe("downloadArchive", () => {
  it("defaults to the official archive and its checksum", () => {
    expect(IMDB_URL).toBe("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz");
    expect(IMDB_MD5).toBe("7c2ac02c03563afcf9b574c7e56c153a");
  });

  it("downloads, verifies and renames into place", async () => {
    const dest = path.join(tmp, "ok", "cache", "aclImdb_v1.tar.gz");
    const progress: [number, number | undefined][] = [];
    const result = await downloadArchive({
      url: `${base}/aclImdb_v1.tar.gz`,
      md5,
      dest,
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect(result).toEqual({ path: dest, bytes: archive.byteLength, md5 });
    expect(new Uint8Array(await readFile(dest))).toEqual(archive);
    expect(await readdir(path.dirname(dest))).toEqual(["aclImdb_v1.tar.gz"]);
    expect(progress.at(-1)).toEqual([archive.byteLength, archive.byteLength]);
    // and the result loads
    const data = await loadImdb(dest);
    expect(data.train).toHaveLength(8);
  });

  it("leaves nothing behind on a checksum mismatch", async () => {
    const dir = path.join(tmp, "mismatch");
    const dest = path.join(dir, "aclImdb_v1.tar.gz");
    const wrong = "0".repeat(32);
    const err = await downloadError(downloadArchive({ url: `${base}/aclImdb_v1.tar.gz`, md5: wrong, dest }));
    expect(err.message).toContain("checksum mismatch");
    expect(err.message).toContain(`expected MD5 ${wrong}`);
    expect(err.message).toContain(`got ${md5}`);
    expect(existsSync(dest)).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it("reports HTTP errors", async () => {
    const dir = path.join(tmp, "404");
    const dest = path.join(dir, "aclImdb_v1.tar.gz");
    const err = await downloadError(downloadArchive({ url: `${base}/missing.tar.gz`, md5, dest }));
    expect(err.message).toContain("HTTP 404");
    expect(err.message).toContain(`${base}/missing.tar.gz`);
    expect(await readdir(dir)).toEqual([]);
  });

  it("reports a connection that ends early", async () => {
    const dir = path.join(tmp, "short");
    const dest = path.join(dir, "aclImdb_v1.tar.gz");
    const err = await downloadError(downloadArchive({ url: `${base}/short`, md5, dest }));
    expect(err.message).toMatch(/interrupted|incomplete/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("reports network errors", async () => {
    // a port nothing listens on: open a server, note its port, close it
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dir = path.join(tmp, "refused");
    const err = await downloadError(
      downloadArchive({ url: `http://127.0.0.1:${port}/aclImdb_v1.tar.gz`, md5, dest: path.join(dir, "a.tar.gz") }),
    );
    expect(err.message).toContain("could not download");
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("createProgressBar", () => {
  function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
    const written: string[] = [];
    const stream = { isTTY, columns: 80, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream;
    return { stream, written };
  }

  it("draws a bar on a terminal", () => {
    const { stream, written } = fakeStream(true);
    const bar = createProgressBar("download", 2_000_000, { unit: "bytes", stream, intervalMs: 0 });
    bar.update(1_000_000);
    bar.done();
    bar.done();
    const out = written.join("");
    expect(out).toContain("download [");
    expect(out).toContain(" 50% 1.0 MB / 2.0 MB");
    expect(out.endsWith("\n")).toBe(true);
    expect(out.split("\n")).toHaveLength(2);
  });

  it("is silent when not on a terminal", () => {
    const { stream, written } = fakeStream(false);
    const bar = createProgressBar("x", 10, { stream });
    bar.update(5);
    bar.done();
    expect(written).toEqual([]);
  });

  it("works without a total", () => {
    const { stream, written } = fakeStream(true);
    const bar = createProgressBar("reading", undefined, { stream, intervalMs: 0 });
    bar.update(1234);
    bar.done();
    expect(written.join("")).toContain("reading 1,234");
  });

  it("accepts a total that is known only later", () => {
    const { stream, written } = fakeStream(true);
    const bar = createProgressBar("download", undefined, { unit: "bytes", stream, intervalMs: 0 });
    bar.update(500_000, 1_000_000);
    bar.done();
    expect(written.join("")).toContain(" 50% 500.0 kB / 1.0 MB");
  });
});
