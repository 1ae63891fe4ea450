/**
 * The partitioned store as processes: write throughput and latency of a 3-node
 * `distkit store cluster` on loopback, per replication mode, at 1, 64 and 256 concurrent
 * clients.
 *
 * For each mode the bench starts `node dist/cli/bin.js store cluster --nodes 3 --mode MODE`
 * in a fresh temporary folder on free loopback ports, waits for `cluster-ready`, then runs
 * N clients, each doing sequential keep-alive HTTP `PUT /v1/kv/{key}` of 256-byte values
 * to keys of its own at the mode's default (strongest) level, client i talking to node
 * i mod 3. It records writes/s, p50, p99 and errors, and the CPU of the cluster's
 * processes. Beside it, it prints the etcd figures of `bench/results/raft.json` (read
 * from that file, not measured here) and the wall time of one `distkit lab --quick` run.
 *
 * Settings (environment variables):
 * - `STORE_BENCH_MODES` (`consensus,leader-follower-sync,leader-follower-async,leaderless`);
 * - `STORE_BENCH_CONCURRENCY` (`1,64,256`);
 * - `STORE_BENCH_WARMUP_MS` (1,000) before the first round of each case, and
 *   `STORE_BENCH_DURATION_MS` (3,000) per round;
 * - `STORE_BENCH_ROUNDS` (3): measured rounds per case, back to back on the same cluster;
 *   a case reports the median round's writes/s with the slowest and fastest beside it,
 *   and p50/p99 over the latencies of every round;
 * - `STORE_BENCH_LAB` (`1`): `0` skips timing the lab.
 *
 * Every process it starts is stopped (SIGTERM, then SIGKILL after a bounded wait) on
 * success, error and Ctrl-C, and its temporary folders are removed.
 */

import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  environmentText,
  freePortRange,
  groupMembers,
  integerFromEnvironment,
  percentile,
  readStat,
  removeFolder,
  significant,
  sleep,
  started,
  startProcess,
  stopEverythingOnExit,
  stopProcess,
  temporaryFolder,
  waitForExit,
} from './cluster-processes.js';
import { type CaseResult, type ComparisonResult, runBenchmarks } from './harness.js';

// ---- settings -------------------------------------------------------------------------------

const modes = (
  environmentText('STORE_BENCH_MODES') ??
  'consensus,leader-follower-sync,leader-follower-async,leaderless'
)
  .split(',')
  .map((mode) => mode.trim())
  .filter((mode) => mode !== '');
const concurrencies = (environmentText('STORE_BENCH_CONCURRENCY') ?? '1,64,256')
  .split(',')
  .map((text) => Number(text.trim()));
if (concurrencies.some((value) => !Number.isInteger(value) || value < 1 || value > 4_096)) {
  throw new Error('STORE_BENCH_CONCURRENCY must list integers from 1 to 4096');
}
const warmupMs = integerFromEnvironment('STORE_BENCH_WARMUP_MS', 1_000, 0, 60_000);
const durationMs = integerFromEnvironment('STORE_BENCH_DURATION_MS', 3_000, 100, 600_000);
const roundCount = integerFromEnvironment('STORE_BENCH_ROUNDS', 3, 1, 100);
const timeLab = environmentText('STORE_BENCH_LAB') !== '0';

const nodeCount = 3;
const valueBytes = 256;
const valueText = 'v'.repeat(valueBytes);
const requestTimeoutMs = 10_000;
const host = '127.0.0.1';
const root = fileURLToPath(new URL('..', import.meta.url));
const cliPath = join(root, 'dist', 'cli', 'bin.js');
const resultsPath = new URL('./results/store.json', import.meta.url);
const raftResultsPath = new URL('./results/raft.json', import.meta.url);

// ---- processes ------------------------------------------------------------------------------

/** CPU ticks (user + system) of every process now in the group. */
function groupCpuTicks(groupId: number): number {
  let ticks = 0;
  for (const pid of groupMembers(groupId)) {
    ticks += readStat(pid)?.cpuTicks ?? 0;
  }
  return ticks;
}

function startCli(args: readonly string[], errorLines: string[]): ChildProcess {
  return startProcess(process.execPath, [cliPath, ...args], root, errorLines);
}

stopEverythingOnExit();

// ---- the cluster ----------------------------------------------------------------------------

interface StoreCluster {
  readonly child: ChildProcess;
  readonly folder: string;
  readonly httpPorts: readonly number[];
  readonly errorLines: string[];
}

