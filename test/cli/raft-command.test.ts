/**
 * `distkit raft`: usage errors as a function call, and `raft cluster` as a real process
 * tree that starts three nodes, serves the HTTP API and stops them all on SIGINT.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runRaftCommand } from '../../src/cli/index.js';
import { consecutiveFreePorts, temporaryFolder } from '../store/support.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRaftCommand(args, {
    writeLine: (line) => out.push(line),
    writeErrorLine: (line) => err.push(line),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('distkit raft', () => {
  it('prints its usage, and refuses wrong command lines with exit code 2', async () => {
    const help = await capture(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /distkit raft start --id ID --peers/);
    const cases: [string[], RegExp][] = [
      [[], /Usage/],
      [['bogus'], /Unknown raft command bogus/],
      [['start', '--id', 'n1'], /needs --id, --peers and --data/],
      [['start', '--id', 'n1', '--peers', 'n1=nohost', '--data', 'x'], /HOST:PORT/],
      [
        ['start', '--id', 'n9', '--peers', 'n1=127.0.0.1:7001', '--data', 'x'],
        /must include this node/,
      ],
      [
        ['start', '--id', 'n1', '--peers', 'n1=127.0.0.1:7001,n1=127.0.0.1:7002', '--data', 'x'],
        /twice/,
      ],
      [
        ['start', '--id', 'n1', '--peers', 'n1=127.0.0.1:7001', '--data', 'x', '--tick-ms', '0'],
        /--tick-ms/,
      ],
      [['start', '--wat'], /Unknown argument --wat/],
      [['cluster', '--nodes', '0'], /--nodes must be an integer from 1 to 15/],
      [['cluster', '--raft-port', '65535', '--nodes', '3'], /past 65535/],
    ];
    for (const [args, pattern] of cases) {
      const result = await capture(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(`${result.out}\n${result.err}`, pattern, args.join(' '));
    }
  });

  it('refuses to start without a cluster secret of 16 bytes', async () => {
    const saved = process.env['DISTKIT_RAFT_SECRET'];
    process.env['DISTKIT_RAFT_SECRET'] = 'short';
    try {
      const result = await capture([
        'start',
        '--id',
        'n1',
        '--peers',
        'n1=127.0.0.1:7001',
        '--data',
        'x',
      ]);
      assert.equal(result.code, 2);
      assert.match(result.err, /secret of at least 16 bytes/);
    } finally {
      if (saved === undefined) {
        delete process.env['DISTKIT_RAFT_SECRET'];
      } else {
        process.env['DISTKIT_RAFT_SECRET'] = saved;
      }
    }
  });

  it('raft cluster starts three nodes that serve the API, and SIGINT stops every one', async () => {
    const folder = temporaryFolder('distkit-raft-cluster-');
    const raftBase = await consecutiveFreePorts(3);
    const httpBase = await consecutiveFreePorts(3, raftBase + 3);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repositoryRoot, 'src', 'cli', 'bin.ts'),
        'raft',
        'cluster',
        '--nodes',
        '3',
        '--data',
        folder.path,
        '--raft-port',
        String(raftBase),
        '--http-port',
        String(httpBase),
      ],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    const stderr: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', resolveExit));
    try {
      const ready = await new Promise<{ nodes: { id: string; http: string }[] }>(
        (resolveReady, rejectReady) => {
          const timer = setTimeout(
            () => rejectReady(new Error(`no cluster-ready in 60 s: ${stderr.join('\n')}`)),
            60_000,
          );
          void exited.then((code) => {
            clearTimeout(timer);
            rejectReady(
              new Error(`the cluster exited (${code}) before it was ready: ${stderr.join('\n')}`),
            );
          });
          createInterface({ input: child.stdout }).on('line', (line) => {
            lines.push(line);
            const event = JSON.parse(line) as {
              event: string;
              nodes?: { id: string; http: string }[];
            };
            if (event.event === 'cluster-ready') {
              clearTimeout(timer);
              resolveReady(event as { nodes: { id: string; http: string }[] });
            }
          });
        },
      );
      assert.deepEqual(
        ready.nodes.map((node) => node.id),
        ['n1', 'n2', 'n3'],
      );
      // A write through one node is readable through another once a leader is elected.
      const deadline = Date.now() + 30_000;
      let written = false;
      while (!written && Date.now() < deadline) {
        const answer = await fetch(`http://${ready.nodes[0]?.http}/v1/kv/greeting`, {
          method: 'PUT',
          body: 'hello',
        }).catch(() => undefined);
        written = answer?.status === 200;
        if (!written) {
          await new Promise((resolveWait) => setTimeout(resolveWait, 100));
        }
      }
      assert.ok(written, 'no write committed within 30 s');
      const read = await fetch(`http://${ready.nodes[2]?.http}/v1/kv/greeting`);
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as { value: string }).value, 'hello');
      const ids = await Promise.all(
        ready.nodes.map(async (node) => {
          const status = (await (await fetch(`http://${node.http}/v1/status`)).json()) as {
            id: string;
          };
          return status.id;
        }),
      );
      assert.deepEqual(ids, ['n1', 'n2', 'n3']);

      child.kill('SIGINT');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((resolveTimeout) =>
          setTimeout(() => resolveTimeout('timeout'), 20_000),
        ),
      ]);
      assert.equal(code, 0, `exit: ${String(code)}; stderr: ${stderr.join('\n')}`);
      assert.ok(lines.some((line) => line.includes('"cluster-stopped"')));
      for (const node of ready.nodes) {
        const answer = await fetch(`http://${node.http}/v1/status`).catch(() => undefined);
        assert.equal(answer, undefined, `${node.id} still answers after the stop`);
      }
    } finally {
      if (child.pid !== undefined && processAlive(child.pid)) {
        child.kill('SIGKILL');
      }
      folder.remove();
    }
  });
});
