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
 * fresh worker takes the next image. The main thread only checks paths and writes masks.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import { exitCode, MAX_SECONDS, secondsFlag, threadsFlag, type Command } from './command.js';
import { parseEngineName } from './engines.js';
import { defaultThreads } from './kernels.js';
import { prepareOutDir, removeStaleTemporaries, writeFileAtomic } from './files.js';
import type { SegmentWorkerData, SegmentWorkerMessage, SerializedError } from './segment-worker.js';

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

/** One worker at a time, replaced when it is terminated (time budget) or dies. */
class ImageWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 0;
  /** Why the model could not be loaded: fatal for the whole command, not one image. */
  private loadError: FreqregError | undefined;

  /** `loadTimeoutMs` bounds loading the model (a slow file must not hang the command). */
  constructor(private readonly data: SegmentWorkerData, private readonly loadTimeoutMs: number) {}

  /** Starts a worker (loading the model) unless one is running. */
  async open(): Promise<void> {
    if (!this.worker) this.ready = this.start();
    await this.ready;
  }

  /** Whether `e` is the model's load error rather than one image's. */
  isLoadError(e: unknown): boolean {
    return e !== undefined && e === this.loadError;
  }

  private start(): Promise<void> {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/
    const worker = new Worker(new URL(`./segment-worker${ext}`, import.meta.url), { workerData: this.data });
    this.worker = worker;
    return new Promise<void>((resolveReady, rejectReady) => {
      const timer = setTimeout(() => {
        cleanup();
        void this.stop();
        rejectReady((this.loadError = new FreqregError('cli', 'TIMEOUT', `loading the model took more than ${this.loadTimeoutMs / 1000} s (--load-timeout); its worker was terminated`, { file: this.data.modelPath })));
      }, this.loadTimeoutMs);
      const onMessage = (m: SegmentWorkerMessage) => {
        if (m.type === 'ready') { cleanup(); resolveReady(); }
        if (m.type === 'fatal') { cleanup(); void this.stop(); rejectReady((this.loadError = revive(m.error))); }
      };
      const onError = (e: Error) => {
        cleanup();
        this.worker = undefined;
        rejectReady((this.loadError = new FreqregError('cli', 'INTERNAL', `the image worker failed to start: ${e.message}`)));
      };
      const onExit = (code: number) => onError(new Error(`exited with code ${code}`));
      const cleanup = () => { clearTimeout(timer); worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit); };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Mask bytes for one image, or its error; TIMEOUT after `timeoutMs` (the worker is terminated). */
  async process(file: string, timeoutMs: number): Promise<Outcome> {
    await this.open(); // a model that cannot be loaded throws here, for the whole command
    const worker = this.worker!;
    const id = this.nextId++;
    return new Promise<Outcome>((resolveOutcome) => {
      const finish = (outcome: Outcome) => { clearTimeout(timer); worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit); resolveOutcome(outcome); };
      const onMessage = (m: SegmentWorkerMessage) => {
        if (m.type === 'done' && m.id === id) finish({ ok: true, mask: new Uint8Array(m.mask) });
        if (m.type === 'failed' && m.id === id) finish({ ok: false, error: revive(m.error) });
      };
      const onError = (e: Error & { code?: string }) => {
        this.worker = undefined;
        const code = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'OUT_OF_MEMORY' : 'INTERNAL';
        finish({ ok: false, error: new FreqregError('cli', code, `the image worker died: ${e.message}`, { file }) });
      };
      const onExit = (code: number) => onError(new Error(`exited with code ${code}`));
      const timer = setTimeout(() => {
        void this.stop();
        finish({ ok: false, error: new FreqregError('cli', 'TIMEOUT', `not done within ${timeoutMs / 1000} s; its worker was terminated`, { file }) });
      }, timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, file });
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
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

    const outDir = await prepareOutDir(values.out);
    await removeStaleTemporaries(outDir, (name) => name.endsWith('-mask.png'));
    const { files: inputs, skipped } = await expandInputs(positionals, outDir);
    const printSkipped = () => {
      if (skipped.length) console.log(`skipped ${skipped.length} folder entr${skipped.length === 1 ? 'y' : 'ies'}:`);
      for (const s of skipped) console.log(`  ${s.path}: ${s.why}`);
    };
    if (inputs.length === 0) {
      printSkipped();
      throw new FreqregError('cli', 'DATA_MISSING', `no images among the inputs (${positionals.join(', ')}): give PNG or JPEG files, or folders holding them`);
    }
    const inputPaths = new Set(await Promise.all(inputs.map((f) => fs.realpath(f).catch(() => resolve(f)))));
    const worker = new ImageWorker({ modelPath: values.model, engine, threads, maxImageFileBytes: MAX_IMAGE_FILE_BYTES }, loadTimeoutMs);
    const failed: { file: string; error: string }[] = [];
    /** Mask names written, case-folded: `a.png` and `A.PNG` must not share one on a case-insensitive disk. */
    const written = new Set<string>();
    let done = 0;
    try {
      await worker.open();
      for (const file of inputs) {
        try {
          const name = maskName(file);
          const target = join(outDir, name);
          if (dirname(target) !== outDir) throw new FreqregError('file', 'OUTPUT_PATH', `mask name ${JSON.stringify(name)} is not a plain file name`, { file });
          if (written.has(name.toLowerCase())) throw new FreqregError('file', 'OUTPUT_PATH', `another input already wrote ${target} (names differ only in case?)`, { file });
          const targetReal = await fs.realpath(target).catch(() => target);
          if (inputPaths.has(targetReal)) throw new FreqregError('file', 'OUTPUT_PATH', `the mask would replace the input ${targetReal}`, { file });
          if (!overwrite && (await fs.lstat(target).then(() => true, () => false))) {
            throw new FreqregError('file', 'OUTPUT_EXISTS', `${target} exists; use --overwrite to replace it`, { file });
          }
          const outcome = await worker.process(file, timeoutMs);
          if (!outcome.ok) throw outcome.error;
          await writeFileAtomic(target, outcome.mask, overwrite);
          written.add(name.toLowerCase());
          done++;
          console.log(`${file} → ${target}`);
        } catch (e) {
          if (!(e instanceof FreqregError) || worker.isLoadError(e)) throw e;
          failed.push({ file, error: `${e.message} [${e.code}]` });
          console.error(`skipped ${file}: ${e.message} [${e.code}]`);
        }
      }
    } finally {
      await worker.stop();
    }
    console.log(`${done} of ${inputs.length} images segmented${failed.length ? `, ${failed.length} failed:` : ''}`);
    for (const f of failed) console.log(`  ${f.file}: ${f.error}`);
    printSkipped();
    return exitCode(done, failed.length);
  },
};
