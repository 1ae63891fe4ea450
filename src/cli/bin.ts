#!/usr/bin/env node
/**
 * The `distkit` executable: reads the package version, runs {@link runCli} (or, for
 * `distkit raft`, the asynchronous server command) on the command line and exits with
 * its code.
 *
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';
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
} else {
  process.exitCode = runCli(args, output, packageJson.version, {
    readTextFile: (path) => readFileSync(path, 'utf8'),
    writeTextFile: (path, text) => writeFileSync(path, text, 'utf8'),
  });
}
