/**
 * `freqreg train` end to end on synthetic shapes (test/support/shapes.ts): a small network learns
 * them in seconds; the same seed gives a byte-identical model; a run interrupted by Ctrl-C and
 * resumed gives the uninterrupted run's model; outputs are never replaced without --overwrite;
 * .pt and .frq outputs load; the report, the JSON lines and both folder layouts work.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/loader.js';
import { runTrain } from '../src/node/train.js';
import { PACKAGE_ROOT } from './helpers.js';
import { shapePair, writeCarvanaLayout, writeUpstreamLayout } from './support/shapes.js';
import { findTorch } from '../bench/train.js';
import { imageToTensor } from '../src/input.js';
import { createNodeEngine } from '../src/node/engines.js';
import { argmaxClasses } from '../src/engines/reference.js';
import { execFileSync } from 'node:child_process';

/** Logit margins below this are near ties: float32 engines may pick either class (as in the demo tests). */
const NEAR_TIE = 1e-3;

/** The engine the tests train with, on both threads. */
const ENGINE = 'spectral';
/** A small network: width 4, 33 ranks per layer (734 coefficients), 32×32 images. */
const SMALL = ['--width', '4', '--ranks', '33', '--size', '32x32', '--engine', ENGINE, '--threads', '2', '--batch', '4', '--lr', '0.05', '--quiet'];

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'freqreg-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Flags as parseArgs gives them to the command. */
function flags(args: string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const name = args[i].replace(/^--/, '');
    if (['overwrite', 'json', 'quiet'].includes(name)) values[name] = true;
    else values[name] = args[++i];
  }
  return values;
}

async function train(args: string[]): Promise<{ code: number; stdout: string[] }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    return { code: await runTrain(flags(args)), stdout: lines };
  } finally {
    console.log = log;
  }
}

const data = scratch();
writeUpstreamLayout(join(data, 'train'), 24, 40, 40);
writeUpstreamLayout(join(data, 'val'), 6, 40, 40, 100);

t.test('a small network learns the shapes: loss falls, validation Dice rises', async (t) => {
  const out = join(scratch(), 'shapes.frq');
  const log = join(scratch(), 'log.jsonl');
  const r = await train(['--data', join(data, 'train', 'input'), '--val', join(data, 'val', 'input'), ...SMALL, '--steps', '36', '--out', out, '--log', log, '--json']);
  t.equal(r.code, 0);
  const lines = r.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
  const evals = lines.filter((l) => l.type === 'evaluation') as unknown as { dice: number; trainLoss: number; step: number }[];
  const summary = lines.find((l) => l.type === 'summary') as { keptDice: number; bytes: number; msPerStep: number };
  t.ok(evals.length >= 7, `an evaluation per epoch (${evals.length})`);
  t.equal(evals[0].step, 0, 'the starting model is scored first');
  t.ok(lines.every((l) => l.type !== 'evaluation' || (l as { best: boolean; dice: number }).dice <= summary.keptDice), 'the kept model is the best scored, the start included');
  t.ok(evals[evals.length - 1].trainLoss < 0.6 * evals[1].trainLoss, `training loss falls: ${evals[1].trainLoss.toFixed(3)} → ${evals[evals.length - 1].trainLoss.toFixed(3)}`);
  t.ok(summary.keptDice > 0.8, `validation Dice ${summary.keptDice.toFixed(3)} > 0.8 (first ${evals[0].dice.toFixed(3)})`);
  t.equal(readFileSync(log, 'utf8').trim().split('\n').length, evals.length + 1, 'the log holds every evaluation and the summary');
  const model = loadModel(readFileSync(out));
  t.same(model.arch, { inChannels: 3, width: 4, classes: 2 });
  t.ok(model.layers.every((l) => l.values.length <= 33), 'at most 33 coefficients per layer');
  t.ok(summary.msPerStep > 0);
});

