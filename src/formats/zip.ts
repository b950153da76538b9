/**
 * A strict zip reader for PyTorch checkpoints (APPNOTE 6.3.10). PyTorch (miniz) writes every entry
 * STORED, with general-purpose bit 3 set, zero CRC and sizes in the local header and a data
 * descriptor after the data, and pads local headers with an "FB" extra field so data is 64-byte
 * aligned. That is accepted: sizes and CRC come from the central directory, and the descriptor
 * after the data must agree with them.
 *
 * Checked, in order, before any per-entry allocation: one end-of-central-directory record (EOCD)
 * within the last 65,557 bytes; zip64 end records if present; entry count and central-directory
 * size against the limits and against each other; then each central record (name safety, flags,
 * method, sizes), its local header (name, method, sizes, descriptor) and finally the layout (first
 * local header at offset 0, no two entries overlapping, nothing overlapping the central directory).
 * Only STORED entries: no platform-neutral, synchronous, bounded inflate is available here, so
 * DEFLATE and everything else is ZIP_METHOD. CRC-32 is verified when an entry is read.
 */
import { fail } from '../errors.js';
import type { Limits } from './limits.js';
import { decodeUtf8Strict, quoteName, unsafeNameReason } from './names.js';

export type ZipLimits = Pick<Limits, 'maxZipEntries' | 'maxZipCentralDirectoryBytes' | 'maxZipNameBytes'>;

export interface ZipEntry {
  name: string;
  /** Offset of the local file header. */
  localHeaderOffset: number;
  /** Offset of the entry's data. */
  dataOffset: number;
  /** Size of the data (stored, so compressed = uncompressed). */
  size: number;
  /** CRC-32 from the central directory. */
  crc32: number;
}

export interface ZipArchive {
  bytes: Uint8Array;
  /** Entries by name, in central-directory order. */
  entries: ReadonlyMap<string, ZipEntry>;
}

const SIG = { local: 0x04034b50, central: 0x02014b50, eocd: 0x06054b50, zip64Eocd: 0x06064b50, zip64Locator: 0x07064b50, descriptor: 0x08074b50 } as const;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
/** EOCD plus the longest comment: the EOCD search window (APPNOTE 4.3.16). */
export const EOCD_SEARCH_BYTES = EOCD_BYTES + 0xffff;
const METHOD_STORED = 0;
const METHOD_AES = 99;
const FLAG_ENCRYPTED = 1 << 0;
const FLAG_DESCRIPTOR = 1 << 3;
const FLAG_STRONG_ENCRYPTION = 1 << 6;
const FLAG_MASKED_HEADER = 1 << 13;
const ZIP64_EXTRA_ID = 0x0001;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

interface EndRecord { entries: number; cdOffset: number; cdSize: number; cdEnd: number }
interface CentralRecord extends ZipEntry { flags: number; method: number; nameBytes: Uint8Array; zip64Sizes: boolean }

function u64(dv: DataView, at: number, what: string, where: { offset: number; entry?: string }): number {
  const value = dv.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail('zip', 'ZIP_RANGE', `${what} ${value} is beyond 2^53 - 1`, where);
  return Number(value);
}

/** The one EOCD whose comment reaches exactly to the end of the file. */
function findEocd(bytes: Uint8Array, dv: DataView): number {
  const lowest = Math.max(0, bytes.length - EOCD_SEARCH_BYTES);
  const found: number[] = [];
  for (let pos = bytes.length - EOCD_BYTES; pos >= lowest; pos--) {
    if (dv.getUint32(pos, true) === SIG.eocd && pos + EOCD_BYTES + dv.getUint16(pos + 20, true) === bytes.length) found.push(pos);
  }
  if (found.length === 0) fail('zip', 'ZIP_EOCD', `no end-of-central-directory record in the last ${EOCD_SEARCH_BYTES} bytes`, { offset: lowest });
  if (found.length > 1) fail('zip', 'ZIP_EOCD', `${found.length} end-of-central-directory records reach the end of the file (one hides in a comment)`, { offset: found[1] });
  return found[0];
}

