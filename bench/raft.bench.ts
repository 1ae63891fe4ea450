/**
 * distkit/raft benchmark, in three parts.
 *
 * 1. **In-memory core** (no peer): three `RaftNode`s in this process, every message
 *    delivered in memory, a leader elected; one iteration proposes N entries of 256 bytes on
 *    the leader at once and delivers messages until all of them are committed and applied
 *    on all three nodes (N = 1, 64, 256 in flight). Proposals committed per second and ns
 *    per proposal: what the protocol core costs, without disk, sockets or encoding.
 * 2. **etcd** (`etcd-server` from Debian, 3.4): the bench starts a 3-node cluster on
 *    loopback in fresh temporary folders and drives its leader with the `etcd3` client.
 * 3. **distkit**: `node dist/cli/bin.js raft cluster --nodes 3`, three real processes, driven
 *    over HTTP (`PUT /v1/kv/<key>`) on the leader with a keep-alive agent.
 *
 * Parts 2 and 3 run the same workload against each cluster, in one run, taking turns: N
 * concurrent clients (1, 64, 256), each putting 256-byte values to keys of its own one
 * after another, for a warm-up and then a measured window. A write counts when it
 * completes inside the window; nothing is retried, errors are counted. The CPU time of every
 * server process and of this client is read from /proc over each window.
 *
 * Run with `npm run bench raft`. Knobs (environment variables):
 *
 * - `RAFT_BENCH_DURATION_MS` (5000): measured time per system and concurrency, split over
 *   the rounds;
 * - `RAFT_BENCH_WARMUP_MS` (1000): unmeasured writes before each round;
 * - `RAFT_BENCH_ROUNDS` (2): rounds per concurrency, in alternating order;
 * - `RAFT_BENCH_CONCURRENCY` (`1,64,256`): concurrent clients, comma-separated;
 * - `RAFT_BENCH_PARTS` (`core,etcd,distkit`): the parts to run;
 * - `RAFT_BENCH_CORE_MS` (1500): time budget of each in-memory comparison;
 * - `RAFT_BENCH_ETCD` (`etcd`): the etcd binary.
 */

import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noop } from 'cockatiel';
import { SeededRandom } from 'distkit/core';
import {
  type Entry,
  MemoryRaftStorage,
  type RaftMessage,
  RaftNode,
  type Ready,
} from 'distkit/raft';
import { Etcd3 } from 'etcd3';
import {
  alive,
  environmentText,
  freePortRange,
  groupMembers,
  integerFromEnvironment,
  percentile,
  readStat,
  removeFolder,
  significant,
  sleep,
  startProcess,
  stopEverythingOnExit,
  stopProcess,
  temporaryFolder,
} from './cluster-processes.js';
import {
  type BenchReport,
  type CaseResult,
  type Comparison,
  type ComparisonResult,
  median,
  runBenchmarks,
} from './harness.js';

// ---- settings ---------------------------------------------------------------------------

const durationMs = integerFromEnvironment('RAFT_BENCH_DURATION_MS', 5_000, 100, 600_000);
const warmupMs = integerFromEnvironment('RAFT_BENCH_WARMUP_MS', 1_000, 0, 60_000);
const roundCount = integerFromEnvironment('RAFT_BENCH_ROUNDS', 2, 1, 20);
const coreTimeBudgetMs = integerFromEnvironment('RAFT_BENCH_CORE_MS', 1_500, 50, 60_000);
const concurrencies = (environmentText('RAFT_BENCH_CONCURRENCY') ?? '1,64,256')
  .split(',')
  .map((part) => part.trim())
  .filter((part) => part !== '')
  .map((part) => {
    const value = Number(part);
    if (!(Number.isSafeInteger(value) && value >= 1 && value <= 4_096)) {
      throw new RangeError(`RAFT_BENCH_CONCURRENCY lists integers in [1, 4096]; got '${part}'.`);
    }
    return value;
  });
const partNames = ['core', 'etcd', 'distkit'] as const;
const parts = new Set(
  (environmentText('RAFT_BENCH_PARTS') ?? partNames.join(','))
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== ''),
);
for (const part of parts) {
  if (!(partNames as readonly string[]).includes(part)) {
    throw new RangeError(`RAFT_BENCH_PARTS lists ${partNames.join(', ')}; got '${part}'.`);
  }
}
const etcdBinary = environmentText('RAFT_BENCH_ETCD') ?? 'etcd';

const valueBytes = 256;
const valueText = 'v'.repeat(valueBytes);
const valueBuffer = Buffer.from(valueText, 'utf8');
const payload = new Uint8Array(valueBytes).map((_, index) => index);
/** A write that takes longer than this is abandoned and counted as an error. */
const writeTimeoutMs = 10_000;
const host = '127.0.0.1';
const root = fileURLToPath(new URL('..', import.meta.url));
const resultsPath = new URL('./results/raft.json', import.meta.url);

// ---- part 1: in-memory core ---------------------------------------------------------------

interface MemoryMember {
  readonly node: RaftNode;
  readonly storage: MemoryRaftStorage;
  appliedIndex: number;
  appliedCount: number;
}

/** Entries kept in each in-memory log before it is compacted, so memory stays flat. */
const compactAfterEntries = 8_192;
/** Rounds of ready-and-deliver before `drive` gives up: far above what one batch needs. */
const driveRoundCountMax = 100_000;

