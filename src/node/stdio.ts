/**
 * The command's standard streams when their reader goes away (`freqreg segment DIR | head -n 1`):
 * writing to a closed pipe must never stop the work. Node ignores SIGPIPE and reports EPIPE as an
 * 'error' event on the stream, which would end the process with a stack trace; instead, printing
 * to that stream stops and the command goes on to finish its work and return its exit code.
 */
import type { Writable } from 'node:stream';

const watched = new WeakSet<Writable>();

/** After a write error on `stream` (EPIPE, or any other), everything written to it is dropped. */
export function dropOutputWhenClosed(stream: Writable): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  stream.on('error', () => {
    stream.write = (() => true) as Writable['write'];
  });
}
