import { describe, expect, it } from "vitest";
import { archiveSizeProblem, capReview, cappedMessage, MAX_ARCHIVE_BYTES, MAX_REVIEW_CHARS, OFFICIAL_ARCHIVE_BYTES } from "../../src/ui/input-limits.ts";

describe("archive size", () => {
  it("accepts the official archive, and an unpacked .tar of it", () => {
    expect(archiveSizeProblem(OFFICIAL_ARCHIVE_BYTES)).toBeNull();
    expect(archiveSizeProblem(300e6)).toBeNull();
    expect(archiveSizeProblem(0)).toBeNull();
    expect(archiveSizeProblem(MAX_ARCHIVE_BYTES)).toBeNull();
  });

  it("refuses 2 GB, saying what was expected", () => {
    const m = archiveSizeProblem(2 * 1024 ** 3);
    expect(m).toBe(
      "it is 2.15 GB, far too big to be the IMDB archive: aclImdb_v1.tar.gz is 84.1 MB, and files over 500.0 MB are refused " +
        "without being read. Pick the aclImdb_v1.tar.gz downloaded from the dataset's home page",
    );
    expect(archiveSizeProblem(MAX_ARCHIVE_BYTES + 1)).not.toBeNull();
  });
});

describe("review length", () => {
  it("leaves a review under the cap alone", () => {
    expect(capReview("a fine film")).toEqual({ text: "a fine film", originalLength: 11, capped: false });
    const exact = "x".repeat(MAX_REVIEW_CHARS);
    expect(capReview(exact).capped).toBe(false);
  });

  it("cuts a long one to the cap", () => {
    const r = capReview("ab".repeat(MAX_REVIEW_CHARS));
    expect(r).toMatchObject({ originalLength: 2 * MAX_REVIEW_CHARS, capped: true });
    expect(r.text).toHaveLength(MAX_REVIEW_CHARS);
  });

  it("never splits a surrogate pair", () => {
    // "😀" is two UTF-16 code units; cutting after 3 units would leave half of the second
    const r = capReview("😀😀😀", 3);
    expect(r.text).toBe("😀");
    expect(r.capped).toBe(true);
    expect(capReview("😀😀😀", 4).text).toBe("😀😀");
  });

  it("says what was kept and why", () => {
    expect(cappedMessage(10_000_000, 1_000_000, "pasted")).toBe(
      "The pasted text has 10,000,000 characters; the review box holds at most 1,000,000, so only its first 1,000,000 were pasted. " +
        "A movie review is rarely over 10,000 characters.",
    );
    expect(cappedMessage(10_000_000, 1_000_000, "scored")).toMatch(/^This text has 10,000,000 characters; only the first 1,000,000 were scored/);
  });
});
