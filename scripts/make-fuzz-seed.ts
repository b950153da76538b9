/**
 * Makes test/fixtures/fuzz/seed.tar.xz, the .tar.xz the xz fuzz target mutates: a width-1 FR UNet
 * (seeded, sparse) written by the test writers, in a tar with a directory, compressed by `xz -9 -C crc32`.
 * Run: node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs scripts/make-fuzz-seed.ts
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelDict, writeCheckpoint } from '../test/support/checkpoint.js';
import { syntheticModel } from '../test/support/synthetic.js';
import { writeTar } from '../test/support/writers.js';

const pt = writeCheckpoint(modelDict(syntheticModel({ width: 1, inChannels: 1, classes: 2, nnzPerLayer: 2, seed: 1 })));
const tar = writeTar([{ name: 'seed/', type: '5' }, { name: 'seed/model.pt', data: pt }]);
const out = fileURLToPath(new URL('../test/fixtures/fuzz/seed.tar.xz', import.meta.url));
writeFileSync(out, execFileSync('xz', ['-c', '-9', '-C', 'crc32'], { input: tar }));
console.log(`${out}: ${pt.length}-byte checkpoint in a ${tar.length}-byte tar`);
