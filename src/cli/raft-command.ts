/**
 * `distkit raft start` and `distkit raft cluster`: a Raft key-value node as a process, and
 * a local cluster of such processes on loopback.
 *
 * Both write JSON lines on standard output (`{"event":"ready",...}` once a node
 * listens, then leader changes and snapshots), so scripts and tests can follow them;
 * diagnostics go to standard error.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { systemScheduler } from '../core/index.js';
import type { PeerAddress } from '../net/index.js';
import { RaftHttpApi, RaftReplica } from '../store/index.js';

/** Where the command writes. */
export interface RaftCommandOutput {
  readonly writeLine: (line: string) => void;
  readonly writeErrorLine: (line: string) => void;
}

/** The environment variable that carries the cluster secret to `raft start`. */
export const raftSecretVariable = 'DISTKIT_RAFT_SECRET';

const usage = `Usage:
  distkit raft start --id ID --peers ID=HOST:PORT,... --data DIR [--http HOST:PORT]
                     [--join] [--secret-file FILE] [--tick-ms N] [--election-ticks N]
                     [--snapshot-every N] [--request-timeout-ms N]
      Starts one node. --peers lists every member's Raft address, this node's included
      (for a new cluster they are its voters; with --join the node is added to a running
      cluster by a membership change and starts empty). The cluster secret (16+ bytes)
      comes from --secret-file or the ${raftSecretVariable} environment variable.
      --http serves the key-value API (default 127.0.0.1 and the Raft port + 1000).

  distkit raft cluster [--nodes N] [--data DIR] [--host HOST] [--raft-port P] [--http-port Q]
      Starts N (default 3) nodes as child processes: ids n1..nN, Raft ports P.. (default
      7001), HTTP ports Q.. (default 8001), data under DIR/n1.. (default ./data), a fresh
      random secret. Ctrl-C stops them all.

HTTP API (each node): PUT/GET/DELETE /v1/kv/KEY (GET takes
?consistency=linearizable|lease|local), POST /v1/kv/KEY/cas {"expected","value"},
GET /v1/status, POST /v1/membership {"voters","learners","addresses"},
POST /v1/leadership {"to"}. See docs/store.md.`;

class UsageError extends Error {}

function parseOptions(
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

function parseAddress(text: string, what: string): PeerAddress {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`${what} must be HOST:PORT with a port from 1 to 65535; got ${text}.`);
  }
  return { host: text.slice(0, colon), port };
}

