/**
 * A progress line for long runs, on stderr so stdout stays clean for results:
 *
 *   image 3 of 16 [#####...............] 19%  elapsed 0:04  ETA 0:17  in0002.png
 *
 * On a TTY it redraws in place (at most every `redrawMs`); elsewhere (CI logs, pipes) it prints
 * plain lines, at most one per `logIntervalMs` plus the first and the last. `silent` prints nothing.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Where to draw (process.stderr). */
  stream?: ProgressStream;
  /** Draw nothing at all (false). */
  silent?: boolean;
  /** What is counted, as in "image 3 of 16" ("image"). */
  noun?: string;
  /** Redraw in place (the stream's isTTY). */
  tty?: boolean;
  /** Least time between in-place redraws, ms (100). */
  redrawMs?: number;
  /** Least time between plain lines when not a TTY, ms (2000). */
  logIntervalMs?: number;
  /** Clock in ms (performance.now); tests pass a fake one. */
  now?: () => number;
  /** Items already done before this bar started (a resumed run): counted, but not in the rate (0). */
  initial?: number;
}

/** `m:ss`, or `h:mm:ss` from an hour up. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const BAR_WIDTH = 20;

export class Progress {
  readonly total: number;
  private doneCount = 0;
  private label = '';
  private readonly start: number;
  private lastDraw = -Infinity;
  private lastDrawnDone = -1;
  private drawn = false; // a TTY line is on screen
  private finished = false;
  private readonly stream: ProgressStream;
  private readonly silent: boolean;
  private readonly noun: string;
  private readonly tty: boolean;
  private readonly redrawMs: number;
  private readonly logIntervalMs: number;
  private readonly now: () => number;
  private readonly initial: number;

  constructor(total: number, options: ProgressOptions = {}) {
    this.total = Math.max(0, Math.floor(total));
    this.stream = options.stream ?? process.stderr;
    this.silent = options.silent ?? false;
    this.noun = options.noun ?? 'image';
    this.tty = options.tty ?? this.stream.isTTY === true;
    this.redrawMs = options.redrawMs ?? 100;
    this.logIntervalMs = options.logIntervalMs ?? 2000;
    this.now = options.now ?? (() => performance.now());
    this.initial = Math.min(this.total, Math.max(0, Math.floor(options.initial ?? 0)));
    this.doneCount = this.initial;
    this.start = this.now();
  }

  /** Items finished so far. */
  get done(): number {
    return this.doneCount;
  }

  /** One more item finished; `label` (a file name, say) is shown after the counts. */
  tick(label?: string): void {
    this.update(this.doneCount + 1, label);
  }

  /** Sets the number of finished items. */
  update(done: number, label?: string): void {
    if (this.finished) return;
    this.doneCount = Math.min(this.total, Math.max(0, Math.floor(done)));
    if (label !== undefined) this.label = label;
    const t = this.now();
    const last = this.doneCount === this.total;
    const interval = this.tty ? this.redrawMs : this.logIntervalMs;
    if (last || !this.drawnOnce() || t - this.lastDraw >= interval) this.draw(t);
  }

  /** Prints a message (a skipped file, say) without garbling the bar. */
  log(message: string): void {
    if (this.silent) return;
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[K${message}\n`);
      this.drawn = false;
      this.draw(this.now());
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  /** Ends the bar: draws the final state (if not yet drawn) and moves to a fresh line. */
  finish(): void {
    if (this.finished) return;
    if (this.tty || this.lastDrawnDone !== this.doneCount) this.draw(this.now());
    if (!this.silent && this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.finished = true;
  }

  /** The text of the line for the current state at time `t`. */
  line(t = this.now()): string {
    const elapsed = t - this.start;
    const k = this.doneCount, n = this.total;
    const fraction = n > 0 ? k / n : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    // The rate of this run only: a resumed run's earlier items took no time here.
    const doneHere = k - this.initial;
    const eta = doneHere > 0 && k < n ? (elapsed / doneHere) * (n - k) : k === n ? 0 : NaN;
    const parts = [
      `${this.noun} ${k} of ${n}`,
      `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`,
      `elapsed ${formatDuration(elapsed)}`,
      `ETA ${formatDuration(eta)}`,
    ];
    if (this.label) parts.push(printable(this.label));
    return parts.join('  ');
  }

  private drawnOnce(): boolean {
    return this.lastDraw !== -Infinity;
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.lastDrawnDone = this.doneCount;
    if (this.silent) return;
    let text = this.line(t);
    if (this.tty) {
      const columns = this.stream.columns;
      if (columns && text.length > columns - 1) text = text.slice(0, Math.max(0, columns - 1));
      this.stream.write(`\r\x1b[K${text}`);
      this.drawn = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }
}

/** Strips control characters from a label (a file name could hold escape sequences). */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}
