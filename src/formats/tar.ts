/**
 * A strict ustar reader for the one-checkpoint tar inside `.tar.xz` (POSIX.1-2001 ustar + pax).
 *
 * Accepted: typeflag '0' and NUL (regular files), '5' (directories, skipped) and 'x' (pax header
 * for the next member, keys in PAX_KEYS only). Everything else — links, devices, FIFOs, GNU
 * long names, global pax headers — is TAR_TYPE.
 *
 * End-of-archive policy: the first all-zero block ends the archive and nothing after it is read
 * (GNU tar writes two and pads to a record; one suffices here). Data that ends exactly at a header
 * boundary with no zero block is also accepted as the end; a partial header, or member data or its
 * padding running past the end, is TAR_TRUNCATED. From inside the archive a truncated member and a
 * size field larger than the bytes left look the same, so both are TAR_TRUNCATED; TAR_SIZE is for
 * size fields that are malformed, negative or beyond 2^53 − 1.
 */
import { fail } from '../errors.js';
import type { Limits } from './limits.js';
import { decodeUtf8Strict, quoteName, unsafeNameReason } from './names.js';

export type TarLimits = Pick<Limits, 'maxTarMembers' | 'maxTarNameBytes' | 'maxTarExtendedHeaderBytes'>;

export interface TarMember {
  /** Path inside the archive, validated by unsafeNameReason, without a leading `./`. */
  name: string;
  /** The member's bytes (a view into the archive, not a copy). */
  bytes: Uint8Array;
  /** Offset of the member's header in the archive. */
  offset: number;
}

