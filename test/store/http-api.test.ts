import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  RaftHttpApi,
  type RaftHttpApiOptions,
  RaftReplica,
  type RaftReplicaOptions,
} from '../../src/store/index.js';
import { TestCluster, temporaryFolder, testSecret, waitFor } from './support.js';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field.
  readonly body: any;
}

/** One request; the answer's JSON body parsed (every answer of the API is JSON). */
async function call(
  base: string,
  method: string,
  path: string,
  body?: string,
  signal?: AbortSignal,
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
    ...(signal === undefined ? {} : { signal }),
  });
  const text = await response.text();
  assert.equal(response.headers.get('content-type'), 'application/json', `${method} ${path}`);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

function baseOf(api: RaftHttpApi): string {
  return `http://127.0.0.1:${api.address.port}`;
}

/** A one-node replica behind the API on port 0; closed and removed whatever `body` does. */
async function withSingleApi(
  options: Partial<RaftReplicaOptions>,
  apiOptions: Omit<RaftHttpApiOptions, 'port'>,
  body: (base: string, replica: RaftReplica) => Promise<void>,
): Promise<void> {
  const folder = temporaryFolder();
  let replica: RaftReplica | undefined;
  let api: RaftHttpApi | undefined;
  try {
    replica = await RaftReplica.open({
      id: 'n1',
      // Port 0 is allowed for a one-node cluster: nobody needs to dial it.
      peers: { n1: { host: '127.0.0.1', port: 0 } },
      directory: join(folder.path, 'n1'),
      secret: testSecret,
      tickMs: 10,
      ...options,
    });
    api = await RaftHttpApi.listen(replica, { port: 0, ...apiOptions });
    await body(baseOf(api), replica);
  } finally {
    await api?.close();
    await replica?.close();
    folder.remove();
  }
}

/** A cluster with an API on port 0 in front of every replica. */
async function withClusterApis(
  nodeOptions: Record<string, Partial<RaftReplicaOptions>>,
  body: (cluster: TestCluster, apis: Map<string, RaftHttpApi>) => Promise<void>,
): Promise<void> {
  const folder = temporaryFolder();
  let cluster: TestCluster | undefined;
  const apis = new Map<string, RaftHttpApi>();
  try {
    cluster = await TestCluster.start(folder.path, 3, {}, nodeOptions);
    for (const [id, replica] of cluster.replicas) {
      apis.set(id, await RaftHttpApi.listen(replica, { port: 0 }));
    }
    await body(cluster, apis);
  } finally {
    await Promise.all([...apis.values()].map((api) => api.close()));
    await cluster?.close();
    folder.remove();
  }
}

async function stopWithApi(
  cluster: TestCluster,
  apis: Map<string, RaftHttpApi>,
  id: string,
): Promise<void> {
  await apis.get(id)?.close();
  apis.delete(id);
  await cluster.stop(id);
}

/**
 * A 3-node cluster whose leader n1 has lost its two followers but keeps leading: its
 * election timeout is long (1,000 ticks, 10 s at 10 ms), and check quorum steps a leader
 * down only after that long without a quorum. Its proposals are appended but never
 * commit, its reads are never confirmed. `requestTimeoutMs` is n1's.
 */
async function withIsolatedLeader(
  requestTimeoutMs: number,
  body: (n1: RaftReplica, base: string) => Promise<void>,
): Promise<void> {
  await withClusterApis(
    { n1: { electionTicks: 1_000, requestTimeoutMs } },
    async (cluster, apis) => {
      const n1 = await cluster.transferLeadership('n1');
      await n1.put('kept', 'committed', { timeoutMs: 5_000 });
      await stopWithApi(cluster, apis, 'n2');
      await stopWithApi(cluster, apis, 'n3');
      await body(n1, api(apis, 'n1'));
    },
  );
}

function api(apis: Map<string, RaftHttpApi>, id: string): string {
  const found = apis.get(id);
  assert.ok(found, `no API for ${id}`);
  return baseOf(found);
}

