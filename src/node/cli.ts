/**
 * The `freqreg` command: parses flags and calls the library. Exit codes: 0 success, 1 some inputs
 * failed (the rest were processed), 2 bad usage, 3 a model or image refused, 4 data missing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toFreqregError } from '../errors.js';
import { EXIT, type Command } from './command.js';
import { PACKAGE_ROOT } from './data.js';
import { dropOutputWhenClosed } from './stdio.js';

/**
 * Each command's module, imported only when that command runs: `segment` does not pay for
 * loading the trainer, the ONNX writer or the report pages.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.js')).demoCommand,
  segment: async () => (await import('./segment.js')).segmentCommand,
  inspect: async () => (await import('./inspect.js')).inspectCommand,
  pack: async () => (await import('./pack.js')).packCommand,
  export: async () => (await import('./export.js')).exportCommand,
  train: async () => (await import('./train.js')).trainCommand,
  gradients: async () => (await import('./gradients.js')).gradientsCommand,
};

/** The version in the package's package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

async function usage(): Promise<string> {
  const lines = ['usage: freqreg <command> [options]', '       freqreg --version', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${(await load()).summary}`);
  lines.push('', 'freqreg <command> --help lists its options.');
  return lines.join('\n');
}

function commandHelp(name: string, c: Command): string {
  const lines = [`usage: freqreg ${name} ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [flag, text] of Object.entries(c.help)) lines.push(`  ${flag.padEnd(22)} ${text}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  dropOutputWhenClosed(process.stdout);
  dropOutputWhenClosed(process.stderr);
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    console.log(`freqreg ${version()}`);
    return EXIT.OK;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    console.error(`freqreg: unknown command "${name}"\n\n${await usage()}`);
    return EXIT.USAGE;
  }
  const command = await load();
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    console.error(`freqreg ${name}: ${(e as Error).message}\n\n${commandHelp(name, command)}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help) {
    console.log(commandHelp(name, command));
    return EXIT.OK;
  }
  try {
    return await command.run(parsed.values as Record<string, unknown>, parsed.positionals);
  } catch (e) {
    // Only a one-line FreqregError leaves a command: anything else (a bug, a failed allocation, a
    // file-system error no check anticipated) is converted, never printed as a stack trace.
    const error = toFreqregError(e, 'cli');
    console.error(`freqreg ${name}: ${error.message} [${error.code}]`);
    if (error.code === 'USAGE') return EXIT.USAGE;
    if (error.code === 'DATA_MISSING') return EXIT.DATA_MISSING;
    return EXIT.REFUSED;
  }
}
