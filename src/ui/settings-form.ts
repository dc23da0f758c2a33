// The training form's fields -> BrowserTrainSettings, with the same checks the CLI
// applies, so a bad value is reported next to the form before any work starts.

import { validatePipelineOptions } from "../core/pipeline.ts";
import { pipelineOptions, type BackendKind, type BrowserTrainSettings } from "./train-session.ts";

export interface SettingsFields {
  backend: string;
  lr: string;
  lrDecay: string;
  l2: string;
  epochs: string;
  batchSize: string;
  validationFraction: string;
  refit: boolean;
  average: boolean;
  dropout: string;
  patience: string;
}

export function fieldsFromSettings(s: BrowserTrainSettings): SettingsFields {
  return {
    backend: s.backend,
    lr: String(s.lr),
    lrDecay: String(s.lrDecay),
    l2: String(s.l2),
    epochs: String(s.epochs),
    batchSize: String(s.batchSize),
    validationFraction: String(s.validationFraction),
    refit: s.refit,
    average: s.average,
    dropout: String(s.dropout),
    patience: String(s.patience),
  };
}

const LABELS: Record<keyof SettingsFields, string> = {
  backend: "backend",
  lr: "learning rate",
  lrDecay: "learning-rate decay",
  l2: "L2",
  epochs: "epochs",
  batchSize: "batch size",
  validationFraction: "validation share",
  refit: "refit",
  average: "averaging",
  dropout: "dropout",
  patience: "patience",
};

/** The settings the fields give, or the first problem with them. */
export function settingsFromFields(
  f: SettingsFields,
  base: BrowserTrainSettings,
): { settings: BrowserTrainSettings; error: null } | { settings: null; error: string } {
  const num = (key: keyof SettingsFields, integer: boolean): number => {
    const raw = String(f[key]).trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) throw new Error(`${LABELS[key]} must be a number (got "${raw}")`);
    if (integer && !Number.isInteger(v)) throw new Error(`${LABELS[key]} must be a whole number (got "${raw}")`);
    return v;
  };
  try {
    if (f.backend !== "webgpu" && f.backend !== "cpu") throw new Error(`backend must be WebGPU or CPU (got "${f.backend}")`);
    const settings: BrowserTrainSettings = {
      ...base,
      backend: f.backend as BackendKind,
      lr: num("lr", false),
      lrDecay: num("lrDecay", false),
      l2: num("l2", false),
      epochs: num("epochs", true),
      batchSize: num("batchSize", true),
      validationFraction: num("validationFraction", false),
      refit: f.refit,
      average: f.average,
      dropout: num("dropout", false),
      patience: num("patience", true),
    };
    if (settings.epochs > 1000) throw new Error("epochs: at most 1000 in the browser");
    validatePipelineOptions(pipelineOptions(settings));
    return { settings, error: null };
  } catch (error) {
    return { settings: null, error: (error as Error).message };
  }
}