describe('RaftHttpApi on a one-node cluster', () => {
  it('PUT, GET at every consistency, DELETE and cas answer as the table says', async () => {
    await withSingleApi({}, {}, async (base, replica) => {
      const first = await call(base, 'PUT', '/v1/kv/greeting', 'hello');
      assert.equal(first.status, 200);
      assert.equal(first.body.previous, null);
      assert.ok(Number.isInteger(first.body.index) && first.body.index > 0);
      const second = await call(base, 'PUT', '/v1/kv/greeting', 'hi');
      assert.deepEqual(second.body, { index: first.body.index + 1, previous: 'hello' });

      for (const query of [
        '',
        '?consistency=linearizable',
        '?consistency=lease',
        '?consistency=local',
      ]) {
        const read = await call(base, 'GET', `/v1/kv/greeting${query}`);
        assert.equal(read.status, 200, query);
        assert.deepEqual(read.body, { value: 'hi', index: second.body.index }, query);
      }

      // Percent-encoded keys (a slash, a space, UTF-8) and a raw UTF-8 value.
      const odd = await call(base, 'PUT', `/v1/kv/${encodeURIComponent('a/b c é')}`, 'héllo ✓');
      assert.equal(odd.status, 200);
      assert.equal((await replica.get('a/b c é')).value, 'héllo ✓');
      assert.equal((await call(base, 'GET', '/v1/kv/a%2Fb%20c%20%C3%A9')).body.value, 'héllo ✓');
      // An empty body stores the empty string, which is a value (200, not 404).
      assert.equal((await call(base, 'PUT', '/v1/kv/empty', '')).status, 200);
      assert.deepEqual((await call(base, 'GET', '/v1/kv/empty')).body.value, '');

      const swapped = await call(
        base,
        'POST',
        '/v1/kv/greeting/cas',
        JSON.stringify({ expected: 'hi', value: 'bye' }),
      );
      assert.equal(swapped.status, 200);
      assert.equal(swapped.body.swapped, true);
      assert.equal(swapped.body.current, 'hi');
      assert.ok(swapped.body.index > second.body.index);
      const refused = await call(
        base,
        'POST',
        '/v1/kv/greeting/cas',
        JSON.stringify({ expected: 'hi', value: 'again' }),
      );
      assert.equal(refused.status, 200);
      assert.equal(refused.body.swapped, false);
      assert.equal(refused.body.current, 'bye');
      // expected null (or absent) means "the key is absent".
      const created = await call(
        base,
        'POST',
        '/v1/kv/fresh/cas',
        JSON.stringify({ value: 'new' }),
      );
      assert.equal(created.body.swapped, true);
      assert.equal(created.body.current, null);
      const notAbsent = await call(
        base,
        'POST',
        '/v1/kv/fresh/cas',
        JSON.stringify({ expected: null, value: 'newer' }),
      );
      assert.equal(notAbsent.body.swapped, false);
      assert.equal(notAbsent.body.current, 'new');

      const deleted = await call(base, 'DELETE', '/v1/kv/greeting');
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.previous, 'bye');
      const missing = await call(base, 'GET', '/v1/kv/greeting');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'KEY_NOT_FOUND');
      assert.ok(missing.body.index >= deleted.body.index);
      assert.equal((await call(base, 'GET', '/v1/kv/greeting?consistency=local')).status, 404);
      assert.equal((await call(base, 'DELETE', '/v1/kv/greeting')).body.previous, null);
    });
  });

  it('answers 404 for unknown paths, 405 for wrong methods, 400 for bad input and 413 for large bodies', async () => {
    await withSingleApi(
      { keyBytesMax: 16, valueBytesMax: 64 },
      { bodyBytesMax: 256 },
      async (base, replica) => {
        await call(base, 'PUT', '/v1/kv/kept', 'value');
        const expectError = async (
          method: string,
          path: string,
          body: string | undefined,
          status: number,
          code: string,
        ): Promise<void> => {
          const answer = await call(base, method, path, body);
          assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
          assert.equal(answer.body.code, code, `${method} ${path}`);
          assert.equal(typeof answer.body.message, 'string');
        };

        for (const path of [
          '/',
          '/v1',
          '/v1/nothing',
          '/v1/kv',
          '/v1/kv/',
          '/v2/kv/kept',
          '/v1/status/x',
        ]) {
          await expectError('GET', path, undefined, 404, 'NOT_FOUND');
        }
        await expectError('PATCH', '/v1/kv/kept', 'x', 405, 'METHOD_NOT_ALLOWED');
        await expectError('POST', '/v1/kv/kept', 'x', 405, 'METHOD_NOT_ALLOWED');
        await expectError('POST', '/v1/status', '{}', 405, 'METHOD_NOT_ALLOWED');
        await expectError('GET', '/v1/membership', undefined, 405, 'METHOD_NOT_ALLOWED');
        await expectError('DELETE', '/v1/leadership', undefined, 405, 'METHOD_NOT_ALLOWED');

        // cas bodies
        await expectError('POST', '/v1/kv/kept/cas', 'not json', 400, 'INVALID_JSON');
        await expectError('POST', '/v1/kv/kept/cas', '["value"]', 400, 'INVALID_JSON');
        await expectError('POST', '/v1/kv/kept/cas', 'null', 400, 'INVALID_JSON');
        await expectError('POST', '/v1/kv/kept/cas', '{"value":3}', 400, 'INVALID_ARGUMENT');
        await expectError(
          'POST',
          '/v1/kv/kept/cas',
          '{"expected":3,"value":"x"}',
          400,
          'INVALID_ARGUMENT',
        );
        await expectError(
          'POST',
          '/v1/kv/kept/cas',
          '{"expected":"value"}',
          400,
          'INVALID_ARGUMENT',
        );
        // consistency, keys, values
        await expectError(
          'GET',
          '/v1/kv/kept?consistency=eventual',
          undefined,
          400,
          'INVALID_ARGUMENT',
        );
        await expectError('GET', '/v1/kv/kept?consistency=', undefined, 400, 'INVALID_ARGUMENT');
        await expectError('GET', '/v1/kv/%E0%A4%A', undefined, 400, 'INVALID_KEY');
        await expectError('PUT', '/v1/kv/%ZZ', 'x', 400, 'INVALID_KEY');
        await expectError('POST', '/v1/kv/%E0/cas', '{"value":"x"}', 400, 'INVALID_KEY');
        await expectError(
          'GET',
          '/v1/kv/%00distkit%2Fpeer%2Fn1',
          undefined,
          400,
          'INVALID_ARGUMENT',
        );
        await expectError(
          'PUT',
          '/v1/kv/%00distkit%2Fpeer%2Fn1',
          '10.0.0.1:1',
          400,
          'INVALID_ARGUMENT',
        );
        await expectError('DELETE', '/v1/kv/%00distkit/x', undefined, 400, 'INVALID_ARGUMENT');
        await expectError('PUT', `/v1/kv/${'k'.repeat(17)}`, 'x', 400, 'INVALID_ARGUMENT');
        await expectError('PUT', '/v1/kv/kept', 'v'.repeat(65), 400, 'INVALID_ARGUMENT');
        // Bodies over bodyBytesMax (declared by Content-Length)
        await expectError('PUT', '/v1/kv/kept', 'v'.repeat(257), 413, 'BODY_TOO_LARGE');
        await expectError(
          'POST',
          '/v1/kv/kept/cas',
          JSON.stringify({ expected: 'value', value: 'v'.repeat(300) }),
          413,
          'BODY_TOO_LARGE',
        );
        await expectError(
          'POST',
          '/v1/membership',
          JSON.stringify({ voters: Array.from({ length: 40 }, (_, n) => `node-${n}`) }),
          413,
          'BODY_TOO_LARGE',
        );

        // None of it changed anything, and the address book is untouched.
        assert.equal((await call(base, 'GET', '/v1/kv/kept')).body.value, 'value');
        assert.deepEqual(Object.keys(replica.status().peers), ['n1']);
        assert.equal(replica.status().pendingRequestCount, 0);
      },
    );
  });

  it('a chunked body over bodyBytesMax answers 413', async () => {
    await withSingleApi({}, { bodyBytesMax: 256 }, async (base) => {
      const chunk = new TextEncoder().encode('y'.repeat(100));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let count = 0; count < 4; count += 1) {
            controller.enqueue(chunk);
          }
          controller.close();
        },
      });
      const response = await fetch(`${base}/v1/kv/big`, {
        method: 'PUT',
        body,
        duplex: 'half',
      } as RequestInit);
      assert.equal(response.status, 413);
      assert.equal(((await response.json()) as { code: string }).code, 'BODY_TOO_LARGE');
    });
  });

  it('GET on a fresh one-node cluster, before any write, answers 404 KEY_NOT_FOUND', async () => {
    await withSingleApi({ requestTimeoutMs: 1_000 }, {}, async (base, replica) => {
      await waitFor('the replica to commit its election entry', () =>
        replica.status().commitIndex === 1 ? true : undefined,
      );
      const answer = await call(base, 'GET', '/v1/kv/nothing');
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.equal(answer.body.code, 'KEY_NOT_FOUND');
    });
  });

  it('/v1/status, /v1/membership validation and /v1/leadership refusals', async () => {
    await withSingleApi({}, {}, async (base) => {
      await call(base, 'PUT', '/v1/kv/k', 'v');
      const status = await call(base, 'GET', '/v1/status');
      assert.equal(status.status, 200);
      assert.equal(status.body.id, 'n1');
      assert.equal(status.body.role, 'leader');
      assert.equal(status.body.leader, 'n1');
      assert.deepEqual(status.body.membership.voters, ['n1']);
      assert.ok(status.body.commitIndex >= 2);
      assert.ok(status.body.appliedIndex >= 2);
      assert.equal(status.body.pendingRequestCount, 0);
      assert.equal(status.body.snapshotIndex, 0);
      assert.deepEqual(Object.keys(status.body.peers), ['n1']);

      const invalidMemberships: [string, string][] = [
        ['{}', 'INVALID_ARGUMENT'],
        ['{"voters":[]}', 'INVALID_ARGUMENT'],
        ['{"voters":"n1"}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1",2]}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1"],"learners":"n2"}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1"],"learners":[7]}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1"],"addresses":["n2"]}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1","n2"],"addresses":{"n2":"nowhere"}}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1","n2"],"addresses":{"n2":"127.0.0.1:70000"}}', 'INVALID_ARGUMENT'],
        ['{"voters":["n1","n2"]}', 'INVALID_ARGUMENT'],
        ['voters', 'INVALID_JSON'],
        ['[]', 'INVALID_JSON'],
      ];
      for (const [body, code] of invalidMemberships) {
        const answer = await call(base, 'POST', '/v1/membership', body);
        assert.equal(answer.status, 400, `${body}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, code, body);
      }
      // A valid change (the same voters) commits and answers its index.
      const changed = await call(base, 'POST', '/v1/membership', '{"voters":["n1"]}');
      assert.equal(changed.status, 200);
      assert.ok(Number.isInteger(changed.body.index) && changed.body.index > 0);

      for (const body of ['{}', '{"to":3}', 'nope']) {
        const answer = await call(base, 'POST', '/v1/leadership', body);
        assert.equal(answer.status, 400, body);
      }
      // To itself: nothing to do, accepted. To a non-member: 400, a retry cannot help.
      const toItself = await call(base, 'POST', '/v1/leadership', JSON.stringify({ to: 'n1' }));
      assert.equal(toItself.status, 202);
      const toStranger = await call(base, 'POST', '/v1/leadership', JSON.stringify({ to: 'n9' }));
      assert.equal(toStranger.status, 400);
      assert.equal(toStranger.body.code, 'INVALID_ARGUMENT');
      assert.equal((await call(base, 'GET', '/v1/status')).body.role, 'leader');
    });
  });
});

describe('RaftHttpApi on a 3-node cluster', () => {
  it('any node takes requests; /v1/leadership moves the leader (202); without a quorum writes and reads answer 503 with Retry-After', async () => {
    await withClusterApis({}, async (cluster, apis) => {
      const leader = await cluster.leader();
      const [followerId, otherId] = [...cluster.replicas.keys()].filter(
        (id) => id !== leader.id,
      ) as [string, string];
      const written = await call(api(apis, followerId), 'PUT', '/v1/kv/k', 'through-follower');
      assert.equal(written.status, 200);
      await call(api(apis, leader.id), 'PUT', '/v1/kv/j', 'through-leader');
      for (const id of cluster.replicas.keys()) {
        for (const consistency of ['linearizable', 'lease']) {
          const read = await call(api(apis, id), 'GET', `/v1/kv/k?consistency=${consistency}`);
          assert.equal(read.status, 200, `${id} ${consistency}`);
          assert.equal(read.body.value, 'through-follower');
        }
        const local = await call(api(apis, id), 'GET', '/v1/kv/j?consistency=local');
        assert.equal(local.body.value, 'through-leader', id);
      }
      const viaFollower = await call(
        api(apis, otherId),
        'POST',
        '/v1/kv/k/cas',
        JSON.stringify({ expected: 'through-follower', value: 'swapped' }),
      );
      assert.equal(viaFollower.body.swapped, true);
      assert.equal(
        (await call(api(apis, followerId), 'DELETE', '/v1/kv/j')).body.previous,
        'through-leader',
      );

      // Only the leader transfers leadership; a follower names it.
      const refused = await call(
        api(apis, followerId),
        'POST',
        '/v1/leadership',
        JSON.stringify({ to: followerId }),
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.body.reason, 'no-leader');
      assert.equal(refused.body.leader, leader.id);
      const moved = await call(
        api(apis, leader.id),
        'POST',
        '/v1/leadership',
        JSON.stringify({ to: followerId }),
      );
      assert.equal(moved.status, 202);
      assert.deepEqual(moved.body, {});
      const newLeader = await cluster.transferLeadership(followerId);
      const status = await call(api(apis, newLeader.id), 'GET', '/v1/status');
      assert.equal(status.body.role, 'leader');
      assert.equal(status.body.leader, followerId);

      // Two of three stopped: once the survivor knows no leader, nothing is applied and
      // the API says so with 503 (REPLICA_UNAVAILABLE, a retry is safe), not 504.
      const survivor = otherId;
      for (const id of [...cluster.replicas.keys()].filter((id) => id !== survivor)) {
        await stopWithApi(cluster, apis, id);
      }
      const alone = cluster.replicas.get(survivor) as RaftReplica;
      await waitFor('the survivor to know no leader', () =>
        alone.leader === null ? true : undefined,
      );
      for (const [method, path, body] of [
        ['PUT', '/v1/kv/k', 'lost'],
        ['DELETE', '/v1/kv/k', undefined],
        ['POST', '/v1/kv/k/cas', '{"expected":"swapped","value":"lost"}'],
        ['GET', '/v1/kv/k', undefined],
        ['GET', '/v1/kv/k?consistency=lease', undefined],
      ] as const) {
        const answer = await call(api(apis, survivor), method, path, body);
        assert.equal(answer.status, 503, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 'REPLICA_UNAVAILABLE');
        assert.equal(answer.body.reason, 'no-leader');
        assert.equal(answer.body.leader, null);
        assert.equal(answer.headers.get('retry-after'), '1');
      }
      const local = await call(api(apis, survivor), 'GET', '/v1/kv/k?consistency=local');
      assert.equal(local.status, 200);
      assert.equal(local.body.value, 'swapped');
    });
  });

  it('a leader cut off from its quorum: PUT and cas answer 504 with outcome unknown, GET 504 not-applied, a local GET 200', async () => {
    await withIsolatedLeader(300, async (n1, base) => {
      const write = await call(base, 'PUT', '/v1/kv/unknown', 'maybe');
      assert.equal(write.status, 504, JSON.stringify(write.body));
      assert.equal(write.body.code, 'REQUEST_TIMEOUT');
      assert.equal(write.body.outcome, 'unknown');
      const cas = await call(
        base,
        'POST',
        '/v1/kv/kept/cas',
        '{"expected":"committed","value":"x"}',
      );
      assert.equal(cas.status, 504);
      assert.equal(cas.body.outcome, 'unknown');
      const read = await call(base, 'GET', '/v1/kv/kept');
      assert.equal(read.status, 504, JSON.stringify(read.body));
      assert.equal(read.body.code, 'REQUEST_TIMEOUT');
      assert.equal(read.body.outcome, 'not-applied');
      const local = await call(base, 'GET', '/v1/kv/kept?consistency=local');
      assert.equal(local.status, 200);
      assert.equal(local.body.value, 'committed');
      assert.equal(n1.status().role, 'leader');
    });
  });

  it('a client that goes away does not cancel its request: the write is proposed anyway and the request runs to its timeout', async () => {
    await withIsolatedLeader(1_000, async (n1, base) => {
      const lastIndex = n1.status().lastIndex;
      const controller = new AbortController();
      const abandoned = fetch(`${base}/v1/kv/abandoned`, {
        method: 'PUT',
        body: 'written anyway',
        signal: controller.signal,
      }).then(
        () => 'answered',
        (error: unknown) => (error as Error).name,
      );
      await waitFor('the write to wait in the replica', () =>
        n1.status().pendingRequestCount === 1 ? true : undefined,
      );
      controller.abort();
      assert.equal(await abandoned, 'AbortError');
      // The proposal is in the leader's log (it may commit once a quorum is back).
      assert.ok(n1.status().lastIndex > lastIndex);
      // The request ends with its timeout; its answer goes nowhere and breaks nothing.
      await waitFor('the request to time out', () =>
        n1.status().pendingRequestCount === 0 ? true : undefined,
      );
      const local = await call(base, 'GET', '/v1/kv/kept?consistency=local');
      assert.equal(local.status, 200);
      assert.equal(local.body.value, 'committed');
    });
  });
});
