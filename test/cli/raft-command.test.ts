/**
 * `distkit raft`: usage errors as a function call, and `raft cluster` as a real process
 * tree that starts three nodes, serves the HTTP API and stops them all on SIGINT.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runRaftCommand } from '../../src/cli/index.js';
import { consecutiveFreePorts, temporaryFolder } from '../store/support.js';
import {
  assertStopsOnInterrupt,
  type CapturedCommand,
  captureCommand,
  putUntilAcknowledged,
  startClusterCommand,
} from './cluster-process.js';

function capture(args: string[]): Promise<CapturedCommand> {
  return captureCommand(runRaftCommand, args);
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
    const cluster = startClusterCommand([
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
    ]);
    try {
      const nodes = await cluster.ready;
      assert.deepEqual(
        nodes.map((node) => node.id),
        ['n1', 'n2', 'n3'],
      );
      // A write through one node is readable through another once a leader is elected.
      const written = await putUntilAcknowledged(
        `http://${nodes[0]?.http}/v1/kv/greeting`,
        'hello',
      );
      assert.ok(written, 'no write committed within 30 s');
      const read = await fetch(`http://${nodes[2]?.http}/v1/kv/greeting`);
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as { value: string }).value, 'hello');
      const ids = await Promise.all(
        nodes.map(async (node) => {
          const status = (await (await fetch(`http://${node.http}/v1/status`)).json()) as {
            id: string;
          };
          return status.id;
        }),
      );
      assert.deepEqual(ids, ['n1', 'n2', 'n3']);
      await assertStopsOnInterrupt(cluster, nodes);
    } finally {
      cluster.kill();
      folder.remove();
    }
  });
});
