// Limits on what the app accepts before doing any work, so a wrong file or a huge paste
// gets a clear message instead of a frozen tab or an out-of-memory crash.

import { formatBytes, formatCount } from "./format.ts";

/** The size of the official aclImdb_v1.tar.gz (84,125,825 bytes). */
export const OFFICIAL_ARCHIVE_BYTES = 84_125_825;

/**
 * Files bigger than this are refused without being read. The official archive is
 * 84 MB; even unpacked to a plain .tar (which the reader also accepts) it stays near
 * 0.3 GB, so anything over 0.5 GB is something else.
 */
export const MAX_ARCHIVE_BYTES = 500_000_000;

/**
 * Why a file of this size cannot be the IMDB archive (to follow "NAME: "), or null when
 * its size is plausible.
 */
export function archiveSizeProblem(bytes: number): string | null {
  if (!(bytes > MAX_ARCHIVE_BYTES)) return null;
  return (
    `it is ${formatBytes(bytes)}, far too big to be the IMDB archive: aclImdb_v1.tar.gz is ` +
    `${formatBytes(OFFICIAL_ARCHIVE_BYTES)}, and files over ${formatBytes(MAX_ARCHIVE_BYTES)} are refused without being read. ` +
    "Pick the aclImdb_v1.tar.gz downloaded from the dataset's home page"
  );
}

/**
 * The most characters of a review the prediction page scores. The longest review in
 * the IMDB dataset has under 14,000 characters; a million is about 70 times that, and
 * scores in a second or two. Longer text is cut here, and the page says so.
 */
export const MAX_REVIEW_CHARS = 1_000_000;

export interface CappedText {
  text: string;
  /** the length before cutting (UTF-16 code units, as String.length) */
  originalLength: number;
  capped: boolean;
}

/** The first `max` characters of `text`, never splitting a surrogate pair. */
export function capReview(text: string, max = MAX_REVIEW_CHARS): CappedText {
  if (text.length <= max) return { text, originalLength: text.length, capped: false };
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return { text: text.slice(0, end), originalLength: text.length, capped: true };
}

/** What the page says when a review was cut to `kept` of `original` characters. */
export function cappedMessage(original: number, kept: number, what: "pasted" | "scored", max = MAX_REVIEW_CHARS): string {
  const rarely = "A movie review is rarely over 10,000 characters.";
  return what === "pasted"
    ? `The pasted text has ${formatCount(original)} characters; the review box holds at most ${formatCount(max)}, ` +
        `so only its first ${formatCount(kept)} were pasted. ${rarely}`
    : `This text has ${formatCount(original)} characters; only the first ${formatCount(kept)} were scored ` +
        `(at most ${formatCount(max)} are). ${rarely}`;
}
