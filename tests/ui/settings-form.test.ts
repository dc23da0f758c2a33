import { describe, expect, it } from "vitest";
import { fieldsFromSettings, settingsFromFields } from "../../src/ui/settings-form.ts";
import { DEFAULT_BROWSER_SETTINGS } from "../../src/ui/train-session.ts";

const fields = fieldsFromSettings(DEFAULT_BROWSER_SETTINGS);

describe("settings form", () => {
  it("round-trips the defaults", () => {
    expect(settingsFromFields(fields, DEFAULT_BROWSER_SETTINGS)).toEqual({ settings: DEFAULT_BROWSER_SETTINGS, error: null });
  });

  it("reads edited fields", () => {
    const r = settingsFromFields({ ...fields, backend: "cpu", lr: "0.1", l2: "1e-3", epochs: "25", batchSize: "32", refit: false, dropout: "0.3" }, DEFAULT_BROWSER_SETTINGS);
    expect(r.settings).toMatchObject({ backend: "cpu", lr: 0.1, l2: 1e-3, epochs: 25, batchSize: 32, refit: false, dropout: 0.3 });
  });

  it.each([
    [{ lr: "" }, /learning rate must be a number/],
    [{ lr: "abc" }, /learning rate must be a number/],
    [{ lr: "0" }, /learning rate must be a number > 0/],
    [{ epochs: "2.5" }, /epochs must be a whole number/],
    [{ epochs: "0" }, /epochs must be an integer >= 1/],
    [{ epochs: "5000" }, /at most 1000/],
    [{ batchSize: "0" }, /batch size/],
    [{ l2: "-1" }, /L2/],
    [{ lr: "10", l2: "0.5" }, /overshoots/],
    [{ validationFraction: "1" }, /validation fraction/],
    [{ backend: "tpu" }, /backend must be WebGPU or CPU/],
    [{ dropout: "1" }, /dropout must be a number from 0 to 0.95/],
    [{ dropout: "x" }, /dropout must be a number/],
  ])("rejects %j", (change, message) => {
    const r = settingsFromFields({ ...fields, ...change }, DEFAULT_BROWSER_SETTINGS);
    expect(r.settings).toBeNull();
    expect(r.error).toMatch(message);
  });
});
