/**
 * `StoreProcess` and `StoreHttpApi` in this process: the HTTP answers (200, 404, 400,
 * 422 for a level the mode does not offer, 405, status), and recovery of the durable
 * state file after a close (the same folder, the same values).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ShardModeKind,
  StoreHttpApi,
  StoreProcess,
  storeCheckpointFileName,
} from '../../src/store/index.js';
import { freePorts, temporaryFolder, testSecret } from './support.js';

async function openNode(directory: string, port: number, mode: ShardModeKind) {
  const node = await StoreProcess.open({
    id: 'n1',
    peers: { n1: { host: '127.0.0.1', port } },
    directory,
    mode,
    shardCount: 2,
    secret: testSecret,
    tickMs: 10,
  });
  const api = await StoreHttpApi.listen(node, { port: 0 });
  const base = `http://127.0.0.1:${api.address.port}`;
  return {
    node,
    base,
    close: async () => {
      await api.close();
      await node.close();
    },
  };
}

interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
  readonly body: any;
}

async function call(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.json() };
}

async function untilOk<T extends { status: number }>(attempt: () => Promise<T>): Promise<T> {
  for (let count = 0; ; count += 1) {
    const result = await attempt();
    if (result.status !== 503 || count > 100) {
      return result;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('StoreProcess and StoreHttpApi', () => {
  it('serves PUT and GET at the levels of the mode, refuses others, and recovers from its file', async () => {
    const folder = temporaryFolder('distkit-store-api-');
    const [port] = (await freePorts(1)) as [number];
    let opened = await openNode(folder.path, port, 'consensus');
    try {
      const put = await untilOk(() =>
        call(`${opened.base}/v1/kv/alice?consistency=linearizable`, {
          method: 'PUT',
          body: 'blue',
        }),
      );
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const get = await call(`${opened.base}/v1/kv/alice?consistency=linearizable`);
      assert.equal(get.status, 200);
      assert.equal(get.body.value, 'blue');
      const eventual = await call(`${opened.base}/v1/kv/alice?consistency=eventual`);
      assert.equal(eventual.body.value, 'blue');
      const absent = await call(`${opened.base}/v1/kv/bob`);
      assert.equal(absent.status, 404);
      assert.equal(absent.body.code, 'KEY_NOT_FOUND');
      const bad = await call(`${opened.base}/v1/kv/alice?consistency=strong`);
      assert.equal(bad.status, 400);
      const unbounded = await call(`${opened.base}/v1/kv/alice?consistency=bounded-staleness`);
      assert.equal(unbounded.status, 400);
      assert.match(unbounded.body.message, /stalenessMsMax/);
      const bounded = await call(
        `${opened.base}/v1/kv/alice?consistency=bounded-staleness&stalenessMsMax=1000`,
      );
      assert.equal(bounded.body.value, 'blue');
      const method = await call(`${opened.base}/v1/kv/alice`, { method: 'DELETE' });
      assert.equal(method.status, 405);
      const status = await call(`${opened.base}/v1/status`);
      assert.equal(status.body.mode, 'consensus');
      assert.deepEqual(
        status.body.shards.map((shard: { id: string }) => shard.id),
        ['kv/0', 'kv/1'],
      );
      assert.ok(status.body.stateWriteCount > 0);
      await opened.close();
      // The same folder: the write is still there.
      opened = await openNode(folder.path, port, 'consensus');
      const again = await untilOk(() =>
        call(`${opened.base}/v1/kv/alice?consistency=linearizable`),
      );
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.value, 'blue');
      await opened.close();
      // Another mode on the same folder is refused.
      await assert.rejects(openNode(folder.path, port, 'leader-follower-sync'), (error) => {
        assert.match(String(error), new RegExp(`${storeCheckpointFileName}.*mode consensus`));
        return true;
      });
    } finally {
      await opened.close();
      folder.remove();
    }
  });

  it('answers 422 for a level the mode cannot give, with the levels it offers', async () => {
    const folder = temporaryFolder('distkit-store-api-');
    const [port] = (await freePorts(1)) as [number];
    const opened = await openNode(folder.path, port, 'multi-leader');
    try {
      const refused = await call(`${opened.base}/v1/kv/alice?consistency=linearizable`);
      assert.equal(refused.status, 422);
      assert.equal(refused.body.code, 'CONSISTENCY_LEVEL_UNSUPPORTED');
      assert.deepEqual(refused.body.levelsOffered, [
        'read-your-writes',
        'monotonic-reads',
        'eventual',
      ]);
      const put = await untilOk(() =>
        call(`${opened.base}/v1/kv/alice`, { method: 'PUT', body: 'green' }),
      );
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const get = await call(`${opened.base}/v1/kv/alice?consistency=read-your-writes`);
      assert.equal(get.body.value, 'green');
    } finally {
      await opened.close();
      folder.remove();
    }
  });
});
