/** `freqreg demo` with the dense engine reproduces the paper's result (test/support/demo-check.ts). */
import { demoTest } from './support/demo-check.js';

demoTest('dense');
