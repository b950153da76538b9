/**
 * `freqreg segment INPUT... --model MODEL --out DIR`: one mask PNG per input image. Inputs are PNG
 * or JPEG files, or folders of them (not descended into further; what a folder holds that is not
 * taken is listed at the end). A bad input is reported and skipped; the rest are processed; the
 * exit code is 1 if some failed, 3 if all did. Inputs are never written to, outputs never land
 * outside --out, a mask in --out is never taken as an input, and existing outputs are never
 * replaced without --overwrite.
 *
 * Each image is decoded and run in a worker thread (src/node/segment-worker.ts) under a time
 * budget (--timeout); a worker over budget is terminated, the image reported as TIMEOUT, and a
 * fresh worker takes the next image. The worker starts (and loads the model) while the main
 * thread reads the folders, and gets the next images ahead of time (read and checked before their
 * turn); the main thread checks paths and writes masks, in input order, while the worker runs
 * the next image.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import { exitCode, MAX_SECONDS, parseEngineName, secondsFlag, threadsFlag, type Command } from './command.js';
import { defaultThreads } from './cores.js';
import { prepareOutDir, removeStaleTemporaries, writeFileAtomic } from './files.js';
import type { SegmentJob, SegmentWorkerData, SegmentWorkerMessage, SerializedError } from './segment-messages.js';

/** Largest image file read (bytes). */
export const MAX_IMAGE_FILE_BYTES = 64 * 2 ** 20;
/** Default per-image time budget (seconds). */
export const DEFAULT_TIMEOUT_SECONDS = 60;
/** Longest mask file name stem kept from an input name, in UTF-16 units (ext4 allows 255 bytes). */
const MAX_STEM = 100;

/** Names taken from a folder as images: .png, .jpg, .jpeg in any case. */
const IMAGE_NAME = /\.(png|jpe?g)$/i;
/** What `maskName` makes: a folder entry named so inside --out is an earlier run's output, not an input. */
const MASK_SUFFIX = /-mask\.png$/i;

export interface Inputs {
  /** Files to segment, in order: files as given, then each folder's image entries sorted. */
  files: string[];
  /** Folder entries not taken, with why: subfolders, other files, masks in --out. */
  skipped: { path: string; why: string }[];
}

/**
 * Expands folders into their entries named like images (sorted); files are kept as given, whatever
 * their name. A folder entry named like an image is taken whatever it is (a FIFO or a folder named
 * x.png is then reported as not a regular file); the rest is listed as skipped. In the --out
 * folder, `*-mask.png` entries are masks an earlier run wrote and are skipped too. Folders are
 * not descended into, so directory links are never followed.
 */
export async function expandInputs(inputs: string[], outDir: string): Promise<Inputs> {
  const files: string[] = [];
  const skipped: Inputs['skipped'] = [];
  for (const input of inputs) {
    const st = await fs.lstat(input).catch(() => undefined);
    if (!st?.isDirectory()) {
      files.push(input);
      continue;
    }
    const isOut = (await fs.realpath(input).catch(() => resolve(input))) === outDir;
    const names: string[] = [];
    for await (const entry of await fs.opendir(input)) {
      const path = join(input, entry.name);
      if (!IMAGE_NAME.test(entry.name)) skipped.push({ path, why: entry.isDirectory() ? 'a folder (folders are not descended into)' : 'not named .png, .jpg or .jpeg' });
      else if (isOut && MASK_SUFFIX.test(entry.name)) skipped.push({ path, why: 'a mask in the --out folder (an earlier run\'s output)' });
      else names.push(entry.name);
    }
    files.push(...names.sort().map((n) => join(input, n)));
  }
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skipped };
}

/**
 * The mask's file name for an input: `<stem>-mask.png`, the stem stripped of path separators,
 * control characters and characters Windows refuses, and shortened. Never a path.
 */
export function maskName(input: string): string {
  let stem = basename(input, extname(input)).replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_');
  if (stem.length > MAX_STEM) stem = stem.slice(0, MAX_STEM);
  if (stem === '' || /^\.+$/.test(stem)) stem = `_${stem}`;
  return `${stem}-mask.png`;
}

function revive(e: SerializedError): FreqregError {
  const error = new FreqregError(e.layer, e.code, '', e.where);
  error.message = e.message;
  return error;
}

type Outcome = { ok: true; mask: Uint8Array } | { ok: false; error: FreqregError };

