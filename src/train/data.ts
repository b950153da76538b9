/**
 * Training data: pairs of photo and mask, from a CSV manifest or from two folders matched by
 * name, read through a small file interface (the CLI gives one over the file system, a browser
 * one over dropped files), decoded, checked and brought to the training size. A bad pair is
 * reported with its error and skipped; the rest go on.
 */
import { ERROR_CODES, FreqregError, toFreqregError, type ErrorCode } from '../errors.js';
import { decodeImage } from '../image/png-fflate.js';
import type { PngLimits } from '../image/png.js';
import { imageToTensor, type ImageInput } from '../input.js';
import type { Sample } from './augment.js';
import { decodeMask } from './mask.js';
import { resizeNearest, resizePlanar } from './resize.js';
import type { Rng } from './rng.js';

/** How the data is read: folders listed, files read (bounded, regular files only), paths joined. */
export interface DataFiles {
  /** Names (not paths) of the entries of a folder. */
  list(folder: string): Promise<string[]>;
  read(path: string): Promise<Uint8Array>;
  /** A path relative to a folder (or absolute) as one path. */
  join(folder: string, relative: string): string;
}

export interface PairSpec {
  /** Shown in reports: the photo's name. */
  name: string;
  image: string;
  mask: string;
}

export interface PairProblem {
  /** The photo, manifest line or file concerned. */
  name: string;
  code: ErrorCode;
  message: string;
}

export const PHOTO_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
export const MASK_EXTENSIONS = ['.png', '.gif'];

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

function stem(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Splits one CSV line into fields (RFC 4180 quoting: "a,b" and "" inside quotes). */
function csvFields(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined; // unclosed quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma < 0 ? line.length : comma);
      i = comma < 0 ? line.length : comma;
    }
    fields.push(field.trim());
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * Pairs from a manifest: one `image,mask` per line, paths relative to the manifest's folder
 * (`base`). Blank lines and `#` comments are skipped, and a first line `image,mask` is a header.
 */
export function parseManifest(text: string, base: string, join: DataFiles['join']): { pairs: PairSpec[]; problems: PairProblem[] } {
  const pairs: PairSpec[] = [], problems: PairProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = csvFields(line);
    if (n === 0 && fields && fields.length === 2 && fields[0].toLowerCase() === 'image' && fields[1].toLowerCase() === 'mask') return;
    if (!fields || fields.length !== 2 || !fields[0] || !fields[1]) {
      problems.push({ name: `line ${n + 1}`, code: 'MANIFEST', message: `line ${n + 1}: expected "image,mask", got ${JSON.stringify(line.slice(0, 200))}` });
      return;
    }
    pairs.push({ name: fields[0], image: join(base, fields[0]), mask: join(base, fields[1]) });
  });
  return { pairs, problems };
}

/**
 * The mask file for each photo. `template` names it from the photo's name: `{stem}` is the name
 * without its extension, `{digits}` the last run of digits in it (Carvana: `{stem}_mask.gif`;
 * the upstream test images: `gt{digits}.png`). Without a template (`auto`), the mask is the one
 * file whose name without extension is the photo's, or the photo's with `_mask` or `-mask` after
 * it, or has the same digits after a different prefix — the first rule that finds exactly one.
 */
export function matchMasks(photos: readonly string[], masks: readonly string[], template = 'auto'): { pairs: { image: string; mask: string }[]; problems: PairProblem[] } {
  const pairs: { image: string; mask: string }[] = [], problems: PairProblem[] = [];
  const maskNames = masks.filter((m) => MASK_EXTENSIONS.includes(extension(m)));
  const maskSet = new Set(masks);
  const byStem = new Map<string, string[]>();
  for (const m of maskNames) byStem.set(stem(m), [...(byStem.get(stem(m)) ?? []), m]);
  const digitsOf = (s: string): string | undefined => /(\d+)(?!.*\d)/.exec(s)?.[1];
  const numbered = new Map<string, string[]>();
  for (const m of maskNames) {
    const match = /^([^\d]*)(\d+)$/.exec(stem(m));
    if (match) numbered.set(match[2], [...(numbered.get(match[2]) ?? []), m]);
  }
  for (const photo of [...photos].filter((p) => PHOTO_EXTENSIONS.includes(extension(p))).sort()) {
    const s = stem(photo);
    if (template !== 'auto') {
      const digits = digitsOf(s);
      if (template.includes('{digits}') && digits === undefined) {
        problems.push({ name: photo, code: 'MASK_MISSING', message: `${photo}: no digits in the name for the template ${template}` });
        continue;
      }
      const name = template.replaceAll('{stem}', s).replaceAll('{digits}', digits ?? '');
      if (maskSet.has(name)) pairs.push({ image: photo, mask: name });
      else problems.push({ name: photo, code: 'MASK_MISSING', message: `${photo}: no mask ${name}` });
      continue;
    }
    const rules: (() => string[])[] = [
      () => byStem.get(s) ?? [],
      () => [...(byStem.get(`${s}_mask`) ?? []), ...(byStem.get(`${s}-mask`) ?? [])],
      () => {
        const match = /^([^\d]*)(\d+)$/.exec(s);
        return match ? numbered.get(match[2]) ?? [] : [];
      },
    ];
    let found: string[] = [];
    for (const rule of rules) {
      found = rule();
      if (found.length > 0) break;
    }
    if (found.length === 1) pairs.push({ image: photo, mask: found[0] });
    else if (found.length === 0) problems.push({ name: photo, code: 'MASK_MISSING', message: `${photo}: no mask found (give --mask-name, e.g. "{stem}_mask.gif")` });
    else problems.push({ name: photo, code: 'MASK_MISSING', message: `${photo}: ${found.length} masks could be its own (${found.slice(0, 3).join(', ')}); give --mask-name` });
  }
  return { pairs, problems };
}