function readEndRecord(bytes: Uint8Array, dv: DataView, limits: ZipLimits): EndRecord {
  const eocd = findEocd(bytes, dv);
  const at = { offset: eocd };
  const disk = dv.getUint16(eocd + 4, true), cdDisk = dv.getUint16(eocd + 6, true);
  let entriesHere = dv.getUint16(eocd + 8, true), entries = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true), cdOffset = dv.getUint32(eocd + 16, true);
  let cdEnd = eocd;
  const locator = eocd - ZIP64_LOCATOR_BYTES;
  const hasLocator = locator >= 0 && dv.getUint32(locator, true) === SIG.zip64Locator;
  if (hasLocator) {
    const locAt = { offset: locator };
    if (dv.getUint32(locator + 4, true) !== 0 || dv.getUint32(locator + 16, true) !== 1) fail('zip', 'ZIP_UNSUPPORTED', 'zip64 locator names another disk', locAt);
    const record = u64(dv, locator + 8, 'zip64 end record offset', locAt);
    if (record + ZIP64_EOCD_BYTES > locator) fail('zip', 'ZIP_RANGE', `zip64 end record at ${record} does not fit before its locator`, locAt);
    if (dv.getUint32(record, true) !== SIG.zip64Eocd) fail('zip', 'ZIP_RANGE', 'zip64 locator does not point at a zip64 end record', locAt);
    const recAt = { offset: record };
    if (u64(dv, record + 4, 'zip64 end record size', recAt) + 12 !== locator - record) fail('zip', 'ZIP_RANGE', 'zip64 end record size does not reach its locator', recAt);
    if (dv.getUint32(record + 16, true) !== 0 || dv.getUint32(record + 20, true) !== 0) fail('zip', 'ZIP_UNSUPPORTED', 'multi-disk archive', recAt);
    entriesHere = u64(dv, record + 24, 'zip64 entry count', recAt);
    entries = u64(dv, record + 32, 'zip64 entry count', recAt);
    cdSize = u64(dv, record + 40, 'zip64 central directory size', recAt);
    cdOffset = u64(dv, record + 48, 'zip64 central directory offset', recAt);
    cdEnd = record;
  } else if (entries === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail('zip', 'ZIP_RANGE', 'EOCD fields say zip64 but there is no zip64 locator', at);
  }
  if (disk !== 0 || cdDisk !== 0 || entriesHere !== entries) fail('zip', 'ZIP_UNSUPPORTED', 'multi-disk archive', at);
  if (entries > limits.maxZipEntries) fail('zip', 'ZIP_CD', `${entries} entries; the cap is ${limits.maxZipEntries}`, at);
  if (cdSize > limits.maxZipCentralDirectoryBytes) fail('zip', 'ZIP_CD', `central directory of ${cdSize} bytes; the cap is ${limits.maxZipCentralDirectoryBytes}`, at);
  if (entries * CENTRAL_BYTES > cdSize) fail('zip', 'ZIP_CD', `${entries} entries cannot fit in a ${cdSize}-byte central directory`, at);
  if (cdOffset + cdSize !== cdEnd) {
    fail('zip', 'ZIP_CD', `central directory at ${cdOffset} + ${cdSize} bytes should end at ${cdEnd}, where the end records start`, at);
  }
  return { entries, cdOffset, cdSize, cdEnd };
}

/** Reads the zip64 extended-information extra field for whichever of the three fields were 0xFFFFFFFF. */
function zip64Values(dv: DataView, extraStart: number, extraEnd: number, wanted: number, where: { offset: number; entry: string }): number[] {
  for (let p = extraStart; p + 4 <= extraEnd;) {
    const id = dv.getUint16(p, true), size = dv.getUint16(p + 2, true);
    if (p + 4 + size > extraEnd) break;
    if (id === ZIP64_EXTRA_ID) {
      if (size < wanted * 8) break;
      return Array.from({ length: wanted }, (_, i) => u64(dv, p + 4 + i * 8, 'zip64 field', where));
    }
    p += 4 + size;
  }
  fail('zip', 'ZIP_RANGE', 'fields say zip64 but the zip64 extra field is missing or short', where);
}

