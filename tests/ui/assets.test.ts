import { describe, expect, it } from "vitest";
import { FALLBACK_MANIFEST, parseAssetManifest } from "../../src/ui/assets.ts";

describe("parseAssetManifest", () => {
  it("reads the paths a build writes", () => {
    expect(
      parseAssetManifest(
        JSON.stringify({
          model: "model/model.json",
          sweep: null,
          archive: { url: "local-data/aclImdb_v1.tar.gz", name: "aclImdb_v1.tar.gz", bytes: 5 },
        }),
      ),
    ).toEqual({ model: "model/model.json", sweep: null, archive: { url: "local-data/aclImdb_v1.tar.gz", name: "aclImdb_v1.tar.gz", bytes: 5 } });
  });

  it("refuses absolute, parent and foreign addresses", () => {
    const m = parseAssetManifest(
      JSON.stringify({ model: "/etc/passwd", sweep: "../x.json", archive: { url: "https://evil.example/a.tgz" } }),
    );
    expect(m).toEqual({ model: null, sweep: null, archive: null });
  });

  it("falls back to the usual places when the manifest is not JSON", () => {
    expect(parseAssetManifest("<html>")).toEqual(FALLBACK_MANIFEST);
  });
});
