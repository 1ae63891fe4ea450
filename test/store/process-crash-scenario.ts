/**
 * The real-process crash scenario of the store (issue 6), shared by
 * `process-crash.test.ts` and `process-crash.soak.ts`.
 *
 * Three `distkit raft start` processes (run from the sources through tsx), several
 * concurrent HTTP clients doing PUT, linearizable GET and compare-and-set on a few keys
 * through randomly chosen nodes, and a nemesis that SIGKILLs nodes (the leader in at least
 * half of the rounds) at random moments and restarts them on the same data folder. After
 * the heal it waits for one leader, reads every key through every node, and checks:
 *
 * - the whole history, per key, with `checkLinearizability` and the cas-register model of
 *   `distkit/check` (a PUT is a `write`, a GET a `read`, a swapped cas a `cas`, a cas that
 *   did not swap a `read` of the value it found);
 * - no acknowledged write is lost: each key's final value was written by some write,
 *   and no acknowledged write of that key was invoked after the final value's write
 *   completed (otherwise the later write vanished); besides the shared keys, a third of
 *   the writes go to keys of their own (`u-c3-17`) that nothing overwrites, so every
 *   acknowledged one must be readable at the end, and every refused (503) one absent;
 * - every node holds the same values once caught up, and no node crashed on its own.
 *
 * The final reads go eight at a time through each node, linearizable then local.
 *
 * SIGKILL kills the process, not the machine: what a node wrote reaches the disk through
 * the page cache even without fsync, so this scenario finds logic errors of recovery,
 * elections and acknowledgement, not missing fsyncs.
 *
 * The seed drives the nemesis schedule and the clients' choices; real time and the
 * operating system still vary from run to run, so a seed reproduces the plan, not the
 * interleaving. A failure keeps its evidence folder (history, nemesis log, node logs and
 * data folders) and names it in the message.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { casRegisterModel, checkLinearizability, type Operation } from '../../src/check/index.js';
import { type Random, SeededRandom, systemClock } from '../../src/core/index.js';
import { seedsFromEnvironment } from '../../src/sim/index.js';
import { freePorts, temporaryFolder } from './support.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const secret = 'distkit process crash test secret';
const host = '127.0.0.1';

/** Settings of one run. */
export interface ProcessCrashOptions {
  readonly seed: number;
  /** How long the clients run, in ms; the nemesis acts inside this window. */
  readonly workloadMs: number;
  /** Most nemesis rounds (each kills one node or two, then restarts them). */
  readonly roundCountMax: number;
  /** Concurrent clients. Default 6. */
  readonly clientCount?: number;
  /** Keys the clients share. Default 4. */
  readonly keyCount?: number;
  /** `--snapshot-every` of the nodes, so restarts also recover from snapshots. Default 300. */
  readonly snapshotEveryEntries?: number;
  /** The test file the replay command of a failure names. Default the short test. */
  readonly testFile?: string;
  /** Aborts the run (a test timeout): every child is killed at once. */
  readonly signal?: AbortSignal;
  /** Progress lines (nemesis actions). */
  readonly log?: (line: string) => void;
}

/** What a run measured. */
export interface ProcessCrashReport {
  readonly seed: number;
  readonly operationCount: number;
  readonly okCount: number;
  readonly failCount: number;
  readonly infoCount: number;
  readonly okWriteCount: number;
  readonly okCasSwappedCount: number;
  /** Keys written once each, all read back at the end. */
  readonly insertedKeyCount: number;
  /** Linearizable reads of every key through every node after the heal. */
  readonly finalReadCount: number;
  readonly killCount: number;
  readonly leaderKillCount: number;
  readonly roundCount: number;
  /** The value of each shared key at the end. */
  readonly finalValues: Record<string, string | null>;
  /** How many answers of each kind the clients got: `200`, `503 no-leader`, `refused`, ... */
  readonly answerCounts: Record<string, number>;
  readonly durationMs: number;
}

