/**
 * A restricted pickle interpreter: the protocol-2 opcodes torch.save writes, and nothing else.
 *
 * It never resolves a name to code. GLOBAL looks the exact bytes "module\nname" up in the
 * caller's allowlist (`PickleEnv.globals`); anything else is PICKLE_GLOBAL at that opcode, and
 * interpretation stops there. REDUCE may only apply an allowlisted global, by running the
 * caller's own handler for it. BINPERSID hands the id to the caller's `persistentLoad`.
 *
 * Values: ints are `bigint` (signed 64-bit at most), floats `number`, strings `string`, None
 * `null`, bools `boolean`; tuples, lists and dicts are tagged objects; the caller's handlers
 * produce `{ kind: 'host', value: H }`. Divergence from CPython: strings must be strict UTF-8
 * (CPython's pickle uses 'surrogatepass'); dict keys must be str or int, and setting one twice is
 * refused (PICKLE_DUPLICATE_KEY) rather than overwritten.
 */
import { fail } from '../errors.js';
import type { Limits } from './limits.js';

export type PickleLimits = Pick<Limits,
  'maxPickleBytes' | 'maxPickleOpcodes' | 'maxPickleStack' | 'maxPickleDepth' | 'maxPickleMemo' | 'maxPickleStringBytes'>;

export type PickleKey = string | bigint;
export interface PickleTuple<H> { kind: 'tuple'; items: PickleValue<H>[] }
export interface PickleList<H> { kind: 'list'; items: PickleValue<H>[] }
export interface PickleDict<H> {
  kind: 'dict';
  entries: Map<PickleKey, PickleValue<H>>;
  /** Made by an allowlisted OrderedDict constructor; only these accept BUILD. */
  ordered: boolean;
  /** The BUILD state (attributes such as `_metadata`), kept but not interpreted. */
  attributes?: PickleDict<H>;
}
/** A global that passed the allowlist; `name` is "module.name". */
export interface PickleGlobalRef { kind: 'global'; name: string; key: string }
export interface PickleHost<H> { kind: 'host'; value: H }
export type PickleValue<H> =
  | null | boolean | bigint | number | string
  | PickleTuple<H> | PickleList<H> | PickleDict<H> | PickleGlobalRef | PickleHost<H>;

export interface PickleGlobal<H> {
  /** What REDUCE does with this global, given the argument tuple's items. Absent: not callable. */
  call?: (args: PickleValue<H>[], offset: number) => PickleValue<H>;
}

export interface PickleEnv<H> {
  /** Allowlist keyed by the exact GLOBAL bytes "module\nname" (latin-1 decoded). */
  globals: ReadonlyMap<string, PickleGlobal<H>>;
  persistentLoad: (pid: PickleValue<H>, offset: number) => PickleValue<H>;
  limits: PickleLimits;
}

/** Every opcode of pickle protocols 0–5 (CPython Lib/pickle.py), for naming refused ones. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

export function opcodeName(op: number): string {
  return `${OPCODE_NAMES[op] ?? 'unknown opcode'} (0x${op.toString(16).padStart(2, '0')})`;
}

const PROTOCOL = 2;
/** Longest GLOBAL module or name line; torch's are under 40 bytes. */
const MAX_GLOBAL_LINE = 256;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

type Container<H> = PickleTuple<H> | PickleList<H> | PickleDict<H>;

