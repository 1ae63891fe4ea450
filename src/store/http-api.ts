/**
 * The HTTP API of a {@link RaftReplica}: JSON over HTTP/1.1 with keep-alive, so any
 * language's HTTP client can use the store.
 *
 * | method and path | body | answer |
 * |---|---|---|
 * | `PUT /v1/kv/{key}` | the value, raw UTF-8 | 200 `{"index","previous"}` |
 * | `GET /v1/kv/{key}?consistency=linearizable\|lease\|local` | | 200 `{"value","index"}`, 404 `{"code":"KEY_NOT_FOUND","index"}` |
 * | `DELETE /v1/kv/{key}` | | 200 `{"index","previous"}` |
 * | `POST /v1/kv/{key}/cas` | `{"expected": string\|null, "value": string}` | 200 `{"index","swapped","current"}` |
 * | `GET /v1/status` | | 200 the replica's status |
 * | `POST /v1/membership` | `{"voters": [...], "learners": [...], "addresses": {"id": "host:port"}}` | 200 `{"index"}` |
 * | `POST /v1/leadership` | `{"to": "id"}` | 202 `{}` |
 *
 * Failures are JSON `{"code","message",...}`: 400 bad input, 404 unknown path, 413 body
 * too large, 503 unavailable (nothing applied; `Retry-After` set, `leader` named when
 * known), 504 timed out (`outcome: "unknown"` for writes: they may still commit).
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../core/index.js';
import {
  isReplicaClosedError,
  isReplicaUnavailableError,
  isRequestTimeoutError,
} from './errors.js';
import {
  addressOf,
  checkListenOptions,
  closeServer,
  decodeKey,
  HttpFailure,
  methodNotAllowed,
  parseJsonObject,
  pathAndQuery,
  readBody,
  send,
  serveRoutes,
} from './http-support.js';
import { type RaftReplica, type ReadConsistency, readConsistencies } from './raft-replica.js';

/** Options of {@link RaftHttpApi.listen}. */
export interface RaftHttpApiOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 lets the system pick (read {@link RaftHttpApi.address}). */
  readonly port: number;
  /** Largest request body, in bytes. Default the replica's `valueBytesMax` + 64 KiB. */
  readonly bodyBytesMax?: number;
}

/** The fields the API's JSON bodies may carry; each route checks the ones it reads. */
interface JsonBody {
  readonly expected?: unknown;
  readonly value?: unknown;
  readonly voters?: unknown;
  readonly learners?: unknown;
  readonly addresses?: unknown;
  readonly to?: unknown;
}

/** The answers for the replica's own errors. */
function answerOf(error: unknown): HttpFailure | undefined {
  if (isReplicaUnavailableError(error)) {
    return new HttpFailure(
      503,
      { code: error.code, reason: error.reason, leader: error.leaderId, message: error.message },
      { 'retry-after': '1' },
    );
  }
  if (isRequestTimeoutError(error)) {
    return new HttpFailure(504, {
      code: error.code,
      outcome: error.outcome,
      message: error.message,
    });
  }
  if (isReplicaClosedError(error)) {
    return new HttpFailure(
      503,
      { code: error.code, message: error.message },
      { 'retry-after': '1' },
    );
  }
  return undefined;
}

const kvPrefix = '/v1/kv/';

/**
 * The HTTP front of one replica. Every request that reaches Raft is bounded by the
 * replica's request timeout and its pending-request limit. A client that disconnects
 * does not cancel its request (a write may commit anyway); its answer is dropped.
 *
 * @example
 * ```ts
 * const api = await RaftHttpApi.listen(replica, { host: '127.0.0.1', port: 8001 });
 * // curl -X PUT --data hello http://127.0.0.1:8001/v1/kv/greeting
 * await api.close();
 * ```
 */
export class RaftHttpApi {
  readonly #server: Server;
  readonly #replica: RaftReplica;
  readonly #bodyBytesMax: number;

