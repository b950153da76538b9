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

/** Temporary files are `.<final name>.<pid>.<random>.tmp`, beside the final name. */
const TEMP_NAME = /^\.(.+)\.([0-9]+)\.([a-z0-9]+)\.tmp$/;
/** A temporary this old was left by a run that was killed (a write takes milliseconds). */
export const STALE_TEMP_MS = 10 * 60 * 1000;

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

/** A file-system failure while writing `path`, named as a write (FILE_WRITE), with its errno code. */
function writeError(e: unknown, path: string): FreqregError {
  if (e instanceof FreqregError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new FreqregError('file', 'FILE_WRITE', `cannot write: ${code}`, { file: path });
}

/**
 * Writes `bytes` to `path` through a temporary file in the same directory, so a crash never
 * leaves a partial file under the final name. Without `overwrite` the temporary is hard-linked
 * into place, which fails if the name exists — even if it was created after any check — and then
 * removed; with `overwrite` it is renamed over the name. Where the file system has no hard links,
 * an exclusive copy takes the link's place. Errors: OUTPUT_EXISTS, FILE_WRITE.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string, overwrite: boolean): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await fs.writeFile(tmp, bytes, { flag: 'wx' });
    if (overwrite) {
      await fs.rename(tmp, path);
      return;
    }
    try {
      await fs.link(tmp, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new FreqregError('file', 'OUTPUT_EXISTS', 'use --overwrite to replace it', { file: path });
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
      await fs.copyFile(tmp, path, constants.COPYFILE_EXCL).catch((copyError: NodeJS.ErrnoException) => {
        throw copyError.code === 'EEXIST' ? new FreqregError('file', 'OUTPUT_EXISTS', 'use --overwrite to replace it', { file: path }) : copyError;
      });
    }
  } catch (e) {
    throw writeError(e, path);
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/**
 * Removes temporaries a killed run left in `dir`: files named as writeFileAtomic names them, for a
 * final name `ours` accepts, older than STALE_TEMP_MS. Returns how many were removed. Failures
 * are ignored (a temporary that cannot be removed harms nothing).
 */
export async function removeStaleTemporaries(dir: string, ours: (finalName: string) => boolean, now = Date.now()): Promise<number> {
  let removed = 0;
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const m = TEMP_NAME.exec(name);
    if (!m || !ours(m[1])) continue;
    const path = join(dir, name);
    const st = await fs.lstat(path).catch(() => undefined);
    if (!st?.isFile() || now - st.mtimeMs < STALE_TEMP_MS) continue;
    if (await fs.rm(path).then(() => true, () => false)) removed++;
  }
  return removed;
}

/**
 * The output folder `dir`, created if missing, as a real path. A path that is not a folder and
 * cannot be made one (an existing file, a link loop, a parent that cannot be written) is a USAGE
 * error naming it.
 */
export async function prepareOutDir(dir: string, flag = '--out'): Promise<string> {
  try {
    await fs.mkdir(resolve(dir), { recursive: true });
    const real = await fs.realpath(resolve(dir));
    if (!(await fs.stat(real)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    return real;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'exists and is not a folder (or a path through a file)'
      : code === 'ELOOP' ? 'is a loop of symbolic links'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'cannot be created here (no permission or a read-only file system)'
          : 'cannot be created';
    throw new FreqregError('cli', 'USAGE', `${flag} ${dir} ${why} (${code})`);
  }
}

/** True when two paths name the same file or directory (after resolving). */
export async function samePath(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([fs.realpath(a).catch(() => resolve(a)), fs.realpath(b).catch(() => resolve(b))]);
  return ra === rb;
}