t.test('same seed, byte-identical model; Ctrl-C and --resume give the uninterrupted model', async (t) => {
  const dir = scratch();
  const args = ['--data', join(data, 'train', 'input'), '--val', join(data, 'val', 'input'), ...SMALL, '--steps', '24'];
  const a = join(dir, 'a.frq'), b = join(dir, 'b.frq');
  t.equal((await train([...args, '--out', a])).code, 0);
  t.equal((await train([...args, '--out', b])).code, 0);
  t.same(readFileSync(b), readFileSync(a), 'two runs, one seed: the same bytes');
  const other = join(dir, 'other.frq');
  await train([...args, '--out', other, '--seed', '2']);
  t.notSame(readFileSync(other), readFileSync(a), 'another seed: another model');

  // The command in its own process, interrupted after its first evaluation, then resumed.
  const c = join(dir, 'c.frq'), cLog = join(dir, 'c.jsonl');
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'freqreg.js'), 'train', ...args, '--steps', '24', '--out', c, '--log', cLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setInterval(() => {
      if (existsSync(cLog) && readFileSync(cLog, 'utf8').includes('evaluation')) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
    child.on('exit', (n) => { clearInterval(timer); resolve(n); });
  });
  t.equal(code, 130, `interrupted: exit 130 (${stderr.split('\n').filter(Boolean).pop()})`);
  t.ok(existsSync(`${c}.ckpt`), 'the checkpoint is written on Ctrl-C');
  const interruptedAt = (JSON.parse(readFileSync(cLog, 'utf8').trim().split('\n').pop()!) as { steps?: number }).steps;
  t.ok(interruptedAt !== undefined && interruptedAt < 24, `stopped early, at step ${interruptedAt}`);
  const resumed = await train(['--resume', `${c}.ckpt`, '--quiet']);
  t.equal(resumed.code, 0);
  t.same(readFileSync(c), readFileSync(a), 'resumed: the uninterrupted run\'s bytes');
});

t.test('outputs: never replaced without --overwrite; .pt loads; report and Carvana layout', async (t) => {
  const dir = scratch();
  const carvana = join(dir, 'carvana');
  writeCarvanaLayout(carvana, 10, 36, 28);
  const out = join(dir, 'model.pt');
  writeFileSync(out, 'precious');
  const args = ['--data', join(carvana, 'train'), '--val-split', '0.2', ...SMALL, '--steps', '6', '--out', out, '--report', join(dir, 'report')];
  await t.rejects(train(args), { code: 'OUTPUT_EXISTS' }, 'an existing output is refused before training');
  t.equal(readFileSync(out, 'utf8'), 'precious', 'and left alone');
  const r = await train([...args, '--overwrite']);
  t.equal(r.code, 0);
  t.match(r.stdout.join('\n'), /8 training and 2 validation pairs/, 'Carvana names with GIF masks, split 8 + 2');
  const model = loadModel(readFileSync(out));
  t.equal(model.layers.length, 23, 'the .pt output loads');
  const html = readFileSync(join(dir, 'report', 'index.html'), 'utf8');
  t.match(html, /<svg[^>]*aria-label="training loss/, 'the loss curve');
  t.match(html, /<svg[^>]*aria-label="validation Dice/, 'the Dice curve');
  t.equal((html.match(/<figure>/g) ?? []).length, 2, 'a panel per validation image');

  // The .pt in PyTorch, with the upstream UNet's modules (test/support/torch_masks.py): the same masks.
  const torch = findTorch();
  if (!torch) {
    if (process.env.CI === 'true') t.fail('PyTorch not found (apt-get install python3-torch)');
    else t.skip('PyTorch not found: the .pt check needs python3 with torch (apt-get install python3-torch)', () => {});
    return;
  }
  const { photo } = shapePair(77, 48, 32);
  const input = imageToTensor({ data: photo, width: 48, height: 32, channels: 3 }, 3);
  writeFileSync(join(dir, 'input.f32'), input);
  execFileSync(torch.python, [join(PACKAGE_ROOT, 'test', 'support', 'torch_masks.py'), out, join(dir, 'input.f32'), '48', '32', join(dir, 'torch.u8')]);
  const theirs = readFileSync(join(dir, 'torch.u8'));
  const margins = new Float32Array(readFileSync(join(dir, 'torch.u8.margin')).buffer.slice(0));
  const engine = await createNodeEngine('auto', model, 1);
  const logits = await engine.run(input, 48, 32);
  await engine.dispose();
  const ours = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
  let differ = 0, nearTies = 0;
  for (let p = 0; p < ours.length; p++) {
    if (ours[p] !== theirs[p]) {
      differ++;
      if (margins[p] < NEAR_TIE) nearTies++;
    }
  }
  t.equal(differ, nearTies, `PyTorch's masks from the .pt equal freqreg's (${differ} pixels differ, all at margins < ${NEAR_TIE})`);
  t.ok(ours.some((c) => c === 1) && ours.some((c) => c === 0), 'the mask has both classes');
});
