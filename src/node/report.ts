/**
 * The demo's outputs: one PNG per image with the photo, the ground truth and the prediction side by
 * side (as the upstream demo plots them, masks white on black), and a static `index.html` that
 * shows every panel with its file name and dice, the average dice, the engine, threads and timings.
 * Files are written through a temporary name and a rename, and never over an input.
 */
import { promises as fs } from 'node:fs';
import { join, basename, extname } from 'node:path';
import { fail } from '../errors.js';
import type { ImageInput } from '../input.js';
import { maskToGrey, meanDice } from '../metrics.js';
import { encodeRgbPng } from './png.js';
import { samePath, writeFileAtomic } from './files.js';

/** Pixels between panels. */
export const PANEL_GAP = 8;
/** Colour of the gap (white, the page background). */
const GAP_GREY = 255;

/** Size of the panel PNG for a `width × height` image: 3 panels with a ground truth, else 2. */
export function panelSize(width: number, height: number, hasTruth: boolean): { width: number; height: number } {
  const panels = hasTruth ? 3 : 2;
  return { width: panels * width + (panels - 1) * PANEL_GAP, height };
}

/**
 * A PNG of photo | ground truth | prediction (photo | prediction without a ground truth). Masks are
 * class indices (0/1), drawn with `maskToGrey` (white on black; more classes as evenly spread greys).
 * The photo may be grey, grey+alpha, RGB or RGBA, 8- or 16-bit; alpha is dropped.
 */
export function panelPng(photo: ImageInput, truth: Uint8Array | undefined, pred: Uint8Array, width: number, height: number): Uint8Array {
  if (photo.width !== width || photo.height !== height) {
    fail('image', 'MASK_INVALID', `photo is ${photo.width}×${photo.height}, the masks ${width}×${height}`);
  }
  const pixels = width * height;
  const channels = photo.channels ?? photo.data.length / pixels;
  if (![1, 2, 3, 4].includes(channels) || photo.data.length !== pixels * channels) {
    fail('image', 'IMAGE_DIMENSIONS', `${photo.data.length} samples do not fit ${width}×${height}`);
  }
  for (const [what, mask] of [['prediction', pred], ['ground truth', truth]] as const) {
    if (mask && mask.length !== pixels) fail('image', 'MASK_INVALID', `${what} has ${mask.length} pixels, should be ${pixels}`);
  }
  let maxClass = 1;
  for (const mask of [pred, truth]) if (mask) for (let i = 0; i < mask.length; i++) if (mask[i] > maxClass) maxClass = mask[i];
  const classes = maxClass + 1;

  const size = panelSize(width, height, truth !== undefined);
  const out = new Uint8Array(size.width * size.height * 3).fill(GAP_GREY); // (H, W, RGB)
  const rowStride = size.width * 3;
  // Photo
  const toByte = photo.data instanceof Uint16Array ? (v: number) => Math.round(v / 257) : (v: number) => v;
  const colour = channels >= 3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * channels;
      const o = y * rowStride + x * 3;
      const r = toByte(photo.data[s]);
      out[o] = r;
      out[o + 1] = colour ? toByte(photo.data[s + 1]) : r;
      out[o + 2] = colour ? toByte(photo.data[s + 2]) : r;
    }
  }
  // Masks
  const masks = truth ? [truth, pred] : [pred];
  masks.forEach((mask, k) => {
    const grey = maskToGrey(mask, classes);
    const left = (k + 1) * (width + PANEL_GAP) * 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = grey[y * width + x];
        const o = y * rowStride + left + x * 3;
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
      }
    }
  });
  return encodeRgbPng(out, size.width, size.height);
}

export interface ReportEntry {
  /** The input's name as shown (a path is reduced to its file name). */
  name: string;
  /** The panel PNG from `panelPng`. */
  panel: Uint8Array;
  /** Dice against the ground truth, if there is one. */
  dice?: number;
  /** Inference time for this image, ms. */
  ms?: number;
  /** The input file's path: no output may land on it. */
  source?: string;
}

export interface ReportRun {
  /** Engine name (spectral, dense, reference). */
  engine: string;
  threads: number;
  /** Labelled durations in ms, in display order: { 'model load': 12, 'total': 5100 }. */
  timings?: Record<string, number>;
  /** Model file or description. */
  model?: string;
  /** Page title ("freqreg demo"). */
  title?: string;
  /** More rows for the summary table, in order. */
  rows?: Record<string, string>;
  /** Charts (SVG markup that freqreg drew) shown between the table and the panels. */
  charts?: string;
}

export interface ReportOptions {
  /** Replace an existing index.html and panels (false: refuse with OUTPUT_EXISTS). */
  overwrite?: boolean;
}