/**
 * Three nodes and a message queue. `drive` is the driver loop of docs/raft.md: persist
 * (to memory), send (to the queue), apply (count), advance; then deliver every queued
 * message; until nothing is left to do.
 */
class MemoryCluster {
  readonly members = new Map<string, MemoryMember>();
  readonly #queue: RaftMessage[] = [];
  leader: MemoryMember;

  constructor() {
    const ids = ['n1', 'n2', 'n3'];
    for (const [index, id] of ids.entries()) {
      const storage = new MemoryRaftStorage();
      const node = new RaftNode({
        id,
        voters: ids,
        storage,
        random: new SeededRandom({ seed: index + 1 }),
      });
      this.members.set(id, { node, storage, appliedIndex: 0, appliedCount: 0 });
    }
    const first = this.members.get('n1') as MemoryMember;
    first.node.campaign();
    this.drive();
    if (first.node.role !== 'leader') {
      throw new Error(`in-memory cluster: n1 did not become leader (${first.node.role})`);
    }
    this.leader = first;
  }

  drive(): void {
    for (let round = 0; round < driveRoundCountMax; round += 1) {
      let busy = false;
      for (const member of this.members.values()) {
        while (member.node.hasReady()) {
          busy = true;
          this.#handle(member, member.node.ready());
        }
      }
      if (this.#queue.length > 0) {
        busy = true;
        const messages = this.#queue.splice(0);
        for (const message of messages) {
          this.members.get(message.to)?.node.step(message);
        }
      }
      if (!busy) {
        return;
      }
    }
    throw new Error(`in-memory cluster still busy after ${driveRoundCountMax} rounds`);
  }

  #handle(member: MemoryMember, ready: Ready): void {
    const { node, storage } = member;
    if (ready.hardState !== undefined) {
      storage.setHardState(ready.hardState);
    }
    storage.append(ready.entries);
    for (const message of ready.messages) {
      this.#queue.push(message);
    }
    const committed = ready.committedEntries;
    for (let position = 0; position < committed.length; position += 1) {
      const entry = committed[position] as Entry;
      if (entry.type === 'normal' && entry.data.length > 0) {
        member.appliedCount += 1;
      }
    }
    const last = committed[committed.length - 1];
    node.advance(ready);
    if (last !== undefined) {
      member.appliedIndex = last.index;
      if (member.appliedIndex - storage.firstIndex() >= compactAfterEntries) {
        storage.createSnapshot(member.appliedIndex, node.membership, new Uint8Array(0));
        storage.compact(member.appliedIndex);
      }
    }
  }

  /** Proposes `count` entries on the leader and drives until all are applied everywhere. */
  proposeAndCommit(count: number): number {
    const before = this.leader.appliedCount;
    for (let index = 0; index < count; index += 1) {
      const result = this.leader.node.propose(payload);
      if (result.status !== 'appended') {
        throw new Error(`in-memory proposal not appended: ${JSON.stringify(result)}`);
      }
    }
    this.drive();
    const committed = this.leader.appliedCount - before;
    if (committed !== count) {
      throw new Error(`in-memory cluster committed ${committed} of ${count} proposals`);
    }
    return committed;
  }

  /** Every node applied the same number of proposals (the followers learn the commit too). */
  check(): void {
    const counts = [...this.members.values()].map((member) => member.appliedCount);
    if (new Set(counts).size !== 1) {
      throw new Error(`in-memory cluster: applied counts differ: ${counts.join(', ')}`);
    }
  }
}

const coreBatchSizes = [1, 64, 256];
/** Wall time of the CPU-time measurement of each batch size, after the harness's. */
const coreCpuWallMs = 1_000;
const coreCpu = new Map<number, { cpuNsPerProposal: number; wallNsPerProposal: number }>();
const coreComparisons: Comparison[] = [];
const coreClusters: MemoryCluster[] = [];
for (const batch of coreBatchSizes) {
  const cluster = new MemoryCluster();
  cluster.proposeAndCommit(batch);
  cluster.check();
  coreClusters.push(cluster);
  coreComparisons.push({
    title: `In-memory core: 3 RaftNodes in one process, ${batch} proposal${batch === 1 ? '' : 's'} of ${valueBytes} bytes in flight, committed and applied on all 3 (no peer)`,
    unit: { name: 'proposal', countPerIteration: batch },
    distkit: {
      name: `distkit RaftNode x3, ${batch} in flight`,
      run: () => cluster.proposeAndCommit(batch),
    },
    peers: [],
    timeBudgetMs: coreTimeBudgetMs,
    // No forced collection before each sample: an iteration right after a full collection
    // runs cold and measured several times slower than the steady state, where the
    // collector's share is part of what a proposal costs.
    gcBeforeEachSample: false,
  });
}

// ---- processes: start, watch, stop ------------------------------------------------------

const clockTicksPerSecond = Number(
  spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim() || 100,
);

/** The last lines a process wrote, to show when it fails. */

/** Starts a process in the repository root (see startProcess). */
function startInRoot(command: string, args: readonly string[], outputLines: string[]) {
  return startProcess(command, args, root, outputLines);
}

stopEverythingOnExit();

// ---- the workload -------------------------------------------------------------------------

/** Thrown by a put that got an answer other than success: `code` names what happened. */
class WriteFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

type Put = (key: string) => Promise<unknown>;

