/**
 * What the server commands (`distkit raft`, `distkit store`) share: parsing of their
 * command lines, waiting for SIGINT or SIGTERM, and running a local cluster of
 * `distkit` child processes that relays their JSON lines and stops them all together.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { systemScheduler } from '../core/index.js';
import type { PeerAddress } from '../net/index.js';

/** Where a server command writes. */
export interface ProcessCommandOutput {
  /** Normal output (JSON lines), one call per line. */
  readonly writeLine: (line: string) => void;
  /** Diagnostics, one call per line. */
  readonly writeErrorLine: (line: string) => void;
}

/** A wrong command line; the command prints its message and exits with code 2. */
export class UsageError extends Error {}

/**
 * Reads `--name` flags (no value) and `--name value` options; anything else is a
 * {@link UsageError}.
 */
export function parseOptions(
  args: readonly string[],
  flags: readonly string[],
  valued: readonly string[],
): Map<string, string> {
  const options = new Map<string, string>();
  for (let position = 0; position < args.length; position += 1) {
    const arg = args[position] as string;
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && flags.includes(name)) {
      options.set(name, 'true');
    } else if (name !== undefined && valued.includes(name)) {
      const value = args[position + 1];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError(`--${name} needs a value.`);
      }
      options.set(name, value);
      position += 1;
    } else {
      throw new UsageError(`Unknown argument ${arg}.`);
    }
  }
  return options;
}

/** Parses `HOST:PORT`; `what` names it in the error. */
export function parseAddress(text: string, what: string): PeerAddress {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`${what} must be HOST:PORT with a port from 1 to 65535; got ${text}.`);
  }
  return { host: text.slice(0, colon), port };
}

/** Parses `ID=HOST:PORT,...` into a table that keeps the order given. */
export function parsePeers(text: string): Record<string, PeerAddress> {
  const peers: Record<string, PeerAddress> = {};
  for (const item of text.split(',')) {
    const equals = item.indexOf('=');
    if (equals <= 0) {
      throw new UsageError(`--peers entries must be ID=HOST:PORT; got ${item}.`);
    }
    const id = item.slice(0, equals);
    if (id in peers) {
      throw new UsageError(`--peers names ${id} twice.`);
    }
    peers[id] = parseAddress(item.slice(equals + 1), `The address of ${id}`);
  }
  return peers;
}

/** The integer option `--name` from `min` to `max`, or `undefined` when absent. */
export function parseCount(
  options: Map<string, string>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = options.get(name);
  if (text === undefined) {
    return undefined;
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}; got ${text}.`);
  }
  return value;
}

/**
 * The cluster secret of a `start` command: the trimmed contents of `--secret-file`, else
 * the environment variable `variable`; at least 16 bytes, else a {@link UsageError}.
 */
export function readSecret(options: Map<string, string>, variable: string): string {
  const secretFile = options.get('secret-file');
  const secret =
    secretFile === undefined ? process.env[variable] : readFileSync(secretFile, 'utf8').trim();
  if (secret === undefined || Buffer.byteLength(secret) < 16) {
    throw new UsageError(
      `A cluster secret of at least 16 bytes is needed: --secret-file FILE or ${variable}.`,
    );
  }
  return secret;
}

/** The `--http` option, or by default the node's own host and its port + 1000. */
export function parseHttpAddress(options: Map<string, string>, own: PeerAddress): PeerAddress {
  return options.has('http')
    ? parseAddress(options.get('http') as string, '--http')
    : { host: own.host, port: own.port + 1000 };
}

/**
 * Reports a node that stopped on its own (`distkit COMMAND ID: stopped: ...` on standard
 * error) and stops this process with exit code 1 through SIGTERM, so that
 * {@link serveUntilStopped} closes everything in order.
 */
export function stopOnFailure(prefix: string, error: unknown, output: ProcessCommandOutput): void {
  output.writeErrorLine(`${prefix}: stopped: ${String(error)}`);
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
}

/** A node (or its HTTP API) that {@link serveUntilStopped} closes. */
interface Closable {
  close(): Promise<void>;
}

/**
 * Serves an opened node over HTTP until SIGINT or SIGTERM: starts the API (closing the
 * node if that fails), writes the `ready` line `readyLine(api)`, then, on the signal,
 * closes the API and the node. Resolves with 1 if the node stopped on its own, else 0.
 */
export async function serveUntilStopped<Api extends Closable>(
  node: Closable,
  listen: () => Promise<Api>,
  readyLine: (api: Api) => Record<string, unknown>,
  output: ProcessCommandOutput,
): Promise<number> {
  let api: Api;
  try {
    api = await listen();
  } catch (error) {
    await node.close();
    throw error;
  }
  output.writeLine(JSON.stringify({ event: 'ready', ...readyLine(api) }));
  await untilStopSignal();
  await api.close();
  await node.close();
  return process.exitCode === 1 ? 1 : 0;
}

/** One node of {@link localClusterNodes}. */
export interface LocalClusterNode {
  /** `n1`, `n2`, ... */
  readonly id: string;
  /** Its transport (`HOST:PORT`). */
  readonly address: string;
  /** Its HTTP API (`HOST:PORT`). */
  readonly http: string;
}

/**
 * The nodes of a local cluster: ids `n1..nN`, consecutive transport ports from `port` and
 * HTTP ports from `httpPort`; a {@link UsageError} if either range goes past 65535.
 */
export function localClusterNodes(
  count: number,
  host: string,
  port: number,
  httpPort: number,
): LocalClusterNode[] {
  if (port + count - 1 > 65_535 || httpPort + count - 1 > 65_535) {
    throw new UsageError('The port ranges go past 65535.');
  }
  return Array.from({ length: count }, (_, position) => ({
    id: `n${position + 1}`,
    address: `${host}:${port + position}`,
    http: `${host}:${httpPort + position}`,
  }));
}

/**
 * The `distkit` arguments that start one node of a local cluster:
 * `COMMAND start --id ID --peers PEERS --data DATA/ID --http HTTP`.
 */
export function startArgs(
  command: string,
  node: { readonly id: string; readonly http: string },
  peers: string,
  data: string,
): string[] {
  return [
    command,
    'start',
    '--id',
    node.id,
    '--peers',
    peers,
    '--data',
    join(data, node.id),
    '--http',
    node.http,
  ];
}

/**
 * Runs `distkit COMMAND <subcommand> ...`: the matching entry of `subcommands`, or the
 * usage text (exit code 0 when asked for, 2 when no subcommand is given). A
 * {@link UsageError} resolves with 2, any other failure with 1, the reason on standard
 * error.
 */
export async function runSubcommand(
  command: string,
  usage: string,
  subcommands: Readonly<
    Record<string, (args: readonly string[], output: ProcessCommandOutput) => Promise<number>>
  >,
  args: readonly string[],
  output: ProcessCommandOutput,
): Promise<number> {
  const [subcommand, ...rest] = args;
  try {
    const run = subcommand === undefined ? undefined : subcommands[subcommand];
    if (run !== undefined && Object.hasOwn(subcommands, subcommand as string)) {
      return await run(rest, output);
    }
    if (
      subcommand === undefined ||
      subcommand === '--help' ||
      subcommand === '-h' ||
      subcommand === 'help'
    ) {
      output.writeLine(usage);
      return subcommand === undefined ? 2 : 0;
    }
    throw new UsageError(`Unknown ${command} command ${subcommand}.`);
  } catch (error) {
    if (error instanceof UsageError) {
      output.writeErrorLine(
        `distkit ${command}: ${error.message} Run distkit ${command} --help for usage.`,
      );
      return 2;
    }
    output.writeErrorLine(
      `distkit ${command}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}