async function startCluster(mode: string): Promise<StoreCluster> {
  const folder = temporaryFolder(`distkit-bench-store-${mode}-`);
  const port = await freePortRange(nodeCount, [], 30_000);
  const ports = Array.from({ length: nodeCount }, (_, index) => port + index);
  const httpPort = await freePortRange(nodeCount, ports, 30_000);
  const errorLines: string[] = [];
  const child = startCli(
    [
      'store',
      'cluster',
      '--nodes',
      String(nodeCount),
      '--mode',
      mode,
      '--data',
      folder,
      '--host',
      host,
      '--port',
      String(port),
      '--http-port',
      String(httpPort),
    ],
    errorLines,
  );
  const cluster = { child, folder, httpPorts: [] as number[], errorLines };
  const ready = new Promise<number[]>((resolve, reject) => {
    let rest = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const event = JSON.parse(line) as { event?: string; nodes?: { http: string }[] };
          if (event.event === 'cluster-ready' && event.nodes !== undefined) {
            resolve(event.nodes.map((node) => Number(node.http.split(':').pop())));
          }
        } catch {
          // Not a JSON line.
        }
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`store cluster exited (${code ?? signal}) before cluster-ready`)),
    );
    setTimeout(() => reject(new Error('store cluster not ready within 30 s')), 30_000);
  });
  try {
    cluster.httpPorts = await ready;
  } catch (error) {
    await stopCluster(cluster);
    throw new Error(`${(error as Error).message}:\n${errorLines.slice(-15).join('\n')}`);
  }
  return cluster;
}

async function stopCluster(cluster: StoreCluster): Promise<number> {
  const killed = await stopProcess(cluster.child, 5_000);
  removeFolder(cluster.folder);
  return killed;
}

// ---- the workload ---------------------------------------------------------------------------

function put(
  agent: http.Agent,
  port: number,
  key: string,
): Promise<{ ok: true } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host,
        port,
        agent,
        method: 'PUT',
        path: `/v1/kv/${encodeURIComponent(key)}`,
        headers: { 'content-type': 'text/plain', 'content-length': valueBytes },
        timeout: requestTimeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          if (response.statusCode === 200) {
            resolve({ ok: true });
            return;
          }
          let code = `HTTP ${response.statusCode}`;
          try {
            code += ` ${(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code}`;
          } catch {
            // Not JSON.
          }
          resolve({ ok: false, code });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ ok: false, code: error.message }));
    request.end(valueText);
  });
}

interface Figures {
  readonly mode: string;
  readonly concurrency: number;
  /** The median round's writes per second. */
  readonly writesPerSecond: number;
  /** Each round's writes per second, in the order measured. */
  readonly roundWritesPerSecond: readonly number[];
  readonly writeCount: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly errorCount: number;
  readonly errors: Record<string, number>;
  readonly measuredMs: number;
  /** The cluster's processes (parent and nodes), in % of one core. */
  readonly serverCpuPercent: number;
}

const clockTicksPerSecond = 100;

async function runCase(
  cluster: StoreCluster,
  mode: string,
  concurrency: number,
  keyPrefix: string,
): Promise<Figures> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let measuring = false;
  let stopping = false;
  let roundWrites = 0;
  const clients = Array.from({ length: concurrency }, async (_, client) => {
    const port = cluster.httpPorts[client % cluster.httpPorts.length] as number;
    let sequence = 0;
    while (!stopping) {
      const key = `${keyPrefix}-c${client}-${sequence}`;
      sequence += 1;
      const start = performance.now();
      const outcome = await put(agent, port, key);
      const elapsed = performance.now() - start;
      if (!measuring || stopping) {
        continue;
      }
      if (outcome.ok) {
        latencies.push(elapsed);
        roundWrites += 1;
      } else {
        errors[outcome.code] = (errors[outcome.code] ?? 0) + 1;
        await sleep(20);
      }
    }
  });
  await sleep(warmupMs);
  const groupId = cluster.child.pid as number;
  const ticksBefore = groupCpuTicks(groupId);
  const startMs = performance.now();
  measuring = true;
  // The clients keep going between rounds; a round counts the writes that finish in it.
  const roundWritesPerSecond: number[] = [];
  for (let round = 0; round < roundCount; round += 1) {
    roundWrites = 0;
    const roundStartMs = performance.now();
    await sleep(durationMs);
    roundWritesPerSecond.push((roundWrites * 1_000) / (performance.now() - roundStartMs));
  }
  stopping = true;
  const measuredMs = performance.now() - startMs;
  const ticksAfter = groupCpuTicks(groupId);
  await Promise.all(clients);
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  const errorCount = Object.values(errors).reduce((sum, count) => sum + count, 0);
  return {
    mode,
    concurrency,
    writesPerSecond: percentile(
      [...roundWritesPerSecond].sort((a, b) => a - b),
      0.5,
    ),
    roundWritesPerSecond,
    writeCount: latencies.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    meanMs: sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length),
    errorCount,
    errors,
    measuredMs,
    serverCpuPercent: (((ticksAfter - ticksBefore) / clockTicksPerSecond) * 100_000) / measuredMs,
  };
}