function readCentralRecord(bytes: Uint8Array, dv: DataView, pos: number, end: EndRecord, limits: ZipLimits): { record: CentralRecord; next: number } {
  if (pos + CENTRAL_BYTES > end.cdEnd || dv.getUint32(pos, true) !== SIG.central) fail('zip', 'ZIP_CD', 'expected a central directory record', { offset: pos });
  const flags = dv.getUint16(pos + 8, true), method = dv.getUint16(pos + 10, true);
  const crc32 = dv.getUint32(pos + 16, true);
  let compressed = dv.getUint32(pos + 20, true), size = dv.getUint32(pos + 24, true);
  const nameLength = dv.getUint16(pos + 28, true), extraLength = dv.getUint16(pos + 30, true), commentLength = dv.getUint16(pos + 32, true);
  const diskStart = dv.getUint16(pos + 34, true);
  let localHeaderOffset = dv.getUint32(pos + 42, true);
  const next = pos + CENTRAL_BYTES + nameLength + extraLength + commentLength;
  if (next > end.cdEnd) fail('zip', 'ZIP_CD', 'central record runs past the central directory', { offset: pos });

  if (nameLength > limits.maxZipNameBytes) fail('zip', 'ZIP_NAME', `name of ${nameLength} bytes; the cap is ${limits.maxZipNameBytes}`, { offset: pos });
  const nameBytes = bytes.subarray(pos + CENTRAL_BYTES, pos + CENTRAL_BYTES + nameLength);
  const name = decodeUtf8Strict(nameBytes);
  if (name === undefined) fail('zip', 'ZIP_NAME', 'name is not valid UTF-8', { offset: pos });
  const where = { offset: pos, entry: name };
  const unsafe = unsafeNameReason(name);
  if (unsafe) fail('zip', 'ZIP_NAME', `${unsafe}: ${quoteName(name)}`, where);

  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER) || method === METHOD_AES) fail('zip', 'ZIP_UNSUPPORTED', 'entry is encrypted', where);
  if (method !== METHOD_STORED) fail('zip', 'ZIP_METHOD', `compression method ${method}; only 0 (stored) is supported`, where);

  const wide = [size === U32_MAX, compressed === U32_MAX, localHeaderOffset === U32_MAX];
  const zip64Sizes = wide[0] || wide[1];
  if (wide.some(Boolean) || diskStart === U16_MAX) {
    const extraStart = pos + CENTRAL_BYTES + nameLength;
    const values = zip64Values(dv, extraStart, extraStart + extraLength, wide.filter(Boolean).length, where);
    if (wide[0]) size = values.shift()!;
    if (wide[1]) compressed = values.shift()!;
    if (wide[2]) localHeaderOffset = values.shift()!;
  } else if (diskStart !== 0) {
    fail('zip', 'ZIP_UNSUPPORTED', `entry starts on disk ${diskStart}`, where);
  }
  if (compressed !== size) fail('zip', 'ZIP_CD', `stored entry with compressed size ${compressed} ≠ size ${size}`, where);
  if (localHeaderOffset + LOCAL_BYTES > end.cdOffset) fail('zip', 'ZIP_RANGE', `local header offset ${localHeaderOffset} is not before the central directory`, where);
  return { record: { name, nameBytes, flags, method, crc32, size, zip64Sizes, localHeaderOffset, dataOffset: -1 }, next };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks the local header and data descriptor against the central record; returns where the entry ends. */
