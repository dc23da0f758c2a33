// A Vite plugin that puts the shipped records next to the app: the build copies the
// model folder (model.json and the array files it names) and records/sweep.json into
// the output and writes app-assets.json saying which exist; the dev server serves the
// same paths from the repository. Register it in vite.config.ts:
//   plugins: [moviesentimentsAssets()]

import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Plugin } from "vite";
import type { AssetManifest } from "./assets.ts";

export interface AssetsPluginOptions {
  /** the model folder (default: $MOVIESENTIMENTS_MODEL_DIR, else <root>/model) */
  modelDir?: string;
  /** the records folder (default: $MOVIESENTIMENTS_RECORDS_DIR, else <root>/records) */
  recordsDir?: string;
  /** dev server only: an archive to offer (default: $MOVIESENTIMENTS_DATA) */
  archive?: string;
}

const SAFE_NAME = /^[\w.-]+$/;

/** The files of a model folder: model.json and the arrays it names; null when there is no model.json. */
export function modelFolderFiles(dir: string): string[] | null {
  const meta = join(dir, "model.json");
  if (!existsSync(meta)) return null;
  const parsed = JSON.parse(readFileSync(meta, "utf8")) as { arrays?: Record<string, { file?: unknown }> };
  const names = Object.values(parsed.arrays ?? {})
    .map((a) => a.file)
    .filter((f): f is string => typeof f === "string" && SAFE_NAME.test(f));
  for (const n of names) if (!existsSync(join(dir, n))) throw new Error(`${meta} names ${n}, which is missing from ${dir}`);
  return ["model.json", ...names];
}

export function moviesentimentsAssets(options: AssetsPluginOptions = {}): Plugin {
  let root = process.cwd();
  const dirs = () => ({
    model: resolve(root, options.modelDir ?? process.env.MOVIESENTIMENTS_MODEL_DIR ?? "model"),
    records: resolve(root, options.recordsDir ?? process.env.MOVIESENTIMENTS_RECORDS_DIR ?? "records"),
  });
  const sweepFile = () => join(dirs().records, "sweep.json");
  const archive = () => {
    const a = options.archive ?? process.env.MOVIESENTIMENTS_DATA;
    return a && existsSync(a) && statSync(a).isFile() ? resolve(a) : null;
  };
  const manifest = (withArchive: boolean): AssetManifest => {
    const a = withArchive ? archive() : null;
    return {
      model: modelFolderFiles(dirs().model) ? "model/model.json" : null,
      sweep: existsSync(sweepFile()) ? "records/sweep.json" : null,
      archive: a ? { url: `local-data/${basename(a)}`, name: basename(a), bytes: statSync(a).size } : null,
    };
  };

  return {
    name: "moviesentiments-assets",
    configResolved(config) {
      root = config.root;
    },
    generateBundle() {
      const files = modelFolderFiles(dirs().model);
      for (const name of files ?? []) {
        this.emitFile({ type: "asset", fileName: `model/${name}`, source: readFileSync(join(dirs().model, name)) });
      }
      if (existsSync(sweepFile())) this.emitFile({ type: "asset", fileName: "records/sweep.json", source: readFileSync(sweepFile()) });
      this.emitFile({ type: "asset", fileName: "app-assets.json", source: JSON.stringify(manifest(false), null, 1) + "\n" });
      if (!files) this.warn(`no model at ${dirs().model}/model.json: the app is built without a shipped model`);
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? "").split("?")[0] ?? "");
        const send = (file: string, type: string) => {
          res.setHeader("Content-Type", type);
          res.setHeader("Content-Length", statSync(file).size);
          createReadStream(file).pipe(res);
        };
        if (path === "/app-assets.json") {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify(manifest(true)));
          return;
        }
        const m = /^\/(model|records|local-data)\/([^/]+)$/.exec(path);
        if (!m || !SAFE_NAME.test(m[2]!)) return next();
        const [, folder, name] = m as unknown as [string, string, string];
        if (folder === "model" && modelFolderFiles(dirs().model)?.includes(name))
          return send(join(dirs().model, name), name.endsWith(".json") ? "application/json" : "application/octet-stream");
        if (folder === "records" && name.endsWith(".json") && existsSync(join(dirs().records, name)))
          return send(join(dirs().records, name), "application/json");
        const a = archive();
        if (folder === "local-data" && a && basename(a) === name) return send(a, "application/gzip");
        next();
      });
    },
  };
}
