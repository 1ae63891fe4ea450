/**
 * `distkit/cli`: the `distkit` command as a function, so that it can be run and tested
 * without a child process. The executable (`distkit`, `npm start`) is `bin.ts`.
 *
 * @packageDocumentation
 */

import { moduleCatalogue } from './catalogue.js';

export { type Layer, type ModuleEntry, moduleCatalogue } from './catalogue.js';

/** Where the command writes. */
export interface CliOutput {
  /** Receives normal output, one call per line. */
  readonly writeLine: (line: string) => void;
  /** Receives error output, one call per line. */
  readonly writeErrorLine: (line: string) => void;
}

/** The exit codes of {@link runCli}. */
export const exitCodes = {
  /** The command did what was asked. */
  success: 0,
  /** The command line was wrong: an unknown command or option. */
  usage: 2,
} as const;

const usage = `Usage: distkit [command]

Commands:
  modules        list distkit's modules and what each can do today (the default)

Options:
  -h, --help     show this help
  -v, --version  show the version

distkit implements the patterns of distributed-systems design and measures what
each one guarantees. See README.md and docs/ for the library itself.`;

function renderModules(): string[] {
  const lines = ['distkit modules (import each as distkit/<module>):', ''];
  for (const entry of moduleCatalogue) {
    lines.push(`${entry.name}  (layer ${entry.layer})  ${entry.summary}`);
    for (const capability of entry.capabilities) {
      lines.push(`  - ${capability}`);
    }
    lines.push('');
  }
  return lines;
}

/**
 * Runs the `distkit` command with `args` (the arguments after the program name) and
 * returns its exit code.
 *
 * @example
 * ```ts
 * const code = runCli(['modules'], { writeLine: console.log, writeErrorLine: console.error }, '0.1.0');
 * ```
 */
export function runCli(args: readonly string[], output: CliOutput, version: string): number {
  const [command, ...rest] = args;
  if (command === '-h' || command === '--help' || command === 'help') {
    output.writeLine(usage);
    return exitCodes.success;
  }
  if (command === '-v' || command === '--version') {
    output.writeLine(version);
    return exitCodes.success;
  }
  if (command === undefined || command === 'modules') {
    if (rest.length > 0) {
      output.writeErrorLine(`distkit modules takes no arguments; got ${rest.join(' ')}.`);
      return exitCodes.usage;
    }
    for (const line of renderModules()) {
      output.writeLine(line);
    }
    return exitCodes.success;
  }
  output.writeErrorLine(
    `Unknown command or option: ${command}. Run distkit --help for the commands.`,
  );
  return exitCodes.usage;
}
