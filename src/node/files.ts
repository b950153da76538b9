/**
 * File I/O for the CLI that never blocks on a FIFO or device, never reads without a size bound,
 * and never leaves a half-written file under its final name.
 */
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FreqregError } from '../errors.js';

/** Reads a regular file of at most `maxBytes`; anything else (FIFO, device, directory) is refused. */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENXIO: a socket (e.g. /dev/stdin fed by a socketpair) or a device with nothing behind it.
    if (code === 'ENXIO') throw new FreqregError('file', 'FILE_NOT_REGULAR', 'is a socket or device (ENXIO)', { file: path });
    throw new FreqregError('file', 'FILE_READ', code ?? (e as Error).message, { file: path });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
      throw new FreqregError('file', 'FILE_NOT_REGULAR', `is ${what}`, { file: path });
    }
    if (st.size > maxBytes) {
      throw new FreqregError('file', 'FILE_TOO_LARGE', `${st.size} bytes, the limit is ${maxBytes}`, { file: path });
    }
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await handle.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== st.size) throw new FreqregError('file', 'FILE_READ', `changed while being read (${off} of ${st.size} bytes)`, { file: path });
    return buf;
  } finally {
    await handle.close();
  }
}

/**
 * Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
 * crash never leaves a partial file under the final name. Refuses to replace an existing file
 * unless `overwrite`.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string, overwrite: boolean): Promise<void> {
  if (!overwrite) {
    const exists = await fs.lstat(path).then(() => true, () => false);
    if (exists) throw new FreqregError('file', 'OUTPUT_EXISTS', 'use --overwrite to replace it', { file: path });
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await fs.writeFile(tmp, bytes, { flag: 'wx' });
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    if (e instanceof FreqregError) throw e;
    throw new FreqregError('file', 'FILE_READ', `cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
}

/** True when two paths name the same file or directory (after resolving). */
export async function samePath(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([fs.realpath(a).catch(() => resolve(a)), fs.realpath(b).catch(() => resolve(b))]);
  return ra === rb;
}
