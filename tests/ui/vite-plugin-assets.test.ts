import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel, type SentimentModel } from "../../src/core/model-format.ts";
import { DEFAULT_FEATURES } from "../../src/core/features.ts";
import { DEFAULT_TRAIN } from "../../src/core/train.ts";
import { modelFolderFiles, moviesentimentsAssets } from "../../src/ui/vite-plugin-assets.ts";

let dir: string;

function tinyModel(): SentimentModel {
  const d = 1 << 10;
  return {
    features: { ...DEFAULT_FEATURES, hashBits: 10 },
    featureWeights: { kind: "nb", scale: new Float32Array(d).fill(1) },
    weights: new Float32Array(d),
    bias: 0,
    training: { config: DEFAULT_TRAIN, validationFraction: 0, bestEpoch: 1, stoppedEarly: false, refit: false, backend: { kind: "cpu", deviceName: "cpu" }, nTrain: 1, seconds: 0 },
    metrics: {},
    history: { selection: [], final: [] },
    createdAt: "2025-01-01T00:00:00Z",
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ms-plugin-"));
  const enc = encodeModel(tinyModel());
  mkdirSync(join(dir, "model"));
  writeFileSync(join(dir, "model", "model.json"), enc.metaJson);
  for (const f of enc.files) writeFileSync(join(dir, "model", f.name), f.bytes);
  writeFileSync(join(dir, "model", "old.deadbeef.f16"), "stale");
  mkdirSync(join(dir, "records"));
  writeFileSync(join(dir, "records", "sweep.json"), "{}");
  mkdirSync(join(dir, "empty"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Emitted = { fileName: string; source: string | Uint8Array };

function build(options: Parameters<typeof moviesentimentsAssets>[0]): { emitted: Emitted[]; warnings: string[] } {
  const plugin = moviesentimentsAssets(options);
  (plugin.configResolved as (c: { root: string }) => void)({ root: dir });
  const emitted: Emitted[] = [];
  const warnings: string[] = [];
  const ctx = { emitFile: (f: Emitted) => emitted.push(f), warn: (w: string) => warnings.push(w) };
  (plugin.generateBundle as unknown as (this: typeof ctx) => void).call(ctx);
  return { emitted, warnings };
}

describe("the assets plugin", () => {
  it("lists model.json and the arrays it names, not other files", () => {
    const files = modelFolderFiles(join(dir, "model"))!;
    expect(files[0]).toBe("model.json");
    expect(files).toHaveLength(3);
    expect(files.some((f) => f.startsWith("old."))).toBe(false);
    expect(modelFolderFiles(join(dir, "empty"))).toBeNull();
  });

  it("copies the model and the sweep into the build and writes the manifest", () => {
    const { emitted, warnings } = build({ modelDir: "model", recordsDir: "records" });
    const names = emitted.map((e) => e.fileName).sort();
    expect(names).toEqual(["app-assets.json", "model/model.json", ...modelFolderFiles(join(dir, "model"))!.slice(1).map((f) => `model/${f}`), "records/sweep.json"].sort());
    const manifest = JSON.parse(String(emitted.find((e) => e.fileName === "app-assets.json")!.source));
    expect(manifest).toEqual({ model: "model/model.json", sweep: "records/sweep.json", archive: null });
    expect(warnings).toEqual([]);
  });

  it("builds without a model, saying so", () => {
    const { emitted, warnings } = build({ modelDir: "empty", recordsDir: "empty" });
    expect(emitted.map((e) => e.fileName)).toEqual(["app-assets.json"]);
    expect(JSON.parse(String(emitted[0]!.source))).toEqual({ model: null, sweep: null, archive: null });
    expect(warnings[0]).toMatch(/without a shipped model/);
  });
});
