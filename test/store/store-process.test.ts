/**
 * The partitioned store as real processes: five `distkit store start` processes (run from
 * the sources through tsx), three shards each replicated on all five nodes. Writers put
 * unique keys through random nodes; a random minority (two nodes, one of them leading a
 * shard) is SIGKILLed while writes are in flight and restarted on the same data folders;
 * then every acknowledged write must be readable at `linearizable` through any node, and
 * no write answered 503 (nothing applied) may be. Then all five are SIGKILLed at once and
 * restarted, and the same holds again: only the nodes' checkpoints and write-ahead logs
 * can bring writes back. Run for `consensus`, `leader-follower-sync` and `leaderless`
 * (W=2, R=2 of N=3: a read quorum meets every acknowledged write's quorum), the modes
 * that promise no acknowledged write is lost; writes and reads use the mode's strongest
 * level (`linearizable`, or `read-your-writes` for leaderless). A negative control removes every node's
 * checkpoint and log while all five are down: the same check must then report lost writes.
 *
 * The seed (printed; `DISTKIT_SIM_SEED` replays it) picks the victims and the writers'
 * nodes; real time still varies, so it reproduces the plan, not the interleaving.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startArgs } from '../../src/cli/process-tools.js';
import { SeededRandom } from '../../src/core/index.js';
import {
  levelsOffered,
  type ShardModeKind,
  storeCheckpointFileName,
  storeWalDirectoryName,
} from '../../src/store/index.js';
import { freePorts, temporaryFolder } from './support.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The level the scenario writes and reads at: the strongest `mode` offers. */
function strongestLevel(mode: ShardModeKind): string {
  return levelsOffered(mode)[0] as string;
}
const secret = 'distkit store process test secret';
const nodeCount = 5;

interface Node {
  readonly id: string;
  readonly transportPort: number;
  readonly httpPort: number;
  child: ChildProcess | undefined;
  log: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function startNode(node: Node, peers: string, root: string, mode: ShardModeKind): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/bin.ts',
      ...startArgs('store', { id: node.id, http: `127.0.0.1:${node.httpPort}` }, peers, root),
      '--mode',
      mode,
      '--shards',
      '3',
      '--replicas',
      String(nodeCount),
    ],
    {
      cwd: repositoryRoot,
      env: { ...process.env, DISTKIT_STORE_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  node.child = child;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    if (node.log.length < 200) {
      node.log.push(line);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${node.id} not ready in 20 s: ${node.log.join('\n')}`)),
      20_000,
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${node.id} exited (${code ?? signal}) before ready: ${node.log.join('\n')}`),
      );
    });
  });
}

function killNode(node: Node): Promise<void> {
  const child = node.child;
  node.child = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

type Answer = { status: number; body: Record<string, unknown> } | { status: 'error' };

async function call(port: number, method: string, path: string, body?: string): Promise<Answer> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(8_000),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch {
    return { status: 'error' };
  }
}

/** Every acknowledged write is there, read at the mode's strongest level through a random node; what is not. */
async function check(
  mode: ShardModeKind,
  nodes: readonly Node[],
  random: SeededRandom,
  acknowledged: ReadonlyMap<string, string>,
  refused: ReadonlySet<string>,
  phase: string,
): Promise<string[]> {
  const deadline = performance.now() + 20_000;
  const missing: string[] = [];
  const keys = [...acknowledged.keys(), ...refused];
  for (let start = 0; start < keys.length; start += 16) {
    await Promise.all(
      keys.slice(start, start + 16).map(async (key) => {
        for (;;) {
          const node = random.pick(nodes);
          const answer = await call(
            node.httpPort,
            'GET',
            `/v1/kv/${encodeURIComponent(key)}?consistency=${strongestLevel(mode)}`,
          );
          if (answer.status === 200 || answer.status === 404) {
            const value = answer.status === 200 ? answer.body['value'] : null;
            const expected = acknowledged.get(key) ?? null;
            if (value !== expected) {
              missing.push(`${phase}: ${key}: read ${String(value)}, expected ${String(expected)}`);
            }
            return;
          }
          if (performance.now() > deadline) {
            missing.push(`${phase}: ${key}: no answer (${JSON.stringify(answer)})`);
            return;
          }
          await sleep(50);
        }
      }),
    );
  }
  return missing;
}

