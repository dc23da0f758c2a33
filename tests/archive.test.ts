import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ArchiveError, readAllTarGz, readTarGz, type TarEntry } from "../src/core/archive.ts";
import { mulberry32 } from "../src/core/random.ts";
import { makeTar, makeTarGz, streamOf, type TarFile } from "./helpers/make-archive.ts";

const decoder = new TextDecoder();
const text = (e: TarEntry): string => decoder.decode(e.data);

async function readAll(bytes: Uint8Array, chunkSize?: number): Promise<TarEntry[]> {
  return readAllTarGz(streamOf(bytes, chunkSize));
}

async function archiveError(bytes: Uint8Array, chunkSize?: number): Promise<ArchiveError> {
  try {
    await readAll(bytes, chunkSize);
  } catch (err) {
    expect(err).toBeInstanceOf(ArchiveError);
    return err as ArchiveError;
  }
  throw new Error("expected an ArchiveError");
}

const binary = new Uint8Array(2000).map((_, i) => (i * 37) & 0xff);
/** Bytes that gzip cannot shrink much, to make archives span many chunks. */
const noise = (n: number): Uint8Array => {
  const rng = mulberry32(12345);
  return new Uint8Array(n).map(() => Math.floor(rng() * 256));
};
const sample: TarFile[] = [
  { path: "top", type: "dir" },
  { path: "top/a.txt", text: "hello world" },
  { path: "top/empty.txt", text: "" },
  { path: "top/exactly-512.bin", text: new Uint8Array(512).fill(7) },
  { path: "top/binary.bin", text: binary },
  { path: "top/link", type: "symlink", linkTo: "a.txt" },
  { path: "top/ünïcødé – review.txt", text: "Ça m'a plu ✓" },
];