interface CpuWindow {
  /** Per server process: its label and CPU use over the window, in % of one core. */
  readonly serverProcesses: readonly { readonly label: string; readonly cpuPercent: number }[];
  /** Sum over the system's server processes, in % of one core. */
  readonly serverTotalPercent: number;
  /** This bench process (the clients), in % of one core. */
  readonly clientPercent: number;
  /** The other cluster, idle meanwhile, in % of one core. */
  readonly otherClusterPercent: number;
  /**
   * Every process on the machine (/proc/stat), in % of one core (at most 100 × cores):
   * well above the sum of the others, something else was running.
   */
  readonly machinePercent: number;
}

interface WindowResult {
  readonly writeCount: number;
  readonly errorCount: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  readonly latenciesMs: readonly number[];
  readonly cpu: CpuWindow;
}

interface ServerProcess {
  readonly label: string;
  readonly pid: number;
}

/** A running cluster, as the workload sees it. */
interface RunningCluster {
  readonly system: 'distkit' | 'etcd';
  /** A new put function for `concurrency` clients, and its cleanup. */
  connect(concurrency: number): { put: Put; close: () => Promise<void> };
  serverProcesses(): ServerProcess[];
  stop(): Promise<string[]>;
}

/** CPU ticks the whole machine spent busy (not idle, not waiting for I/O) since boot. */
function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return total - (fields[3] ?? 0) - (fields[4] ?? 0);
}

function cpuTicks(processes: readonly ServerProcess[]): number[] {
  return processes.map((entry) => readStat(entry.pid)?.cpuTicks ?? Number.NaN);
}

/**
 * `concurrency` clients each write one key after another, for `warmupMs` unmeasured and then
 * `windowMs` measured; writes still running at the end are awaited (each is bounded by
 * `writeTimeoutMs`) but not counted.
 */
async function runWindow(
  cluster: RunningCluster,
  other: RunningCluster | undefined,
  concurrency: number,
  label: string,
  windowMs: number,
): Promise<WindowResult> {
  const connection = cluster.connect(concurrency);
  const processes = cluster.serverProcesses();
  const otherProcesses = other?.serverProcesses() ?? [];
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  let errorCount = 0;
  let writeCount = 0;
  const startedAt = performance.now();
  const windowStart = startedAt + warmupMs;
  const windowEnd = windowStart + windowMs;
  const sample = (): CpuSample => ({
    atMs: performance.now(),
    machineTicks: machineBusyTicks(),
    serverTicks: cpuTicks(processes),
    otherTicks: cpuTicks(otherProcesses),
    client: process.cpuUsage(),
  });
  // CPU is sampled at the window's edges; a late timer (a busy event loop) only moves the
  // sample, whose own time is what the percentages divide by.
  let before: CpuSample | undefined;
  let after: CpuSample | undefined;
  const windowTimer = setTimeout(() => {
    before = sample();
  }, warmupMs);
  const endTimer = setTimeout(() => {
    after = sample();
  }, warmupMs + windowMs);

  const client = async (clientIndex: number): Promise<void> => {
    for (let sequence = 0; performance.now() < windowEnd; sequence += 1) {
      const key = `${label}-c${clientIndex}-${sequence}`;
      const begin = performance.now();
      let failure: string | undefined;
      try {
        await connection.put(key);
      } catch (error) {
        failure = error instanceof WriteFailure ? error.code : String(error).slice(0, 80);
      }
      const end = performance.now();
      if (end < windowStart || end > windowEnd) {
        continue;
      }
      if (failure === undefined) {
        writeCount += 1;
        latenciesMs.push(end - begin);
      } else {
        errorCount += 1;
        errors[failure] = (errors[failure] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, index) => client(index)));
  } finally {
    clearTimeout(windowTimer);
    clearTimeout(endTimer);
    after ??= sample();
    await connection.close();
  }
  return {
    writeCount,
    errorCount,
    errors,
    elapsedMs: windowMs,
    latenciesMs,
    cpu: cpuWindow(processes, before, after),
  };
}

interface CpuSample {
  readonly atMs: number;
  readonly machineTicks: number;
  readonly serverTicks: readonly number[];
  readonly otherTicks: readonly number[];
  readonly client: NodeJS.CpuUsage;
}

function cpuWindow(
  processes: readonly ServerProcess[],
  before: CpuSample | undefined,
  after: CpuSample,
): CpuWindow {
  const seconds = before === undefined ? Number.NaN : (after.atMs - before.atMs) / 1_000;
  const percent = (from: number | undefined, to: number | undefined): number =>
    (((to ?? Number.NaN) - (from ?? Number.NaN)) / clockTicksPerSecond / seconds) * 100;
  const serverProcesses = processes.map((entry, index) => ({
    label: entry.label,
    cpuPercent: percent(before?.serverTicks[index], after.serverTicks[index]),
  }));
  const otherClusterPercent = after.otherTicks.reduce(
    (sum, ticks, index) => sum + percent(before?.otherTicks[index], ticks),
    0,
  );
  const clientMicroseconds =
    before === undefined
      ? Number.NaN
      : after.client.user + after.client.system - before.client.user - before.client.system;
  return {
    serverProcesses,
    serverTotalPercent: serverProcesses.reduce((sum, entry) => sum + entry.cpuPercent, 0),
    clientPercent: (clientMicroseconds / 1e6 / seconds) * 100,
    otherClusterPercent,
    machinePercent: percent(before?.machineTicks, after.machineTicks),
  };
}