interface RunReport {
  readonly acknowledged: number;
  readonly refused: number;
  readonly unknown: number;
  readonly otherFailures: number;
  readonly victims: readonly string[];
  readonly leaderVictimShards: readonly string[];
  readonly durationMs: number;
}

/**
 * The negative control of the whole-cluster phase: every node's checkpoint and
 * write-ahead log are removed while all five are down, as if the nodes ignored their
 * state. The minority phase is skipped; the check must then report lost writes.
 */
interface ScenarioOptions {
  readonly forgetState?: boolean;
}

async function runScenario(
  mode: ShardModeKind,
  seed: number,
  options: ScenarioOptions = {},
): Promise<RunReport & { readonly missing: readonly string[] }> {
  const started = performance.now();
  const random = new SeededRandom({ seed });
  const folder = temporaryFolder('distkit-store-process-');
  const ports = await freePorts(nodeCount * 2);
  const nodes: Node[] = Array.from({ length: nodeCount }, (_, index) => ({
    id: `n${index + 1}`,
    transportPort: ports[index] as number,
    httpPort: ports[nodeCount + index] as number,
    child: undefined,
    log: [],
  }));
  const peers = nodes.map((node) => `${node.id}=127.0.0.1:${node.transportPort}`).join(',');
  const acknowledged = new Map<string, string>();
  const refused = new Set<string>();
  let unknown = 0;
  let otherFailures = 0;
  let counter = 0;
  const down = new Set<string>();
  try {
    await Promise.all(nodes.map((node) => startNode(node, peers, folder.path, mode)));
    const writer = async (writerIndex: number, untilMs: number): Promise<void> => {
      while (performance.now() < untilMs) {
        const live = nodes.filter((node) => !down.has(node.id));
        const node = random.pick(live);
        counter += 1;
        const key = `${mode}-w${writerIndex}-${counter}`;
        const value = `value-${counter}`;
        const answer = await call(
          node.httpPort,
          'PUT',
          `/v1/kv/${encodeURIComponent(key)}?consistency=${strongestLevel(mode)}`,
          value,
        );
        if (answer.status === 200) {
          acknowledged.set(key, value);
        } else if (answer.status === 503) {
          refused.add(key);
        } else if (answer.status === 504) {
          unknown += 1;
        } else {
          otherFailures += 1;
          if (answer.status === 'error') {
            await sleep(20);
          }
        }
      }
    };
    const writers = async (durationMs: number): Promise<void> => {
      const until = performance.now() + durationMs;
      await Promise.all(Array.from({ length: 6 }, (_, index) => writer(index, until)));
    };
    await writers(2_000);
    if (options.forgetState === true) {
      await Promise.all(nodes.map((node) => killNode(node)));
      for (const node of nodes) {
        rmSync(join(folder.path, node.id, storeCheckpointFileName), { force: true });
        rmSync(join(folder.path, node.id, storeWalDirectoryName), { recursive: true, force: true });
      }
      await Promise.all(nodes.map((node) => startNode(node, peers, folder.path, mode)));
      const missing = await check(
        mode,
        nodes,
        random,
        acknowledged,
        refused,
        'after all five forgot their state',
      );
      return {
        acknowledged: acknowledged.size,
        refused: refused.size,
        unknown,
        otherFailures,
        victims: [],
        leaderVictimShards: [],
        durationMs: Math.round(performance.now() - started),
        missing,
      };
    }
    // The victims: a node that leads some shard now (any node in leaderless), and one more at random.
    const leaders = new Map<string, string[]>();
    for (const node of nodes) {
      const status = await call(node.httpPort, 'GET', '/v1/status');
      if (status.status !== 200) {
        continue;
      }
      for (const shard of status.body['shards'] as {
        id: string;
        metrics: Record<string, number>;
      }[]) {
        if (shard.metrics['isLeader'] === 1 || shard.metrics['leader'] === 1) {
          leaders.set(node.id, [...(leaders.get(node.id) ?? []), shard.id]);
        }
      }
    }
    // Leaderless has no leader: any node will do as the first victim.
    assert.ok(leaders.size > 0 || mode === 'leaderless', 'some node leads a shard');
    const leaderVictim = random.pick(
      leaders.size > 0 ? [...leaders.keys()].sort() : nodes.map((node) => node.id),
    );
    const secondVictim = random.pick(
      nodes.map((node) => node.id).filter((id) => id !== leaderVictim),
    );
    const victims = [leaderVictim, secondVictim];
    // Kill them while writes are in flight (the writers avoid them from now on).
    const during = writers(3_000);
    await sleep(random.integer(50, 400));
    for (const id of victims) {
      down.add(id);
    }
    await Promise.all(
      nodes.filter((node) => victims.includes(node.id)).map((node) => killNode(node)),
    );
    await during;
    await Promise.all(
      nodes
        .filter((node) => victims.includes(node.id))
        .map((node) => startNode(node, peers, folder.path, mode)),
    );
    down.clear();
    await writers(1_500);
    const missing = await check(
      mode,
      nodes,
      random,
      acknowledged,
      refused,
      'after the minority restarted',
    );
    // Then the whole cluster at once: only the state files can bring the writes back.
    await Promise.all(nodes.map((node) => killNode(node)));
    await Promise.all(nodes.map((node) => startNode(node, peers, folder.path, mode)));
    missing.push(
      ...(await check(
        mode,
        nodes,
        random,
        acknowledged,
        refused,
        'after all five were killed and restarted',
      )),
    );
    const report: RunReport = {
      acknowledged: acknowledged.size,
      refused: refused.size,
      unknown,
      otherFailures,
      victims,
      leaderVictimShards: leaders.get(leaderVictim) ?? [],
      durationMs: Math.round(performance.now() - started),
    };
    assert.deepEqual(
      missing,
      [],
      `seed ${seed}, ${mode}: ${JSON.stringify(report)}\n${nodes
        .map((node) => `${node.id}: ${node.log.slice(0, 20).join('\n')}`)
        .join('\n')}`,
    );
    return { ...report, missing };
  } finally {
    await Promise.all(nodes.map((node) => killNode(node)));
    folder.remove();
  }
}

const seed = Number(process.env['DISTKIT_SIM_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

describe('the partitioned store as real processes', () => {
  for (const mode of ['consensus', 'leader-follower-sync', 'leaderless'] as const) {
    it(`${mode}: SIGKILL of 2 of 5 nodes (a shard leader among them) loses no acknowledged write`, {
      timeout: 60_000,
    }, async () => {
      const { missing: _missing, ...report } = await runScenario(mode, seed);
      console.log(`store-process ${mode} seed ${seed}: ${JSON.stringify(report)}`);
      assert.ok(
        report.acknowledged > 20,
        `enough writes were acknowledged (${report.acknowledged})`,
      );
    });
  }

  it('negative control: nodes that lose their checkpoint and log lose acknowledged writes, and the check sees it', {
    timeout: 60_000,
  }, async () => {
    const report = await runScenario('consensus', seed, { forgetState: true });
    assert.ok(report.acknowledged > 20, `enough writes were acknowledged (${report.acknowledged})`);
    assert.ok(
      report.missing.length > report.acknowledged / 2,
      `the whole-cluster check reports the lost writes (${report.missing.length} of ${report.acknowledged})`,
    );
  });
});
