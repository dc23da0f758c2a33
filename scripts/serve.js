#!/usr/bin/env node
// `npm start`: serve the production build of the web app (dist/app) on 127.0.0.1, with
// the shipped model and records, and optionally a local aclImdb_v1.tar.gz the app can
// offer to train on. Builds the app first if dist/app is missing.
//
//   node scripts/serve.js [--port N] [--host H] [--dir DIR] [--model DIR] [--records DIR] [--data FILE]

import { createServer } from "node:http";
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SAFE_NAME = /^[\w.-]+$/;
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
  ".f16": "application/octet-stream",
  ".gz": "application/gzip",
  ".map": "application/json; charset=utf-8",
};

const HELP = `Usage: npm start -- [options]   (or: node scripts/serve.js [options])

Serves the MovieSentiments web app on http://127.0.0.1:4173/.

  --port N        port (default 4173; 0 picks a free one)
  --host H        address to listen on (default 127.0.0.1)
  --dir DIR       the built app (default dist/app; built with Vite if missing)
  --model DIR     model folder to serve instead of the one built in (model.json + .f16 files)
  --records DIR   records folder to serve instead (sweep.json)
  --data FILE     offer this aclImdb_v1.tar.gz to the app for training in the browser
                  (default: the MOVIESENTIMENTS_DATA environment variable)
  -h, --help      this help`;

function fail(message) {
  console.error(`moviesentiments serve: ${message}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string", default: "4173" },
      host: { type: "string", default: "127.0.0.1" },
      dir: { type: "string" },
      model: { type: "string" },
      records: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  fail(`${e.message.split("\n")[0]} (see --help)`);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a whole number from 0 to 65535 (got "${args.port}")`);

const appDir = resolve(args.dir ?? join(ROOT, "dist", "app"));
if (!existsSync(join(appDir, "index.html"))) {
  if (args.dir) fail(`${appDir} has no index.html: build the app there first (npx vite build --outDir ${args.dir})`);
  console.log(`no build at ${appDir}: building the app with Vite…`);
  try {
    const { build } = await import("vite");
    await build({ root: ROOT, configFile: join(ROOT, "vite.config.ts"), logLevel: "warn" });
  } catch (e) {
    fail(`could not build the app (${e.message}); run \`npm run build\` and try again`);
  }
  if (!existsSync(join(appDir, "index.html"))) fail(`the build did not produce ${appDir}/index.html; run \`npm run build\``);
}

/** The first folder holding `probe`: an explicit option, else the build's copy, else the package's own. */
function folderFor(option, sub, probe) {
  if (option) {
    const dir = resolve(option);
    if (!existsSync(join(dir, probe))) fail(`${join(dir, probe)} does not exist`);
    return dir;
  }
  for (const dir of [join(appDir, sub), join(ROOT, sub)]) if (existsSync(join(dir, probe))) return dir;
  return null;
}

const modelDir = folderFor(args.model, "model", "model.json");
const recordsDir = folderFor(args.records, "records", "sweep.json");
const dataPath = args.data ?? process.env.MOVIESENTIMENTS_DATA;
let archive = null;
if (dataPath) {
  const p = resolve(dataPath);
  if (!existsSync(p) || !statSync(p).isFile()) {
    if (args.data) fail(`--data ${dataPath}: no such file`);
    console.warn(`MOVIESENTIMENTS_DATA=${dataPath} is not a file; not offering an archive`);
  } else archive = { path: p, name: basename(p), bytes: statSync(p).size };
}

/** model.json and the array files it names (only these are served from the model folder). */
function modelFiles() {
  if (!modelDir) return new Set();
  try {
    const meta = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8"));
    const names = Object.values(meta.arrays ?? {}).map((a) => a && a.file).filter((f) => typeof f === "string" && SAFE_NAME.test(f));
    return new Set(["model.json", ...names]);
  } catch {
    return new Set(["model.json"]);
  }
}

function manifest() {
  return {
    model: modelDir ? "model/model.json" : null,
    sweep: recordsDir ? "records/sweep.json" : null,
    archive: archive ? { url: `local-data/${encodeURIComponent(archive.name)}`, name: archive.name, bytes: archive.bytes } : null,
  };
}

function sendFile(req, res, file, cache) {
  let st;
  try {
    st = statSync(file);
  } catch {
    return notFound(res);
  }
  if (!st.isFile()) return notFound(res);
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": st.size,
    "Cache-Control": cache,
    "X-Content-Type-Options": "nosniff",
  });
  if (req.method === "HEAD") return res.end();
  createReadStream(file).pipe(res);
}

function notFound(res) {
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end("not found\n");
}

const realAppDir = realpathSync(appDir);

const server = createServer((req, res) => {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" });
    return res.end();
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  } catch {
    res.writeHead(400);
    return res.end();
  }
  if (path === "/app-assets.json") {
    const body = JSON.stringify(manifest());
    res.writeHead(200, { "Content-Type": TYPES[".json"], "Cache-Control": "no-cache" });
    return res.end(req.method === "HEAD" ? undefined : body);
  }
  const m = /^\/(model|records|local-data)\/([^/]+)$/.exec(path);
  if (m && SAFE_NAME.test(m[2])) {
    const [, folder, name] = m;
    if (folder === "model" && modelDir && modelFiles().has(name)) return sendFile(req, res, join(modelDir, name), "no-cache");
    if (folder === "records" && recordsDir && name.endsWith(".json")) return sendFile(req, res, join(recordsDir, name), "no-cache");
    if (folder === "local-data" && archive && name === archive.name) return sendFile(req, res, archive.path, "no-cache");
    return notFound(res);
  }
  const rel = path === "/" ? "index.html" : path.slice(1);
  const file = resolve(appDir, rel);
  if (file !== realAppDir && !file.startsWith(realAppDir + sep) && !file.startsWith(appDir + sep)) return notFound(res);
  const cache = rel.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
  return sendFile(req, res, file, cache);
});

server.on("error", (e) => {
  if (e.code === "EADDRINUSE") fail(`port ${port} on ${args.host} is in use: try \`npm start -- --port ${port + 1}\``);
  fail(e.message);
});

server.listen(port, args.host, () => {
  const address = server.address();
  const shown = args.host.includes(":") ? `[${args.host}]` : args.host;
  const lines = [
    `  app:     ${appDir}`,
    `  model:   ${modelDir ?? "none (the app runs without a shipped model)"}`,
    `  records: ${recordsDir ?? "none"}`,
    ...(archive ? [`  offering ${archive.path} for training in the browser`] : []),
    "Press Ctrl+C to stop.",
  ];
  // one write, so a reader that sees the address sees the rest too
  process.stdout.write(`MovieSentiments is running at http://${shown}:${address.port}/\n${lines.join("\n")}\n`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
