import { describe, expect, it } from "vitest";
import { decodeModel, type EncodedModel } from "../../src/core/model-format.ts";
import { Predictor } from "../../src/core/predict.ts";
import type { TrainingBackend } from "../../src/core/types.ts";
import { CpuBackend } from "../../src/cpu-reference/backend.ts";
import { applyTrainEvent, newRun, summarizeTimings } from "../../src/ui/runs.ts";
import { DEFAULT_BROWSER_SETTINGS, describeError, gpuReason, pipelineOptions, TrainSession, type BrowserTrainSettings, type TrainEvent } from "../../src/ui/train-session.ts";
import { makeImdbArchive, makeTarGz, streamOf } from "../helpers/make-archive.ts";

const SMALL: BrowserTrainSettings = {
  ...DEFAULT_BROWSER_SETTINGS,
  backend: "cpu",
  lr: 1,
  lrDecay: 0,
  epochs: 3,
  batchSize: 8,
  patience: 0,
  features: { ...DEFAULT_BROWSER_SETTINGS.features, hashBits: 12 },
};

const cpu = async (): Promise<TrainingBackend> => new CpuBackend();

async function loaded(nPerClass = 40): Promise<TrainSession> {
  const session = new TrainSession();
  const bytes = makeImdbArchive(nPerClass, 5);
  await session.loadArchive(streamOf(bytes, 4096), { name: "tiny.tar.gz", bytes: bytes.length });
  return session;
}

async function run(session: TrainSession, settings: BrowserTrainSettings, stopAfterEpochs = Infinity) {
  const events: TrainEvent[] = [];
  let epochs = 0;
  await session.train(
    settings,
    cpu,
    (e) => {
      events.push(e);
      if (e.type === "epoch") epochs++;
    },
    () => epochs >= stopAfterEpochs,
  );
  return events;
}

function decode(encoded: EncodedModel) {
  const files = new Map(encoded.files.map((f) => [f.name, f.bytes]));
  return decodeModel(encoded.metaJson, (n) => files.get(n));
}

