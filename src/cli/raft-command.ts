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

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { RaftHttpApi, RaftReplica } from '../store/index.js';
import {
  localClusterNodes,
  type ProcessCommandOutput,
  parseCount,
  parseHttpAddress,
  parseOptions,
  parsePeers,
  readSecret,
  runChildCluster,
  runSubcommand,
  serveUntilStopped,
  startArgs,
  stopOnFailure,
  UsageError,
} from './process-tools.js';

/** Where the command writes. */
export type RaftCommandOutput = ProcessCommandOutput;

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
  const http = parseHttpAddress(options, own);
  const tickMs = parseCount(options, 'tick-ms', 1, 60_000);
  const electionTicks = parseCount(options, 'election-ticks', 2, 1_000);
  const snapshotEveryEntries = parseCount(options, 'snapshot-every', 1, 1e9);
  const requestTimeoutMs = parseCount(options, 'request-timeout-ms', 1, 3_600_000);
  const secret = readSecret(options, raftSecretVariable);
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
      stopOnFailure(`distkit raft ${id}`, event.error, output);
      return;
    }
    if (event.kind === 'message-refused' || event.kind === 'transport') {
      output.writeErrorLine(`distkit raft ${id}: ${JSON.stringify(event)}`);
      return;
    }
    output.writeLine(JSON.stringify({ event: event.kind, id, ...event, kind: undefined }));
  });
  return serveUntilStopped(
    replica,
    () => RaftHttpApi.listen(replica, { host: http.host, port: http.port }),
    (api) => ({
      id,
      raft: `${own.host}:${own.port}`,
      http: `${api.address.host}:${api.address.port}`,
    }),
    output,
  );
}

async function runCluster(args: readonly string[], output: RaftCommandOutput): Promise<number> {
  const options = parseOptions(args, [], ['nodes', 'data', 'host', 'raft-port', 'http-port']);
  const count = parseCount(options, 'nodes', 1, 15) ?? 3;
  const host = options.get('host') ?? '127.0.0.1';
  const raftPort = parseCount(options, 'raft-port', 1, 65_535) ?? 7001;
  const httpPort = parseCount(options, 'http-port', 1, 65_535) ?? 8001;
  const nodes = localClusterNodes(count, host, raftPort, httpPort);
  const data = resolve(options.get('data') ?? 'data');
  const peers = nodes.map((node) => `${node.id}=${node.address}`).join(',');
  const secret = randomBytes(24).toString('hex');
  return runChildCluster(
    nodes.map((node) => ({
      id: node.id,
      args: startArgs('raft', node, peers, data),
      summary: { raft: node.address, http: node.http },
    })),
    { [raftSecretVariable]: secret },
    output,
  );
}

/**
 * Runs `distkit raft <start|cluster> ...` and resolves with the exit code when the node
 * or cluster has stopped (on SIGINT or SIGTERM). Usage errors resolve with 2 at once.
 */
export function runRaftCommand(
  args: readonly string[],
  output: RaftCommandOutput,
): Promise<number> {
  return runSubcommand('raft', usage, { start: runStart, cluster: runCluster }, args, output);
}