/** One line for the test output: counts of operations, kills and answers, and the seed. */
export function formatProcessCrashReport(report: ProcessCrashReport): string {
  return (
    `seed ${report.seed}: ${report.operationCount} operations (ok ${report.okCount}, fail ${report.failCount}, info ${report.infoCount}; ` +
    `ok writes ${report.okWriteCount}, swapped cas ${report.okCasSwappedCount}, keys written once ${report.insertedKeyCount}), ${report.finalReadCount} final reads, ` +
    `${report.killCount} kills in ${report.roundCount} rounds, ${report.leaderKillCount} leader kills, ` +
    `${report.durationMs} ms; answers ${JSON.stringify(report.answerCounts)}`
  );
}

/** The seeds to run: `DISTKIT_SIM_SEED` alone when set, otherwise `defaults`. */
export function processCrashSeeds(defaults: readonly number[]): number[] {
  // Only the replay variable: the soak's DISTKIT_SIM_SEED_COUNT (200) is meant for the
  // simulations, not for runs of half a minute each.
  return seedsFromEnvironment({ DISTKIT_SIM_SEED: process.env['DISTKIT_SIM_SEED'] }, defaults);
}

// ---------------------------------------------------------------- timing helpers

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

class ScenarioFailure extends Error {}

// ---------------------------------------------------------------- HTTP

type Reply =
  | { readonly kind: 'response'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'refused' }
  | { readonly kind: 'broken'; readonly code: string }
  | { readonly kind: 'timeout' };

/** One HTTP exchange with a deadline; never throws. */
function exchange(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (reply: Reply): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(reply);
      }
    };
    const request = httpRequest(
      {
        agent,
        host,
        port,
        method,
        path,
        headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
          finish({ kind: 'response', status: response.statusCode ?? 0, body: parsed });
        });
        response.on('error', (error: NodeJS.ErrnoException) =>
          finish({ kind: 'broken', code: error.code ?? error.message }),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: 'timeout' });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      // Refused means no connection was made: the request never left this process.
      finish(
        error.code === 'ECONNREFUSED'
          ? { kind: 'refused' }
          : { kind: 'broken', code: error.code ?? error.message },
      );
    });
    request.end(body);
  });
}

// ---------------------------------------------------------------- nodes

interface NodeStatus {
  readonly id: string;
  readonly term: number;
  readonly role: string;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

/** Last lines of a node's output, for failure messages. */
const tailLineCountMax = 40;

class NodeProcess {
  child: ChildProcess | undefined;
  incarnation = 0;
  up = false;
  readonly tail: string[] = [];
  readonly #log: WriteStream;
  #killing = false;
  #exited: Promise<void> = Promise.resolve();
  readonly unexpectedExits: string[] = [];

  constructor(
    readonly id: string,
    readonly raftPort: number,
    readonly httpPort: number,
    readonly peers: string,
    readonly dataPath: string,
    logPath: string,
    readonly options: { readonly snapshotEveryEntries: number },
  ) {
    this.#log = createWriteStream(logPath, { flags: 'a' });
  }

  #record(stream: string, line: string): void {
    const text = `[${this.id}#${this.incarnation} ${stream} ${systemClock.nowMs().toFixed(0)}] ${line}`;
    this.#log.write(`${text}\n`);
    this.tail.push(text);
    if (this.tail.length > tailLineCountMax) {
      this.tail.shift();
    }
  }