describe("TrainSession", () => {
  it("reads an archive and reports its reviews", async () => {
    const session = new TrainSession();
    const bytes = makeImdbArchive(10, 1);
    const progress: number[] = [];
    const summary = await session.loadArchive(streamOf(bytes, 1024), { name: "a.tar.gz", bytes: bytes.length }, (b) => progress.push(b));
    expect(summary).toMatchObject({ name: "a.tar.gz", nTrain: 20, nTest: 20, compressedBytes: bytes.length });
    expect(progress.at(-1)).toBe(bytes.length);
    expect(session.dataset).toEqual(summary);
  });

  it("trains with validation and refit, reporting each epoch, and ends with a model the CLI can load", async () => {
    const session = await loaded();
    const events = await run(session, SMALL);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("stage");
    expect(types.filter((t) => t === "epoch")).toHaveLength(6);
    expect(types.at(-2)).toBe("model");
    expect(types.at(-1)).toBe("calibration");
    const model = events.find((e) => e.type === "model")!;
    if (model.type !== "model") throw new Error("unreachable");
    const decoded = decode(model.encoded);
    expect(decoded.training.refit).toBe(true);
    expect(decoded.history.selection).toHaveLength(3);
    expect(decoded.history.final).toHaveLength(3);
    expect(decoded.metrics.test!.accuracy).toBeGreaterThan(0.8);
    expect(new Predictor(decoded).predict("wonderful, superb, loved it").label).toBe("positive");
    expect(model.timings.epochTotal).toHaveLength(6);
    expect(model.timings.upload).toBeGreaterThan(0);
    expect(model.timings.featurize).toBeGreaterThan(0);
    expect(model.timings.total).toBeGreaterThanOrEqual(model.timings.featurize + model.timings.upload);
    const cal = events.at(-1)!;
    if (cal.type !== "calibration") throw new Error("unreachable");
    expect(cal.n).toBe(80);
    expect(cal.bins.reduce((s, b) => s + b.count, 0)).toBe(80);
    expect(cal.ece).toBeGreaterThanOrEqual(0);
  });

  it("folds its events into a run the pages can show", async () => {
    const session = await loaded();
    const r = newRun("r1", 1, SMALL, session.dataset!);
    await session.train(SMALL, cpu, (e) => applyTrainEvent(r, e), () => false);
    expect(r.status).toBe("done");
    expect(r.select).toHaveLength(3);
    expect(r.refit).toHaveLength(3);
    expect(r.deviceName).toBe("CPU (TypeScript reference)");
    expect(r.model?.info.metrics.test?.accuracy).toBeGreaterThan(0.8);
    expect(r.calibration?.n).toBe(80);
    expect(r.progress).toBe(1);
    const t = summarizeTimings(r);
    expect(t.epochs).toBeCloseTo(r.timings.epochTotal.reduce((a, b) => a + b, 0), 12);
    expect(t.endToEnd).toBeCloseTo(t.read + t.total, 12);
  });

  it("keeps the best epoch so far when stopped without refit", async () => {
    const session = await loaded();
    const events = await run(session, { ...SMALL, epochs: 10, refit: false }, 2);
    const model = events.find((e) => e.type === "model");
    expect(model?.type === "model" && model.stoppedByUser).toBe(true);
    if (model?.type !== "model") throw new Error("no model");
    expect(decode(model.encoded).history.selection).toHaveLength(2);
  });

  it("keeps no model when stopped before the refit trained", async () => {
    const session = await loaded();
    const events = await run(session, { ...SMALL, epochs: 10 }, 2);
    expect(events.some((e) => e.type === "model")).toBe(false);
    const end = events.at(-1)!;
    expect(end).toMatchObject({ type: "ended", outcome: "stopped" });
    if (end.type === "ended") expect(end.message).toMatch(/no model was kept/);
  });

  it("trains without validation when the validation share is 0", async () => {
    const session = await loaded();
    const events = await run(session, { ...SMALL, validationFraction: 0 });
    const model = events.find((e) => e.type === "model");
    if (model?.type !== "model") throw new Error("no model");
    const decoded = decode(model.encoded);
    expect(decoded.history.selection).toHaveLength(0);
    expect(decoded.history.final).toHaveLength(3);
    expect(pipelineOptions({ ...SMALL, validationFraction: 0 }).refit).toBe(false);
  });

  it("ends with a message, not an exception, when the backend fails or the settings are bad", async () => {
    const session = await loaded();
    const failing = async (): Promise<TrainingBackend> => {
      const e = new Error("no adapter");
      e.name = "WebGpuUnavailableError";
      throw e;
    };
    const events: TrainEvent[] = [];
    await session.train({ ...SMALL, backend: "webgpu" }, failing, (e) => events.push(e), () => false);
    expect(events.at(-1)).toMatchObject({ type: "ended", outcome: "failed", message: "no adapter. Choose the CPU backend instead." });
    const bad = await run(session, { ...SMALL, lr: -1 });
    expect(bad.at(-1)).toMatchObject({ type: "ended", outcome: "failed" });
    if (bad.at(-1)?.type === "ended") expect((bad.at(-1) as { message: string }).message).toMatch(/learning rate/);
  });

  it("does not repeat the CPU advice, nor double a full stop", () => {
    const unavailable = (message: string) => Object.assign(new Error(message), { name: "WebGpuUnavailableError" });
    expect(describeError(unavailable("no WebGPU adapter was found (no usable GPU or driver); use the CPU backend"))).toBe(
      "no WebGPU adapter was found (no usable GPU or driver); use the CPU backend",
    );
    expect(describeError(unavailable("the adapter is gone."))).toBe("the adapter is gone. Choose the CPU backend instead.");
    // and a page that offers the CPU itself can drop the advice
    expect(gpuReason("no WebGPU adapter was found (no usable GPU or driver); use the CPU backend")).toBe("no WebGPU adapter was found (no usable GPU or driver)");
    expect(gpuReason("the adapter is gone. Choose the CPU backend instead.")).toBe("the adapter is gone");
    expect(gpuReason("navigator.gpu is missing")).toBe("navigator.gpu is missing");
  });

  it("says the GPU device was lost mid-run, keeps the curves so far, and the CPU can take over", async () => {
    const session = await loaded();
    const lostMessage =
      "The WebGPU device was lost (destroyed: Device was destroyed.). Its weights are gone; the run can continue on the CPU backend (in the CLI: --backend cpu) from the last weights read back or saved.";
    let made = 0;
    // a "WebGPU" backend whose device goes away during its third epoch
    const losing = async (): Promise<TrainingBackend> => {
      made++;
      const inner = new CpuBackend();
      let epochs = 0;
      return {
        kind: "webgpu",
        deviceName: "fake GPU",
        load: (d) => inner.load(d),
        trainEpoch: async (order, lr, l2) => {
          if (++epochs === 3) throw Object.assign(new Error(lostMessage), { name: "WebGpuUnavailableError" });
          return inner.trainEpoch(order, lr, l2);
        },
        evaluate: (n) => inner.evaluate(n),
        predict: (n) => inner.predict(n),
        readWeights: () => inner.readWeights(),
        dispose: () => inner.dispose(),
      };
    };
    const settings: BrowserTrainSettings = { ...SMALL, backend: "webgpu", epochs: 5, validationFraction: 0 };
    const events: TrainEvent[] = [];
    await session.train(settings, losing, (e) => events.push(e), () => false);
    expect(made).toBe(1);
    expect(events.filter((e) => e.type === "epoch")).toHaveLength(2);
    expect(events.some((e) => e.type === "model")).toBe(false);
    const end = events.at(-1);
    expect(end).toMatchObject({ type: "ended", outcome: "failed", webgpuFailure: "lost" });
    const message = (end as { message: string }).message;
    expect(message).toMatch(/^The GPU device was lost in the middle of the run \(destroyed: Device was destroyed\.\)/);
    expect(message).toMatch(/this run kept no model; its curves so far stay/);
    expect(message).toMatch(/Train on the CPU instead/);
    expect(message).not.toMatch(/--backend/);
    const r = newRun("r1", 1, settings, session.dataset!);
    for (const e of events) applyTrainEvent(r, e);
    expect(r).toMatchObject({ status: "failed", webgpuFailure: "lost", deviceName: "fake GPU" });
    expect(r.select.length + r.refit.length).toBe(2);
    // the reviews are still loaded: the same settings train on the CPU
    const again = await run(session, { ...settings, backend: "cpu" });
    expect(again.some((e) => e.type === "model")).toBe(true);
  });

  it("tells WebGPU that would not start from a device lost mid-run", async () => {
    const session = await loaded();
    const failing = async (): Promise<TrainingBackend> => {
      throw Object.assign(new Error("no WebGPU adapter was found (no usable GPU or driver); use the CPU backend"), { name: "WebGpuUnavailableError" });
    };
    const events: TrainEvent[] = [];
    await session.train({ ...SMALL, backend: "webgpu" }, failing, (e) => events.push(e), () => false);
    expect(events.at(-1)).toMatchObject({ type: "ended", outcome: "failed", webgpuFailure: "unavailable", message: /no WebGPU adapter/ });
    // a CPU run that fails is not a WebGPU failure
    const bad = await run(session, { ...SMALL, lr: -1 });
    expect((bad.at(-1) as { webgpuFailure?: string }).webgpuFailure).toBeUndefined();
  });

  it("says to read an archive first", async () => {
    const events = await run(new TrainSession(), SMALL);
    expect(events.at(-1)).toMatchObject({ type: "ended", outcome: "failed" });
    expect((events.at(-1) as { message: string }).message).toMatch(/drop aclImdb_v1.tar.gz first/);
  });

  describe("bad archives get clear messages and keep the reviews read before", () => {
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array(200).fill(0)]);
    const good = makeImdbArchive(5, 2);
    const cases: [string, Uint8Array, RegExp][] = [
      ["a zip file", zip, /not a \.tar\.gz archive/],
      ["an empty file", new Uint8Array(0), /empty/],
      ["a truncated archive", good.slice(0, Math.floor(good.length / 2)), /truncated|corrupt/],
      ["a tar.gz that is not IMDB", makeTarGz([{ path: "photos/cat.jpg", text: "meow" }]), /does not look like the IMDB archive/],
    ];
    it.each(cases)("%s", async (_name, bytes, message) => {
      const session = await loaded(10);
      const before = session.dataset;
      let error: unknown;
      try {
        await session.loadArchive(streamOf(bytes), { name: "bad", bytes: bytes.length });
      } catch (e) {
        error = e;
      }
      expect(describeError(error)).toMatch(message);
      expect(session.dataset).toEqual(before);
      // and it still trains
      const events = await run(session, { ...SMALL, epochs: 1 });
      expect(events.some((e) => e.type === "model")).toBe(true);
    });
  });
});