/** Images sent to the worker beyond the one awaited: the next one decodes while the engine runs. */
export const LOOKAHEAD = 2;

interface Job {
  id: number;
  file: string;
  timeoutMs: number;
  resolve: (outcome: Outcome) => void;
  /** The worker it was sent to (sent again to a worker that replaces it). */
  sentTo?: Worker;
  /** Its outcome, when it came before the images ahead of it were done. */
  outcome?: Outcome;
}

/**
 * The image worker (src/node/segment-worker.ts), one at a time, replaced when it is terminated
 * (time budget) or dies. Images are sent ahead of the one awaited (LOOKAHEAD) so that the worker's
 * pipeline always has the next one; outcomes come back in the order sent. An image's time budget
 * runs from when it is the oldest image in flight: once the images ahead of it are done, it has
 * `timeoutMs` to finish, or the worker is terminated, the image reported as TIMEOUT, and a fresh
 * worker takes the images after it.
 */
class ImageWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  /** Whether the current worker has loaded the model. */
  private loaded = false;
  private nextId = 0;
  /** Why the model could not be loaded: fatal for the whole command, not one image. */
  private loadError: FreqregError | undefined;
  /** Images in flight, oldest first. */
  private readonly jobs: Job[] = [];
  /** The image whose budget is running, and its timer. */
  private timed: Job | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping: Promise<void> = Promise.resolve();

  /** `loadTimeoutMs` bounds loading the model (a slow file must not hang the command). */
  constructor(private readonly data: SegmentWorkerData, private readonly loadTimeoutMs: number) {}

  /** Starts a worker (loading the model) unless one is running; a load error stays the answer. */
  open(): Promise<void> {
    if (this.loadError) return Promise.reject(this.loadError);
    if (!this.worker) this.ready = this.start();
    return this.ready!;
  }

  /** Whether `e` is the model's load error rather than one image's. */
  isLoadError(e: unknown): boolean {
    return e !== undefined && e === this.loadError;
  }

  private start(): Promise<void> {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/
    const worker = new Worker(new URL(`./segment-worker${ext}`, import.meta.url), { workerData: this.data satisfies SegmentWorkerData });
    this.worker = worker;
    this.loaded = false;
    worker.on('message', (m: SegmentWorkerMessage) => {
      if (m.type === 'done') this.settle(m.id, { ok: true, mask: new Uint8Array(m.mask) });
      if (m.type === 'failed') this.settle(m.id, { ok: false, error: revive(m.error) });
    });
    return new Promise<void>((resolveReady, rejectReady) => {
      const timer = setTimeout(() => {
        void this.stop();
        rejectReady((this.loadError = new FreqregError('cli', 'TIMEOUT', `loading the model took more than ${this.loadTimeoutMs / 1000} s (--load-timeout); its worker was terminated`, { file: this.data.modelPath })));
      }, this.loadTimeoutMs);
      const onMessage = (m: SegmentWorkerMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.loaded = true;
          resolveReady();
        }
        if (m.type === 'fatal') {
          clearTimeout(timer);
          void this.stop();
          rejectReady((this.loadError = revive(m.error)));
        }
      };
      const onError = (e: Error & { code?: string }) => {
        clearTimeout(timer);
        if (worker !== this.worker) return; // terminated on purpose
        if (!this.loaded) {
          void this.stop();
          rejectReady((this.loadError = new FreqregError('cli', 'INTERNAL', `the image worker failed to start: ${e.message}`)));
          return;
        }
        this.died(e);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', (code: number) => onError(new Error(`exited with code ${code}`)));
    });
  }

  /** Mask bytes for one image, or its error (never a rejection: a load error comes as the outcome). */
  submit(file: string, timeoutMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.jobs.push({ id: this.nextId++, file, timeoutMs, resolve });
      this.dispatch();
    });
  }

  /**
   * Sends the images in flight that the current worker has not got, starting one if needed: they
   * wait in the worker while it loads the model, so the first is read as soon as the model is.
   */
  private dispatch(): void {
    const ready = this.open();
    const worker = this.worker;
    if (worker) {
      for (const job of this.jobs) {
        if (job.sentTo === worker || job.outcome) continue;
        job.sentTo = worker;
        worker.postMessage({ id: job.id, file: job.file } satisfies SegmentJob);
      }
    }
    ready.then(() => this.armOldest(), (e: FreqregError) => {
      // The model cannot be loaded: fatal for the command, given as every waiting image's outcome.
      for (const job of this.jobs.splice(0)) this.finish(job, { ok: false, error: e });
    });
  }

  /** Starts the oldest image's budget, once it is in the current worker. */
  private armOldest(): void {
    const job = this.jobs[0];
    if (!job || job === this.timed || !this.loaded || job.sentTo !== this.worker) return;
    clearTimeout(this.timer);
    this.timed = job;
    this.timer = setTimeout(() => {
      if (this.jobs[0] !== job) return;
      this.jobs.shift();
      void this.stop();
      this.finish(job, { ok: false, error: new FreqregError('cli', 'TIMEOUT', `not done within ${job.timeoutMs / 1000} s; its worker was terminated`, { file: job.file }) });
      this.resume();
    }, job.timeoutMs);
  }

  private finish(job: Job, outcome: Outcome): void {
    if (this.timed === job) {
      clearTimeout(this.timer);
      this.timed = undefined;
    }
    job.resolve(outcome);
  }

  /** Records an image's outcome (the first one counts) and hands out those now in order. */
  private settle(id: number, outcome: Outcome): void {
    const job = this.jobs.find((j) => j.id === id);
    if (!job || job.outcome) return;
    job.outcome = outcome;
    this.handOut();
  }

  /** Resolves the oldest images whose outcomes are in, then starts the next one's budget. */
  private handOut(): void {
    while (this.jobs[0]?.outcome) {
      const done = this.jobs.shift()!;
      this.finish(done, done.outcome!);
    }
    this.armOldest();
  }

  /** The worker died: the oldest image in flight is reported, the others go to a fresh worker. */
  private died(e: Error & { code?: string }): void {
    void this.stop();
    const job = this.jobs.shift();
    if (job) {
      const code = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'OUT_OF_MEMORY' : 'INTERNAL';
      this.finish(job, { ok: false, error: new FreqregError('cli', code, `the image worker died: ${e.message}`, { file: job.file }) });
    }
    this.resume();
  }

  /** After the worker is gone: hands out the outcomes already in, and sends the other images to a fresh worker. */
  private resume(): void {
    this.handOut();
    if (this.jobs.length > 0) this.dispatch();
  }

  /** Terminates the worker; resolves when the last one asked to stop has stopped. */
  stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.loaded = false;
    if (worker) this.stopping = worker.terminate().then(() => undefined);
    return this.stopping;
  }
}

