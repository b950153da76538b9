/**
 * Runs one fuzz target (fuzz-targets.ts) in a worker thread, for test/fuzz.test.ts, which watches
 * it: a heartbeat per input lets the parent terminate a hang, and the worker's heap limit bounds
 * memory. Oracles per input: only FreqregError escapes, and never INTERNAL or WASM_TRAP (a bug
 * the guards caught); array-buffer memory grows by at most `maxBytesPerInput`. The slowest input
 * is reported, not judged (time depends on the machine; test/fuzz-cost.test.ts bounds cost by size). Then the round trip, where the target has one.
 */
import fc from 'fast-check';
import { parentPort, workerData } from 'node:worker_threads';
import { FreqregError } from '../../src/errors.js';
import { TARGETS } from './fuzz-targets.js';

export interface FuzzJob {
  target: string;
  seed: number;
  numRuns: number;
  roundTripRuns: number;
  maxBytesPerInput: number;
}

export interface FuzzFailure {
  message: string;
  /** The shrunk input. */
  input: Uint8Array | undefined;
  seed: number;
  path: string | undefined;
}

export type FuzzMessage =
  | { type: 'beat'; tried: number }
  | { type: 'done'; tried: number; codes: Record<string, number>; failure?: FuzzFailure; roundTrip?: { runs: number; failure?: FuzzFailure }; ms: number; slowest: { ms: number; bytes: number; code: string } };

async function main(port: NonNullable<typeof parentPort>, job: FuzzJob): Promise<void> {
  port.postMessage({ type: 'beat', tried: 0 } satisfies FuzzMessage); // loaded: the watchdog starts now
  const target = TARGETS[job.target];
  const codes: Record<string, number> = {};
  let tried = 0;
  /** Reported, not judged: time depends on the machine; fuzz-cost.test.ts bounds cost by input size. */
  let slowest = { ms: 0, bytes: 0, code: '' };
  const t0 = performance.now();
  const oracle = async (bytes: Uint8Array): Promise<void> => {
    tried++;
    if (tried % 16 === 0) port.postMessage({ type: 'beat', tried } satisfies FuzzMessage);
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    let code = 'OK';
    try {
      await target.run(bytes);
    } catch (e) {
      if (!(e instanceof FreqregError)) throw e;
      // A trap or an internal failure is a bug the guards caught, not a refusal.
      if (e.code === 'INTERNAL' || e.code === 'WASM_TRAP') throw new Error(`${e.code}: ${e.message}`);
      code = e.code;
    }
    const ms = performance.now() - start;
    codes[code] = (codes[code] ?? 0) + 1;
    if (ms > slowest.ms) slowest = { ms, bytes: bytes.length, code };
    const grown = process.memoryUsage().arrayBuffers - before;
    if (grown > job.maxBytesPerInput + 2 * bytes.length) throw new Error(`array buffers grew by ${grown} bytes on one input, ending ${code}`);
  };
  const details = await fc.check(fc.asyncProperty(target.arbitrary, oracle), { seed: job.seed, numRuns: job.numRuns });
  const failureOf = (d: fc.RunDetails<[unknown]>): FuzzFailure | undefined => (d.failed ? {
    message: d.errorInstance instanceof Error ? `${d.errorInstance.name}: ${d.errorInstance.message}` : String(d.errorInstance),
    input: d.counterexample?.[0] instanceof Uint8Array ? d.counterexample[0] : undefined,
    seed: d.seed, path: d.counterexample ? d.counterexamplePath ?? undefined : undefined,
  } : undefined);
  let roundTrip: { runs: number; failure?: FuzzFailure } | undefined;
  if (target.roundTrip && job.roundTripRuns > 0) {
    const r = await fc.check(target.roundTrip as fc.IAsyncProperty<[unknown]>, { seed: job.seed, numRuns: job.roundTripRuns });
    roundTrip = { runs: r.numRuns, failure: failureOf(r) };
  }
  port.postMessage({
    type: 'done', tried, codes, failure: failureOf(details as fc.RunDetails<[unknown]>), roundTrip, ms: performance.now() - t0, slowest,
  } satisfies FuzzMessage);
}

if (parentPort) void main(parentPort, workerData as FuzzJob);
