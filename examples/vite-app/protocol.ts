/** Messages between the page (main.ts) and the segmenter's Worker (segment-worker.ts). */
export type Request =
  | { type: 'model'; bytes: ArrayBuffer }
  /** A PNG's bytes (decoded by freqreg, the pixels Node sees) or pixels the page decoded (other formats). */
  | { type: 'photo'; png?: ArrayBuffer; pixels?: { data: Uint8ClampedArray; width: number; height: number; channels: 4 } };

export type Reply =
  | { type: 'model'; engine: string; threads: number }
  | { type: 'mask'; classes: Uint8Array; width: number; height: number; ms: number; engine: string; threads: number }
  | { type: 'error'; message: string };

/** In the Worker: answers each request in turn, errors as `{ type: 'error' }`. */
export function answer(handle: (req: Request) => Promise<Reply>): void {
  let queue: Promise<unknown> = Promise.resolve();
  self.onmessage = (e: MessageEvent<Request>) => {
    queue = queue.then(() => handle(e.data)).then(
      (reply) => self.postMessage(reply),
      (err: unknown) => self.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies Reply),
    );
  };
}
