// Models saved in this browser (IndexedDB), kept exactly as the files the CLI reads:
// model.json's text and the float16 array files. Summaries and file bytes live in two
// object stores so listing never reads the megabytes.

import type { EncodedModel } from "../core/model-format.ts";

const DB_NAME = "moviesentiments";
const DB_VERSION = 1;
const SUMMARIES = "model-summaries";
const FILES = "model-files";

export interface SavedModelSummary {
  id: string;
  name: string;
  savedAt: string;
  metaJson: string;
  bytes: number;
}

interface FilesRecord {
  id: string;
  files: { name: string; bytes: Uint8Array }[];
}

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
  });
}

function finished(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
  });
}

export class ModelStore {
  private constructor(private readonly db: IDBDatabase) {}

  /** @throws when this browser offers no IndexedDB (e.g. some private windows) */
  static async open(): Promise<ModelStore> {
    if (typeof indexedDB === "undefined") throw new Error("this browser has no IndexedDB, so models cannot be saved here");
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(SUMMARIES)) db.createObjectStore(SUMMARIES, { keyPath: "id" });
      if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES, { keyPath: "id" });
    };
    return new ModelStore(await promised(request));
  }

  async list(): Promise<SavedModelSummary[]> {
    const tx = this.db.transaction(SUMMARIES, "readonly");
    const all = await promised(tx.objectStore(SUMMARIES).getAll() as IDBRequest<SavedModelSummary[]>);
    return all.sort((a, b) => b.savedAt.localeCompare(a.savedAt));
  }

  async save(name: string, encoded: EncodedModel): Promise<SavedModelSummary> {
    const id = `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const summary: SavedModelSummary = {
      id,
      name,
      savedAt: new Date().toISOString(),
      metaJson: encoded.metaJson,
      bytes: encoded.files.reduce((s, f) => s + f.bytes.length, encoded.metaJson.length),
    };
    const tx = this.db.transaction([SUMMARIES, FILES], "readwrite");
    tx.objectStore(FILES).put({ id, files: encoded.files } satisfies FilesRecord);
    tx.objectStore(SUMMARIES).put(summary);
    await finished(tx);
    return summary;
  }

  async load(id: string): Promise<EncodedModel> {
    const tx = this.db.transaction([SUMMARIES, FILES], "readonly");
    const summary = await promised(tx.objectStore(SUMMARIES).get(id) as IDBRequest<SavedModelSummary | undefined>);
    const files = await promised(tx.objectStore(FILES).get(id) as IDBRequest<FilesRecord | undefined>);
    if (!summary || !files) throw new Error(`the saved model ${id} is gone (deleted in another tab?)`);
    return { metaJson: summary.metaJson, files: files.files };
  }

  async remove(id: string): Promise<void> {
    const tx = this.db.transaction([SUMMARIES, FILES], "readwrite");
    tx.objectStore(SUMMARIES).delete(id);
    tx.objectStore(FILES).delete(id);
    await finished(tx);
  }
}