// ---- the lab --------------------------------------------------------------------------------

async function timeLabRun(): Promise<{ seconds: number; exitCode: number | null } | string> {
  const folder = temporaryFolder('distkit-bench-lab-');
  const errorLines: string[] = [];
  const start = performance.now();
  const child = startCli(['lab', '--quick', '--out', folder], errorLines);
  child.stdout?.resume();
  const finished = await waitForExit(child, 300_000);
  const seconds = (performance.now() - start) / 1_000;
  if (!finished) {
    await stopProcess(child, 3_000);
    removeFolder(folder);
    return 'lab --quick did not finish within 300 s';
  }
  started.delete(child);
  removeFolder(folder);
  return { seconds, exitCode: child.exitCode };
}

// ---- etcd figures from raft.json ------------------------------------------------------------

interface EtcdFigures {
  readonly writesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function readEtcd(): { date: string; label: string; byConcurrency: Map<number, EtcdFigures> } {
  const byConcurrency = new Map<number, EtcdFigures>();
  try {
    const raft = JSON.parse(readFileSync(raftResultsPath, 'utf8')) as {
      date: string;
      comparisons: {
        title: string;
        cases: { name: string; opsPerSecond: number; latencyMs?: { p50: number; p99: number } }[];
      }[];
      clusterWorkload?: { etcd?: string };
    };
    for (const comparison of raft.comparisons) {
      const match = /^3-node cluster on loopback: (\d+) concurrent client/.exec(comparison.title);
      const etcd = comparison.cases.find((entry) => entry.name.startsWith('etcd'));
      if (match !== null && etcd?.latencyMs !== undefined) {
        byConcurrency.set(Number(match[1]), {
          writesPerSecond: etcd.opsPerSecond,
          p50Ms: etcd.latencyMs.p50,
          p99Ms: etcd.latencyMs.p99,
        });
      }
    }
    return { date: raft.date, label: raft.clusterWorkload?.etcd ?? 'etcd', byConcurrency };
  } catch {
    return { date: 'n/a', label: 'etcd', byConcurrency };
  }
}

// ---- output ---------------------------------------------------------------------------------

function formatMs(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : 'n/a';
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padStart(widths[column] as number)).join('  ');
  console.log(line(header));
  for (const row of rows) {
    console.log(line(row));
  }
}

function caseResult(figures: Figures): CaseResult & Record<string, unknown> {
  const meanNs = 1e9 / figures.writesPerSecond;
  return {
    name: `distkit store cluster --mode ${figures.mode} (3 processes, HTTP)`,
    role: 'distkit',
    opsPerSecond: significant(figures.writesPerSecond),
    meanNsPerOp: significant(meanNs),
    medianNsPerOp: significant(meanNs),
    meanNsPerUnit: significant(meanNs),
    roundMeansNsPerOp: figures.roundWritesPerSecond.map((value) => significant(1e9 / value)),
    roundWritesPerSecond: figures.roundWritesPerSecond.map((value) => significant(value)),
    sampleCount: figures.roundWritesPerSecond.length,
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
    cpuPercentOfOneCore: { servers: significant(figures.serverCpuPercent) },
  };
}

// ---- main -----------------------------------------------------------------------------------

const startDate = new Date().toISOString();
const notes: string[] = [];
const results: Figures[] = [];
const etcd = readEtcd();
console.log(
  `distkit store cluster, ${nodeCount} nodes on loopback, modes ${modes.join(', ')}; ` +
    `${warmupMs} ms warm-up, then ${roundCount} round(s) of ${durationMs} ms per mode and concurrency.`,
);

