/**
 * `distkit store start` and `distkit store cluster`: a node of the partitioned store as a
 * process, and a local cluster of such processes on loopback.
 *
 * Both write JSON lines on standard output (`{"event":"ready",...}` once a node listens,
 * `{"event":"cluster-ready",...}` once every node of a cluster does); diagnostics go to
 * standard error.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import {
  levelsOffered,
  type ShardModeKind,
  StoreHttpApi,
  StoreProcess,
  shardModeKinds,
} from '../store/index.js';
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
export type StoreCommandOutput = ProcessCommandOutput;

/** The environment variable that carries the cluster secret to `store start`. */
export const storeSecretVariable = 'DISTKIT_STORE_SECRET';

const usage = `Usage:
  distkit store start --id ID --peers ID=HOST:PORT,... --data DIR --mode MODE
                      [--http HOST:PORT] [--shards N] [--replicas R] [--secret-file FILE]
                      [--tick-ms N] [--request-timeout-ms N]
      Starts one node of the partitioned store. --peers lists every node's transport
      address, this node's included, in the same order on every node. The keyspace is
      cut into N hash shards (default 3) of R replicas (default 3), each replicated by
      MODE: ${shardModeKinds.join(', ')}.
      Every node must be started with the same --peers, --mode, --shards and --replicas.
      The cluster secret (16+ bytes) comes from --secret-file or ${storeSecretVariable}.
      --http serves the API (default the transport host and port + 1000).

  distkit store cluster --mode MODE [--nodes N] [--shards N] [--replicas R] [--data DIR]
                        [--host HOST] [--port P] [--http-port Q]
      Starts N (default 5) nodes as child processes: ids n1..nN, transport ports P..
      (default 7101), HTTP ports Q.. (default 8101), data under DIR/n1.. (default
      ./data-store), a fresh random secret. Ctrl-C stops them all.

HTTP API (each node answers for every key): PUT /v1/kv/KEY?consistency=LEVEL (body: the
value), GET /v1/kv/KEY?consistency=LEVEL[&stalenessMsMax=N], GET /v1/status. LEVEL is one
the mode offers (default its strongest). See docs/store.md.`;

function parseMode(text: string | undefined): ShardModeKind {
  if (text === undefined) {
    throw new UsageError(`--mode is required: one of ${shardModeKinds.join(', ')}.`);
  }
  if (!shardModeKinds.includes(text as ShardModeKind)) {
    throw new UsageError(`--mode must be one of ${shardModeKinds.join(', ')}; got ${text}.`);
  }
  return text as ShardModeKind;
}

function checkReplicas(mode: ShardModeKind, replicas: number, nodeCount: number): void {
  if (replicas > nodeCount) {
    throw new UsageError(`--replicas (${replicas}) must not exceed the node count (${nodeCount}).`);
  }
  if (mode === 'leaderless' && replicas < 3) {
    throw new UsageError('--mode leaderless needs --replicas 3 or more (N is 3).');
  }
}

async function runStart(args: readonly string[], output: StoreCommandOutput): Promise<number> {
  const options = parseOptions(
    args,
    [],
    [
      'id',
      'peers',
      'data',
      'http',
      'mode',
      'shards',
      'replicas',
      'secret-file',
      'tick-ms',
      'request-timeout-ms',
    ],
  );
  const id = options.get('id');
  const peersText = options.get('peers');
  const data = options.get('data');
  if (id === undefined || peersText === undefined || data === undefined) {
    throw new UsageError('distkit store start needs --id, --peers, --data and --mode.');
  }
  const mode = parseMode(options.get('mode'));
  const peers = parsePeers(peersText);
  const own = peers[id];
  if (own === undefined) {
    throw new UsageError(`--peers must include this node (${id}) with its address.`);
  }
  const nodeCount = Object.keys(peers).length;
  const shardCount = parseCount(options, 'shards', 1, 1_024) ?? 3;
  const replicaCount = parseCount(options, 'replicas', 1, 256) ?? Math.min(3, nodeCount);
  checkReplicas(mode, replicaCount, nodeCount);
  const http = parseHttpAddress(options, own);
  if (http.port > 65_535) {
    throw new UsageError(
      'The default HTTP port (transport port + 1000) is past 65535; give --http.',
    );
  }
  const tickMs = parseCount(options, 'tick-ms', 1, 60_000);
  const requestTimeoutMs = parseCount(options, 'request-timeout-ms', 1, 3_600_000);
  const secret = readSecret(options, storeSecretVariable);
  const node = await StoreProcess.open({
    id,
    peers,
    directory: data,
    mode,
    shardCount,
    replicaCount,
    secret,
    ...(tickMs === undefined ? {} : { tickMs }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  });
  node.onEvent((event) => {
    if (event.kind === 'stopped') {
      stopOnFailure(`distkit store ${id}`, event.error, output);
      return;
    }
    output.writeErrorLine(`distkit store ${id}: ${JSON.stringify(event)}`);
  });
  return serveUntilStopped(
    node,
    () => StoreHttpApi.listen(node, { host: http.host, port: http.port }),
    (api) => ({
      id,
      mode,
      levels: levelsOffered(mode),
      shards: node.status().shards.map((shard) => shard.id),
      transport: `${own.host}:${own.port}`,
      http: `${api.address.host}:${api.address.port}`,
    }),
    output,
  );
}

async function runCluster(args: readonly string[], output: StoreCommandOutput): Promise<number> {
  const options = parseOptions(
    args,
    [],
    ['nodes', 'mode', 'shards', 'replicas', 'data', 'host', 'port', 'http-port'],
  );
  const mode = parseMode(options.get('mode'));
  const count = parseCount(options, 'nodes', 1, 15) ?? 5;
  const shardCount = parseCount(options, 'shards', 1, 1_024) ?? 3;
  const replicaCount = parseCount(options, 'replicas', 1, 256) ?? Math.min(3, count);
  checkReplicas(mode, replicaCount, count);
  const host = options.get('host') ?? '127.0.0.1';
  const port = parseCount(options, 'port', 1, 65_535) ?? 7101;
  const httpPort = parseCount(options, 'http-port', 1, 65_535) ?? 8101;
  const nodes = localClusterNodes(count, host, port, httpPort);
  const data = resolve(options.get('data') ?? 'data-store');
  const peers = nodes.map((node) => `${node.id}=${node.address}`).join(',');
  const secret = randomBytes(24).toString('hex');
  return runChildCluster(
    nodes.map((node) => ({
      id: node.id,
      args: [
        ...startArgs('store', node, peers, data),
        '--mode',
        mode,
        '--shards',
        String(shardCount),
        '--replicas',
        String(replicaCount),
      ],
      summary: { transport: node.address, http: node.http },
    })),
    { [storeSecretVariable]: secret },
    output,
  );
}

/**
 * Runs `distkit store <start|cluster> ...` and resolves with the exit code when the node
 * or cluster has stopped (on SIGINT or SIGTERM). Usage errors resolve with 2 at once,
 * with the reason on standard error.
 *
 * @example
 * ```ts
 * const code = await runStoreCommand(['cluster', '--mode', 'consensus'], {
 *   writeLine: console.log, writeErrorLine: console.error,
 * });
 * ```
 */
export function runStoreCommand(
  args: readonly string[],
  output: StoreCommandOutput,
): Promise<number> {
  return runSubcommand('store', usage, { start: runStart, cluster: runCluster }, args, output);
}
