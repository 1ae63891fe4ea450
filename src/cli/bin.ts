#!/usr/bin/env node
/**
 * The `distkit` executable: reads the package version, runs {@link runCli} (or, for
 * `distkit raft` and `distkit store`, the asynchronous server commands, and for `distkit lab`, the lab with
 * the terminal and the file system) on the command line and exits with its code.
 *
 * @module
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { runCli } from './index.js';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

const output = {
  writeLine: (line: string) => process.stdout.write(`${line}\n`),
  writeErrorLine: (line: string) => process.stderr.write(`${line}\n`),
};
const args = process.argv.slice(2);

if (args[0] === 'raft') {
  // Servers run until a signal stops them, so this command is asynchronous.
  const { runRaftCommand } = await import('./raft-command.js');
  process.exitCode = await runRaftCommand(args.slice(1), output);
} else if (args[0] === 'store') {
  // A node of the partitioned store, or a local cluster of them: servers, like raft.
  const { runStoreCommand } = await import('./store-command.js');
  process.exitCode = await runStoreCommand(args.slice(1), output);
} else if (args[0] === 'lab') {
  // The lab writes a report folder and draws a progress bar on standard error.
  const { runLabCommand } = await import('./lab-command.js');
  const { systemClock } = await import('../core/index.js');
  process.exitCode = runLabCommand(args.slice(1), {
    ...output,
    writeProgress: (text) => process.stderr.write(text),
    terminal: process.stderr.isTTY === true,
    makeDirectory: (path) => mkdirSync(path, { recursive: true }),
    writeTextFile: (path, text) => writeFileSync(path, text, 'utf8'),
    clock: systemClock,
  });
} else {
  process.exitCode = runCli(args, output, packageJson.version, {
    readTextFile: (path) => readFileSync(path, 'utf8'),
    writeTextFile: (path, text) => writeFileSync(path, text, 'utf8'),
  });
}
