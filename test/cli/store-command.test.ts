/**
 * `distkit store`: usage errors as a function call (exit code 2 with the reason) and as
 * the executable, and the help text.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { runStoreCommand } from '../../src/cli/index.js';
import { consecutiveFreePorts, temporaryFolder } from '../store/support.js';
import {
  assertStopsOnInterrupt,
  type CapturedCommand,
  captureCommand,
  putUntilAcknowledged,
  repositoryRoot,
  startClusterCommand,
} from './cluster-process.js';

function capture(args: string[]): Promise<CapturedCommand> {
  return captureCommand(runStoreCommand, args);
}

describe('distkit store', () => {
  it('prints its usage, and refuses wrong command lines with exit code 2 and the reason', async () => {
    const help = await capture(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /distkit store start --id ID --peers/);
    assert.match(help.out, /leader-follower-sync/);
    const peers = 'n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103';
    const cases: [string[], RegExp][] = [
      [[], /Usage/],
      [['bogus'], /Unknown store command bogus/],
      [['start', '--id', 'n1'], /needs --id, --peers, --data and --mode/],
      [['start', '--id', 'n1', '--peers', peers, '--data', 'x'], /--mode is required/],
      [
        ['start', '--id', 'n1', '--peers', peers, '--data', 'x', '--mode', 'paxos'],
        /--mode must be one of consensus/,
      ],
      [
        ['start', '--id', 'n9', '--peers', peers, '--data', 'x', '--mode', 'consensus'],
        /must include this node/,
      ],
      [
        ['start', '--id', 'n1', '--peers', 'n1=nohost', '--data', 'x', '--mode', 'consensus'],
        /HOST:PORT/,
      ],
      [
        [
          'start',
          '--id',
          'n1',
          '--peers',
          peers,
          '--data',
          'x',
          '--mode',
          'consensus',
          '--replicas',
          '4',
        ],
        /must not exceed the node count/,
      ],
      [
        [
          'start',
          '--id',
          'n1',
          '--peers',
          peers,
          '--data',
          'x',
          '--mode',
          'consensus',
          '--shards',
          '0',
        ],
        /--shards must be an integer/,
      ],
      [['cluster'], /--mode is required/],
      [['cluster', '--mode', 'leaderless', '--replicas', '2'], /needs --replicas 3 or more/],
      [['cluster', '--mode', 'consensus', '--nodes', '99'], /--nodes must be an integer/],
      [['cluster', '--mode', 'consensus', '--port'], /--port needs a value/],
      [['cluster', '--mode', 'consensus', '--frobnicate'], /Unknown argument --frobnicate/],
    ];
    for (const [args, pattern] of cases) {
      const result = await capture(args);
      assert.equal(result.code, 2, `exit code of ${args.join(' ')}`);
      assert.match(`${result.out}\n${result.err}`, pattern, args.join(' '));
    }
  });

  it('refuses to start without a cluster secret', async () => {
    const saved = process.env['DISTKIT_STORE_SECRET'];
    delete process.env['DISTKIT_STORE_SECRET'];
    try {
      const result = await capture([
        'start',
        '--id',
        'n1',
        '--peers',
        'n1=127.0.0.1:7101',
        '--data',
        'x',
        '--mode',
        'consensus',
      ]);
      assert.equal(result.code, 2);
      assert.match(result.err, /cluster secret of at least 16 bytes/);
    } finally {
      if (saved !== undefined) {
        process.env['DISTKIT_STORE_SECRET'] = saved;
      }
    }
  });

  it('the executable exits with 2 and says why', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/bin.ts', 'store', 'cluster', '--mode', 'paxos'],
      { cwd: repositoryRoot, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--mode must be one of consensus/);
  });

  it('store cluster starts three nodes that serve the API, and SIGINT stops every one', async () => {
    const folder = temporaryFolder('distkit-store-cluster-');
    const base = await consecutiveFreePorts(6);
    const cluster = startClusterCommand([
      'store',
      'cluster',
      '--nodes',
      '3',
      '--mode',
      'consensus',
      '--data',
      folder.path,
      '--port',
      String(base),
      '--http-port',
      String(base + 3),
    ]);
    try {
      const nodes = await cluster.ready;
      assert.deepEqual(
        nodes.map((node) => node.id),
        ['n1', 'n2', 'n3'],
      );
      const written = await putUntilAcknowledged(
        `http://${nodes[0]?.http}/v1/kv/greeting?consistency=linearizable`,
        'hello',
      );
      assert.ok(written, 'no write acknowledged within 30 s');
      const read = await fetch(`http://${nodes[2]?.http}/v1/kv/greeting?consistency=linearizable`);
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as { value: string }).value, 'hello');
      await assertStopsOnInterrupt(cluster, nodes);
    } finally {
      cluster.kill();
      folder.remove();
    }
  });
});