/** Runs the pickle and returns what STOP leaves on the stack. Only FreqregError escapes. */
export function unpickle<H>(bytes: Uint8Array, env: PickleEnv<H>): PickleValue<H> {
  const { limits } = env;
  if (bytes.length > limits.maxPickleBytes) fail('pickle', 'PICKLE_TOO_LARGE', `${bytes.length} bytes; the cap is ${limits.maxPickleBytes}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const stack: PickleValue<H>[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue<H>>();
  /** Nesting depth of containers, tracked when they are built or grow (best effort under memo aliasing). */
  const depths = new WeakMap<object, number>();
  let pos = 0;
  let at = 0; // offset of the opcode being run
  let ops = 0;

  const need = (n: number, what: string): number => {
    if (n > bytes.length - pos) fail('pickle', 'PICKLE_TRUNCATED', `${what} needs ${n} bytes, ${bytes.length - pos} left`, { offset: at });
    const start = pos;
    pos += n;
    return start;
  };
  const push = (v: PickleValue<H>): void => {
    if (stack.length >= limits.maxPickleStack) fail('pickle', 'PICKLE_TOO_LARGE', `stack passed ${limits.maxPickleStack} items`, { offset: at });
    stack.push(v);
  };
  const frameBase = (): number => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): PickleValue<H> => {
    if (stack.length <= frameBase()) fail('pickle', 'PICKLE_STACK', `${opcodeName(bytes[at])} needs an item the stack does not have`, { offset: at });
    return stack.pop()!;
  };
  const peek = (): PickleValue<H> => {
    if (stack.length <= frameBase()) fail('pickle', 'PICKLE_STACK', `${opcodeName(bytes[at])} needs an item the stack does not have`, { offset: at });
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue<H>[] => {
    if (marks.length === 0) fail('pickle', 'PICKLE_STACK', `${opcodeName(bytes[at])} without a MARK`, { offset: at });
    return stack.splice(marks.pop()!);
  };
  const depthOf = (v: PickleValue<H>): number => (typeof v === 'object' && v !== null ? depths.get(v) ?? 1 : 0);
  const setDepth = (c: object, depth: number): void => {
    if (depth > limits.maxPickleDepth) fail('pickle', 'PICKLE_DEPTH', `containers nested deeper than ${limits.maxPickleDepth}`, { offset: at });
    depths.set(c, depth);
  };
  const tuple = (items: PickleValue<H>[]): PickleTuple<H> => {
    const t: PickleTuple<H> = { kind: 'tuple', items };
    setDepth(t, 1 + items.reduce((d: number, v) => Math.max(d, depthOf(v)), 0));
    return t;
  };
  const grow = (c: Container<H>, item: PickleValue<H>): void => setDepth(c, Math.max(depthOf(c), depthOf(item) + 1));
  const int = (v: bigint): bigint => {
    if (v < INT64_MIN || v > INT64_MAX) fail('pickle', 'PICKLE_INT_RANGE', `integer ${v} does not fit in 64 bits`, { offset: at });
    return v;
  };
  const memoIndex = (n: number): number => (n === 1 ? bytes[need(1, 'memo index')] : dv.getUint32(need(4, 'memo index'), true));
  const readLine = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('pickle', 'PICKLE_TRUNCATED', `${what} has no terminating newline`, { offset: at });
    if (end - pos > MAX_GLOBAL_LINE) fail('pickle', 'PICKLE_GLOBAL', `${what} longer than ${MAX_GLOBAL_LINE} bytes`, { offset: at });
    const line = String.fromCharCode(...bytes.subarray(pos, end)); // latin-1: one char per byte, for an exact match
    pos = end + 1;
    return line;
  };
  const setItem = (dict: PickleValue<H>, key: PickleValue<H>, value: PickleValue<H>): void => {
    if (typeof dict !== 'object' || dict === null || dict.kind !== 'dict') fail('pickle', 'PICKLE_TYPE', `${opcodeName(bytes[at])} on a ${kindOf(dict)}, expected a dict`, { offset: at });
    if (typeof key !== 'string' && typeof key !== 'bigint') fail('pickle', 'PICKLE_TYPE', `dict key is a ${kindOf(key)}; only str and int keys are accepted`, { offset: at });
    if (dict.entries.has(key)) fail('pickle', 'PICKLE_DUPLICATE_KEY', `dict key ${JSON.stringify(String(key))} set twice`, { offset: at });
    grow(dict, value);
    dict.entries.set(key, value);
  };
  const append = (list: PickleValue<H>, value: PickleValue<H>): void => {
    if (typeof list !== 'object' || list === null || list.kind !== 'list') fail('pickle', 'PICKLE_TYPE', `${opcodeName(bytes[at])} on a ${kindOf(list)}, expected a list`, { offset: at });
    grow(list, value);
    list.items.push(value);
  };

  if (bytes.length === 0) fail('pickle', 'PICKLE_TRUNCATED', 'empty pickle', { offset: 0 });
  if (bytes[0] !== 0x80) fail('pickle', 'PICKLE_PROTO', `expected PROTO ${PROTOCOL} first, got ${opcodeName(bytes[0])}`, { offset: 0 });

  try {
    for (;;) {
      if (pos >= bytes.length) fail('pickle', 'PICKLE_TRUNCATED', 'no STOP opcode', { offset: pos });
      if (++ops > limits.maxPickleOpcodes) fail('pickle', 'PICKLE_TOO_LARGE', `more than ${limits.maxPickleOpcodes} opcodes`, { offset: pos });
      at = pos;
      const op = bytes[pos++];
      switch (op) {
        case 0x80: { // PROTO
          const version = bytes[need(1, 'PROTO')];
          if (at !== 0) fail('pickle', 'PICKLE_PROTO', 'PROTO not at the start', { offset: at });
          if (version !== PROTOCOL) fail('pickle', 'PICKLE_PROTO', `protocol ${version}; only ${PROTOCOL} (torch.save's) is accepted`, { offset: at });
          break;
        }
        case 0x2e: { // STOP
          if (marks.length) fail('pickle', 'PICKLE_TRAILING', `STOP with ${marks.length} open MARK(s)`, { offset: at });
          if (stack.length !== 1) fail('pickle', 'PICKLE_TRAILING', `STOP with ${stack.length} items on the stack, expected 1`, { offset: at });
          if (pos !== bytes.length) fail('pickle', 'PICKLE_TRAILING', `${bytes.length - pos} bytes after STOP`, { offset: pos });
          return stack[0];
        }
        case 0x28: // MARK
          if (marks.length >= limits.maxPickleDepth) fail('pickle', 'PICKLE_DEPTH', `more than ${limits.maxPickleDepth} open MARKs`, { offset: at });
          marks.push(stack.length);
          break;
        case 0x7d: push({ kind: 'dict', entries: new Map(), ordered: false }); break; // EMPTY_DICT
        case 0x5d: push({ kind: 'list', items: [] }); break; // EMPTY_LIST
        case 0x29: push(tuple([])); break; // EMPTY_TUPLE
        case 0x4e: push(null); break; // NONE
        case 0x88: push(true); break; // NEWTRUE
        case 0x89: push(false); break; // NEWFALSE
        case 0x4a: push(BigInt(dv.getInt32(need(4, 'BININT'), true))); break;
        case 0x4b: push(BigInt(bytes[need(1, 'BININT1')])); break;
        case 0x4d: push(BigInt(dv.getUint16(need(2, 'BININT2'), true))); break;
        case 0x8a: { // LONG1: little-endian two's complement of n bytes
          const n = bytes[need(1, 'LONG1 length')];
          if (n > 8) fail('pickle', 'PICKLE_INT_RANGE', `LONG1 of ${n} bytes; at most 8 are accepted`, { offset: at });
          const start = need(n, 'LONG1');
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[start + i]);
          if (n > 0 && bytes[start + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
          push(int(v));
          break;
        }
        case 0x47: push(dv.getFloat64(need(8, 'BINFLOAT'), false)); break; // BINFLOAT (big-endian)
        case 0x58: { // BINUNICODE
          const length = dv.getUint32(need(4, 'BINUNICODE length'), true);
          const start = need(length, 'BINUNICODE');
          if (length > limits.maxPickleStringBytes) fail('pickle', 'PICKLE_TOO_LARGE', `string of ${length} bytes; the cap is ${limits.maxPickleStringBytes}`, { offset: at });
          let text: string;
          try { text = utf8.decode(bytes.subarray(start, start + length)); } catch {
            fail('pickle', 'PICKLE_UTF8', 'BINUNICODE is not valid UTF-8', { offset: at });
          }
          push(text);
          break;
        }
        case 0x63: { // GLOBAL
          const module = readLine('GLOBAL module');
          const name = readLine('GLOBAL name');
          const key = `${module}\n${name}`;
          const shown = JSON.stringify(`${module}.${name}`);
          if (!env.globals.has(key)) fail('pickle', 'PICKLE_GLOBAL', `global ${shown} is not allowed`, { offset: at });
          push({ kind: 'global', name: `${module}.${name}`, key });
          break;
        }
        case 0x71: case 0x72: { // BINPUT, LONG_BINPUT
          const index = memoIndex(op === 0x71 ? 1 : 4);
          const value = peek();
          if (!memo.has(index) && memo.size >= limits.maxPickleMemo) fail('pickle', 'PICKLE_MEMO', `more than ${limits.maxPickleMemo} memo slots`, { offset: at });
          memo.set(index, value);
          break;
        }
        case 0x68: case 0x6a: { // BINGET, LONG_BINGET
          const index = memoIndex(op === 0x68 ? 1 : 4);
          if (!memo.has(index)) fail('pickle', 'PICKLE_MEMO', `memo slot ${index} was never set`, { offset: at });
          push(memo.get(index)!);
          break;
        }
        case 0x74: push(tuple(popMark())); break; // TUPLE
        case 0x85: case 0x86: case 0x87: { // TUPLE1..3
          const n = op - 0x84;
          const items: PickleValue<H>[] = [];
          for (let i = 0; i < n; i++) items.unshift(pop());
          push(tuple(items));
          break;
        }
        case 0x52: { // REDUCE
          const args = pop();
          const callable = pop();
          if (typeof callable !== 'object' || callable === null || callable.kind !== 'global') {
            fail('pickle', 'PICKLE_TYPE', `REDUCE on a ${kindOf(callable)}, expected an allowed global`, { offset: at });
          }
          const handler = env.globals.get(callable.key)?.call;
          if (!handler) fail('pickle', 'PICKLE_ARGS', `${callable.name} is not callable`, { offset: at });
          if (typeof args !== 'object' || args === null || args.kind !== 'tuple') fail('pickle', 'PICKLE_ARGS', `${callable.name} applied to a ${kindOf(args)}, expected a tuple`, { offset: at });
          push(handler(args.items, at));
          break;
        }
        case 0x51: push(env.persistentLoad(pop(), at)); break; // BINPERSID
        case 0x73: { // SETITEM
          const value = pop();
          const key = pop();
          setItem(peek(), key, value);
          break;
        }
        case 0x75: { // SETITEMS
          const items = popMark();
          if (items.length % 2) fail('pickle', 'PICKLE_STACK', 'SETITEMS with an odd number of items', { offset: at });
          const dict = peek();
          for (let i = 0; i < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
          break;
        }
        case 0x61: { // APPEND
          const value = pop();
          append(peek(), value);
          break;
        }
        case 0x65: { // APPENDS
          const items = popMark();
          const list = peek();
          for (const item of items) append(list, item);
          break;
        }
        case 0x62: { // BUILD: only OrderedDict, with a dict of attributes (torch's `_metadata`)
          const state = pop();
          const target = peek();
          if (typeof target !== 'object' || target === null || target.kind !== 'dict' || !target.ordered) {
            fail('pickle', 'PICKLE_BUILD', `BUILD on a ${kindOf(target)}; only OrderedDict accepts it`, { offset: at });
          }
          if (typeof state !== 'object' || state === null || state.kind !== 'dict') {
            fail('pickle', 'PICKLE_BUILD', `BUILD state is a ${kindOf(state)}, expected a dict`, { offset: at });
          }
          grow(target, state);
          target.attributes = state;
          break;
        }
        default:
          fail('pickle', 'PICKLE_OPCODE', `${opcodeName(op)} is not allowed`, { offset: at });
      }
    }
  } catch (e) {
    if (e instanceof RangeError) fail('pickle', 'PICKLE_TRUNCATED', `read past the end (${e.message})`, { offset: at });
    throw e;
  }
}

/** "tuple", "dict", "str", "int", … for error messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'None';
  switch (typeof v) {
    case 'string': return 'str';
    case 'bigint': return 'int';
    case 'number': return 'float';
    case 'boolean': return 'bool';
    case 'object': {
      const tagged = v as { kind?: string; name?: string; ordered?: boolean; value?: { type?: unknown } };
      if (tagged.kind === 'global') return `global ${tagged.name}`;
      if (tagged.kind === 'host' && typeof tagged.value?.type === 'string') return tagged.value.type;
      if (tagged.kind === 'dict' && tagged.ordered) return 'OrderedDict';
      return tagged.kind ?? 'object';
    }
    default: return typeof v;
  }
}