  /** Spawns the node and resolves once it printed `ready`; throws if it does not in time. */
  async start(readyTimeoutMs: number): Promise<void> {
    this.incarnation += 1;
    this.#killing = false;
    const environment: NodeJS.ProcessEnv = { ...process.env, DISTKIT_RAFT_SECRET: secret };
    delete environment['NODE_TEST_CONTEXT'];
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/bin.ts',
        'raft',
        'start',
        '--id',
        this.id,
        '--peers',
        this.peers,
        '--data',
        this.dataPath,
        '--http',
        `${host}:${this.httpPort}`,
        '--tick-ms',
        '20',
        '--election-ticks',
        '10',
        '--request-timeout-ms',
        '1500',
        '--snapshot-every',
        String(this.options.snapshotEveryEntries),
      ],
      { cwd: repositoryRoot, env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.#record('out', line);
      if (line.includes('"event":"ready"')) {
        markReady();
      }
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      this.#record('err', line);
    });
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.up = false;
        this.#record('exit', `code ${String(code)} signal ${String(signal)}`);
        if (this.#killing) {
          markFailed(new ScenarioFailure(`${this.id} was killed before it was ready`));
        } else {
          const what = `${this.id} (incarnation ${this.incarnation}) exited by itself: code ${String(code)}, signal ${String(signal)}`;
          this.unexpectedExits.push(what);
          markFailed(new ScenarioFailure(what));
        }
        resolve();
      });
    });
    child.once('error', (error) => markFailed(error));
    const timer = setTimeout(
      () =>
        markFailed(
          new ScenarioFailure(
            `${this.id} (incarnation ${this.incarnation}) printed no ready line within ${readyTimeoutMs} ms`,
          ),
        ),
      readyTimeoutMs,
    );
    try {
      await ready;
      this.up = true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.up = false;
      return;
    }
    this.#killing = true;
    this.up = false;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** Synchronous last resort (abort, process exit): SIGKILL without waiting. */
  killNow(): void {
    this.#killing = true;
    this.up = false;
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }

  closeLog(): Promise<void> {
    return new Promise((resolve) => this.#log.end(() => resolve()));
  }
}

// ---------------------------------------------------------------- history

/** An operation with the details a person needs when reading the evidence. */
interface RecordedOperation extends Operation {
  readonly node: string;
  readonly answer: string;
}

const statusAgent = new Agent({ keepAlive: false });

async function statusOf(node: NodeProcess): Promise<NodeStatus | undefined> {
  const reply = await exchange(statusAgent, node.httpPort, 'GET', '/v1/status', undefined, 1_000);
  return reply.kind === 'response' && reply.status === 200 ? (reply.body as NodeStatus) : undefined;
}

/** The leader the running nodes agree on now, or undefined. */
async function currentLeader(nodes: readonly NodeProcess[]): Promise<string | undefined> {
  const statuses = await Promise.all(nodes.filter((node) => node.up).map(statusOf));
  let best: NodeStatus | undefined;
  for (const status of statuses) {
    if (status?.role === 'leader' && (best === undefined || status.term > best.term)) {
      best = status;
    }
  }
  return best?.id;
}

function describeReply(reply: Reply): string {
  switch (reply.kind) {
    case 'response':
      return `${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`;
    case 'refused':
      return 'connection refused';
    case 'broken':
      return `connection broken (${reply.code})`;
    case 'timeout':
      return 'client timeout';
  }
}

// ---------------------------------------------------------------- the run

