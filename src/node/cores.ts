/** How many threads: what the command line and the kernels agree on, without loading the kernels. */
import { availableParallelism } from 'node:os';

/** Threads used when none are asked for: the cores Node reports, at most 8. */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), 8);
}

/**
 * Most threads one engine may use: the cores Node reports. Each thread is a worker with its own
 * heap and kernel instance, so more threads than cores only cost memory.
 */
export function maxThreads(): number {
  return availableParallelism();
}
