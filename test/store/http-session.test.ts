/**
 * Client sessions over HTTP: a client that carries the `Distkit-Session` header from one
 * answer to its next request keeps read-your-writes across the nodes of a three-node
 * asynchronous leader-follower store (the mode where a follower lags behind the leader),
 * and a header that is not a session is refused with 400.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  StoreHttpApi,
  StoreProcess,
  StoreSession,
  storeSessionHeader,
} from '../../src/store/index.js';
import { freePorts, temporaryFolder, testSecret } from './support.js';

describe('StoreHttpApi sessions', () => {
  it('a carried Distkit-Session keeps read-your-writes on every node; a bad one is refused', async () => {
    const folder = temporaryFolder('distkit-store-session-');
    const ports = await freePorts(3);
    const ids = ['n1', 'n2', 'n3'];
    const peers = Object.fromEntries(
      ids.map((id, index) => [id, { host: '127.0.0.1', port: ports[index] as number }]),
    );
    const nodes: StoreProcess[] = [];
    const apis: StoreHttpApi[] = [];
    try {
      for (const id of ids) {
        const node = await StoreProcess.open({
          id,
          peers,
          directory: join(folder.path, id),
          mode: 'leader-follower-async',
          shardCount: 1,
          secret: testSecret,
          tickMs: 10,
        });
        nodes.push(node);
        apis.push(await StoreHttpApi.listen(node, { port: 0 }));
      }
      const base = (index: number) => `http://127.0.0.1:${apis[index]?.address.port}`;

      // The first request sends an empty session; every answer hands back the next one.
      let session = '';
      const failures: string[] = [];
      for (let round = 0; round < 20; round += 1) {
        const value = `v${round}`;
        let put: Response | undefined;
        for (let attempt = 0; attempt < 200; attempt += 1) {
          put = await fetch(`${base(round % 3)}/v1/kv/k?consistency=read-your-writes`, {
            method: 'PUT',
            body: value,
            headers: { [storeSessionHeader]: session },
          });
          if (put.status !== 503) {
            break;
          }
          await put.arrayBuffer();
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        assert.equal(put?.status, 200, await put?.text());
        await put?.arrayBuffer().catch(() => undefined);
        const advanced = put?.headers.get(storeSessionHeader);
        assert.ok(
          advanced !== null && advanced !== undefined && advanced !== '',
          'no session back',
        );
        assert.ok(StoreSession.parse(advanced).size > 0);
        session = advanced;
        // Read through another node, where the replica asked may lag behind the leader.
        const get = await fetch(`${base((round + 1) % 3)}/v1/kv/k?consistency=read-your-writes`, {
          headers: { [storeSessionHeader]: session },
        });
        if (get.status === 503) {
          await get.arrayBuffer();
          continue; // refused rather than served old: allowed, not a failure
        }
        const body = (await get.json()) as { value: string | null };
        if (body.value !== value) {
          failures.push(`round ${round}: wrote ${value}, read ${body.value}`);
        }
        session = get.headers.get(storeSessionHeader) ?? session;
      }
      assert.deepEqual(failures, []);

      const bad = await fetch(`${base(0)}/v1/kv/k?consistency=read-your-writes`, {
        headers: { [storeSessionHeader]: 'not a session!' },
      });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_ARGUMENT');
      // Without the header the node's own session serves, and no header comes back.
      const plain = await fetch(`${base(0)}/v1/kv/k?consistency=eventual`);
      await plain.arrayBuffer();
      assert.equal(plain.headers.get(storeSessionHeader), null);
    } finally {
      for (const api of apis) {
        await api.close();
      }
      for (const node of nodes) {
        await node.close();
      }
      folder.remove();
    }
  });
});