/** Runs the scenario once; throws (naming the seed and the evidence folder) on a failure. */
export async function runProcessCrashScenario(
  options: ProcessCrashOptions,
): Promise<ProcessCrashReport> {
  const seed = options.seed;
  const log = options.log ?? (() => {});
  const clientCount = options.clientCount ?? 6;
  const keyCount = options.keyCount ?? 4;
  const keys = Array.from({ length: keyCount }, (_, index) => `k${index}`);
  const random = new SeededRandom({ seed });
  const root = temporaryFolder('distkit-process-crash-');
  const startedAt = systemClock.nowMs();
  const now = (): number => systemClock.nowMs() - startedAt;
  const nemesisLog: string[] = [];
  const note = (line: string): void => {
    const text = `${now().toFixed(0).padStart(6)} ms  ${line}`;
    nemesisLog.push(text);
    log(text);
  };

  const ports = await freePorts(6);
  const ids = ['n1', 'n2', 'n3'];
  const peers = ids.map((id, index) => `${id}=${host}:${ports[index] as number}`).join(',');
  const nodes = ids.map(
    (id, index) =>
      new NodeProcess(
        id,
        ports[index] as number,
        ports[index + 3] as number,
        peers,
        join(root.path, id),
        join(root.path, `${id}.log`),
        { snapshotEveryEntries: options.snapshotEveryEntries ?? 300 },
      ),
  );
  const killAll = (): void => {
    for (const node of nodes) {
      node.killNow();
    }
  };
  process.once('exit', killAll);
  const stopped = new AbortController();
  const onAbort = (): void => {
    killAll();
    stopped.abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const operations: RecordedOperation[] = [];
  /** Keys written once each (`u-c3-17`), read back at the end. */
  const insertedKeys: string[] = [];
  let killCount = 0;
  let leaderKillCount = 0;
  let roundCount = 0;
  let passed = false;

  const evidence = (reason: string): ScenarioFailure => {
    writeFileSync(
      join(root.path, 'history.jsonl'),
      `${operations.map((operation) => JSON.stringify(operation)).join('\n')}\n`,
    );
    writeFileSync(join(root.path, 'nemesis.log'), `${nemesisLog.join('\n')}\n`);
    const tails = nodes
      .map(
        (node) => `--- ${node.id} (last lines; full log ${node.id}.log)\n${node.tail.join('\n')}`,
      )
      .join('\n');
    const unexpected = nodes.flatMap((node) => node.unexpectedExits);
    return new ScenarioFailure(
      `seed ${seed}: ${reason}\n` +
        (unexpected.length === 0
          ? ''
          : `  nodes that exited on their own: ${unexpected.join('; ')}\n`) +
        `  replay the plan: DISTKIT_SIM_SEED=${seed} node --import tsx --test ${options.testFile ?? 'test/store/process-crash.test.ts'}\n` +
        `  evidence kept in ${root.path} (history.jsonl, nemesis.log, n*.log, data folders)\n` +
        `nemesis:\n${nemesisLog.join('\n')}\n${tails}`,
    );
  };

  try {
    await Promise.all(nodes.map((node) => node.start(30_000)));
    note(`cluster up: ${peers}`);
    await waitForHealthyCluster(nodes, 30_000, stopped.signal);
    note(`leader ${(await currentLeader(nodes)) ?? '?'}`);

    // -------------------------------------------------------------- clients
    const workloadEnd = now() + options.workloadMs;
    const operationCountMax = 100_000;
    const clientTimeoutMs = 2_500;
    const clients = Array.from({ length: clientCount }, (_, index) =>
      runClient(index, random.fork(`client-${index}`)),
    );

    async function runClient(index: number, choices: Random): Promise<void> {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let generation = 0;
      let counter = 0;
      const seen = new Map<string, string | null>();
      try {
        while (
          now() < workloadEnd &&
          !stopped.signal.aborted &&
          operations.length < operationCountMax
        ) {
          const node = choices.pick(nodes);
          let key = choices.pick(keys);
          const roll = choices.float();
          const processName = `c${index}.${generation}`;
          const invokeTime = now();
          let kind: 'write' | 'read' | 'cas';
          let input: unknown;
          let reply: Reply;
          if (roll < 0.45) {
            // A write to a shared key, or (one in three) to a key of its own that nothing
            // overwrites: an acknowledged one must still be there at the end.
            counter += 1;
            const value = `c${index}-${counter}`;
            if (roll < 0.15) {
              key = `u-${value}`;
              insertedKeys.push(key);
            }
            kind = 'write';
            input = value;
            reply = await exchange(
              agent,
              node.httpPort,
              'PUT',
              `/v1/kv/${key}`,
              value,
              clientTimeoutMs,
            );
          } else if (roll < 0.75) {
            kind = 'read';
            reply = await exchange(
              agent,
              node.httpPort,
              'GET',
              `/v1/kv/${key}?consistency=linearizable`,
              undefined,
              clientTimeoutMs,
            );
          } else {
            counter += 1;
            const value = `c${index}-${counter}`;
            const expected = choices.boolean(0.85) ? (seen.get(key) ?? null) : null;
            kind = 'cas';
            input = [expected, value];
            reply = await exchange(
              agent,
              node.httpPort,
              'POST',
              `/v1/kv/${key}/cas`,
              JSON.stringify({ expected, value }),
              clientTimeoutMs,
            );
          }
          const returnTime = now();
          const answer = describeReply(reply);
          const base = { process: processName, key, invokeTime, node: node.id, answer };
          let operation: RecordedOperation;
          if (reply.kind === 'response' && (reply.status === 200 || reply.status === 404)) {
            const body = reply.body as {
              value?: string;
              swapped?: boolean;
              current?: string | null;
            };
            if (kind === 'read') {
              const value = reply.status === 404 ? null : (body.value ?? null);
              seen.set(key, value);
              operation = { ...base, kind, output: value, returnTime, status: 'ok' };
            } else if (kind === 'write') {
              seen.set(key, input as string);
              operation = { ...base, kind, input, returnTime, status: 'ok' };
            } else if (body.swapped === true) {
              seen.set(key, (input as [unknown, string])[1]);
              operation = { ...base, kind, input, returnTime, status: 'ok' };
            } else {
              // A cas that did not swap read the value it found, at its place in the log.
              const current = body.current ?? null;
              seen.set(key, current);
              operation = {
                ...base,
                kind: 'read',
                input,
                output: current,
                returnTime,
                status: 'ok',
              };
            }
          } else if (
            reply.kind === 'refused' ||
            (reply.kind === 'response' && reply.status >= 400 && reply.status < 500) ||
            (reply.kind === 'response' && reply.status === 503)
          ) {
            // Refused: never sent. 503: the store says nothing was applied. 4xx: rejected.
            operation = { ...base, kind, input, returnTime, status: 'fail' };
          } else {
            // 504, 5xx, a broken connection or our own timeout: the write may have happened.
            operation = { ...base, kind, input, status: 'unknown' };
            generation += 1;
          }
          operations.push(operation);
          if (operation.status !== 'ok') {
            await sleep(choices.integer(10, 60), stopped.signal);
          } else {
            await sleep(choices.integer(0, 8), stopped.signal);
          }
        }
      } finally {
        agent.destroy();
      }
    }

    // -------------------------------------------------------------- nemesis
    const nemesisRandom = random.fork('nemesis');
    for (let round = 0; round < options.roundCountMax; round += 1) {
      await sleep(nemesisRandom.integer(300, 2_000), stopped.signal);
      if (now() > workloadEnd - 2_500 || stopped.signal.aborted) {
        break;
      }
      const wantLeader = round % 2 === 0 || nemesisRandom.boolean(0.5);
      const wantTwo = round > 0 && nemesisRandom.boolean(0.2);
      let leader: string | undefined;
      for (let attempt = 0; wantLeader && leader === undefined && attempt < 40; attempt += 1) {
        leader = await currentLeader(nodes);
        if (leader === undefined) {
          await sleep(50, stopped.signal);
        }
      }
      const shuffled = nemesisRandom.shuffle([...nodes]);
      const first =
        wantLeader && leader !== undefined
          ? (nodes.find((node) => node.id === leader) as NodeProcess)
          : (shuffled[0] as NodeProcess);
      const victims = [first];
      if (wantTwo) {
        victims.push(shuffled.find((node) => node !== first) as NodeProcess);
      }
      // A random moment inside the next short while, not right after the status answer.
      await sleep(nemesisRandom.integer(0, 300), stopped.signal);
      const leaderNow = await currentLeader(nodes);
      const leaderVictim = victims.some((node) => node.id === leaderNow);
      await Promise.all(victims.map((node) => node.kill()));
      roundCount += 1;
      killCount += victims.length;
      if (leaderVictim) {
        leaderKillCount += 1;
      }
      note(
        `round ${round + 1}: SIGKILL ${victims.map((node) => node.id).join(', ')}` +
          ` (leader ${leaderNow ?? 'unknown'}${leaderVictim ? ', killed' : ''})`,
      );
      await sleep(nemesisRandom.integer(100, 1_500), stopped.signal);
      if (stopped.signal.aborted) {
        break;
      }
      await Promise.all(victims.map((node) => node.start(30_000)));
      note(`round ${round + 1}: restarted ${victims.map((node) => node.id).join(', ')}`);
    }
    note('nemesis done');
    await Promise.all(clients);
    note(`clients done: ${operations.length} operations`);
    if (stopped.signal.aborted) {
      throw evidence('aborted (test timeout?)');
    }

    // -------------------------------------------------------------- heal and final reads
    for (const node of nodes) {
      if (!node.up) {
        await node.start(30_000);
      }
    }
    await waitForHealthyCluster(nodes, 30_000, stopped.signal);
    note(`healed: leader ${(await currentLeader(nodes)) ?? '?'}`);
    const finalValues: Record<string, string | null> = {};
    const allKeys = [...keys, ...insertedKeys];
    const finalParallelism = 8;
    const finalAgent = new Agent({ keepAlive: true, maxSockets: finalParallelism });
    const finalRead = async (node: NodeProcess, key: string): Promise<void> => {
      const invokeTime = now();
      const reply = await exchange(
        finalAgent,
        node.httpPort,
        'GET',
        `/v1/kv/${key}?consistency=linearizable`,
        undefined,
        5_000,
      );
      const returnTime = now();
      if (reply.kind !== 'response' || (reply.status !== 200 && reply.status !== 404)) {
        throw evidence(
          `the final linearizable read of ${key} through ${node.id} failed: ${describeReply(reply)}`,
        );
      }
      const value = reply.status === 404 ? null : ((reply.body as { value: string }).value ?? null);
      operations.push({
        process: `final-${node.id}-${key}`,
        kind: 'read',
        key,
        output: value,
        invokeTime,
        returnTime,
        status: 'ok',
        node: node.id,
        answer: describeReply(reply),
      });
      if (key in finalValues && finalValues[key] !== value) {
        throw evidence(
          `final linearizable reads of ${key} disagree: ${JSON.stringify(finalValues[key])} and ${JSON.stringify(value)} (through ${node.id})`,
        );
      }
      finalValues[key] = value;
      // Caught up to that read, the node's own state must hold the same value.
      const local = await exchange(
        finalAgent,
        node.httpPort,
        'GET',
        `/v1/kv/${key}?consistency=local`,
        undefined,
        5_000,
      );
      const localValue =
        local.kind === 'response' && local.status === 200
          ? (local.body as { value: string }).value
          : local.kind === 'response' && local.status === 404
            ? null
            : `(${describeReply(local)})`;
      if (localValue !== value) {
        throw evidence(
          `${node.id} holds ${JSON.stringify(localValue)} for ${key} after a linearizable read of ${JSON.stringify(value)} through it`,
        );
      }
    };
    try {
      for (const node of nodes) {
        for (let first = 0; first < allKeys.length; first += finalParallelism) {
          await Promise.all(
            allKeys.slice(first, first + finalParallelism).map((key) => finalRead(node, key)),
          );
        }
      }
    } finally {
      finalAgent.destroy();
    }
    note(`final reads done: ${allKeys.length} keys through each node`);

    // -------------------------------------------------------------- checks
    const unexpected = nodes.flatMap((node) => node.unexpectedExits);
    if (unexpected.length > 0) {
      throw evidence(`nodes crashed on their own: ${unexpected.join('; ')}`);
    }
    const byKey = new Map<string, Operation[]>();
    for (const operation of operations) {
      const key = operation.key as string;
      let list = byKey.get(key);
      if (list === undefined) {
        list = [];
        byKey.set(key, list);
      }
      list.push(operation);
    }
    for (const [key, history] of byKey) {
      const check = checkLinearizability(casRegisterModel(), history, {
        stepCountMax: 20_000_000,
      });
      if (check.verdict === 'violation') {
        throw evidence(
          `key ${key} is not linearizable (${history.length} operations): ${check.explanation.message}`,
        );
      }
      if (check.verdict === 'unknown') {
        throw evidence(
          `the linearizability of key ${key} (${history.length} operations) is undecided: ${check.message}`,
        );
      }
      const lost = lostWrites(history, finalValues[key] ?? null);
      if (lost !== undefined) {
        throw evidence(`key ${key}: ${lost}`);
      }
    }
    const clientOperations = operations.filter(
      (operation) => !String(operation.process).startsWith('final-'),
    );
    const okCount = clientOperations.filter((operation) => operation.status === 'ok').length;
    const report: ProcessCrashReport = {
      seed,
      operationCount: clientOperations.length,
      okCount,
      failCount: clientOperations.filter((operation) => operation.status === 'fail').length,
      infoCount: clientOperations.filter((operation) => operation.status === 'unknown').length,
      okWriteCount: clientOperations.filter(
        (operation) => operation.status === 'ok' && operation.kind === 'write',
      ).length,
      insertedKeyCount: insertedKeys.length,
      okCasSwappedCount: clientOperations.filter(
        (operation) => operation.status === 'ok' && operation.kind === 'cas',
      ).length,
      finalReadCount: operations.length - clientOperations.length,
      killCount,
      leaderKillCount,
      roundCount,
      finalValues: Object.fromEntries(keys.map((key) => [key, finalValues[key] ?? null])),
      answerCounts: countAnswers(clientOperations),
      durationMs: Math.round(now()),
    };
    passed = true;
    return report;
  } catch (error) {
    if (error instanceof ScenarioFailure && error.message.startsWith(`seed ${seed}:`)) {
      throw error;
    }
    throw evidence(error instanceof Error ? (error.stack ?? error.message) : String(error));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stopped.abort();
    await Promise.all(nodes.map((node) => node.kill()));
    await Promise.all(nodes.map((node) => node.closeLog()));
    process.off('exit', killAll);
    if (passed) {
      root.remove();
    }
  }
}

/**
 * Waits (bounded) until every node is up, one of them leads, all name it, and every
 * node has applied what the leader had committed when the wait began a round.
 */
async function waitForHealthyCluster(
  nodes: readonly NodeProcess[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = systemClock.nowMs() + timeoutMs;
  let last = '';
  while (systemClock.nowMs() < deadline && !signal.aborted) {
    const statuses = await Promise.all(nodes.map(statusOf));
    last = JSON.stringify(statuses);
    const leader = statuses.find((status) => status?.role === 'leader');
    if (
      leader !== undefined &&
      statuses.every(
        (status) =>
          status !== undefined &&
          status.leader === leader.id &&
          status.term === leader.term &&
          status.appliedIndex >= leader.commitIndex,
      )
    ) {
      return;
    }
    await sleep(50, signal);
  }
  throw new ScenarioFailure(`the cluster did not heal within ${timeoutMs} ms; statuses: ${last}`);
}

/**
 * A lost write, described, or undefined. The final value must come from a write (or a
 * swapped cas) of the key, ok or of unknown outcome, or be absent only if no write was
 * acknowledged; and no acknowledged write may have been invoked after that write
 * completed: it would have replaced the value and then vanished.
 */
function lostWrites(history: readonly Operation[], finalValue: string | null): string | undefined {
  const writes = history.filter(
    (operation) =>
      (operation.kind === 'write' || operation.kind === 'cas') && operation.status !== 'fail',
  );
  const written = (operation: Operation): unknown =>
    operation.kind === 'write' ? operation.input : (operation.input as [unknown, unknown])[1];
  const acknowledged = writes.filter((operation) => operation.status === 'ok');
  if (finalValue === null) {
    return acknowledged.length === 0
      ? undefined
      : `the key is absent at the end although ${acknowledged.length} writes were acknowledged, e.g. ${JSON.stringify(acknowledged.at(-1))}`;
  }
  const source = writes.find((operation) => written(operation) === finalValue);
  if (source === undefined) {
    return `the final value ${JSON.stringify(finalValue)} was never written`;
  }
  if (source.status === 'unknown') {
    return undefined; // it may have landed at any time after its invocation
  }
  const later = acknowledged.find(
    (operation) => operation.invokeTime > (source.returnTime as number),
  );
  return later === undefined
    ? undefined
    : `acknowledged write lost: ${JSON.stringify(later)} was invoked after ${JSON.stringify(source)} completed, yet the final value is the older one`;
}

function countAnswers(operations: readonly RecordedOperation[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const operation of operations) {
    const match = /^(\d+) \{.*?"(?:reason|code)":"([^"]+)"/.exec(operation.answer);
    const kind =
      match === null
        ? operation.answer.replace(/^(\d+) .*/, '$1')
        : `${match[1] as string} ${match[2] as string}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
