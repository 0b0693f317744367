/** Where a progress bar is drawn: `process.stdout`, or any stream with `write` that says whether it is a TTY. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/** Redraws at most this often; the last state of each warmer is always drawn. */
const REDRAW_MS = 50;
const BAR_WIDTH = 20;

/**
 * A one-line progress display for a terminal: `warming 640/1000 popular products [#####-----] 64%`,
 * rewritten in place, and one permanent line per finished warmer. Nothing is drawn on a stream
 * that is not a TTY (logs would fill with carriage returns).
 */
export class ProgressBar {
  private lastDraw = 0;
  private live = false;

  private constructor(private readonly stream: ProgressStream) {}

  /** A bar on `stream`, or `undefined` when it is not a TTY. */
  static on(stream: ProgressStream): ProgressBar | undefined {
    return stream.isTTY === true ? new ProgressBar(stream) : undefined;
  }

  /** Shows a warmer's progress (throttled, except for its first and last unit). */
  update(name: string, done: number, total: number, now = Date.now()): void {
    if (done !== 0 && done !== total && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    this.draw(`warming ${done}/${total} ${name} ${bar} ${Math.round(ratio * 100)}%`);
  }

  /** Replaces the live line with a permanent one for a finished warmer. */
  finish(line: string): void {
    this.draw(line);
    this.stream.write('\n');
    this.live = false;
  }

  private draw(line: string): void {
    const width = this.stream.columns;
    const text = width !== undefined && width > 1 && line.length >= width ? line.slice(0, width - 1) : line;
    // \r back to column 0, \x1b[K clears what a longer previous line left.
    this.stream.write(`\r${text}\x1b[K`);
    this.live = true;
  }

  /** Ends a live line so that later output starts on a fresh one. */
  close(): void {
    if (this.live) this.stream.write('\n');
    this.live = false;
  }
}