  private constructor(replica: RaftReplica, server: Server, bodyBytesMax: number) {
    this.#replica = replica;
    this.#server = server;
    this.#bodyBytesMax = bodyBytesMax;
  }

  /** Starts listening; resolves once the port is bound. */
  static async listen(replica: RaftReplica, options: RaftHttpApiOptions): Promise<RaftHttpApi> {
    const { host, port, bodyBytesMax } = checkListenOptions(
      'RaftHttpApi options',
      options,
      replica.valueBytesMax + 64 * 1024,
    );
    const server = createServer();
    const api = new RaftHttpApi(replica, server, bodyBytesMax);
    await serveRoutes(
      server,
      host,
      port,
      (request, response) => api.#route(request, response),
      answerOf,
    );
    return api;
  }

  /** Where the API listens. */
  get address(): { readonly host: string; readonly port: number } {
    return addressOf(this.#server);
  }

  /** Stops accepting connections and closes idle ones; resolves when all are closed. */
  close(): Promise<void> {
    return closeServer(this.#server);
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { path, query } = pathAndQuery(request);
    const method = request.method ?? 'GET';
    const replica = this.#replica;
    if (path.startsWith(kvPrefix) && path.length > kvPrefix.length) {
      const rest = path.slice(kvPrefix.length);
      if (method === 'POST' && rest.endsWith('/cas')) {
        const key = decodeKey(rest.slice(0, -'/cas'.length), request);
        const body = parseJsonObject(await readBody(request, this.#bodyBytesMax)) as JsonBody;
        const expected = body.expected ?? null;
        if (expected !== null && typeof expected !== 'string') {
          throw new InvalidArgumentError('expected', 'expected must be a string or null.');
        }
        if (typeof body.value !== 'string') {
          throw new InvalidArgumentError('value', 'value must be a string.');
        }
        const result = await replica.compareAndSet(key, expected, body.value);
        send(response, 200, result);
        return;
      }
      const key = decodeKey(rest, request);
      if (method === 'PUT') {
        const body = await readBody(request, this.#bodyBytesMax);
        send(response, 200, await replica.put(key, body.toString('utf8')));
        return;
      }
      if (method === 'GET') {
        const consistency = query.get('consistency');
        if (consistency !== null && !readConsistencies.includes(consistency as ReadConsistency)) {
          throw new InvalidArgumentError(
            'consistency',
            `consistency must be one of ${readConsistencies.join(', ')}; got ${consistency}.`,
          );
        }
        const result = await replica.get(key, {
          consistency: (consistency ?? 'linearizable') as ReadConsistency,
        });
        if (result.value === null) {
          send(response, 404, { code: 'KEY_NOT_FOUND', index: result.index });
        } else {
          send(response, 200, result);
        }
        return;
      }
      if (method === 'DELETE') {
        send(response, 200, await replica.delete(key));
        return;
      }
      throw methodNotAllowed(method, path);
    }
    if (path === '/v1/status') {
      if (method !== 'GET') {
        throw methodNotAllowed(method, path);
      }
      send(response, 200, replica.status());
      return;
    }
    if (path === '/v1/membership') {
      if (method !== 'POST') {
        throw methodNotAllowed(method, path);
      }
      const body = parseJsonObject(await readBody(request, this.#bodyBytesMax)) as JsonBody;
      const change = {
        voters: body.voters as string[],
        ...(body.learners === undefined ? {} : { learners: body.learners as string[] }),
        ...(body.addresses === undefined
          ? {}
          : { addresses: body.addresses as Record<string, string> }),
      };
      send(response, 200, await replica.changeMembership(change));
      return;
    }
    if (path === '/v1/leadership') {
      if (method !== 'POST') {
        throw methodNotAllowed(method, path);
      }
      const body = parseJsonObject(await readBody(request, this.#bodyBytesMax)) as JsonBody;
      await replica.transferLeadership(body.to as string);
      send(response, 202, {});
      return;
    }
    request.resume();
    throw new HttpFailure(404, { code: 'NOT_FOUND', message: `No route for ${method} ${path}.` });
  }
}
