// Downloading a model as the files the CLI loads: model.json and its .f16 arrays, one
// download each, into the same folder (`moviesentiments --model FOLDER`).

import type { EncodedModel } from "../core/model-format.ts";

export interface DownloadFile {
  name: string;
  type: string;
  bytes: Uint8Array | string;
}

/** The files of a model folder, model.json last so a partial download is visibly incomplete. */
export function modelFolderFiles(encoded: EncodedModel): DownloadFile[] {
  return [
    ...encoded.files.map((f) => ({ name: f.name, type: "application/octet-stream", bytes: f.bytes })),
    { name: "model.json", type: "application/json", bytes: encoded.metaJson },
  ];
}

/** Start one download per file, a moment apart (browsers drop rapid-fire downloads). */
export async function downloadFiles(files: readonly DownloadFile[], gapMs = 300): Promise<void> {
  for (const f of files) {
    const blob = new Blob([f.bytes as BlobPart], { type: f.type });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = f.name;
    a.style.display = "none";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}
