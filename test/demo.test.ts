/** `freqreg demo` with the auto engine reproduces the paper's result (test/support/demo-check.ts). */
import { demoTest } from './support/demo-check.js';

demoTest('auto');
