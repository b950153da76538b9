/**
 * Running one layer's shares on a pool of workers that share the kernel memory — the part of the
 * Node pool (src/node/threads.ts) and the browser pool (src/browser/threads.ts) that is the same.
 *
 * Control block per worker (Int32Array on a SharedArrayBuffer of CONTROL_BYTES): [state,
 * errorLength, ...error bytes from byte 8]; state STATE_BUSY while a share runs, then STATE_DONE or
 * STATE_FAILED (with the error text). The calling thread posts shares 1…n, runs share 0 itself,
 * then blocks on Atomics.wait until every worker is done — so the engines stay synchronous.
 *
 * Shares reach a worker through a mailbox in shared memory, not a message: the worker blocks in
 * Atomics.wait on the mailbox's sequence number (serveMailbox), so a share starts within
 * microseconds; a message waits for the worker's event loop, tens of microseconds per kernel
 * call, which is most of a small image's time on two threads. Mailbox (SharedArrayBuffer of
 * MAILBOX_BYTES): Int32 [sequence, stop] in its first 8 bytes, then float64 [callCount, then per
 * call: export index, argument count, arguments…]; exports are numbered as exportIndex lists them.
 */
import { FreqregError } from '../errors.js';
import type { KernelExports } from './exports.js';
import { runCalls, type KernelCall } from './parallel.js';

export const CONTROL_BYTES = 4096;
export const STATE_BUSY = 0, STATE_DONE = 1, STATE_FAILED = 2;
/** How long a share may take before the pool gives up on a worker (ms). */
export const SHARE_TIMEOUT_MS = 10 * 60 * 1000;

export const MAILBOX_BYTES = 8 + 8 * 1024;

/**
 * Loads of a shared flag before a thread blocks in Atomics.wait (about 0.1–0.3 ms): the kernel
 * calls of a pass come microseconds apart, and a thread woken from Atomics.wait starts tens of
 * microseconds later. Counted, not timed: some runtimes advance their clocks only at I/O.
 */
const SPIN_LOADS = 20_000;

/** Returns once `flags[i]` is no longer `value` or after a spin of SPIN_LOADS loads, whichever is first. */
function spinWhile(flags: Int32Array, i: number, value: number): void {
  for (let n = 0; n < SPIN_LOADS && Atomics.load(flags, i) === value; n++);
}
const MAILBOX_VALUES = (MAILBOX_BYTES - 8) / 8;

/** The kernel exports' names in a fixed order (the module's), and each name's number. */
export function exportIndex(exports: KernelExports): { names: string[]; index: ReadonlyMap<string, number> } {
  const names = Object.keys(exports).filter((name) => typeof (exports as unknown as Record<string, unknown>)[name] === 'function');
  return { names, index: new Map(names.map((name, i) => [name, i])) };
}

/** Writes a share into a worker's mailbox and wakes the worker. */
export function postToMailbox(mailbox: SharedArrayBuffer, index: ReadonlyMap<string, number>, share: readonly KernelCall[]): void {
  const box = new Float64Array(mailbox, 8);
  let at = 1;
  for (const [name, ...args] of share) {
    if (at + 2 + args.length > MAILBOX_VALUES) throw new FreqregError('wasm', 'WASM_TRAP', `a share of ${share.length} kernel calls does not fit a worker's mailbox`);
    const i = index.get(name);
    if (i === undefined) throw new FreqregError('wasm', 'WASM_TRAP', `no kernel export ${String(name)}`);
    box[at] = i;
    box[at + 1] = args.length;
    box.set(args, at + 2);
    at += 2 + args.length;
  }
  box[0] = share.length;
  const head = new Int32Array(mailbox, 0, 2);
  Atomics.add(head, 0, 1);
  Atomics.notify(head, 0);
}

/** Tells a worker to leave serveMailbox. */
export function stopMailbox(mailbox: SharedArrayBuffer): void {
  const head = new Int32Array(mailbox, 0, 2);
  Atomics.store(head, 1, 1);
  Atomics.add(head, 0, 1);
  Atomics.notify(head, 0);
}

/**
 * A worker's loop: waits for each share in `mailbox`, runs it with `fns` (numbered as exportIndex
 * numbers them) and reports through `control`; returns when stopped.
 */
export function serveMailbox(fns: readonly ((...args: number[]) => unknown)[], control: SharedArrayBuffer, mailbox: SharedArrayBuffer): void {
  const ctl = new Int32Array(control);
  const head = new Int32Array(mailbox, 0, 2);
  const box = new Float64Array(mailbox, 8);
  let seen = 0;
  for (;;) {
    spinWhile(head, 0, seen);
    Atomics.wait(head, 0, seen);
    const sequence = Atomics.load(head, 0);
    if (sequence === seen) continue;
    seen = sequence;
    if (Atomics.load(head, 1) === 1) return;
    try {
      let at = 1;
      for (let c = 0, n = box[0]; c < n; c++) {
        const argc = box[at + 1];
        fns[box[at]](...box.subarray(at + 2, at + 2 + argc));
        at += 2 + argc;
      }
      Atomics.store(ctl, 0, STATE_DONE);
    } catch (e) {
      const msg = new TextEncoder().encode(String((e as Error)?.message ?? e)).subarray(0, CONTROL_BYTES - 8);
      new Uint8Array(control, 8, msg.length).set(msg);
      Atomics.store(ctl, 1, msg.length);
      Atomics.store(ctl, 0, STATE_FAILED);
    }
    Atomics.notify(ctl, 0);
  }
}

export interface ShareWorker {
  /** Sends one share (kernel calls to run in order) to the worker. */
  post(share: readonly KernelCall[]): void;
  control: SharedArrayBuffer;
  ctl: Int32Array;
}

export function runShares(exports: KernelExports, workers: readonly ShareWorker[], shares: readonly (readonly KernelCall[])[]): void {
  if (shares.length > workers.length + 1) throw new Error(`${shares.length} shares for ${workers.length + 1} threads`);
  for (let t = 1; t < shares.length; t++) {
    Atomics.store(workers[t - 1].ctl, 0, STATE_BUSY);
    workers[t - 1].post(shares[t]);
  }
  let failure: unknown;
  try {
    if (shares.length > 0) runCalls(exports, shares[0]);
  } catch (e) {
    failure = e;
  }
  for (let t = 1; t < shares.length; t++) {
    const { ctl, control } = workers[t - 1];
    const deadline = Date.now() + SHARE_TIMEOUT_MS;
    spinWhile(ctl, 0, STATE_BUSY);
    while (Atomics.load(ctl, 0) === STATE_BUSY) {
      if (Date.now() > deadline) throw new FreqregError('wasm', 'WASM_TRAP', `worker ${t} did not finish its share`);
      Atomics.wait(ctl, 0, STATE_BUSY, 1000);
    }
    if (Atomics.load(ctl, 0) === STATE_FAILED && failure === undefined) {
      const msg = new TextDecoder().decode(new Uint8Array(control, 8, Atomics.load(ctl, 1)).slice());
      failure = new FreqregError('wasm', 'WASM_TRAP', `worker ${t}: ${msg}`);
    }
  }
  if (failure !== undefined) throw failure;
}
