/**
 * Shared helpers of the store tests: free loopback ports, temporary data folders, and a
 * cluster of in-process replicas with fast ticks.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAddress } from '../../src/net/index.js';
import { RaftReplica, type RaftReplicaOptions } from '../../src/store/index.js';

/** The cluster secret every test node shares. */
export const testSecret = 'distkit store test secret, 16+ bytes';

/** `count` TCP ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  return ports;
}

/** A temporary folder, removed by the returned function. */
export function temporaryFolder(prefix = 'distkit-store-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A cluster of in-process replicas n1..nN on loopback, each with a folder under `root`. */
export class TestCluster {
  readonly replicas = new Map<string, RaftReplica>();

  private constructor(
    readonly root: string,
    readonly peers: Record<string, PeerAddress>,
    readonly options: Partial<RaftReplicaOptions>,
    /** Options of single nodes, over `options`; kept for every reopen. */
    readonly nodeOptions: Record<string, Partial<RaftReplicaOptions>> = {},
  ) {}

  static async start(
    root: string,
    size: number,
    options: Partial<RaftReplicaOptions> = {},
    nodeOptions: Record<string, Partial<RaftReplicaOptions>> = {},
  ): Promise<TestCluster> {
    const ports = await freePorts(size);
    const peers: Record<string, PeerAddress> = {};
    ports.forEach((port, position) => {
      peers[`n${position + 1}`] = { host: '127.0.0.1', port };
    });
    const cluster = new TestCluster(root, peers, options, { ...nodeOptions });
    await Promise.all(Object.keys(peers).map((id) => cluster.open(id)));
    return cluster;
  }

  /** Opens (or reopens after `stop`) the replica `id` on its folder. */
  async open(id: string): Promise<RaftReplica> {
    const replica = await RaftReplica.open({
      id,
      peers: this.peers,
      directory: join(this.root, id),
      secret: testSecret,
      tickMs: 10,
      requestTimeoutMs: 3_000,
      ...this.options,
      ...this.nodeOptions[id],
    });
    this.replicas.set(id, replica);
    return replica;
  }

  /**
   * Starts a new node `id` with `join: true` on a free port, its `peers` holding its own
   * address and the members'. It serves nothing until the leader adds it
   * (`changeMembership` with {@link TestCluster.address} of it).
   */
  async join(id: string): Promise<RaftReplica> {
    const [port] = await freePorts(1);
    this.peers[id] = { host: '127.0.0.1', port: port as number };
    this.nodeOptions[id] = { ...this.nodeOptions[id], join: true };
    return this.open(id);
  }

  /** The Raft address of `id` as `host:port`, as `changeMembership` takes it. */
  address(id: string): string {
    const address = this.peers[id];
    if (address === undefined) {
      throw new Error(`no node ${id} in this cluster`);
    }
    return `${address.host}:${address.port}`;
  }

  /** Closes the replica `id` (its folder stays). */
  async stop(id: string): Promise<void> {
    const replica = this.replicas.get(id);
    this.replicas.delete(id);
    await replica?.close();
  }

  /** Waits (bounded) until one running replica leads and every running one knows it. */
  async leader(timeoutMs = 10_000): Promise<RaftReplica> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const running = [...this.replicas.values()];
      const leaders = running.filter((replica) => replica.status().role === 'leader');
      if (
        leaders.length === 1 &&
        running.every((replica) => replica.leader === (leaders[0] as RaftReplica).id)
      ) {
        return leaders[0] as RaftReplica;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no single leader within ${timeoutMs} ms`);
  }

  /**
   * Moves leadership to `to` and returns it once every running replica follows it. A
   * transfer the target does not finish within the leader's election timeout is dropped
   * by Raft, so a slow machine may need another: this asks again (bounded).
   */
  async transferLeadership(to: string, timeoutMs = 10_000): Promise<RaftReplica> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.leader(Math.max(1, deadline - Date.now()));
      if (leader.id === to) {
        return leader;
      }
      if (Date.now() >= deadline) {
        throw new Error(`leadership did not move to ${to} within ${timeoutMs} ms`);
      }
      // Refused while a transfer runs (already-transferring): wait and look again.
      await leader.transferLeadership(to).catch(() => undefined);
      const asked = Date.now();
      while (Date.now() - asked < 1_000 && this.replicas.get(to)?.status().role !== 'leader') {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.replicas.keys()].map((id) => this.stop(id)));
  }
}

/**
 * Polls `probe` every 10 ms until it returns something other than `undefined` (or
 * resolves to it), and returns that; throws, naming `what`, after `timeoutMs`. Errors
 * thrown by `probe` count as "not yet" and the last one is reported.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `count` consecutive ports, from `from` or a random start, free on 127.0.0.1 a moment ago. */
export async function consecutiveFreePorts(count: number, from?: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base =
      from !== undefined && attempt === 0 ? from : 20_000 + Math.floor(Math.random() * 40_000);
    const servers: ReturnType<typeof createServer>[] = [];
    let free = true;
    for (let offset = 0; offset < count && free; offset += 1) {
      const server = createServer();
      free = await new Promise<boolean>((resolveListen) => {
        server.once('error', () => resolveListen(false));
        server.listen(base + offset, '127.0.0.1', () => resolveListen(true));
      });
      servers.push(server);
    }
    await Promise.all(
      servers.map(
        (server) => new Promise<void>((resolveClose) => server.close(() => resolveClose())),
      ),
    );
    if (free) {
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