export const segmentCommand: Command = {
  summary: 'write a mask PNG for each input image (PNG or JPEG)',
  usage: 'INPUT... --model MODEL --out DIR [--engine auto] [--threads N] [--timeout 60] [--load-timeout 60] [--overwrite]',
  options: {
    model: { type: 'string', short: 'm' },
    out: { type: 'string', short: 'o' },
    engine: { type: 'string' },
    threads: { type: 'string' },
    timeout: { type: 'string' },
    'load-timeout': { type: 'string' },
    overwrite: { type: 'boolean' },
  },
  help: {
    '--model, -m MODEL': 'the model file: .tar.xz, .pt or .frq (required)',
    '--out, -o DIR': 'folder for the masks, created if missing (required)',
    '--engine NAME': 'auto, spectral, dense or reference (auto)',
    '--threads N': `threads to use (${defaultThreads()}, the cores available)`,
    '--timeout SECONDS': `time budget per image; an image over it is stopped and reported (${DEFAULT_TIMEOUT_SECONDS}, at most ${MAX_SECONDS})`,
    '--load-timeout SECONDS': `time budget for loading the model; over it the command stops (${DEFAULT_TIMEOUT_SECONDS}, at most ${MAX_SECONDS})`,
    '--overwrite': 'replace masks that already exist (off)',
  },
  async run(values, positionals) {
    if (positionals.length === 0) throw new FreqregError('cli', 'USAGE', 'give at least one INPUT image (PNG or JPEG) or folder');
    if (typeof values.model !== 'string') throw new FreqregError('cli', 'USAGE', '--model MODEL is required');
    if (typeof values.out !== 'string') throw new FreqregError('cli', 'USAGE', '--out DIR is required');
    const overwrite = values.overwrite === true;
    const engine = parseEngineName(values.engine);
    const threads = threadsFlag(values, defaultThreads());
    const timeoutMs = secondsFlag(values, 'timeout', DEFAULT_TIMEOUT_SECONDS) * 1000;
    const loadTimeoutMs = secondsFlag(values, 'load-timeout', DEFAULT_TIMEOUT_SECONDS) * 1000;

    // The worker starts now: its threads boot and the model loads while the folders are read.
    const worker = new ImageWorker({ modelPath: values.model, engine, threads, maxImageFileBytes: MAX_IMAGE_FILE_BYTES }, loadTimeoutMs);
    worker.open().catch(() => undefined); // a load error is thrown below, after the inputs are checked
    const failed: { file: string; error: string }[] = [];
    let done = 0, inputCount = 0;
    let printSkipped = () => {};
    try {
      const outDir = await prepareOutDir(values.out);
      await removeStaleTemporaries(outDir, (name) => name.endsWith('-mask.png'));
      const { files: inputs, skipped } = await expandInputs(positionals, outDir);
      inputCount = inputs.length;
      printSkipped = () => {
        if (skipped.length) console.log(`skipped ${skipped.length} folder entr${skipped.length === 1 ? 'y' : 'ies'}:`);
        for (const s of skipped) console.log(`  ${s.path}: ${s.why}`);
      };
      if (inputs.length === 0) {
        printSkipped();
        throw new FreqregError('cli', 'DATA_MISSING', `no images among the inputs (${positionals.join(', ')}): give PNG or JPEG files, or folders holding them`);
      }
      const inputPaths = new Set(await Promise.all(inputs.map((f) => fs.realpath(f).catch(() => resolve(f)))));
      /** Mask names written, case-folded: `a.png` and `A.PNG` must not share one on a case-insensitive disk. */
      const written = new Set<string>();
      const alreadyWritten = (name: string, target: string, file: string) => {
        if (written.has(name.toLowerCase())) throw new FreqregError('file', 'OUTPUT_PATH', `another input already wrote ${target} (names differ only in case?)`, { file });
      };
      /** The mask's path for an input, checked before the image is read. */
      const checkTarget = async (file: string): Promise<{ name: string; target: string }> => {
        const name = maskName(file);
        const target = join(outDir, name);
        if (dirname(target) !== outDir) throw new FreqregError('file', 'OUTPUT_PATH', `mask name ${JSON.stringify(name)} is not a plain file name`, { file });
        alreadyWritten(name, target, file);
        const targetReal = await fs.realpath(target).catch(() => target);
        if (inputPaths.has(targetReal)) throw new FreqregError('file', 'OUTPUT_PATH', `the mask would replace the input ${targetReal}`, { file });
        if (!overwrite && (await fs.lstat(target).then(() => true, () => false))) {
          throw new FreqregError('file', 'OUTPUT_EXISTS', `${target} exists; use --overwrite to replace it`, { file });
        }
        return { name, target };
      };
      /** Images checked and sent to the worker, or refused by the check, in input order. */
      type Pending = { file: string } & ({ name: string; target: string; outcome: Promise<Outcome> } | { refused: unknown });
      const pending: Pending[] = [];
      let next = 0;
      for (let first = true; ; first = false) {
        while (next < inputs.length && pending.length <= LOOKAHEAD) {
          const file = inputs[next++];
          try {
            const { name, target } = await checkTarget(file);
            pending.push({ file, name, target, outcome: worker.submit(file, timeoutMs) });
          } catch (e) {
            pending.push({ file, refused: e });
          }
        }
        if (first) await worker.open(); // a model that cannot be loaded throws here, for the whole command
        const item = pending.shift();
        if (!item) break;
        const { file } = item;
        try {
          if ('refused' in item) throw item.refused;
          const outcome = await item.outcome;
          if (pending.length === 0 && next === inputs.length) void worker.stop(); // the last image: the threads wind down while its mask is written
          if (!outcome.ok) throw outcome.error;
          alreadyWritten(item.name, item.target, file); // again: an image ahead of it may have written the name since it was checked
          await writeFileAtomic(item.target, outcome.mask, overwrite);
          written.add(item.name.toLowerCase());
          done++;
          console.log(`${file} → ${item.target}`);
        } catch (e) {
          if (!(e instanceof FreqregError) || worker.isLoadError(e)) throw e;
          failed.push({ file, error: `${e.message} [${e.code}]` });
          console.error(`skipped ${file}: ${e.message} [${e.code}]`);
        }
      }
    } finally {
      await worker.stop();
    }
    console.log(`${done} of ${inputCount} images segmented${failed.length ? `, ${failed.length} failed:` : ''}`);
    for (const f of failed) console.log(`  ${f.file}: ${f.error}`);
    printSkipped();
    return exitCode(done, failed.length);
  },
};
