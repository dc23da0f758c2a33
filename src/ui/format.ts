// Number formatting shared by the pages: one place decides how a metric, a duration or
// a size reads, so the same figure looks the same everywhere.

/** 0.9123 -> "91.23%"; NaN or a missing value -> "—". */
export function formatPercent(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(digits)}%`;
}

/** A plain decimal, or "—" when missing. */
export function formatNumber(x: number | undefined, digits = 4): string {
  return x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
}

/** A count with thousands separators: 25000 -> "25,000". */
export function formatCount(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? "—" : Math.round(n).toLocaleString("en-US");
}

/** Seconds as "0.42 s", "12.3 s" or "2 min 05 s". */
export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return "—";
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, "0")} s`;
}

/** Bytes as "812 B", "14.9 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (n < 1e3) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** A learning rate or L2 strength as written in settings: 0.1, 0.001, 1e-7. */
export function formatSetting(x: number): string {
  if (x === 0) return "0";
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e4) return String(Number(x.toPrecision(6)));
  return x.toExponential().replace(/\.?0+e/, "e").replace("e+", "e");
}
