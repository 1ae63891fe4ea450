/**
 * Process, port, folder and number helpers shared by the benches that start real
 * clusters (raft.bench.ts, store.bench.ts): the processes and folders they create are
 * registered here, so each bench's exit hook can stop and remove all of them.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The address every bench cluster listens on. */
export const loopback = '127.0.0.1';

/** Processes a bench started and has not stopped yet. */
export const started = new Set<ChildProcess>();

/** Temporary folders a bench made and has not removed yet. */
export const temporaryFolders = new Set<string>();

/** An environment variable, or `undefined` when unset. */
export function environmentText(name: string): string | undefined {
  return process.env[name];
}

/** An integer setting from the environment, within [min, max], or `fallback` when unset. */
export function integerFromEnvironment(name: string, fallback: number, min: number, max: number) {
  const text = environmentText(name);
  if (text === undefined || text.trim() === '') {
    return fallback;
  }
  const value = Number(text);
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]; got '${text}'.`);
  }
  return value;
}

/** Whether a child process is still running. */
export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

/** Resolves true once `child` exits, or false after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!alive(child)) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** A process's group id and CPU ticks (user + system) from /proc, or `undefined`. */
export function readStat(pid: number): { groupId: number; cpuTicks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start with the state.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    groupId: Number(fields[2]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

/** The pids of the processes in a process group. */
export function groupMembers(groupId: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    const stat = readStat(Number(name));
    if (stat !== undefined && stat.groupId === groupId) {
      pids.push(Number(name));
    }
  }
  return pids;
}

/** Sends `signal` to every process of a group (ignoring an empty group). */
export function killGroup(groupId: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-groupId, signal);
  } catch {
    // No process left in the group.
  }
}

/**
 * Stops a process started by {@link started} (SIGTERM, then SIGKILL after `graceMs`) and any
 * processes left in its group; returns how many had to be killed.
 */
export async function stopProcess(child: ChildProcess, graceMs: number): Promise<number> {
  const groupId = child.pid;
  if (groupId === undefined) {
    return 0;
  }
  if (alive(child)) {
    child.kill('SIGTERM');
  }
  let killed = 0;
  if (!(await waitForExit(child, graceMs))) {
    killed += 1;
    killGroup(groupId, 'SIGKILL');
    await waitForExit(child, 2_000);
  }
  // The children of a cluster process are in its group; any left behind after the
  // parent exits are stragglers.
  const leftovers = groupMembers(groupId);
  if (leftovers.length > 0) {
    killGroup(groupId, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupMembers(groupId).length > 0 && Date.now() < deadline) {
      await sleep(50);
    }
    const stubborn = groupMembers(groupId);
    killed += stubborn.length;
    killGroup(groupId, 'SIGKILL');
  }
  started.delete(child);
  return killed;
}

/** Whether `port` can be listened on at the loopback address right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, loopback, () => {
      server.close(() => resolve(true));
    });
  });
}

/** The first of `count` consecutive ports free on loopback, none of them in `avoid`. */
export async function freePortRange(
  count: number,
  avoid: readonly number[] = [],
  basePort = 20_000,
): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const base = basePort + Math.floor(Math.random() * 2_000) * 10;
    let free = true;
    for (let port = base; port < base + count && free; port += 1) {
      free = !avoid.includes(port) && (await portFree(port));
    }
    if (free) {
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports found on ${loopback}`);
}

/** A fresh temporary folder, removed by {@link removeFolder} (or the exit hook of a bench). */
export function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  temporaryFolders.add(folder);
  return folder;
}

/** Removes a folder made by {@link temporaryFolder}. */
export function removeFolder(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
  temporaryFolders.delete(folder);
}

/** The nearest-rank percentile of sorted numbers (NaN for none). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

/** A number rounded to four significant digits, for reports. */
export function significant(value: number): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(4)) : value;
}

/** Keeps the last `lineCountMax` lines of `stream` in `lines`. */
export function keepTail(
  stream: NodeJS.ReadableStream | null,
  lines: string[],
  lineCountMax = 40,
): void {
  stream?.setEncoding('utf8');
  let rest = '';
  stream?.on('data', (chunk: string) => {
    const split = (rest + chunk).split('\n');
    rest = split.pop() ?? '';
    for (const line of split) {
      lines.push(line);
      if (lines.length > lineCountMax) {
        lines.shift();
      }
    }
  });
}

/**
 * Starts `command args` in `cwd`, registered in {@link started}, with the tail of its
 * standard error in `errorLines`. Detached: a group of its own, so its children can be
 * found and killed with it, and a Ctrl-C of the bench reaches the bench only, which then
 * stops everything in order.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  cwd: string,
  errorLines: string[],
): ChildProcess {
  const child = spawn(command, args, { cwd, detached: true, stdio: 'pipe' });
  started.add(child);
  keepTail(child.stderr, errorLines);
  child.on('error', (error) => {
    errorLines.push(`spawn error: ${error.message}`);
  });
  return child;
}

/**
 * Installs the bench's last resort: on exit every process in {@link started} is killed
 * with its group and every folder in {@link temporaryFolders} removed; on SIGINT or
 * SIGTERM they are stopped in order first. Call once, at the top of a bench.
 */
export function stopEverythingOnExit(): void {
  process.on('exit', () => {
    for (const child of started) {
      if (child.pid !== undefined) {
        killGroup(child.pid, 'SIGKILL');
      }
    }
    for (const folder of temporaryFolders) {
      rmSync(folder, { recursive: true, force: true });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process the bench started`);
      void Promise.all([...started].map((child) => stopProcess(child, 3_000))).finally(() =>
        process.exit(130),
      );
    });
  }
}