export interface ReportFiles {
  /** Path of index.html. */
  index: string;
  /** Paths of the panel PNGs, in entry order. */
  panels: string[];
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A safe, unique (ignoring case) panel file name for each entry: `panels/<stem>.png`. */
function panelNames(entries: readonly ReportEntry[]): string[] {
  const used = new Set<string>();
  return entries.map((e) => {
    const base = basename(e.name.replace(/\\/g, '/'));
    const stem = basename(base, extname(base)).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '').slice(0, 80) || 'image';
    let name = `${stem}.png`;
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${stem}-${n}.png`;
    used.add(name.toLowerCase());
    return name;
  });
}

function formatMs(ms: number): string {
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`;
}

/** The page, self-contained: inline CSS, no scripts, images from `panels/`. */
export function reportHtml(entries: readonly ReportEntry[], files: readonly string[], run: ReportRun): string {
  const title = run.title ?? 'freqreg demo';
  const scores = entries.flatMap((e) => (e.dice === undefined ? [] : [e.dice]));
  const summary: [string, string][] = [
    ['images', String(entries.length)],
    ['average dice', scores.length ? `${meanDice(scores).toFixed(6)}${scores.length < entries.length ? ` (${scores.length} with ground truth)` : ''}` : '—'],
    ['engine', run.engine],
    ['threads', String(run.threads)],
  ];
  if (run.model !== undefined) summary.push(['model', run.model]);
  for (const [label, ms] of Object.entries(run.timings ?? {})) summary.push([label, formatMs(ms)]);
  for (const [label, text] of Object.entries(run.rows ?? {})) summary.push([label, text]);
  const rows = summary.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const figures = entries.map((e, i) => {
    const caption = [
      `<span class="name">${escapeHtml(basename(e.name.replace(/\\/g, '/')))}</span>`,
      e.dice !== undefined ? `dice ${escapeHtml(e.dice.toFixed(6))}` : 'no ground truth',
      e.ms !== undefined ? escapeHtml(formatMs(e.ms)) : '',
    ].filter(Boolean).join(' · ');
    const alt = `${e.dice !== undefined ? 'photo, ground truth and prediction' : 'photo and prediction'} for ${basename(e.name)}`;
    return `<figure><img src="panels/${encodeURIComponent(files[i])}" alt="${escapeHtml(alt)}" loading="lazy"><figcaption>${caption}</figcaption></figure>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; background: #fff; }
h1 { font-size: 1.4rem; margin-bottom: .3rem; }
p.legend { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { text-align: left; padding: .2rem 1.2rem .2rem 0; border-bottom: 1px solid #eee; }
th { font-weight: 600; color: #444; }
figure { margin: 0 0 2rem; }
img { max-width: 100%; height: auto; display: block; border: 1px solid #ddd; }
figcaption { margin-top: .4rem; color: #444; }
.name { font-family: ui-monospace, monospace; color: #000; }
.charts svg { max-width: 100%; height: auto; display: block; margin: 0 0 1.5rem; font-family: system-ui, sans-serif; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="legend">Each panel: photo · ground truth · prediction (white is the car, black the background).</p>
<table>
${rows}
</table>
${run.charts ? `<div class="charts">\n${run.charts}\n</div>\n` : ''}${figures}
</body>
</html>
`;
}

/**
 * Writes `outDir/panels/*.png` and `outDir/index.html`. Each file goes through a temporary name in
 * its folder and a rename; an existing output is refused unless `overwrite`, and an output that
 * would land on an entry's `source` is always refused (OUTPUT_PATH).
 */
export async function writeReport(outDir: string, entries: readonly ReportEntry[], run: ReportRun, options: ReportOptions = {}): Promise<ReportFiles> {
  const overwrite = options.overwrite ?? false;
  const names = panelNames(entries);
  const panelDir = join(outDir, 'panels');
  await fs.mkdir(panelDir, { recursive: true });
  const targets = [...names.map((n) => join(panelDir, n)), join(outDir, 'index.html')];
  const sources = entries.flatMap((e) => (e.source === undefined ? [] : [e.source]));
  for (const target of targets) {
    for (const source of sources) {
      if (await samePath(source, target)) fail('file', 'OUTPUT_PATH', `the report would replace the input ${source}`, { file: target });
    }
  }
  for (let i = 0; i < entries.length; i++) await writeFileAtomic(targets[i], entries[i].panel, overwrite);
  const index = targets[targets.length - 1];
  await writeFileAtomic(index, reportHtml(entries, names, run), overwrite);
  return { index, panels: targets.slice(0, -1) };
}
