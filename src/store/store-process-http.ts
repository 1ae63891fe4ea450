/**
 * The HTTP API of a {@link StoreProcess}: JSON over HTTP/1.1 with keep-alive. Any node
 * answers for any key: its in-process `StoreClient` routes the request to the key's shard
 * and to the replica the consistency level calls for.
 *
 * | method and path | body | answer |
 * |---|---|---|
 * | `PUT /v1/kv/{key}?consistency=LEVEL` | the value, raw UTF-8 | 200 `{"key","replica","attemptCount"}` |
 * | `GET /v1/kv/{key}?consistency=LEVEL[&stalenessMsMax=N]` | | 200 `{"key","value","siblings"?,"replica","stalenessMs"?,"attemptCount"}`, 404 `{"code":"KEY_NOT_FOUND"}` |
 * | `GET /v1/status` | | 200 the node's {@link StoreProcessStatus} |
 *
 * `LEVEL` is a consistency level of the store; without it, the strongest level the mode
 * offers.
 *
 * Sessions: a request without a `Distkit-Session` header uses the node's own session, so
 * read-your-writes and monotonic reads hold for the clients of one node taken together.
 * A client that wants a session of its own sends the header (empty the first time): the
 * request then uses that session, and a 200 answer carries the session advanced by it in
 * its own `Distkit-Session` header, to send with the next request, to any node. A header
 * that is not a session is refused with 400 `INVALID_ARGUMENT`. Failures are JSON `{"code","message",...}`: 400 bad input (an unknown level, a
 * bad key), 404 unknown path, 405, 413 body too large, 422
 * `CONSISTENCY_LEVEL_UNSUPPORTED` (the mode cannot give that level; `levelsOffered`
 * lists those it can), 503 `UNAVAILABLE` with `Retry-After` (nothing was applied; a retry
 * is safe), 504 `OUTCOME_UNKNOWN` (a write that may or may not have taken effect).
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isLimitExceededError } from '../core/index.js';
import {
  addressOf,
  checkListenOptions,
  closeServer,
  decodeKey,
  HttpFailure,
  methodNotAllowed,
  pathAndQuery,
  readBody,
  send,
  serveRoutes,
} from './http-support.js';
import type { StoreRequestOptions, StoreResult } from './sharded-client.js';
import {
  type ConsistencyLevel,
  consistencyLevels,
  isConsistencyLevelUnsupportedError,
  levelsOffered,
} from './sharded-store.js';
import type { StoreProcess } from './store-process.js';
import { StoreSession } from './store-session.js';

/** Options of {@link StoreHttpApi.listen}. */
export interface StoreHttpApiOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 lets the system pick (read {@link StoreHttpApi.address}). */
  readonly port: number;
  /** Largest request body, in bytes. Default 65,536 (the modes' largest value by default). */
  readonly bodyBytesMax?: number;
}

const kvPrefix = '/v1/kv/';

/** The header that carries a client's own session (see the module's notes). */
export const storeSessionHeader = 'distkit-session';

/** The advanced session of a request that carried one, as response headers. */
function sessionHeaders(options: StoreRequestOptions): Record<string, string> | undefined {
  return options.session === undefined
    ? undefined
    : { [storeSessionHeader]: options.session.toString() };
}

/** The answers for the store's own errors. */
function answerOf(error: unknown): HttpFailure | undefined {
  if (isConsistencyLevelUnsupportedError(error)) {
    return new HttpFailure(422, {
      code: error.code,
      level: error.level,
      mode: error.mode,
      levelsOffered: levelsOffered(error.mode),
      message: error.message,
    });
  }
  if (isLimitExceededError(error)) {
    return new HttpFailure(
      503,
      { code: 'UNAVAILABLE', reason: 'overloaded', message: error.message },
      { 'retry-after': '1' },
    );
  }
  return undefined;
}

/** The answer for a result that is not `ok`. */
function failureOf(result: Exclude<StoreResult, { status: 'ok' }>): HttpFailure {
  if (result.status === 'unavailable') {
    return new HttpFailure(
      503,
      {
        code: 'UNAVAILABLE',
        reason: result.reason,
        attemptCount: result.attemptCount,
        message: `The store could not take the request; nothing was applied, a retry is safe (${result.reason}).`,
      },
      { 'retry-after': '1' },
    );
  }
  return new HttpFailure(504, {
    code: 'OUTCOME_UNKNOWN',
    outcome: 'unknown',
    reason: result.reason,
    attemptCount: result.attemptCount,
    message: `The write may or may not have taken effect (${result.reason}); read the key before writing it again.`,
  });
}

/**
 * The HTTP front of one store node. Every request is bounded by the node's request
 * deadline and its in-flight limit. A client that disconnects does not cancel its
 * request (a write may still take effect); its answer is dropped.
 *
 * @example
 * ```ts
 * const api = await StoreHttpApi.listen(node, { host: '127.0.0.1', port: 8101 });
 * // curl -X PUT --data blue 'http://127.0.0.1:8101/v1/kv/alice?consistency=linearizable'
 * await api.close();
 * ```
 */
