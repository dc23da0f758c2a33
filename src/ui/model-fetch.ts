// Fetch a model folder over HTTP (model.json, then the array files it names) and
// decode it with the same checks the CLI applies to a folder on disk.

import { decodeModel, ModelError, referencedFiles, type EncodedModel } from "../core/model-format.ts";

async function fetchOk(url: string, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (error) {
    throw new ModelError(`could not fetch ${what} (${(error as Error).message})`);
  }
  if (!res.ok) throw new ModelError(`could not fetch ${what}: HTTP ${res.status}`);
  return res;
}

/** The model's files as the CLI would read them from a folder. */
export async function fetchEncodedModel(metaUrl: string): Promise<EncodedModel> {
  const metaJson = await (await fetchOk(metaUrl, "model.json")).text();
  const names = referencedFiles(metaJson, "model.json");
  const files = await Promise.all(
    names.map(async (name) => {
      const res = await fetchOk(new URL(name, metaUrl).href, name);
      return { name, bytes: new Uint8Array(await res.arrayBuffer()) };
    }),
  );
  return { metaJson, files };
}

/** Decode an encoded model (checksums and sizes checked). */
export function decodeEncoded(encoded: EncodedModel, where = "model.json") {
  const byName = new Map(encoded.files.map((f) => [f.name, f.bytes]));
  return decodeModel(encoded.metaJson, (name) => byName.get(name), where);
}