describe("readTarGz", () => {
  it("round-trips regular files and skips directories and links", async () => {
    const entries = await readAll(makeTarGz(sample));
    expect(entries.map((e) => e.path)).toEqual([
      "top/a.txt",
      "top/empty.txt",
      "top/exactly-512.bin",
      "top/binary.bin",
      "top/ünïcødé – review.txt",
    ]);
    expect(text(entries[0]!)).toBe("hello world");
    expect(entries[1]!.data.byteLength).toBe(0);
    expect(entries[2]!.data).toEqual(new Uint8Array(512).fill(7));
    expect(entries[3]!.data).toEqual(binary);
    expect(text(entries[4]!)).toBe("Ça m'a plu ✓");
  });

  it("gives the same result whatever the chunk sizes", async () => {
    const bytes = makeTarGz(sample);
    const reference = await readAll(bytes);
    for (const chunkSize of [1, 7, 511, 513, 4096]) {
      expect(await readAll(bytes, chunkSize)).toEqual(reference);
    }
  });

  it("reads archives written by the system tar (GNU or bsdtar) when available", async (ctx) => {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(path.join(tmpdir(), "ms-tar-"));
      const long = `${"d".repeat(120)}/${"f".repeat(90)}.txt`;
      mkdirSync(path.join(dir, "src", "d".repeat(120)), { recursive: true });
      writeFileSync(path.join(dir, "src", long), "long one");
      writeFileSync(path.join(dir, "src", "short.txt"), "short one");
      execFileSync("tar", ["-czf", path.join(dir, "out.tar.gz"), "-C", path.join(dir, "src"), "."]);
      const bytes = new Uint8Array(readFileSync(path.join(dir, "out.tar.gz")));
      const entries = await readAll(bytes);
      const byPath = new Map(entries.map((e) => [e.path.replace(/^\.\//, ""), text(e)]));
      expect(byPath.get(long)).toBe("long one");
      expect(byPath.get("short.txt")).toBe("short one");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") ctx.skip("no system tar to compare with");
      throw err;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("long names", () => {
    const dirPath = `aclImdb/${"sub".repeat(40)}`; // 127 bytes
    const viaPrefix = `${dirPath}/123_9.txt`; // > 100 bytes, splits into prefix + name
    const noSplit = `aclImdb/${"x".repeat(150)}.txt`; // the last component alone is > 100 bytes
    const deep = `${"a".repeat(60)}/${"b".repeat(60)}/${"c".repeat(60)}/${"d".repeat(60)}/file.txt`; // > 255

    it("uses the ustar prefix field", async () => {
      const tar = makeTar([{ path: viaPrefix, text: "prefix" }], { longNames: "ustar" });
      // the name field itself holds only the last part
      expect(decoder.decode(tar.subarray(0, 9))).toBe("123_9.txt");
      const entries = await readAll(gzipSync(tar));
      expect(entries.map((e) => [e.path, text(e)])).toEqual([[viaPrefix, "prefix"]]);
    });

    it("reads GNU long-name (L) entries", async () => {
      const files = [
        { path: viaPrefix, text: "one" },
        { path: noSplit, text: "two" },
        { path: deep, text: "three" },
        { path: "short.txt", text: "four" },
      ];
      const tar = makeTar(files, { longNames: "gnu" });
      expect(tar[156]).toBe("L".charCodeAt(0));
      const entries = await readAll(gzipSync(tar));
      expect(entries.map((e) => [e.path, text(e)])).toEqual(files.map((f) => [f.path, f.text]));
    });

    it("reads pax extended headers with path=", async () => {
      const unicode = `aclImdb/${"é".repeat(70)}/review.txt`;
      const files = [
        { path: noSplit, text: "one" },
        { path: unicode, text: "two" },
        { path: "short.txt", text: "three" },
      ];
      const tar = makeTar(files, { longNames: "pax" });
      expect(tar[156]).toBe("x".charCodeAt(0));
      const entries = await readAll(gzipSync(tar));
      expect(entries.map((e) => [e.path, text(e)])).toEqual(files.map((f) => [f.path, f.text]));
    });

    it("falls back to GNU long names when the prefix cannot hold the path", async () => {
      const files = [
        { path: viaPrefix, text: "ustar" },
        { path: noSplit, text: "gnu" },
      ];
      const entries = await readAll(makeTarGz(files));
      expect(entries.map((e) => [e.path, text(e)])).toEqual(files.map((f) => [f.path, f.text]));
    });
  });

  it("skips unwanted entries without returning them, and reports progress", async () => {
    const files: TarFile[] = [
      { path: "aclImdb/train/pos/1_9.txt", text: "keep me" },
      { path: "aclImdb/train/unsup/1_0.txt", text: noise(5000) },
      { path: "aclImdb/train/labeledBow.feat", text: "1 2:3" },
      { path: "aclImdb/test/neg/2_1.txt", text: "keep me too" },
    ];
    const bytes = makeTarGz(files);
    const seen: [string, number][] = [];
    const progress: number[] = [];
    const entries: TarEntry[] = [];
    for await (const entry of readTarGz(streamOf(bytes, 100), {
      filter: (p, size) => {
        seen.push([p, size]);
        return p.endsWith(".txt") && !p.includes("/unsup/");
      },
      onProgress: (n) => progress.push(n),
    })) {
      entries.push(entry);
    }
    expect(entries.map((e) => text(e))).toEqual(["keep me", "keep me too"]);
    expect(seen).toEqual(files.map((f) => [f.path, (f.text as string | Uint8Array).length]));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe(bytes.byteLength);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
  });

  it("accepts a progress callback as the second argument", async () => {
    const bytes = makeTarGz(sample);
    let last = 0;
    for await (const _ of readTarGz(streamOf(bytes), (n) => (last = n))) void _;
    expect(last).toBe(bytes.byteLength);
  });

  it("accepts an uncompressed tar archive", async () => {
    const entries = await readAll(makeTar(sample));
    expect(entries.map((e) => e.path)).toEqual((await readAll(makeTarGz(sample))).map((e) => e.path));
  });

  it("stops reading the input when the consumer stops early", async () => {
    const bytes = makeTarGz([...sample, { path: "top/noise.bin", text: randomBytes(12_000_000) }]);
    let cancelled = false;
    let pos = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pos >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(pos, pos + 16384));
        pos += 16384;
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const entry of readTarGz(stream)) {
      expect(entry.path).toBe("top/a.txt");
      break;
    }
    expect(cancelled).toBe(true);
    expect(pos).toBeLessThan(bytes.byteLength / 2);
  });

  describe("errors", () => {
    it("reports a truncated gzip stream", async () => {
      const big = makeTarGz([{ path: "big.bin", text: new Uint8Array(300_000).map((_, i) => (i * 7919) % 251) }]);
      for (const cut of [Math.floor(big.byteLength / 2), big.byteLength - 4]) {
        const err = await archiveError(big.subarray(0, cut), 1000);
        expect(err.code).toBe("truncated");
        expect(err.message).toMatch(/^the archive is truncated \(read 0\.\d MB.*\); download it again$/);
      }
    });

    it("reports tar data that ends inside an entry or a header", async () => {
      const tar = makeTar([{ path: "a.txt", text: "a".repeat(3000) }]);
      const midEntry = await archiveError(gzipSync(tar.subarray(0, 1500)));
      expect(midEntry.code).toBe("truncated");
      expect(midEntry.message).toContain('inside the entry "a.txt"');
      expect(midEntry.message).toContain("download it again");
      const midHeader = await archiveError(gzipSync(tar.subarray(0, 200)));
      expect(midHeader.code).toBe("truncated");
      expect(midHeader.message).toContain("tar header");
    });

    it("reports corrupt gzip data", async () => {
      const bytes = makeTarGz(sample).slice();
      for (let i = 20; i < 60; i++) bytes[i] = bytes[i]! ^ 0x5a;
      const err = await archiveError(bytes);
      expect(["corrupt", "truncated", "not-tar"]).toContain(err.code);
      expect(err.message).toContain("download it again");
    });

    it("recognises an empty file", async () => {
      const err = await archiveError(new Uint8Array(0));
      expect(err.code).toBe("empty");
      expect(err.message).toMatch(/empty file/);
    });

    it("recognises a zip file", async () => {
      const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0, ...new Array(40).fill(1)]);
      const err = await archiveError(zip);
      expect(err.code).toBe("not-gzip");
      expect(err.message).toMatch(/this is a zip file/);
      expect(err.message).toMatch(/aclImdb_v1\.tar\.gz/);
    });

    it("recognises random bytes and HTML pages as not gzip", async () => {
      const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
      random[0] = 0x42;
      const err = await archiveError(random);
      expect(err.code).toBe("not-gzip");
      expect(err.message).toContain("42");
      expect(err.message).toContain("1f 8b");

      const html = new TextEncoder().encode("<!DOCTYPE html><html><body>404 Not Found</body></html>");
      const htmlErr = await archiveError(html);
      expect(htmlErr.code).toBe("not-gzip");
      expect(htmlErr.message).toMatch(/HTML/);

      const one = await archiveError(new Uint8Array([0x1f]));
      expect(one.code).toBe("not-gzip");
    });

    it("recognises gzip data that is not a tar archive", async () => {
      const err = await archiveError(gzipSync(new TextEncoder().encode("just some text\n".repeat(100))));
      expect(err.code).toBe("not-tar");
      expect(err.message).toMatch(/does not contain a tar archive/);
      const empty = await archiveError(gzipSync(new Uint8Array(0)));
      expect(empty.code).toBe("not-tar");
    });

    it("passes errors of the input stream through unchanged", async () => {
      const bytes = makeTarGz(sample);
      let calls = 0;
      const failing = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (calls++ === 0) controller.enqueue(bytes.slice(0, 600));
          else controller.error(new Error("disk on fire"));
        },
      });
      await expect(readAllTarGz(failing)).rejects.toThrow("disk on fire");
    });
  });
});
