/**
 * The training report: the loss and validation-Dice curves drawn as inline SVG, the run's
 * settings, and validation panels (photo · ground truth · prediction) in the demo report's style
 * (src/node/report.ts).
 */
import type { EvalRecord, StepRecord } from '../train/trainer.js';
import type { Sample } from '../train/augment.js';
import type { ImageInput } from '../input.js';
import { escapeHtml, panelPng, writeReport, type ReportEntry, type ReportFiles } from './report.js';

export interface Series {
  label: string;
  colour: string;
  points: readonly (readonly [number, number])[];
  /** Dots at each point (few points) instead of a line only. */
  dots?: boolean;
}

const W = 640, H = 260, LEFT = 56, RIGHT = 16, TOP = 28, BOTTOM = 40;

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A line chart as an SVG element: x is the training step. */
export function lineChart(title: string, yLabel: string, series: readonly Series[], yRange?: [number, number]): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) return `<p>${escapeHtml(title)}: no data.</p>`;
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  let [yLo, yHi] = yRange ?? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (yHi - yLo < 1e-9) { yLo -= 0.5; yHi += 0.5; }
  const px = (x: number): number => LEFT + (x / xMax) * (W - LEFT - RIGHT);
  const py = (y: number): number => TOP + (1 - (y - yLo) / (yHi - yLo)) * (H - TOP - BOTTOM);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<text x="${LEFT}" y="16" font-size="13" font-weight="600">${escapeHtml(title)}</text>`);
  for (const t of niceTicks(yLo, yHi)) {
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${(py(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${escapeHtml(String(t))}</text>`);
  }
  for (const t of niceTicks(0, xMax)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${H - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="#555">${t}</text>`);
  }
  parts.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 6}" font-size="11" text-anchor="middle" fill="#555">step</text>`);
  parts.push(`<text x="12" y="${(TOP + H - BOTTOM) / 2}" font-size="11" text-anchor="middle" fill="#555" transform="rotate(-90 12 ${(TOP + H - BOTTOM) / 2})">${escapeHtml(yLabel)}</text>`);
  parts.push(`<rect x="${LEFT}" y="${TOP}" width="${W - LEFT - RIGHT}" height="${H - TOP - BOTTOM}" fill="none" stroke="#ccc"/>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    parts.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="1.5" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    if (s.dots) for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.colour}"/>`);
    parts.push(`<text x="${W - RIGHT - 4}" y="${TOP + 14 + 14 * i}" font-size="11" text-anchor="end" fill="${s.colour}">${escapeHtml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Mean of each window of `size` values, at the window's last step (a readable loss curve). */
export function smooth(points: readonly (readonly [number, number])[], size: number): [number, number][] {
  const out: [number, number][] = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i][1];
    if (i >= size) sum -= points[i - size][1];
    out.push([points[i][0], sum / Math.min(i + 1, size)]);
  }
  return out;
}

/** The sample's photo as an interleaved image (the panels draw it). */
export function samplePhoto(s: Sample): ImageInput {
  const pixels = s.width * s.height;
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = s.photo[(s.channels === 1 ? 0 : c) * pixels + p];
  return { data, width: s.width, height: s.height, channels: 3 };
}

export interface TrainReport {
  steps: readonly StepRecord[];
  evals: readonly EvalRecord[];
  /** Settings and results shown in the table. */
  rows: Record<string, string>;
  /** Validation samples with the kept model's prediction and Dice. */
  panels: { sample: Sample; pred: Uint8Array; dice: number }[];
  engine: string;
  threads: number;
}

/** Writes `dir/index.html` and `dir/panels/*.png`. */
export async function writeTrainReport(dir: string, r: TrainReport, overwrite: boolean): Promise<ReportFiles> {
  const stepLoss = r.steps.map((s) => [s.step, s.loss] as const);
  const window = Math.max(1, Math.round(r.steps.length / 50));
  const charts = [
    lineChart('training loss (cross-entropy + Dice loss)', 'loss', [
      { label: 'per step', colour: '#9bb7d4', points: stepLoss },
      { label: `mean of ${window} steps`, colour: '#1f4e79', points: smooth(stepLoss, window) },
    ]),
    lineChart('validation Dice', 'Dice', [
      { label: 'validation Dice', colour: '#2e7d32', points: r.evals.map((e) => [e.step, e.dice] as const), dots: r.evals.length <= 60 },
    ]),
  ];
  const entries: ReportEntry[] = r.panels.map(({ sample, pred, dice }) => ({
    name: sample.name, dice, panel: panelPng(samplePhoto(sample), sample.target, pred, sample.width, sample.height),
  }));
  return writeReport(dir, entries, {
    engine: r.engine, threads: r.threads, title: 'freqreg train', rows: r.rows, charts: charts.join('\n'),
  }, { overwrite });
}