try {
  for (const mode of modes) {
    let cluster: StoreCluster;
    try {
      cluster = await startCluster(mode);
    } catch (error) {
      const note = `${mode}: ${(error as Error).message}`;
      notes.push(note);
      console.log(`note: ${note}`);
      continue;
    }
    try {
      for (const concurrency of concurrencies) {
        const figures = await runCase(cluster, mode, concurrency, `${mode}-${concurrency}`);
        results.push(figures);
        console.log(
          `  ${mode} x${concurrency}: ${figures.writesPerSecond.toFixed(0)} writes/s ` +
            `(rounds ${figures.roundWritesPerSecond.map((value) => value.toFixed(0)).join(', ')}), ` +
            `p50 ${formatMs(figures.p50Ms)} ms, p99 ${formatMs(figures.p99Ms)} ms, ` +
            `${figures.errorCount} errors, cluster CPU ${figures.serverCpuPercent.toFixed(0)}% of one core`,
        );
      }
    } finally {
      const killed = await stopCluster(cluster);
      if (killed > 0) {
        notes.push(`${mode}: ${killed} process(es) needed SIGKILL`);
      }
    }
  }
} finally {
  for (const child of [...started]) {
    await stopProcess(child, 5_000);
  }
}

let lab: { seconds: number; exitCode: number | null } | string | undefined;
if (timeLab) {
  console.log('\nTiming one `node dist/cli/bin.js lab --quick` run ...');
  lab = await timeLabRun();
  if (typeof lab === 'string') {
    notes.push(lab);
  }
}

console.log(
  `\nSummary (etcd figures read from bench/results/raft.json, ${etcd.label}, measured ${etcd.date}; not re-measured here)`,
);
printTable(
  [
    'mode',
    'clients',
    'writes/s',
    'slowest-fastest round',
    'p50 ms',
    'p99 ms',
    'errors',
    'cluster CPU %',
    'etcd writes/s',
    'etcd p50',
    'etcd p99',
  ],
  results.map((figures) => {
    const peer = etcd.byConcurrency.get(figures.concurrency);
    return [
      figures.mode,
      String(figures.concurrency),
      figures.writesPerSecond.toFixed(0),
      `${Math.min(...figures.roundWritesPerSecond).toFixed(0)}-${Math.max(...figures.roundWritesPerSecond).toFixed(0)}`,
      formatMs(figures.p50Ms),
      formatMs(figures.p99Ms),
      String(figures.errorCount),
      figures.serverCpuPercent.toFixed(0),
      peer === undefined ? 'n/a' : peer.writesPerSecond.toFixed(0),
      peer === undefined ? 'n/a' : formatMs(peer.p50Ms),
      peer === undefined ? 'n/a' : formatMs(peer.p99Ms),
    ];
  }),
);
if (lab !== undefined) {
  console.log(
    typeof lab === 'string'
      ? `lab --quick: ${lab}`
      : `lab --quick: ${lab.seconds.toFixed(1)} s wall time (exit code ${lab.exitCode})`,
  );
}
for (const note of notes) {
  console.log(`note: ${note}`);
}

// The harness records the environment; the cluster comparisons are added to its report.
const base = await runBenchmarks({ module: 'store', comparisons: [] });
const comparisons: ComparisonResult[] = results.map((figures) => ({
  title: `3-node store cluster on loopback, --mode ${figures.mode}: ${figures.concurrency} concurrent client(s), sequential puts of 256-byte values to distinct keys at the default level; writes/s of the median of ${roundCount} round(s)`,
  unit: { name: 'write', countPerIteration: 1 },
  cases: [caseResult(figures)],
  ratios: [],
}));
const report = {
  ...base,
  // The harness's run started after the clusters were measured: date the whole run.
  date: startDate,
  comparisons,
  clusterWorkload: {
    nodeCount,
    valueBytes,
    warmupMs,
    measuredMs: durationMs,
    roundCount,
    concurrencies,
    modes,
    etcdFromRaftResults: {
      source: 'bench/results/raft.json',
      date: etcd.date,
      etcd: etcd.label,
      byConcurrency: Object.fromEntries(etcd.byConcurrency),
    },
    labQuickSeconds: typeof lab === 'object' ? significant(lab.seconds) : null,
    notes,
  },
};
writeFileSync(resultsPath, `${JSON.stringify(report, null, 2)}\n`);
console.log('\nwrote bench/results/store.json');
