import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatNumber, formatPercent, formatSeconds, formatSetting } from "../../src/ui/format.ts";

describe("format", () => {
  it.each([
    [0.918, 2, "91.80%"],
    [1, 1, "100.0%"],
    [NaN, 2, "—"],
    [undefined, 2, "—"],
  ] as const)("formatPercent(%s, %s) = %s", (x, d, want) => expect(formatPercent(x, d)).toBe(want));

  it("formats counts, numbers, sizes and durations", () => {
    expect(formatCount(25000)).toBe("25,000");
    expect(formatNumber(0.97321)).toBe("0.9732");
    expect(formatBytes(28630983)).toBe("28.6 MB");
    expect(formatBytes(812)).toBe("812 B");
    expect(formatSeconds(0.4234)).toBe("0.42 s");
    expect(formatSeconds(56.71)).toBe("56.7 s");
    expect(formatSeconds(125)).toBe("2 min 05 s");
    expect(formatSeconds(Infinity)).toBe("—");
  });

  it.each([
    [0.1, "0.1"],
    [0.01, "0.01"],
    [1e-3, "0.001"],
    [1e-7, "1e-7"],
    [2.5e-5, "2.5e-5"],
    [8, "8"],
    [0, "0"],
  ])("formatSetting(%s) = %s", (x, want) => expect(formatSetting(x)).toBe(want));
});
