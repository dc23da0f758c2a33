// A one-line terminal progress bar on stderr. Silent when stderr is not a terminal
// (pipes, CI logs), so it never mixes with machine-readable stdout.

export interface ProgressBar {
  /** Set the amount done so far (not an increment), and the total if it is known only now. */
  update(done: number, total?: number): void;
  /** Draw the final state and end the line. Further calls do nothing. */
  done(): void;
}

export interface ProgressBarOptions {
  /** how to print amounts: "bytes" as kB/MB/GB, "items" as plain counts (default) */
  unit?: "bytes" | "items";
  /** where to draw; process.stderr by default */
  stream?: NodeJS.WriteStream;
  /** least milliseconds between redraws (default 100) */
  intervalMs?: number;
}

function formatAmount(n: number, unit: "bytes" | "items"): string {
  if (unit === "items") return Math.round(n).toLocaleString("en-US");
  if (n < 1e3) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/**
 * A progress bar: `label [=====>    ]  52% 14.9 MB / 28.6 MB`, or `label 14.9 MB`
 * when the total is unknown.
 */
export function createProgressBar(label: string, total?: number, options: ProgressBarOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? "items";
  const intervalMs = options.intervalMs ?? 100;
  if (!stream.isTTY) return { update() {}, done() {} };

  let current = 0;
  let lastDraw = 0;
  let finished = false;
  const started = Date.now();

  const draw = (): void => {
    const columns = stream.columns || 80;
    const max = total ?? 0;
    let tail: string;
    let line: string;
    if (max > 0) {
      const fraction = Math.min(1, Math.max(0, current / max));
      tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${formatAmount(current, unit)} / ${formatAmount(max, unit)}`;
      const width = Math.max(10, Math.min(40, columns - label.length - tail.length - 4));
      const filled = Math.floor(fraction * width);
      const bar = "=".repeat(filled) + (filled < width ? ">" + " ".repeat(width - filled - 1) : "");
      line = `${label} [${bar}]${tail}`;
    } else {
      const seconds = (Date.now() - started) / 1000;
      line = `${label} ${formatAmount(current, unit)} (${seconds.toFixed(0)} s)`;
    }
    if (line.length > columns - 1) line = line.slice(0, columns - 1);
    stream.write(`\r${line}\x1b[K`);
  };

  return {
    update(done: number, newTotal?: number) {
      if (finished) return;
      current = done;
      if (newTotal !== undefined) total = newTotal;
      const now = Date.now();
      if (now - lastDraw >= intervalMs) {
        lastDraw = now;
        draw();
      }
    },
    done() {
      if (finished) return;
      finished = true;
      draw();
      stream.write("\n");
    },
  };
}
