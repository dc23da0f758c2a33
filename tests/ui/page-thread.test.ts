// The app keeps its page thread free for rendering: scoring and training run in workers.
// This checks it from the source itself: following every value import (not `import type`,
// which is erased) from the page's entry point must never reach the predictor or either
// training backend. (The page does import the pipeline's settings checks and constants,
// so the tokenizer's module is loaded there; it is the predictor that would run it.) Workers are started with `new Worker(new URL(...))`, not
// imported, so their code stays out of this graph unless someone imports it directly.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/serve-helper.ts";

const WORKER_ONLY = ["src/core/predict.ts", "src/cpu-reference/backend.ts", "src/shaders/webgpu-backend.ts"];

/** Relative value imports of one module (static and dynamic), resolved to paths under ROOT. */
export function valueImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const found: string[] = [];
  const statics = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?["'](\.[^"']+)["']/gm;
  const dynamics = /\bimport\(\s*["'](\.[^"']+)["']\s*\)/g;
  for (const re of [statics, dynamics]) {
    for (const m of source.matchAll(re)) found.push(resolve(dirname(file), m[1]!));
  }
  return found;
}

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [resolve(ROOT, entry)];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const next of valueImports(file)) if (next.endsWith(".ts")) stack.push(next);
  }
  return new Set([...seen].map((f) => relative(ROOT, f)));
}

describe("the page thread", () => {
  it("reads imports the way the check needs (type-only imports skipped, dynamic ones kept)", () => {
    const file = join(ROOT, "src/ui/train-worker.ts");
    const imports = valueImports(file).map((f) => relative(ROOT, f));
    expect(imports).toContain("src/shaders/webgpu-backend.ts");
    const page = valueImports(join(ROOT, "src/ui/pages/predict-page.ts")).map((f) => relative(ROOT, f));
    expect(page).toContain("src/ui/input-limits.ts");
    expect(page).not.toContain("src/core/predict.ts"); // imported as a type only
  });

  it("reaches the page modules from the entry point and none of the scoring or training code", () => {
    const graph = reachable("src/ui/main.ts");
    expect(graph.has("src/ui/pages/predict-page.ts")).toBe(true);
    expect(graph.has("src/ui/pages/training-page.ts")).toBe(true);
    expect(WORKER_ONLY.filter((f) => graph.has(f))).toEqual([]);
  });

  it("would notice if the predict worker's code were imported by the page", () => {
    const worker = reachable("src/ui/predict-worker.ts");
    expect(worker.has("src/core/predict.ts")).toBe(true);
    const trainer = reachable("src/ui/train-worker.ts");
    expect(trainer.has("src/cpu-reference/backend.ts") && trainer.has("src/shaders/webgpu-backend.ts")).toBe(true);
  });
});