function parsePeers(text: string): Record<string, PeerAddress> {
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

function parseCount(
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

/** Resolves when `signal` (SIGINT or SIGTERM) arrives. */
function untilStopSignal(): Promise<string> {
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

async function runStart(args: readonly string[], output: RaftCommandOutput): Promise<number> {
  const options = parseOptions(
    args,
    ['join'],
    [
      'id',
      'peers',
      'data',
      'http',
      'secret-file',
      'tick-ms',
      'election-ticks',
      'snapshot-every',
      'request-timeout-ms',
    ],
  );
  const id = options.get('id');
  const peersText = options.get('peers');
  const data = options.get('data');
  if (id === undefined || peersText === undefined || data === undefined) {
    throw new UsageError('distkit raft start needs --id, --peers and --data.');
  }
  const peers = parsePeers(peersText);
  const own = peers[id];
  if (own === undefined) {
    throw new UsageError(`--peers must include this node (${id}) with its Raft address.`);
  }
  const http = options.has('http')
    ? parseAddress(options.get('http') as string, '--http')
    : { host: own.host, port: own.port + 1000 };
  const tickMs = parseCount(options, 'tick-ms', 1, 60_000);
  const electionTicks = parseCount(options, 'election-ticks', 2, 1_000);
  const snapshotEveryEntries = parseCount(options, 'snapshot-every', 1, 1e9);
  const requestTimeoutMs = parseCount(options, 'request-timeout-ms', 1, 3_600_000);
  const secretFile = options.get('secret-file');
  const secret =
    secretFile === undefined
      ? process.env[raftSecretVariable]
      : readFileSync(secretFile, 'utf8').trim();
  if (secret === undefined || Buffer.byteLength(secret) < 16) {
    throw new UsageError(
      `A cluster secret of at least 16 bytes is needed: --secret-file FILE or ${raftSecretVariable}.`,
    );
  }
  mkdirSync(data, { recursive: true });
  const replica = await RaftReplica.open({
    id,
    peers,
    directory: data,
    secret,
    join: options.has('join'),
    ...(tickMs === undefined ? {} : { tickMs }),
    ...(electionTicks === undefined ? {} : { electionTicks }),
    ...(snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  });
  replica.onEvent((event) => {
    if (event.kind === 'stopped') {
      output.writeErrorLine(`distkit raft ${id}: stopped: ${String(event.error)}`);
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    if (event.kind === 'message-refused' || event.kind === 'transport') {
      output.writeErrorLine(`distkit raft ${id}: ${JSON.stringify(event)}`);
      return;
    }
    output.writeLine(JSON.stringify({ event: event.kind, id, ...event, kind: undefined }));
  });
  let api: RaftHttpApi;
  try {
    api = await RaftHttpApi.listen(replica, { host: http.host, port: http.port });
  } catch (error) {
    await replica.close();
    throw error;
  }
  output.writeLine(
    JSON.stringify({
      event: 'ready',
      id,
      raft: `${own.host}:${own.port}`,
      http: `${api.address.host}:${api.address.port}`,
    }),
  );
  await untilStopSignal();
  await api.close();
  await replica.close();
  return process.exitCode === 1 ? 1 : 0;
}

interface ClusterNode {
  readonly id: string;
  readonly raft: string;
  readonly http: string;
  child: ChildProcess | undefined;
}

async function runCluster(args: readonly string[], output: RaftCommandOutput): Promise<number> {
  const options = parseOptions(args, [], ['nodes', 'data', 'host', 'raft-port', 'http-port']);
  const count = parseCount(options, 'nodes', 1, 15) ?? 3;
  const host = options.get('host') ?? '127.0.0.1';
  const raftPort = parseCount(options, 'raft-port', 1, 65_535) ?? 7001;
  const httpPort = parseCount(options, 'http-port', 1, 65_535) ?? 8001;
  if (raftPort + count - 1 > 65_535 || httpPort + count - 1 > 65_535) {
    throw new UsageError('The port ranges go past 65535.');
  }
  const data = resolve(options.get('data') ?? 'data');
  const nodes: ClusterNode[] = [];
  for (let position = 0; position < count; position += 1) {
    nodes.push({
      id: `n${position + 1}`,
      raft: `${host}:${raftPort + position}`,
      http: `${host}:${httpPort + position}`,
      child: undefined,
    });
  }
  const peers = nodes.map((node) => `${node.id}=${node.raft}`).join(',');
  const secret = randomBytes(24).toString('hex');
  // The executable next to this file: bin.js when built, bin.ts when run from the sources
  // (then process.execArgv carries the loader, which the children need too).
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
  for (const node of nodes) {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        bin,
        'raft',
        'start',
        '--id',
        node.id,
        '--peers',
        peers,
        '--data',
        join(data, node.id),
        '--http',
        node.http,
      ],
      { env: { ...process.env, [raftSecretVariable]: secret }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.child = child;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.writeLine(line);
      if (line.includes('"event":"ready"')) {
        ready.add(node.id);
        if (ready.size === nodes.length) {
          output.writeLine(
            JSON.stringify({
              event: 'cluster-ready',
              nodes: nodes.map(({ id, raft, http }) => ({ id, raft, http })),
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
  }
  const stop = untilStopSignal();
  await Promise.race([stop, allGone]);
  stopping = true;
  for (const node of nodes) {
    if (!exited.has(node.id)) {
      node.child?.kill('SIGTERM');
    }
  }
  const killTimer = systemScheduler.schedule(5_000, () => {
    for (const node of nodes) {
      if (!exited.has(node.id)) {
        node.child?.kill('SIGKILL');
      }
    }
  });
  await allGone;
  killTimer.cancel();
  output.writeLine(JSON.stringify({ event: 'cluster-stopped' }));
  return 0;
}

/**
 * Runs `distkit raft <start|cluster> ...` and resolves with the exit code when the node
 * or cluster has stopped (on SIGINT or SIGTERM). Usage errors resolve with 2 at once.
 */
export async function runRaftCommand(
  args: readonly string[],
  output: RaftCommandOutput,
): Promise<number> {
  const [subcommand, ...rest] = args;
  try {
    if (subcommand === 'start') {
      return await runStart(rest, output);
    }
    if (subcommand === 'cluster') {
      return await runCluster(rest, output);
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
    throw new UsageError(`Unknown raft command ${subcommand}.`);
  } catch (error) {
    if (error instanceof UsageError) {
      output.writeErrorLine(`distkit raft: ${error.message} Run distkit raft --help for usage.`);
      return 2;
    }
    output.writeErrorLine(
      `distkit raft: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}
