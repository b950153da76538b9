/**
 * Helpers for the tests that run freqreg outside Node's own process (browser, edge): child
 * processes that announce a port, free ports, the Node result to compare with, and a mask
 * comparison that prints the first mismatches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { EngineName } from '../../src/engines/engine.js';
import { createNodeSegmenter, decodeImage } from '../../src/node/index.js';

/** A free TCP port on 127.0.0.1 (closed again before it is returned; a tiny race is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `cmd args` (stdout and stderr collected) without waiting for it. */
export function spawnProcess(cmd: string, args: string[]): Started {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const stop = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
  return { child, output: () => out, stop };
}

/** Starts `cmd args` and resolves once its output matches `ready` (or rejects on exit / timeout). */
export function startProcess(cmd: string, args: string[], ready: RegExp, timeoutMs = 15000): Promise<Started & { match: RegExpMatchArray }> {
  const started = spawnProcess(cmd, args);
  const { child } = started;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void started.stop(); reject(new Error(`${cmd} not ready after ${timeoutMs} ms:\n${started.output()}`)); }, timeoutMs);
    const onData = () => {
      const match = started.output().match(ready);
      if (match) { clearTimeout(timer); resolve({ ...started, match }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited (${code}) before it was ready:\n${started.output()}`)); });
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Polls `url` until it answers (any status), for servers that print nothing when ready. */
export async function waitForHttp(url: string, started: Started, timeoutMs = 15000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch {
      if (started.child.exitCode !== null) throw new Error(`server exited (${started.child.exitCode}):\n${started.output()}`);
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${started.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Class indices Node computes for a model file and a PNG or JPEG file (the path the page and the worker must match). */
export async function nodeClasses(model: string, image: string, engine: EngineName, threads: number): Promise<{ classes: Uint8Array; classCount: number; width: number; height: number }> {
  const seg = await createNodeSegmenter({ model, engine, threads });
  try {
    return await seg.segment(decodeImage(readFileSync(image)));
  } finally {
    await seg.dispose();
  }
}

/** Pixels where two masks differ, with the first few as "(x, y) got g want w". */
export function maskDiff(got: ArrayLike<number>, want: ArrayLike<number>, width: number): { count: number; first: string } {
  let count = 0;
  const first: string[] = [];
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] === want[i]) continue;
    if (count++ < 5) first.push(`(${i % width}, ${Math.floor(i / width)}) got ${got[i]} want ${want[i]}`);
  }
  return { count, first: first.join('; ') };
}

/** The engine the runtime tests use: FREQREG_TEST_ENGINE, else 'auto'. */
export function testEngine(): EngineName {
  return (process.env.FREQREG_TEST_ENGINE ?? 'auto') as EngineName;
}
