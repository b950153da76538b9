/** What every `freqreg` command is, and the exit codes they share. */
import type { ParseArgsConfig } from 'node:util';
import { FreqregError } from '../errors.js';
import { ENGINE_NAMES, type EngineName } from '../engines/engine.js';
import { maxThreads } from './cores.js';

export const EXIT = { OK: 0, SOME_FAILED: 1, USAGE: 2, REFUSED: 3, DATA_MISSING: 4 } as const;

/**
 * The exit code of a command over several inputs: 0 when all were done, 1 when some failed and
 * the others were done, 3 when every one failed — as a command over one input that is refused.
 */
export function exitCode(done: number, failed: number): number {
  if (failed === 0) return EXIT.OK;
  return done > 0 ? EXIT.SOME_FAILED : EXIT.REFUSED;
}

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Flag help lines: flag → "what (default)". */
  help: Record<string, string>;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

/** Parses a positive integer flag, or fails with a USAGE error naming it. */
export function intFlag(values: Record<string, unknown>, flag: string, fallback: number): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new FreqregError('cli', 'USAGE', `--${flag} must be a positive integer, got "${raw}"`);
  return n;
}

/** Parses `--threads`: a positive integer no larger than the cores available. */
export function threadsFlag(values: Record<string, unknown>, fallback: number): number {
  const threads = intFlag(values, 'threads', fallback);
  if (threads > maxThreads()) throw new FreqregError('cli', 'USAGE', `--threads ${threads}: at most ${maxThreads()}, the cores available`);
  return threads;
}

/** Longest time budget a flag may give, in seconds (one day; Node's timers overflow past 24.8 days). */
export const MAX_SECONDS = 86_400;

/** Parses a time budget in seconds: a positive number no larger than MAX_SECONDS. */
export function secondsFlag(values: Record<string, unknown>, flag: string, fallback: number): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > MAX_SECONDS) {
    throw new FreqregError('cli', 'USAGE', `--${flag} must be a number of seconds in (0, ${MAX_SECONDS}], got "${raw}"`);
  }
  return n;
}

/** Parses `--engine`: one of ENGINE_NAMES (default auto). */
export function parseEngineName(raw: unknown): EngineName {
  const name = (raw ?? 'auto') as EngineName;
  if (!ENGINE_NAMES.includes(name)) {
    throw new FreqregError('cli', 'USAGE', `--engine must be one of ${ENGINE_NAMES.join(', ')}, got "${String(raw)}"`);
  }
  return name;
}
