// Start scripts/serve.js (what `npm start` runs) on a free port, for the tests.
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const SERVE = join(ROOT, "scripts", "serve.js");

export interface Served {
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
  child: ChildProcess;
  output: () => string;
  close(): void;
}

/** Start serve.js with `args` (plus --port 0); resolves once it prints its address. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, [SERVE, "--port", "0", ...args], { cwd: ROOT, env });
  let out = "";
  return new Promise((resolvePromise, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) resolvePromise({ url: m[1]!, child, output: () => out, close: () => void child.kill() });
    });
    child.stderr.on("data", (d: Buffer) => (out += String(d)));
    child.on("exit", (code) => reject(new Error(`serve.js exited with ${code}: ${out}`)));
  });
}
