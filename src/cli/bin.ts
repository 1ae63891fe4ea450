#!/usr/bin/env node
/**
 * The `distkit` executable: reads the package version, runs {@link runCli} on the
 * command line and exits with its code.
 *
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from './index.js';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

process.exitCode = runCli(
  process.argv.slice(2),
  {
    writeLine: (line) => process.stdout.write(`${line}\n`),
    writeErrorLine: (line) => process.stderr.write(`${line}\n`),
  },
  packageJson.version,
  {
    readTextFile: (path) => readFileSync(path, 'utf8'),
    writeTextFile: (path, text) => writeFileSync(path, text, 'utf8'),
  },
);