/** Pairs from a photo folder and a mask folder (see matchMasks). */
export async function pairFolders(files: DataFiles, photoDir: string, maskDir: string, template?: string): Promise<{ pairs: PairSpec[]; problems: PairProblem[] }> {
  const [photos, masks] = await Promise.all([files.list(photoDir), files.list(maskDir)]);
  const matched = matchMasks(photos, masks, template);
  return {
    pairs: matched.pairs.map((p) => ({ name: p.image, image: files.join(photoDir, p.image), mask: files.join(maskDir, p.mask) })),
    problems: matched.problems,
  };
}

/** Decodes a photo: PNG or JPEG, by its first bytes. */
export function decodePhoto(bytes: Uint8Array, limits?: Partial<PngLimits>): ImageInput {
  return decodeImage(bytes, limits);
}

export interface LoadOptions {
  width: number;
  height: number;
  classes: number;
  inChannels: number;
  limits?: Partial<PngLimits>;
  /** Called as each pair is read (for a progress bar). */
  onPair?: (done: number, total: number) => void;
}

/** One pair read, checked and brought to the training size. */
export async function loadSample(files: DataFiles, pair: PairSpec, o: LoadOptions): Promise<Sample> {
  let at = pair.image;
  try {
    const photo = decodePhoto(await files.read(pair.image), o.limits);
    at = pair.mask;
    const mask = decodeMask(await files.read(pair.mask), o.classes, o.limits);
    if (mask.width !== photo.width || mask.height !== photo.height) {
      throw new FreqregError('image', 'MASK_SIZE', `mask ${mask.width}×${mask.height}, photo ${photo.width}×${photo.height}`);
    }
    at = pair.image;
    const planar = imageToTensor(photo, o.inChannels); // (C, H, W) in [0, 1]
    const resized = photo.width === o.width && photo.height === o.height ? planar : resizePlanar(planar, o.inChannels, photo.width, photo.height, o.width, o.height);
    const bytes = new Uint8Array(resized.length);
    for (let i = 0; i < resized.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, resized[i])) * 255);
    const target = mask.width === o.width && mask.height === o.height ? mask.classes : resizeNearest(mask.classes, mask.width, mask.height, o.width, o.height);
    return { name: pair.name, width: o.width, height: o.height, channels: o.inChannels, photo: bytes, target };
  } catch (e) {
    const err = toFreqregError(e, 'image');
    if (err.where.file !== undefined) throw err;
    const prefix = `${err.layer}: ${ERROR_CODES[err.code]}: `;
    throw new FreqregError(err.layer, err.code, err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message, { file: at });
  }
}

/** Every pair read; the bad ones reported and skipped. */
export async function loadSamples(files: DataFiles, pairs: readonly PairSpec[], o: LoadOptions): Promise<{ samples: Sample[]; problems: PairProblem[] }> {
  const samples: Sample[] = [], problems: PairProblem[] = [];
  for (let i = 0; i < pairs.length; i++) {
    try {
      samples.push(await loadSample(files, pairs[i], o));
    } catch (e) {
      const err = toFreqregError(e, 'image');
      problems.push({ name: pairs[i].name, code: err.code, message: err.message });
    }
    o.onPair?.(i + 1, pairs.length);
  }
  return { samples, problems };
}

/** A seeded split: `fraction` of the samples (at least one, at most all but one) for validation. */
export function splitValidation(samples: readonly Sample[], fraction: number, rng: Rng): { train: Sample[]; val: Sample[] } {
  if (samples.length < 2) return { train: [...samples], val: [] };
  const count = Math.min(samples.length - 1, Math.max(1, Math.round(samples.length * fraction)));
  const order = rng.permutation(samples.length);
  const chosen = new Set(Array.from(order.subarray(0, count)));
  return { train: samples.filter((_, i) => !chosen.has(i)), val: samples.filter((_, i) => chosen.has(i)) };
}
