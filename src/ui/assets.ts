// Where the app finds its records: app-assets.json, written by the build (and answered
// by `npm start`), names the shipped model, the sweep records and, when the server was
// given one, an IMDB archive the app may offer to train on.

export interface AssetManifest {
  /** model.json of the shipped model, relative to the page; null when none was built in */
  model: string | null;
  /** the sweep records; null when none */
  sweep: string | null;
  /** an archive the server offers; null when none */
  archive: { url: string; name: string; bytes: number } | null;
}

export const MANIFEST_FILE = "app-assets.json";

/** When the manifest itself is missing (a plain static copy of the build), try the usual places. */
export const FALLBACK_MANIFEST: AssetManifest = { model: "model/model.json", sweep: "records/sweep.json", archive: null };

function relativePath(x: unknown): string | null {
  return typeof x === "string" && /^[\w./-]+$/.test(x) && !x.startsWith("/") && !x.includes("..") ? x : null;
}

export function parseAssetManifest(json: string): AssetManifest {
  let m: unknown;
  try {
    m = JSON.parse(json);
  } catch {
    return FALLBACK_MANIFEST;
  }
  if (!m || typeof m !== "object") return FALLBACK_MANIFEST;
  const o = m as Record<string, unknown>;
  const a = o.archive as Record<string, unknown> | null | undefined;
  const archiveUrl = a && typeof a === "object" ? relativePath(a.url) : null;
  return {
    model: relativePath(o.model),
    sweep: relativePath(o.sweep),
    archive:
      archiveUrl && a
        ? { url: archiveUrl, name: typeof a.name === "string" ? a.name : "aclImdb_v1.tar.gz", bytes: typeof a.bytes === "number" ? a.bytes : 0 }
        : null,
  };
}