// ---- etcd ---------------------------------------------------------------------------------

function etcdVersion(): string | undefined {
  const result = spawnSync(etcdBinary, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) {
    return undefined;
  }
  return /etcd Version: (\S+)/.exec(result.stdout)?.[1] ?? result.stdout.trim();
}

async function startEtcd(): Promise<RunningCluster> {
  const folder = temporaryFolder('distkit-bench-etcd-');
  const clientBase = await freePortRange(3);
  const peerBase = await freePortRange(3, [clientBase, clientBase + 1, clientBase + 2]);
  const names = ['e1', 'e2', 'e3'];
  const initialCluster = names
    .map((name, index) => `${name}=http://${host}:${peerBase + index}`)
    .join(',');
  const outputs = names.map((): string[] => []);
  const children = names.map((name, index) =>
    startInRoot(
      etcdBinary,
      [
        '--name',
        name,
        '--data-dir',
        join(folder, name),
        '--listen-client-urls',
        `http://${host}:${clientBase + index}`,
        '--advertise-client-urls',
        `http://${host}:${clientBase + index}`,
        '--listen-peer-urls',
        `http://${host}:${peerBase + index}`,
        '--initial-advertise-peer-urls',
        `http://${host}:${peerBase + index}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `distkit-bench-${process.pid}`,
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
        '--log-level',
        'warn',
      ],
      outputs[index] as string[],
    ),
  );
  const urls = names.map((_, index) => `http://${host}:${clientBase + index}`);
  let leaderIndex = -1;
  const stop = async (): Promise<string[]> => {
    const notes: string[] = [];
    // One at a time, the leader first: a member that gets SIGTERM while it leads hands
    // leadership to a live member and exits at once; stopped together, the leader waits
    // seconds for a transfer to a member that is going away.
    let total = 0;
    const order = [...children.keys()].sort(
      (left, right) => Number(right === leaderIndex) - Number(left === leaderIndex),
    );
    for (const index of order) {
      total += await stopProcess(children[index] as ChildProcess, 5_000);
    }
    if (total > 0) {
      notes.push(`etcd: ${total} process(es) needed SIGKILL`);
    }
    removeFolder(folder);
    return notes;
  };
  try {
    const leaderUrl = await etcdLeader(urls, children, outputs);
    leaderIndex = urls.indexOf(leaderUrl);
    console.log(
      `etcd: 3 members on ${host}, client ports ${clientBase}-${clientBase + 2}, peer ports ${peerBase}-${peerBase + 2}; leader ${names[leaderIndex]} (${leaderUrl})`,
    );
    // One gRPC channel (HTTP/2, streams multiplexed) to the leader, as an application
    // would hold; no retries and no breaker, so every failure is counted.
    const client = new Etcd3({
      hosts: leaderUrl,
      faultHandling: { host: () => noop, global: noop },
      defaultCallOptions: () => ({ deadline: Date.now() + writeTimeoutMs }),
    });
    await client.put('distkit-bench-probe').value(valueText).exec();
    return {
      system: 'etcd',
      connect: () => ({
        put: (key) => client.put(key).value(valueText).exec(),
        close: async () => {},
      }),
      serverProcesses: () =>
        children.map((child, index) => ({
          label: `${names[index]}${index === leaderIndex ? ' (leader)' : ''}`,
          pid: child.pid ?? -1,
        })),
      stop: async () => {
        client.close();
        return await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until every member answers and agrees on a leader; returns its client URL. */
async function etcdLeader(
  urls: readonly string[],
  children: readonly ChildProcess[],
  outputs: readonly string[][],
): Promise<string> {
  const clients = urls.map(
    (url) =>
      new Etcd3({
        hosts: url,
        faultHandling: { host: () => noop, global: noop },
        defaultCallOptions: () => ({ deadline: Date.now() + 1_000 }),
      }),
  );
  try {
    const deadline = Date.now() + 30_000;
    let lastError = '';
    while (Date.now() < deadline) {
      const dead = children.findIndex((child) => !alive(child));
      if (dead >= 0) {
        throw new Error(
          `etcd member ${dead + 1} exited during start-up:\n${(outputs[dead] ?? []).join('\n')}`,
        );
      }
      try {
        const statuses = await Promise.all(clients.map((client) => client.maintenance.status()));
        const leader = statuses[0]?.leader;
        if (
          leader !== undefined &&
          leader !== '0' &&
          statuses.every((status) => status.leader === leader)
        ) {
          const index = statuses.findIndex((status) => status.header.member_id === leader);
          if (index >= 0) {
            return urls[index] as string;
          }
        }
        lastError = 'no leader yet';
      } catch (error) {
        lastError = String(error);
      }
      await sleep(200);
    }
    throw new Error(
      `etcd cluster not healthy within 30 s (${lastError}):\n${outputs.flat().slice(-20).join('\n')}`,
    );
  } finally {
    for (const client of clients) {
      client.close();
    }
  }
}

// ---- distkit --------------------------------------------------------------------------------

const cliPath = join(root, 'dist', 'cli', 'bin.js');

function distkitClusterAvailable(): { available: boolean; reason: string } {
  if (!existsSync(cliPath)) {
    return { available: false, reason: `${cliPath} does not exist` };
  }
  const result = spawnSync(process.execPath, [cliPath, 'raft', '--help'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.status !== 0) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n')[0] ?? '';
    return {
      available: false,
      reason: `'node dist/cli/bin.js raft --help' exited with ${result.status ?? result.signal}: ${output}`,
    };
  }
  return { available: true, reason: '' };
}

interface DistkitNode {
  readonly id: string;
  readonly raft: string;
  readonly http: string;
}

function requestJson(
  address: string,
  method: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const [hostname, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: hostname, port: Number(port), method, path, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: keep the text.
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

async function startDistkit(): Promise<RunningCluster> {
  const folder = temporaryFolder('distkit-bench-raft-');
  const raftBase = await freePortRange(3);
  const httpBase = await freePortRange(3, [raftBase, raftBase + 1, raftBase + 2]);
  const output: string[] = [];
  const child = startInRoot(
    process.execPath,
    [
      cliPath,
      'raft',
      'cluster',
      '--nodes',
      '3',
      '--data',
      folder,
      '--raft-port',
      String(raftBase),
      '--http-port',
      String(httpBase),
    ],
    output,
  );
  const stop = async (): Promise<string[]> => {
    const notes: string[] = [];
    const killed = await stopProcess(child, 10_000);
    if (killed > 0) {
      notes.push(
        `distkit: ${killed} process(es) were still running after SIGTERM to 'raft cluster' and needed SIGKILL`,
      );
    }
    removeFolder(folder);
    return notes;
  };
  try {
    const nodes = await new Promise<DistkitNode[]>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no cluster-ready line within 30 s; stderr:\n${output.slice(-20).join('\n')}`,
            ),
          ),
        30_000,
      );
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `'raft cluster' exited with ${code ?? signal} before it was ready; stderr:\n${output.slice(-20).join('\n')}`,
          ),
        );
      });
      let rest = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          let event: { event?: unknown; nodes?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            continue;
          }
          if (event.event === 'cluster-ready' && Array.isArray(event.nodes)) {
            clearTimeout(timer);
            resolve(event.nodes as DistkitNode[]);
          }
        }
      });
    });
    // Keep draining stdout so the cluster never blocks on a full pipe.
    child.stdout?.resume();
    const leader = await distkitLeader(nodes);
    console.log(
      `distkit: 3 nodes on ${host}, raft ports ${raftBase}-${raftBase + 2}, HTTP ports ${httpBase}-${httpBase + 2}; leader ${leader.id} (${leader.http})`,
    );
    const [leaderHost, leaderPort] = leader.http.split(':');
    const probe = await requestJson(leader.http, 'GET', '/v1/status', 2_000);
    if (probe.status !== 200) {
      throw new Error(`GET /v1/status on the leader answered ${probe.status}`);
    }
    return {
      system: 'distkit',
      connect: (concurrency) => {
        const agent = new http.Agent({
          keepAlive: true,
          maxSockets: concurrency,
          maxFreeSockets: concurrency,
        });
        const put: Put = (key) =>
          new Promise<void>((resolve, reject) => {
            const request = http.request(
              {
                host: leaderHost,
                port: Number(leaderPort),
                method: 'PUT',
                path: `/v1/kv/${encodeURIComponent(key)}`,
                agent,
                timeout: writeTimeoutMs,
                headers: {
                  'content-type': 'text/plain; charset=utf-8',
                  'content-length': valueBuffer.length,
                },
              },
              (response) => {
                const chunks: Buffer[] = [];
                response.on('data', (chunk: Buffer) => chunks.push(chunk));
                response.on('end', () => {
                  const text = Buffer.concat(chunks).toString('utf8');
                  if (response.statusCode === 200) {
                    const body = JSON.parse(text) as { index?: unknown };
                    if (typeof body.index === 'number') {
                      resolve();
                    } else {
                      reject(new WriteFailure('200 without an index'));
                    }
                    return;
                  }
                  let code = '';
                  try {
                    code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
                  } catch {
                    // Not JSON.
                  }
                  reject(new WriteFailure(`${response.statusCode} ${code}`.trim()));
                });
                response.on('error', reject);
              },
            );
            request.on('timeout', () => request.destroy(new WriteFailure('client-timeout')));
            request.on('error', reject);
            request.end(valueBuffer);
          });
        return {
          put,
          close: async () => {
            agent.destroy();
          },
        };
      },
      serverProcesses: () => {
        const pids = child.pid === undefined ? [] : groupMembers(child.pid);
        return pids.map((pid) => {
          if (pid === child.pid) {
            return { label: 'raft cluster (parent)', pid };
          }
          let commandLine = '';
          try {
            commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
          } catch {
            // Gone.
          }
          const node = nodes.find((candidate) => commandLine.includes(`--id ${candidate.id} `));
          const name = node === undefined ? `pid ${pid}` : node.id;
          return { label: `${name}${node?.id === leader.id ? ' (leader)' : ''}`, pid };
        });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls /v1/status on every node until one reports role leader and the others agree. */
async function distkitLeader(nodes: readonly DistkitNode[]): Promise<DistkitNode> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const statuses = await Promise.all(
        nodes.map((node) => requestJson(node.http, 'GET', '/v1/status', 1_000)),
      );
      const bodies = statuses.map(
        (status) => status.body as { id?: string; role?: string; leader?: string | null },
      );
      const leaderIndex = bodies.findIndex((body) => body.role === 'leader');
      const leaderId = bodies[leaderIndex]?.id ?? nodes[leaderIndex]?.id;
      if (leaderIndex >= 0 && bodies.every((body) => body.leader === leaderId)) {
        return nodes[leaderIndex] as DistkitNode;
      }
      last = JSON.stringify(bodies);
    } catch (error) {
      last = String(error);
    }
    await sleep(200);
  }
  throw new Error(`no distkit node reported role leader within 30 s: ${last}`);
}

// ---- figures and tables --------------------------------------------------------------------

interface SystemFigures {
  readonly system: 'distkit' | 'etcd';
  readonly writesPerSecond: number;
  readonly writeCount: number;
  readonly errorCount: number;
  readonly errors: Record<string, number>;
  readonly measuredMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly roundWritesPerSecond: number[];
  readonly cpu: {
    readonly serverTotalPercent: number;
    readonly clientPercent: number;
    readonly otherClusterPercent: number;
    readonly machinePercent: number;
    readonly serverProcesses: Record<string, number>;
  };
}

function combine(system: 'distkit' | 'etcd', windows: readonly WindowResult[]): SystemFigures {
  const latencies = windows.flatMap((window) => window.latenciesMs).sort((a, b) => a - b);
  const writeCount = windows.reduce((sum, window) => sum + window.writeCount, 0);
  const measuredMs = windows.reduce((sum, window) => sum + window.elapsedMs, 0);
  const errors: Record<string, number> = {};
  for (const window of windows) {
    for (const [code, count] of Object.entries(window.errors)) {
      errors[code] = (errors[code] ?? 0) + count;
    }
  }
  const weighted = (pick: (window: WindowResult) => number): number =>
    windows.reduce((sum, window) => sum + pick(window) * window.elapsedMs, 0) / measuredMs;
  const serverProcesses: Record<string, number> = {};
  for (const window of windows) {
    for (const entry of window.cpu.serverProcesses) {
      serverProcesses[entry.label] =
        (serverProcesses[entry.label] ?? 0) + (entry.cpuPercent * window.elapsedMs) / measuredMs;
    }
  }
  return {
    system,
    writesPerSecond: writeCount / (measuredMs / 1_000),
    writeCount,
    errorCount: windows.reduce((sum, window) => sum + window.errorCount, 0),
    errors,
    measuredMs,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    meanMs: latencies.reduce((sum, value) => sum + value, 0) / latencies.length,
    roundWritesPerSecond: windows.map((window) => window.writeCount / (window.elapsedMs / 1_000)),
    cpu: {
      serverTotalPercent: weighted((window) => window.cpu.serverTotalPercent),
      clientPercent: weighted((window) => window.cpu.clientPercent),
      otherClusterPercent: weighted((window) => window.cpu.otherClusterPercent),
      machinePercent: weighted((window) => window.cpu.machinePercent),
      serverProcesses,
    },
  };
}

function formatMs(value: number): string {
  if (!Number.isFinite(value)) {
    return '-';
  }
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

function formatCount(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function formatRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(2)}x`;
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  console.log(`  ${line(header)}`);
  for (const row of rows) {
    console.log(`  ${line(row)}`);
  }
}

const systemNames = {
  distkit: 'distkit raft cluster (3 processes, HTTP)',
  etcd: 'etcd 3-node cluster (etcd3 client, gRPC)',
} as const;

function caseResult(figures: SystemFigures): CaseResult & Record<string, unknown> {
  const meanNs = 1e9 / figures.writesPerSecond;
  const roundNs = figures.roundWritesPerSecond.map((rate) => 1e9 / rate);
  const medianNs = median(roundNs);
  return {
    name: systemNames[figures.system],
    role: figures.system === 'distkit' ? 'distkit' : 'peer',
    // One op is one write of the whole cluster: ops/s is the throughput, meanNsPerOp its
    // inverse, and each round is one sample.
    opsPerSecond: significant(figures.writesPerSecond),
    meanNsPerOp: significant(meanNs),
    medianNsPerOp: significant(medianNs),
    meanNsPerUnit: significant(meanNs),
    roundMeansNsPerOp: roundNs.map(significant),
    sampleCount: roundNs.length,
    iterationCount: figures.writeCount,
    latencyMs: {
      p50: significant(figures.p50Ms),
      p99: significant(figures.p99Ms),
      max: significant(figures.maxMs),
      mean: significant(figures.meanMs),
    },
    measuredMs: significant(figures.measuredMs),
    errorCount: figures.errorCount,
    errors: figures.errors,
    cpuPercentOfOneCore: {
      servers: significant(figures.cpu.serverTotalPercent),
      client: significant(figures.cpu.clientPercent),
      otherClusterIdle: significant(figures.cpu.otherClusterPercent),
      machine: significant(figures.cpu.machinePercent),
      perServerProcess: Object.fromEntries(
        Object.entries(figures.cpu.serverProcesses).map(([label, value]) => [
          label,
          significant(value),
        ]),
      ),
    },
  };
}

// ---- main -----------------------------------------------------------------------------------

const notes: string[] = [];
let report: BenchReport | undefined;

/**
 * Starts a cluster; a cluster that fails to start is reported and left out (its processes
 * already stopped), the other still runs, and the bench exits with 1 at the end.
 */
async function startOrNote(
  system: 'etcd' | 'distkit',
  start: () => Promise<RunningCluster>,
): Promise<void> {
  try {
    clusters.push(await start());
  } catch (error) {
    const message = `${system} cluster failed to start, left out of this run: ${error instanceof Error ? error.message : String(error)}`;
    console.error(`\n${message}`);
    notes.push(message.split('\n')[0] ?? message);
    process.exitCode = 1;
  }
}

if (parts.has('core')) {
  console.log(
    'Part 1: in-memory core. Three RaftNodes in this process, messages delivered in memory, ' +
      'no disk, no sockets; no peer runs this part.',
  );
  report = await runBenchmarks({ module: 'raft', comparisons: coreComparisons });
  for (const cluster of coreClusters) {
    cluster.check();
  }
  // Wall time per proposal grows with whatever else the machine runs; the process's CPU
  // time per proposal much less so. Measured apart, after the harness, for the same batches.
  console.log(
    '\nIn-memory core, CPU time of this process per proposal (less sensitive to other load than wall time):',
  );
  coreBatchSizes.forEach((batch, index) => {
    const cluster = coreClusters[index] as MemoryCluster;
    const cpuBefore = process.cpuUsage();
    const wallStart = performance.now();
    let proposals = 0;
    while (performance.now() - wallStart < coreCpuWallMs) {
      proposals += cluster.proposeAndCommit(batch);
    }
    const wallNs = (performance.now() - wallStart) * 1e6;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuNs = (cpu.user + cpu.system) * 1e3;
    coreCpu.set(batch, {
      cpuNsPerProposal: cpuNs / proposals,
      wallNsPerProposal: wallNs / proposals,
    });
    console.log(
      `  ${String(batch).padStart(3)} in flight: ${(cpuNs / proposals / 1e3).toFixed(2)} µs CPU per proposal ` +
        `(${formatCount(1e9 / (cpuNs / proposals))} proposals per CPU-second), ` +
        `${(wallNs / proposals / 1e3).toFixed(2)} µs wall, over ${formatCount(proposals)} proposals`,
    );
  });
  coreClusters.forEach((cluster) => {
    cluster.check();
  });
}

const clusterComparisons: ComparisonResult[] = [];
const summary: { concurrency: number; etcd?: SystemFigures; distkit?: SystemFigures }[] = [];
const clusters: RunningCluster[] = [];
let etcdLabel = 'etcd';

try {
  if (parts.has('etcd')) {
    const version = etcdVersion();
    if (version === undefined) {
      const message = `etcd not found ('${etcdBinary} --version' failed): skipping etcd. Install it with 'apt-get install -y etcd-server', or point RAFT_BENCH_ETCD at the binary.`;
      console.log(`\n${message}`);
      notes.push(message);
    } else {
      etcdLabel = `etcd ${version}`;
      console.log(`\nPart 2: ${etcdLabel} (${etcdBinary}), 3 members on loopback.`);
      await startOrNote('etcd', startEtcd);
    }
  }
  if (parts.has('distkit')) {
    const { available, reason } = distkitClusterAvailable();
    if (!available) {
      const message = `distkit raft cluster not available (${reason}): skipping distkit.`;
      console.log(`\n${message}`);
      notes.push(message);
    } else {
      console.log('\nPart 3: distkit raft cluster, 3 processes on loopback.');
      await startOrNote('distkit', startDistkit);
    }
  }

  if (clusters.length > 0) {
    const windowMs = durationMs / roundCount;
    console.log(
      `\nWorkload: N concurrent clients, each putting ${valueBytes}-byte values to keys of its own one after another; ` +
        `${roundCount} round(s) per system and concurrency, each ${warmupMs} ms warm-up + ${windowMs} ms measured; ` +
        'systems take turns (order alternates each round); no retries.',
    );
    console.log(
      `CPU columns: % of one core over the measured windows (this machine has ${cpus().length} cores, ${cpus().length * 100}% in all); ` +
        'machine CPU counts every process, so what exceeds servers + client + other cluster is other work on the machine.',
    );
    for (const concurrency of concurrencies) {
      const windows = new Map<string, WindowResult[]>();
      for (let round = 0; round < roundCount; round += 1) {
        const order = round % 2 === 0 ? [...clusters].reverse() : clusters;
        for (const cluster of order) {
          const other = clusters.find((candidate) => candidate !== cluster);
          const window = await runWindow(
            cluster,
            other,
            concurrency,
            `${cluster.system}-${concurrency}-${round}`,
            windowMs,
          );
          windows.set(cluster.system, [...(windows.get(cluster.system) ?? []), window]);
        }
      }
      const figures = [...windows].map(([system, list]) =>
        combine(system as 'distkit' | 'etcd', list),
      );
      figures.sort((a, b) => (a.system === 'distkit' ? -1 : b.system === 'distkit' ? 1 : 0));
      const distkit = figures.find((entry) => entry.system === 'distkit');
      const etcd = figures.find((entry) => entry.system === 'etcd');
      summary.push({
        concurrency,
        ...(distkit === undefined ? {} : { distkit }),
        ...(etcd === undefined ? {} : { etcd }),
      });
      const title = `3-node cluster on loopback: ${concurrency} concurrent client${concurrency === 1 ? '' : 's'}, sequential puts of ${valueBytes}-byte values to distinct keys`;
      console.log(`\n${title}`);
      printTable(
        [
          'system',
          'writes/s',
          'p50',
          'p99',
          'max',
          'errors',
          'server CPU',
          'client CPU',
          'other cluster CPU',
          'machine CPU',
          'round spread',
        ],
        figures.map((entry) => [
          entry.system === 'etcd' ? etcdLabel : 'distkit',
          formatCount(entry.writesPerSecond),
          formatMs(entry.p50Ms),
          formatMs(entry.p99Ms),
          formatMs(entry.maxMs),
          entry.errorCount === 0
            ? '0'
            : `${entry.errorCount} (${Object.entries(entry.errors)
                .map(([code, count]) => `${code}: ${count}`)
                .join(', ')})`,
          `${entry.cpu.serverTotalPercent.toFixed(0)}%`,
          `${entry.cpu.clientPercent.toFixed(0)}%`,
          `${entry.cpu.otherClusterPercent.toFixed(0)}%`,
          `${entry.cpu.machinePercent.toFixed(0)}%`,
          `${(((Math.max(...entry.roundWritesPerSecond) - Math.min(...entry.roundWritesPerSecond)) / entry.writesPerSecond) * 100).toFixed(0)}%`,
        ]),
      );
      for (const entry of figures) {
        console.log(
          `  ${entry.system} CPU per server process (% of one core): ${Object.entries(
            entry.cpu.serverProcesses,
          )
            .map(([label, value]) => `${label} ${value.toFixed(0)}%`)
            .join(', ')}`,
        );
      }
      if (distkit !== undefined && etcd !== undefined) {
        console.log(
          `  distkit/etcd: throughput ${formatRatio(distkit.writesPerSecond / etcd.writesPerSecond)} (above 1: distkit faster), ` +
            `p99 ${formatRatio(distkit.p99Ms / etcd.p99Ms)} (below 1: distkit's p99 lower)`,
        );
      }
      const cases = figures.map(caseResult);
      clusterComparisons.push({
        title,
        unit: { name: 'write', countPerIteration: 1 },
        cases,
        ratios:
          distkit !== undefined && etcd !== undefined
            ? [
                {
                  peer: systemNames.etcd,
                  distkitOverPeer: significant(distkit.writesPerSecond / etcd.writesPerSecond),
                  p50LatencyDistkitOverPeer: significant(distkit.p50Ms / etcd.p50Ms),
                  p99LatencyDistkitOverPeer: significant(distkit.p99Ms / etcd.p99Ms),
                } as ComparisonResult['ratios'][number],
              ]
            : [],
      });
    }
  }
} finally {
  for (const cluster of clusters.splice(0).reverse()) {
    notes.push(...(await cluster.stop()));
  }
}

if (summary.length > 0) {
  console.log(`\nSummary: ${etcdLabel} and distkit, 3 nodes each, side by side`);
  printTable(
    [
      'clients',
      'etcd writes/s',
      'distkit writes/s',
      'distkit/etcd',
      'etcd p50',
      'distkit p50',
      'etcd p99',
      'distkit p99',
      'p99 distkit/etcd',
    ],
    summary.map(({ concurrency, etcd, distkit }) => [
      String(concurrency),
      formatCount(etcd?.writesPerSecond ?? Number.NaN),
      formatCount(distkit?.writesPerSecond ?? Number.NaN),
      formatRatio(
        etcd === undefined || distkit === undefined
          ? undefined
          : distkit.writesPerSecond / etcd.writesPerSecond,
      ),
      formatMs(etcd?.p50Ms ?? Number.NaN),
      formatMs(distkit?.p50Ms ?? Number.NaN),
      formatMs(etcd?.p99Ms ?? Number.NaN),
      formatMs(distkit?.p99Ms ?? Number.NaN),
      formatRatio(
        etcd === undefined || distkit === undefined ? undefined : distkit.p99Ms / etcd.p99Ms,
      ),
    ]),
  );
  console.log(
    '  distkit/etcd throughput above 1: distkit faster; p99 distkit/etcd below 1: distkit lower.',
  );
}
for (const note of notes) {
  console.log(`note: ${note}`);
}

if (report !== undefined || clusterComparisons.length > 0) {
  // Without the core part, an empty harness run still records the environment.
  const base: BenchReport = report ?? (await runBenchmarks({ module: 'raft', comparisons: [] }));
  const combined = {
    ...base,
    comparisons: [
      ...base.comparisons.map((comparison, index) => {
        const batch = coreBatchSizes[index];
        const cpu = batch === undefined ? undefined : coreCpu.get(batch);
        return cpu === undefined
          ? comparison
          : {
              ...comparison,
              // Measured after the harness, outside mitata: this process's CPU time.
              cpuNsPerProposal: significant(cpu.cpuNsPerProposal),
              wallNsPerProposalDuringCpuMeasurement: significant(cpu.wallNsPerProposal),
            };
      }),
      ...clusterComparisons,
    ],
    clusterWorkload: {
      valueBytes,
      warmupMsPerRound: warmupMs,
      measuredMsPerSystemAndConcurrency: durationMs,
      roundCount,
      concurrencies,
      etcd: etcdLabel,
      notes,
    },
  };
  writeFileSync(resultsPath, `${JSON.stringify(combined, null, 2)}\n`);
  console.log('\nwrote bench/results/raft.json (in-memory core and cluster comparisons)');
}