export class StoreHttpApi {
  readonly #server: Server;
  readonly #node: StoreProcess;
  readonly #bodyBytesMax: number;
  readonly #defaultLevel: ConsistencyLevel;

  private constructor(node: StoreProcess, server: Server, bodyBytesMax: number) {
    this.#node = node;
    this.#server = server;
    this.#bodyBytesMax = bodyBytesMax;
    this.#defaultLevel = levelsOffered(node.mode)[0] as ConsistencyLevel;
  }

  /** Starts listening; resolves once the port is bound. */
  static async listen(node: StoreProcess, options: StoreHttpApiOptions): Promise<StoreHttpApi> {
    const { host, port, bodyBytesMax } = checkListenOptions(
      'StoreHttpApi options',
      options,
      65_536,
    );
    const server = createServer();
    const api = new StoreHttpApi(node, server, bodyBytesMax);
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

  /** Stops accepting connections and closes open ones; resolves when all are closed. */
  close(): Promise<void> {
    return closeServer(this.#server);
  }

  #requestOptions(query: URLSearchParams, request: IncomingMessage): StoreRequestOptions {
    const sessionHeader = request.headers[storeSessionHeader];
    let session: StoreSession | undefined;
    if (sessionHeader !== undefined) {
      try {
        session = StoreSession.parse(Array.isArray(sessionHeader) ? '\u0000' : sessionHeader);
      } catch (error) {
        throw new HttpFailure(400, {
          code: 'INVALID_ARGUMENT',
          message: `The ${storeSessionHeader} header is not a session the store gave (send it back unchanged, once): ${(error as Error).message}`,
        });
      }
    }
    const level = query.get('consistency') ?? this.#defaultLevel;
    if (!consistencyLevels.includes(level as ConsistencyLevel)) {
      throw new HttpFailure(400, {
        code: 'INVALID_ARGUMENT',
        message: `consistency must be one of ${consistencyLevels.join(', ')}; got ${level}.`,
      });
    }
    const staleness = query.get('stalenessMsMax');
    let stalenessMsMax: number | undefined;
    if (staleness !== null) {
      stalenessMsMax = Number(staleness);
      if (!Number.isFinite(stalenessMsMax) || stalenessMsMax < 0) {
        throw new HttpFailure(400, {
          code: 'INVALID_ARGUMENT',
          message: `stalenessMsMax must be a number of milliseconds, 0 or more; got ${staleness}.`,
        });
      }
    }
    if (level === 'bounded-staleness' && stalenessMsMax === undefined) {
      throw new HttpFailure(400, {
        code: 'INVALID_ARGUMENT',
        message: 'consistency=bounded-staleness needs stalenessMsMax=N (milliseconds).',
      });
    }
    return {
      consistency: level as ConsistencyLevel,
      ...(stalenessMsMax === undefined ? {} : { stalenessMsMax }),
      ...(session === undefined ? {} : { session }),
    };
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { path, query } = pathAndQuery(request);
    const method = request.method ?? 'GET';
    if (path.startsWith(kvPrefix) && path.length > kvPrefix.length) {
      const key = decodeKey(path.slice(kvPrefix.length), request);
      if (method === 'PUT') {
        const body = await readBody(request, this.#bodyBytesMax);
        const options = this.#requestOptions(query, request);
        const result = await this.#node.write(key, body.toString('utf8'), options);
        if (result.status !== 'ok') {
          throw failureOf(result);
        }
        send(
          response,
          200,
          { key, replica: result.replica, attemptCount: result.attemptCount },
          sessionHeaders(options),
        );
        return;
      }
      if (method === 'GET') {
        const options = this.#requestOptions(query, request);
        const result = await this.#node.read(key, options);
        if (result.status !== 'ok') {
          throw failureOf(result);
        }
        const body = {
          key,
          value: result.value ?? null,
          ...(result.siblings === undefined ? {} : { siblings: result.siblings }),
          replica: result.replica,
          ...(result.stalenessMs === undefined ? {} : { stalenessMs: result.stalenessMs }),
          attemptCount: result.attemptCount,
        };
        send(
          response,
          body.value === null ? 404 : 200,
          {
            ...(body.value === null ? { code: 'KEY_NOT_FOUND' } : {}),
            ...body,
          },
          sessionHeaders(options),
        );
        return;
      }
      request.resume();
      throw methodNotAllowed(method, path);
    }
    if (path === '/v1/status') {
      request.resume();
      if (method !== 'GET') {
        throw methodNotAllowed(method, path);
      }
      send(response, 200, this.#node.status());
      return;
    }
    request.resume();
    throw new HttpFailure(404, { code: 'NOT_FOUND', message: `No route for ${method} ${path}.` });
  }
}