function checkLocalHeader(bytes: Uint8Array, dv: DataView, record: CentralRecord, end: EndRecord): number {
  const at = record.localHeaderOffset;
  const where = { offset: at, entry: record.name };
  if (dv.getUint32(at, true) !== SIG.local) fail('zip', 'ZIP_HEADER_MISMATCH', 'no local header where the central directory points', where);
  const flags = dv.getUint16(at + 6, true), method = dv.getUint16(at + 8, true);
  const crc32 = dv.getUint32(at + 14, true), compressed = dv.getUint32(at + 18, true), size = dv.getUint32(at + 22, true);
  const nameLength = dv.getUint16(at + 26, true), extraLength = dv.getUint16(at + 28, true);
  const dataOffset = at + LOCAL_BYTES + nameLength + extraLength;
  if (dataOffset > end.cdOffset) fail('zip', 'ZIP_RANGE', 'local header runs into the central directory', where);
  if (!sameBytes(bytes.subarray(at + LOCAL_BYTES, at + LOCAL_BYTES + nameLength), record.nameBytes)) fail('zip', 'ZIP_HEADER_MISMATCH', 'local and central names differ', where);
  if (method !== record.method) fail('zip', 'ZIP_HEADER_MISMATCH', `local method ${method}, central ${record.method}`, where);
  if ((flags & FLAG_DESCRIPTOR) !== (record.flags & FLAG_DESCRIPTOR)) fail('zip', 'ZIP_HEADER_MISMATCH', 'local and central flags disagree on the data descriptor', where);
  if (record.size > end.cdOffset - dataOffset) fail('zip', 'ZIP_RANGE', `data of ${record.size} bytes runs into the central directory`, where);
  const dataEnd = dataOffset + record.size;
  record.dataOffset = dataOffset;

  const agrees = (localCrc: number, localCompressed: number, localSize: number): boolean =>
    localCrc === record.crc32 && localCompressed === localSize &&
    (localSize === record.size || (record.zip64Sizes && localSize === U32_MAX));
  if (!(flags & FLAG_DESCRIPTOR)) {
    if (!agrees(crc32, compressed, size)) fail('zip', 'ZIP_HEADER_MISMATCH', 'local CRC or sizes differ from the central directory', where);
    return dataEnd;
  }
  if ((crc32 !== 0 || compressed !== 0 || size !== 0) && !agrees(crc32, compressed, size)) {
    fail('zip', 'ZIP_HEADER_MISMATCH', 'local CRC or sizes differ from the central directory', where);
  }
  // Data descriptor (APPNOTE 4.3.9): optional signature, CRC-32, then sizes (8 bytes each for zip64).
  const sizeBytes = record.zip64Sizes ? 8 : 4;
  let p = dataEnd;
  if (p + 4 <= end.cdOffset && dv.getUint32(p, true) === SIG.descriptor) p += 4;
  if (p + 4 + 2 * sizeBytes > end.cdOffset) fail('zip', 'ZIP_HEADER_MISMATCH', 'data descriptor missing', { ...where, offset: dataEnd });
  const dCrc = dv.getUint32(p, true);
  const dCompressed = sizeBytes === 8 ? Number(dv.getBigUint64(p + 4, true)) : dv.getUint32(p + 4, true);
  const dSize = sizeBytes === 8 ? Number(dv.getBigUint64(p + 12, true)) : dv.getUint32(p + 8, true);
  if (dCrc !== record.crc32 || dCompressed !== record.size || dSize !== record.size) {
    fail('zip', 'ZIP_HEADER_MISMATCH', 'data descriptor differs from the central directory', { ...where, offset: dataEnd });
  }
  return p + 4 + 2 * sizeBytes;
}

/** Parses and validates the archive's structure; entry data is read (and CRC-checked) by readZipEntry. */
export function readZip(bytes: Uint8Array, limits: ZipLimits): ZipArchive {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = readEndRecord(bytes, dv, limits);
  const records: CentralRecord[] = [];
  const entries = new Map<string, ZipEntry>();
  let pos = end.cdOffset;
  for (let i = 0; i < end.entries; i++) {
    const { record, next } = readCentralRecord(bytes, dv, pos, end, limits);
    if (entries.has(record.name)) fail('zip', 'ZIP_DUPLICATE', `entry ${quoteName(record.name)} appears twice`, { offset: pos, entry: record.name });
    records.push(record);
    entries.set(record.name, record);
    pos = next;
  }
  if (pos !== end.cdEnd) fail('zip', 'ZIP_CD', `${end.entries} records end at ${pos}, the central directory at ${end.cdEnd}`, { offset: pos });

  const extents = records.map((r) => ({ name: r.name, start: r.localHeaderOffset, end: checkLocalHeader(bytes, dv, r, end) }));
  extents.sort((a, b) => a.start - b.start);
  if (extents.length > 0 && extents[0].start !== 0) {
    fail('zip', 'ZIP_EOCD', `${extents[0].start} bytes before the first local header (a polyglot?)`, { offset: 0 });
  }
  for (let i = 1; i < extents.length; i++) {
    if (extents[i].start < extents[i - 1].end) {
      fail('zip', 'ZIP_OVERLAP', `entry ${quoteName(extents[i].name)} starts inside ${quoteName(extents[i - 1].name)}`, { offset: extents[i].start, entry: extents[i].name });
    }
  }
  return {
    bytes,
    entries: new Map(records.map((r) => [r.name, { name: r.name, localHeaderOffset: r.localHeaderOffset, dataOffset: r.dataOffset, size: r.size, crc32: r.crc32 }])),
  };
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, polynomial 0xEDB88320), as zip uses. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The entry's bytes (a view into the archive), after checking its CRC-32. */
export function readZipEntry(archive: ZipArchive, entry: ZipEntry): Uint8Array {
  const data = archive.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.size);
  const actual = crc32(data);
  if (actual !== entry.crc32) {
    fail('zip', 'ZIP_CRC', `CRC-32 is ${actual.toString(16).padStart(8, '0')}, the central directory says ${entry.crc32.toString(16).padStart(8, '0')}`, { offset: entry.dataOffset, entry: entry.name });
  }
  return data;
}