const BLOCK = 512;
/** Header field offsets and lengths (POSIX ustar). */
const F = { name: [0, 100], size: [124, 12], chksum: [148, 8], typeflag: 156, magic: [257, 6], version: [263, 2], prefix: [345, 155] } as const;
/** pax keys that may appear; `path` and `size` apply to the next member, the rest are ignored. */
const PAX_KEYS = new Set(['path', 'size', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname']);

interface PaxOverrides { path?: string; size?: number }

function field(header: Uint8Array, [start, length]: readonly [number, number]): Uint8Array {
  return header.subarray(start, start + length);
}

/** Parses an octal numeric field: optional leading spaces, octal digits, then NULs/spaces. Empty → 0. */
function parseOctal(bytes: Uint8Array): number | undefined {
  const text = String.fromCharCode(...bytes).replace(/^ +/, '').replace(/[\0 ]+$/, '');
  if (!/^[0-7]*$/.test(text)) return undefined;
  if (text.length === 0) return 0;
  const value = parseInt(text, 8);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The size field: octal, or GNU base-256 (high bit of the first byte set, 0x40 = negative). */
function parseSize(header: Uint8Array, at: number): number {
  const bytes = field(header, F.size);
  if (bytes[0] & 0x80) {
    if (bytes[0] & 0x40) fail('tar', 'TAR_SIZE', 'base-256 size field is negative', { offset: at + F.size[0] });
    let value = BigInt(bytes[0] & 0x3f);
    for (let i = 1; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i]);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail('tar', 'TAR_SIZE', `base-256 size ${value} is beyond 2^53 - 1`, { offset: at + F.size[0] });
    return Number(value);
  }
  const size = parseOctal(bytes);
  if (size === undefined) {
    fail('tar', 'TAR_SIZE', `size field ${JSON.stringify(String.fromCharCode(...bytes))} is not an octal number`, { offset: at + F.size[0] });
  }
  return size;
}

/** Header checksum: sum of the header bytes with the checksum field read as spaces; signed or unsigned. */
function verifyChecksum(header: Uint8Array, at: number): void {
  const stored = parseOctal(field(header, F.chksum));
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : header[i];
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  if (stored === undefined || (stored !== unsigned && stored !== signed)) {
    fail('tar', 'TAR_CHECKSUM', `header checksum field says ${stored ?? 'nothing octal'}, header sums to ${unsigned}`, { offset: at + F.chksum[0] });
  }
}

/** A NUL-terminated text field; bytes after the first NUL must all be NUL. */
function textField(bytes: Uint8Array, what: string, at: number): string {
  const nul = bytes.indexOf(0);
  const used = nul < 0 ? bytes : bytes.subarray(0, nul);
  if (nul >= 0 && bytes.subarray(nul).some((b) => b !== 0)) fail('tar', 'TAR_NAME', `${what} has bytes after its terminating NUL`, { offset: at });
  const text = decodeUtf8Strict(used);
  if (text === undefined) fail('tar', 'TAR_NAME', `${what} is not valid UTF-8`, { offset: at });
  return text;
}

function checkedName(name: string, limits: TarLimits, at: number): string {
  if (new TextEncoder().encode(name).length > limits.maxTarNameBytes) {
    fail('tar', 'TAR_NAME', `name longer than ${limits.maxTarNameBytes} bytes`, { offset: at });
  }
  const reason = unsafeNameReason(name);
  if (reason) fail('tar', 'TAR_NAME', `${reason}: ${quoteName(name)}`, { offset: at, entry: name });
  return name.replace(/^(\.\/)+/, '');
}

function headerName(header: Uint8Array, at: number): string {
  const name = textField(field(header, F.name), 'name field', at + F.name[0]);
  const isPosixUstar = String.fromCharCode(...field(header, F.magic)) === 'ustar\0';
  if (!isPosixUstar) return name;
  const prefix = textField(field(header, F.prefix), 'prefix field', at + F.prefix[0]);
  return prefix ? `${prefix}/${name}` : name;
}

/** Parses pax records "<len> <key>=<value>\n" (POSIX pax, "pax Header Block"). */
function parsePax(data: Uint8Array, at: number, limits: TarLimits): PaxOverrides {
  const out: PaxOverrides = {};
  let pos = 0;
  while (pos < data.length) {
    let digitsEnd = pos;
    while (digitsEnd < data.length && digitsEnd - pos < 8 && data[digitsEnd] >= 0x30 && data[digitsEnd] <= 0x39) digitsEnd++;
    const length = parseInt(String.fromCharCode(...data.subarray(pos, digitsEnd)), 10);
    if (digitsEnd === pos || data[digitsEnd] !== 0x20 || !(length > digitsEnd - pos + 1) || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      fail('tar', 'TAR_PAX', 'malformed pax record', { offset: at + pos });
    }
    const record = decodeUtf8Strict(data.subarray(digitsEnd + 1, pos + length - 1));
    const eq = record?.indexOf('=') ?? -1;
    if (record === undefined || eq <= 0) fail('tar', 'TAR_PAX', 'pax record is not "key=value" in UTF-8', { offset: at + pos });
    const key = record.slice(0, eq), value = record.slice(eq + 1);
    if (!PAX_KEYS.has(key)) fail('tar', 'TAR_PAX', `pax key ${quoteName(key)} is not allowed`, { offset: at + pos });
    if (key === 'path') out.path = checkedName(value, limits, at + pos);
    if (key === 'size') {
      if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) fail('tar', 'TAR_SIZE', `pax size ${quoteName(value)} is not a decimal below 2^53`, { offset: at + pos });
      out.size = Number(value);
    }
    pos += length;
  }
  return out;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Every regular file in the archive, in order, after checking every header. */
export function readTarFiles(tar: Uint8Array, limits: TarLimits): TarMember[] {
  const files: TarMember[] = [];
  let pax: PaxOverrides | undefined;
  let headers = 0;
  let off = 0;
  while (off < tar.length) {
    if (tar.length - off < BLOCK) fail('tar', 'TAR_TRUNCATED', `header needs ${BLOCK} bytes, ${tar.length - off} left`, { offset: off });
    const header = tar.subarray(off, off + BLOCK);
    if (isZeroBlock(header)) break;
    if (++headers > limits.maxTarMembers) fail('tar', 'TAR_TOO_MANY_ENTRIES', `more than ${limits.maxTarMembers} headers`, { offset: off });
    verifyChecksum(header, off);
    const type = header[F.typeflag];
    const typeName = type === 0 ? 'NUL' : JSON.stringify(String.fromCharCode(type));
    const isExtended = type === 0x78 /* x */ || type === 0x4c /* L */ || type === 0x4b /* K */;
    let size = parseSize(header, off);
    if (isExtended && size > limits.maxTarExtendedHeaderBytes) {
      fail('tar', 'TAR_HEADER_TOO_LARGE', `extended header of ${size} bytes; the cap is ${limits.maxTarExtendedHeaderBytes}`, { offset: off });
    }
    const isFile = type === 0x30 || type === 0;
    if (isFile && pax?.size !== undefined) size = pax.size;
    const dataStart = off + BLOCK;
    const paddedSize = Math.ceil(size / BLOCK) * BLOCK;
    if (paddedSize > tar.length - dataStart) {
      fail('tar', 'TAR_TRUNCATED', `member data of ${size} bytes (${paddedSize} padded) runs past the end (${tar.length - dataStart} left)`, { offset: off });
    }
    const data = tar.subarray(dataStart, dataStart + size);

    if (type === 0x78) {
      if (pax) fail('tar', 'TAR_PAX', 'two pax headers in a row', { offset: off });
      pax = parsePax(data, dataStart, limits);
    } else if (isFile || type === 0x35 /* 5: directory */) {
      const name = checkedName(pax?.path ?? headerName(header, off), limits, off);
      if (isFile) files.push({ name, bytes: data, offset: off });
      pax = undefined;
    } else {
      const raw = field(header, F.name);
      const shownName = String.fromCharCode(...raw.subarray(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0)));
      fail('tar', 'TAR_TYPE', `typeflag ${typeName} (only regular files, directories and pax headers are accepted)`, { offset: off + F.typeflag, entry: shownName });
    }
    off = dataStart + paddedSize;
  }
  if (pax) fail('tar', 'TAR_TRUNCATED', 'pax header is not followed by a member', { offset: off });
  return files;
}

/** The checkpoint among the files: exactly one member named *.pt or *.pth. */
export function selectCheckpointMember(files: readonly TarMember[]): TarMember {
  const candidates = files.filter((f) => /\.pth?$/i.test(f.name));
  if (candidates.length === 0) {
    fail('tar', 'TAR_EMPTY', `expected one *.pt member, found ${files.length ? files.map((f) => quoteName(f.name)).join(', ') : 'no regular files'}`);
  }
  if (candidates.length > 1) {
    fail('tar', 'TAR_AMBIGUOUS', `expected one *.pt member, found ${candidates.map((f) => quoteName(f.name)).join(', ')}`, { offset: candidates[1].offset });
  }
  return candidates[0];
}
