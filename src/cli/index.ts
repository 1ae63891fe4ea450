/**
 * `distkit/cli`: the `distkit` command as a function, so that it can be run and tested
 * without a child process. The executable (`distkit`, `npm start`) is `bin.ts`.
 *
 * @packageDocumentation
 */

import { type Clock, systemClock } from '../core/index.js';
import { moduleCatalogue } from './catalogue.js';
import { runCheckCommand } from './check-command.js';

export { type Layer, type ModuleEntry, moduleCatalogue } from './catalogue.js';
export {
  type CheckModelName,
  checkExitCodes,
  checkModelNames,
  guessHistoryFormat,
  type HistoryFormat,
} from './check-command.js';
export {
  type LabArguments,
  type LabCommandEnvironment,
  labExitCodes,
  labUsage,
  parseLabArguments,
  runLabCommand,
} from './lab-command.js';
export { type RaftCommandOutput, raftSecretVariable, runRaftCommand } from './raft-command.js';
export {
  runStoreCommand,
  type StoreCommandOutput,
  storeSecretVariable,
} from './store-command.js';

/** Where the command writes. */
export interface CliOutput {
  /** Receives normal output, one call per line. */
  readonly writeLine: (line: string) => void;
  /** Receives error output, one call per line. */
  readonly writeErrorLine: (line: string) => void;
}

/**
 * The files the command reads and writes, and the clock it measures with. The executable
 * wires them to `node:fs` and the system clock; tests pass their own.
 */
export interface CliEnvironment {
  /** Reads a whole file as UTF-8 text; throws when it cannot. */
  readonly readTextFile: (path: string) => string;
  /** Writes `text` to a file as UTF-8, replacing it; throws when it cannot. */
  readonly writeTextFile: (path: string, text: string) => void;
  /** Measures how long a check takes. Default: the system clock. */
  readonly clock?: Clock;
}

/** The exit codes of {@link runCli}. */
export const exitCodes = {
  /** The command did what was asked; for `check`, the history is linearizable. */
  success: 0,
  /** `check` found the history not linearizable. */
  violation: 1,
  /**
   * The command line was wrong (an unknown command or option), the input was malformed
   * or unreadable, or `check` ran out of budget before it could decide.
   */
  usage: 2,
} as const;

const usage = `Usage: distkit [command]

Commands:
  modules        list distkit's modules and what each can do today (the default)
  lab [--quick] [--seed N] [--modes a,b] [--scenarios x,y] [--out DIR]
                 run replication modes against partitions, crashes, clock skew and
                 message loss in the simulator; print the measured table and write
                 DIR/report.html (default ./lab-report); npm start runs it
                 (distkit lab --help for the modes and scenarios)
  raft start|cluster ...
                 run a Raft key-value node, or a local cluster of them, with an
                 HTTP API (distkit raft --help for the options)
  store start|cluster --mode MODE ...
                 run a node of the partitioned store (sharded, each shard replicated
                 by MODE: consensus, leader-follower-sync, ...), or a local cluster of
                 them, with an HTTP API (distkit store --help for the options)
  check FILE --model register|cas-register|kv|counter|set
                 [--consistency linearizable|sequential] [--format jepsen|edn|jsonl]
                 [--html OUT.html] [--step-count-max N]
                 check a recorded history for linearizability (the default) or
                 sequential consistency; without --format the
                 format is guessed (.jsonl/.ndjson/.json: JSON Lines, .edn: EDN, else a
                 first line starting {" is JSON Lines, { is EDN, anything else Jepsen
                 log lines). --html writes a timeline of the operations.
                 Exit status: 0 consistent, 1 not consistent, 2 undecided (budget
                 exhausted), malformed input (the line is printed) or a usage error.

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
 * returns its exit code. `environment` gives `check` its files and clock; without it,
 * `check` reports that it has no file access and exits with the usage code.
 *
 * @example
 * ```ts
 * const code = runCli(['modules'], { writeLine: console.log, writeErrorLine: console.error }, '0.1.0');
 * ```
 */
export function runCli(
  args: readonly string[],
  output: CliOutput,
  version: string,
  environment?: CliEnvironment,
): number {
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
  if (command === 'check') {
    if (environment === undefined) {
      output.writeErrorLine(
        'distkit check needs file access: pass a CliEnvironment as the fourth argument of runCli.',
      );
      return exitCodes.usage;
    }
    return runCheckCommand(rest, output, {
      readTextFile: environment.readTextFile,
      writeTextFile: environment.writeTextFile,
      clock: environment.clock ?? systemClock,
    });
  }
  if (command === 'lab') {
    output.writeErrorLine(
      'distkit lab writes a report folder and a progress bar: run it from the distkit executable, or call runLabCommand.',
    );
    return exitCodes.usage;
  }
  if (command === 'raft') {
    output.writeErrorLine(
      'distkit raft runs servers until stopped: run it from the distkit executable, or call runRaftCommand.',
    );
    return exitCodes.usage;
  }
  if (command === 'store') {
    output.writeErrorLine(
      'distkit store runs servers until stopped: run it from the distkit executable, or call runStoreCommand.',
    );
    return exitCodes.usage;
  }
  output.writeErrorLine(
    `Unknown command or option: ${command}. Run distkit --help for the commands.`,
  );
  return exitCodes.usage;
}
