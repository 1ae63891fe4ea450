/**
 * The steps the `raft cluster` and `store cluster` tests share: start the command from the
 * sources as a real process, wait for its `cluster-ready` line, write through the HTTP API
 * until a write is acknowledged, stop the tree with SIGINT and check that no node answers
 * any more. Every wait is bounded, and `kill` ends the process whatever state it is in.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A node as the `cluster-ready` line lists it. */
export interface ReadyNode {
  readonly id: string;
  readonly http: string;
}

/** A `distkit ... cluster` process started by {@link startClusterCommand}. */
export interface ClusterCommand {
  readonly child: ChildProcess;
  /** Every line the process wrote to standard output so far. */
  readonly lines: string[];
  /** Every line the process wrote to standard error so far. */
  readonly errorLines: string[];
  /** Resolves with the exit code when the process exits. */
  readonly exited: Promise<number | null>;
  /** Resolves with the nodes of the `cluster-ready` line; rejects after 60 s or on exit. */
  readonly ready: Promise<readonly ReadyNode[]>;
  /** Sends SIGINT and resolves with the exit code, or `'timeout'` after 20 s. */
  interrupt(): Promise<number | null | 'timeout'>;
  /** SIGKILL if the process still runs. */
  kill(): void;
}

/** Runs `node src/cli/bin.ts ...args` from the sources in the repository root. */
export function startClusterCommand(args: readonly string[]): ClusterCommand {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repositoryRoot, 'src', 'cli', 'bin.ts'), ...args],
    { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const errorLines: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
    errorLines.push(line),
  );
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', resolveExit));
  const ready = new Promise<readonly ReadyNode[]>((resolveReady, rejectReady) => {
    const timer = setTimeout(
      () => rejectReady(new Error(`no cluster-ready in 60 s: ${errorLines.join('\n')}`)),
      60_000,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      rejectReady(
        new Error(`the cluster exited (${code}) before it was ready: ${errorLines.join('\n')}`),
      );
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line) as { event: string; nodes?: ReadyNode[] };
      if (event.event === 'cluster-ready' && event.nodes !== undefined) {
        clearTimeout(timer);
        resolveReady(event.nodes);
      }
    });
  });
  // A rejection nobody awaits yet (the process died early) must not end the test run.
  ready.catch(() => undefined);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    lines,
    errorLines,
    exited,
    ready,
    interrupt: () => {
      child.kill('SIGINT');
      return Promise.race([
        exited,
        new Promise<'timeout'>((resolveTimeout) =>
          setTimeout(() => resolveTimeout('timeout'), 20_000),
        ),
      ]);
    },
    kill: () => {
      if (running()) {
        child.kill('SIGKILL');
      }
    },
  };
}

/** PUTs `body` at `url` every 100 ms until a 200 answers; false when none did within 30 s. */
export async function putUntilAcknowledged(url: string, body: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const answer = await fetch(url, { method: 'PUT', body }).catch(() => undefined);
    if (answer?.status === 200) {
      return true;
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return false;
}

/** SIGINT the cluster: it exits with 0, says `cluster-stopped`, and no node answers after. */
export async function assertStopsOnInterrupt(
  cluster: ClusterCommand,
  nodes: readonly ReadyNode[],
): Promise<void> {
  const code = await cluster.interrupt();
  assert.equal(code, 0, `exit: ${String(code)}; stderr: ${cluster.errorLines.join('\n')}`);
  assert.ok(cluster.lines.some((line) => line.includes('"cluster-stopped"')));
  for (const node of nodes) {
    const answer = await fetch(`http://${node.http}/v1/status`).catch(() => undefined);
    assert.equal(answer, undefined, `${node.id} still answers after the stop`);
  }
}

/** What a command printed and its exit code, from {@link captureCommand}. */
export interface CapturedCommand {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs a server command's function (`runRaftCommand`, `runStoreCommand`) and keeps what it printed. */
export async function captureCommand(
  run: (
    args: string[],
    output: { writeLine: (line: string) => void; writeErrorLine: (line: string) => void },
  ) => Promise<number>,
  args: string[],
): Promise<CapturedCommand> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, {
    writeLine: (line) => out.push(line),
    writeErrorLine: (line) => err.push(line),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