/** Resolves with the signal's name when SIGINT or SIGTERM arrives. */
export function untilStopSignal(): Promise<string> {
  return new Promise((resolveSignal) => {
    const stop = (name: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolveSignal(name);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

/** One child of {@link runChildCluster}. */
export interface ChildNode {
  /** The node's id. */
  readonly id: string;
  /** The `distkit` arguments that start it (`['raft', 'start', ...]`). */
  readonly args: readonly string[];
  /** What the `cluster-ready` line tells about it (addresses). */
  readonly summary: Readonly<Record<string, string>>;
}

/**
 * Starts each node as a `distkit` child process (the executable next to this file, with
 * this process's loader flags), relays their standard output and error line by line,
 * writes `{"event":"cluster-ready","nodes":[...]}` once every child has printed its
 * `ready` line, reports a child that exits on its own (`node-exited`), and on SIGINT or
 * SIGTERM (or when every child is gone) stops them all: SIGTERM, then SIGKILL after
 * 5 s. Resolves with 0 after `cluster-stopped`.
 */
export async function runChildCluster(
  nodes: readonly ChildNode[],
  environment: Readonly<Record<string, string>>,
  output: ProcessCommandOutput,
): Promise<number> {
  // bin.js when built, bin.ts when run from the sources (then process.execArgv carries
  // the loader, which the children need too).
  const bin = fileURLToPath(
    new URL(import.meta.url.endsWith('.ts') ? './bin.ts' : './bin.js', import.meta.url),
  );
  let stopping = false;
  const ready = new Set<string>();
  const exited = new Set<string>();
  let allExited: () => void = () => {};
  const allGone = new Promise<void>((resolveGone) => {
    allExited = resolveGone;
  });
  const children = nodes.map((node) => {
    const child = spawn(process.execPath, [...process.execArgv, bin, ...node.args], {
      env: { ...process.env, ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.writeLine(line);
      if (line.includes('"event":"ready"')) {
        ready.add(node.id);
        if (ready.size === nodes.length) {
          output.writeLine(
            JSON.stringify({
              event: 'cluster-ready',
              nodes: nodes.map(({ id, summary }) => ({ id, ...summary })),
            }),
          );
        }
      }
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      output.writeErrorLine(line);
    });
    child.on('exit', (code, signal) => {
      exited.add(node.id);
      if (!stopping) {
        output.writeLine(JSON.stringify({ event: 'node-exited', id: node.id, code, signal }));
      }
      if (exited.size === nodes.length) {
        allExited();
      }
    });
    return { id: node.id, child };
  });
  await Promise.race([untilStopSignal(), allGone]);
  stopping = true;
  for (const { id, child } of children) {
    if (!exited.has(id)) {
      child.kill('SIGTERM');
    }
  }
  const killTimer = systemScheduler.schedule(5_000, () => {
    for (const { id, child } of children) {
      if (!exited.has(id)) {
        child.kill('SIGKILL');
      }
    }
  });
  await allGone;
  killTimer.cancel();
  output.writeLine(JSON.stringify({ event: 'cluster-stopped' }));
  return 0;
}
