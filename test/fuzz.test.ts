/**
 * Fuzzing with fast-check, one target per layer (xz, tar, zip, pickle, torch state dict, packed,
 * png, jpeg) and
 * load-and-run end to end (test/support/fuzz-targets.ts). Each target runs in its own worker
 * (test/support/fuzz-worker.ts) under a heap limit and a watchdog, so a hang or a runaway
 * allocation fails the test instead of stalling it. Oracles: only FreqregError escapes, bounded
 * memory per input, exact round trips where a writer exists, and (png) the Node and portable
 * decoders agree. Time is not judged per input (it depends on the machine): test/fuzz-cost.test.ts
 * bounds every parser's cost by the size of its input, across sizes.
 *
 * CI: fixed seed and run counts (about a minute on two cores). Longer runs:
 *   FUZZ_RUNS=20000 FUZZ_SEED=123 npx tap test/fuzz.test.ts      (FUZZ_RUNS per target)
 *   FUZZ_TARGETS=png,zip ...                                      (a subset)
 *   FUZZ_SAVE=1 ...  writes each shrunk failure to test/fixtures/malformed/<layer>/
 *
 * Every failure found becomes a regression file under test/fixtures/malformed/<layer>/ with its
 * expected code in test/fixtures/malformed/index.json; they are replayed first.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../src/errors.js';
import { PACKAGE_ROOT } from './helpers.js';
import { TARGETS } from './support/fuzz-targets.js';
import type { FuzzFailure, FuzzJob, FuzzMessage } from './support/fuzz-worker.js';

const MALFORMED = join(PACKAGE_ROOT, 'test', 'fixtures', 'malformed');
/** Executions per target in CI, tuned so the file takes about a minute on two shared cores. */
const CI_RUNS: Record<string, number> = { xz: 800, tar: 5000, zip: 5000, pickle: 5000, torch: 3000, packed: 5000, png: 5000, jpeg: 5000, e2e: 2000 };
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20260217;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined;
const ONLY = process.env.FUZZ_TARGETS?.split(',');
/** A worker silent this long is hung (a heartbeat comes every 16 inputs). */
const WATCHDOG_MS = 20_000;
/** Starting a worker compiles the targets' TypeScript: on a busy machine that alone can take 20 s. Its first beat comes when it is ready. */
const STARTUP_MS = 180_000;
/** Oracle cap per input (tiny limits keep buffers small). Time is reported, not judged: hangs are the watchdog's. */
const MAX_BYTES_PER_INPUT = 64 * 2 ** 20;
const WORKER_HEAP_MB = 512;

interface IndexEntry { layer: string; file: string; code: string; note: string }

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'OK';
  } catch (e) {
    if (e instanceof FreqregError) return e.code;
    return `escaped ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

t.test('regressions: every committed failure gives its expected code', async (t) => {
  const index = JSON.parse(readFileSync(join(MALFORMED, 'index.json'), 'utf8')) as IndexEntry[];
  t.ok(index.length > 0, `${index.length} regression files`);
  for (const entry of index) {
    const bytes = new Uint8Array(readFileSync(join(MALFORMED, entry.layer, entry.file)));
    t.equal(await codeOf(() => TARGETS[entry.layer].run(bytes)), entry.code, `${entry.layer}/${entry.file}: ${entry.note}`);
  }
});

function runWorker(job: FuzzJob): Promise<Extract<FuzzMessage, { type: 'done' }> | { type: 'hung' | 'died'; tried: number; message: string }> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./support/fuzz-worker.ts', import.meta.url), {
      workerData: job, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    let tried = 0;
    let timer = setTimeout(() => hang(STARTUP_MS), STARTUP_MS);
    const hang = (ms = WATCHDOG_MS) => { void worker.terminate(); resolve({ type: 'hung', tried, message: `no progress for ${ms / 1000} s after ${tried} inputs` }); };
    worker.on('message', (m: FuzzMessage) => {
      clearTimeout(timer);
      if (m.type === 'beat') { tried = m.tried; timer = setTimeout(() => hang(), WATCHDOG_MS); return; }
      void worker.terminate();
      resolve(m);
    });
    worker.on('error', (e) => { clearTimeout(timer); resolve({ type: 'died', tried, message: `${e.name}: ${e.message}` }); });
  });
}

function record(layer: string, failure: FuzzFailure): string {
  if (!failure.input) return '(no input)';
  const name = `fuzz-${failure.seed}-${createHash('sha256').update(failure.input).digest('hex').slice(0, 8)}.bin`;
  if (process.env.FUZZ_SAVE === '1') {
    mkdirSync(join(MALFORMED, layer), { recursive: true });
    writeFileSync(join(MALFORMED, layer, name), failure.input);
    return `saved test/fixtures/malformed/${layer}/${name}; add it to index.json with its expected code`;
  }
  return `${failure.input.length} bytes, base64 ${Buffer.from(failure.input).toString('base64').slice(0, 2000)} (FUZZ_SAVE=1 writes it to test/fixtures/malformed/${layer}/${name})`;
}

const figures: string[] = [];

for (const [name, target] of Object.entries(TARGETS)) {
  if (ONLY && !ONLY.includes(name)) continue;
  t.test(`fuzz ${name}: ${target.what}`, async (t) => {
    const numRuns = RUNS ?? CI_RUNS[name];
    const job: FuzzJob = {
      target: name, seed: SEED, numRuns, roundTripRuns: Math.ceil(numRuns / 5),
      maxBytesPerInput: MAX_BYTES_PER_INPUT,
    };
    const r = await runWorker(job);
    if (r.type !== 'done') {
      t.fail(`${name}: worker ${r.type}: ${r.message} (seed ${SEED})`);
      return;
    }
    const codes = Object.entries(r.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    const line = `${name}: ${r.tried} inputs in ${(r.ms / 1000).toFixed(1)} s (seed ${SEED}; slowest ${r.slowest.ms.toFixed(0)} ms, ${r.slowest.bytes} bytes, ${r.slowest.code}); ${codes}${r.roundTrip ? `; round trip ${r.roundTrip.runs} ok` : ''}`;
    figures.push(line);
    t.comment(line);
    if (r.failure) t.fail(`${name}: ${r.failure.message}; shrunk input: ${record(target.layer, r.failure)}; replay with seed ${r.failure.seed} path ${r.failure.path}`);
    else t.pass(`${name}: only FreqregError, within ${MAX_BYTES_PER_INPUT >> 20} MiB per input`);
    if (r.roundTrip?.failure) t.fail(`${name} round trip: ${r.roundTrip.failure.message}`);
    else if (r.roundTrip) t.pass(`${name}: ${r.roundTrip.runs} round trips exact`);
    t.ok(Object.keys(r.codes).length >= 3, `${name}: mutations reach several checks (${Object.keys(r.codes).length} outcomes)`);
  });
}

t.teardown(() => {
  if (figures.length) console.log(`# fuzz figures\n${figures.map((f) => `#   ${f}`).join('\n')}`);
});
