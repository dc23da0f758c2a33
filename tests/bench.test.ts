// A smoke run of the benchmark (scripts/bench.js, `npm run bench`) on a tiny synthetic
// archive, so the script cannot rot: every part runs with tiny settings and must produce
// its figures. Parts whose tools are missing here (scikit-learn, Chromium) are skipped by
// the script with the reason, which is printed; a part that fails makes this test fail.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCli, REPO } from "./helpers/cli.ts";
import { makeImdbArchive } from "./helpers/make-archive.ts";

const scratch = mkdtempSync(join(tmpdir(), "moviesentiments-bench-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run bench (smoke run on tiny data)", () => {
  it("prints every table from one run", { timeout: 180_000 }, () => {
    const archive = join(scratch, "tiny.tar.gz");
    writeFileSync(archive, makeImdbArchive(60, 7));
    const json = join(scratch, "bench.json");
    const r = spawnSync(
      process.execPath,
      ["scripts/bench.js", "--data", archive, "--smoke", "--cli", buildCli(), "--work-dir", join(scratch, "work"), "--json", json],
      { cwd: REPO, encoding: "utf8", timeout: 170_000 },
    );
    if (r.status !== 0) console.error(r.stderr.split("\n").slice(-30).join("\n"));
    expect(r.status, "bench exit code").toBe(0);
    const R = JSON.parse(readFileSync(json, "utf8"));
    for (const heading of ["### 1. CPU", "### 2. One prediction from a cold start", "### 3. In the browser", "### Targets"]) expect(r.stdout).toContain(heading);

    // 1. this project's rows
    expect(R.shipped.train.accuracy).toBeGreaterThan(0.5);
    expect(R.shipped.train.trainS).toBeGreaterThan(0);
    expect(R.shipped.train.modelBytes).toBeGreaterThan(0);
    expect(R.shipped.predict.perSecond).toBeGreaterThan(0);
    expect(R.original.train.accuracy).toBeGreaterThan(0.5);
    expect(R.predictorInProcess.perSecond).toBeGreaterThan(0);
    if (R.sklearn.skipped) console.warn(`[bench test] scikit-learn part skipped: ${R.sklearn.skipped}`);
    else {
      expect(R.sklearn.nb.accuracy).toBeGreaterThan(0.5);
      expect(R.sklearn.tfidf.accuracy).toBeGreaterThan(0.5);
      expect(r.stdout).toContain("NB log-count ratios");
    }
    // 2. cold start
    expect(R.cold.cliS).toBeGreaterThan(R.cold.nodeS * 0.5);
    // 3. browser
    if (R.browserSkipped) console.warn(`[bench test] browser part skipped: ${R.browserSkipped}`);
    else {
      expect(R.browser.systems.map((s: { system: string }) => s.system)).toEqual(["webgpu", "cpu", "tfjs"]);
      for (const s of R.browser.systems) {
        expect(s.stoppedBy, `${s.system}: ${s.error ?? ""}`).not.toBe("error");
        expect(s.epochs.length).toBeGreaterThan(0);
      }
    }
    expect(R.errors).toEqual([]);
  });
});
