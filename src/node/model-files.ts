// Model folders on disk. Saving is atomic: the array files are written under new,
// content-derived names first, then model.json is replaced by a rename (the commit
// point), and only then are files no longer referenced removed. A crash at any moment
// leaves either the old model or the new one, never a mix.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { decodeModel, encodeModel, ModelError, MODEL_META_FILE, referencedFiles, type SentimentModel } from "../core/model-format.ts";

/** The shipped model: `model/` at the package root (two folders above dist/cli/). */
export function defaultModelDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ["../..", "..", "../../.."]) {
    const candidate = resolve(here, up, "model");
    if (existsSync(join(candidate, MODEL_META_FILE))) return candidate;
  }
  return resolve(here, "../../model");
}

function writeFileDurably(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function saveModelDir(dir: string, model: SentimentModel): void {
  const encoded = encodeModel(model);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new ModelError(`cannot create the model folder ${dir}: ${(e as Error).message}`);
  }
  for (const f of encoded.files) {
    const path = join(dir, f.name);
    if (!existsSync(path) || !readFileSync(path).equals(f.bytes)) writeFileDurably(path, f.bytes);
  }
  writeFileDurably(join(dir, MODEL_META_FILE), encoded.metaJson);
  const keep = new Set(encoded.files.map((f) => f.name));
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".f16") && !keep.has(name)) rmSync(join(dir, name), { force: true });
  }
}

/** Node's native CRC-32 (Node 20.15 and later), else the portable one in model-format. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function loadModelDir(dir: string): SentimentModel {
  const metaPath = join(dir, MODEL_META_FILE);
  if (!existsSync(dir)) throw new ModelError(`no model folder at ${dir}: train one with \`moviesentiments train --out ${dir}\` or pass --model DIR`);
  if (!existsSync(metaPath)) throw new ModelError(`${metaPath} is missing: ${dir} is not a model folder (train one with \`moviesentiments train\`)`);
  const metaJson = readFileSync(metaPath, "utf8");
  const names = new Set(referencedFiles(metaJson, metaPath));
  return decodeModel(
    metaJson,
    (name) => {
      if (!names.has(name)) return undefined;
      const p = join(dir, name);
      if (!existsSync(p)) return undefined;
      const b = readFileSync(p); // a Buffer is a Uint8Array: read in place, not copied
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    metaPath,
    nativeCrc32,
  );
}
