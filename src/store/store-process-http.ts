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
 * offers. Failures are JSON `{"code","message",...}`: 400 bad input (an unknown level, a
 * bad key), 404 unknown path, 405, 413 body too large, 422
 * `CONSISTENCY_LEVEL_UNSUPPORTED` (the mode cannot give that level; `levelsOffered`
 * lists those it can), 503 `UNAVAILABLE` with `Retry-After` (nothing was applied; a retry
 * is safe), 504 `OUTCOME_UNKNOWN` (a write that may or may not have taken effect).
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  isDistkitError,
  isInvalidArgumentError,
  isLimitExceededError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import type { StoreRequestOptions, StoreResult } from './sharded-client.js';
import {
  type ConsistencyLevel,
  consistencyLevels,
  isConsistencyLevelUnsupportedError,
  levelsOffered,
} from './sharded-store.js';
import type { StoreProcess } from './store-process.js';

/** Options of {@link StoreHttpApi.listen}. */
export interface StoreHttpApiOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 lets the system pick (read {@link StoreHttpApi.address}). */
  readonly port: number;
  /** Largest request body, in bytes. Default 65,536 (the modes' largest value by default). */
  readonly bodyBytesMax?: number;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: { readonly code: string; readonly message: string } & Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(body.message);
  }
}

const kvPrefix = '/v1/kv/';

function readBody(request: IncomingMessage, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = new HttpFailure(
      413,
      { code: 'BODY_TOO_LARGE', message: `The request body is over ${bytesMax} bytes.` },
      { connection: 'close' },
    );
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > bytesMax) {
      request.resume();
      reject(tooLarge);
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > bytesMax) {
        request.pause();
        request.removeAllListeners('data');
        reject(tooLarge);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof HttpFailure) {
    send(response, error.status, error.body, error.headers);
  } else if (isConsistencyLevelUnsupportedError(error)) {
    send(response, 422, {
      code: error.code,
      level: error.level,
      mode: error.mode,
      levelsOffered: levelsOffered(error.mode),
      message: error.message,
    });
  } else if (isInvalidArgumentError(error)) {
    send(response, 400, { code: error.code, message: error.message });
  } else if (isLimitExceededError(error)) {
    send(
      response,
      503,
      { code: 'UNAVAILABLE', reason: 'overloaded', message: error.message },
      { 'retry-after': '1' },
    );
  } else if (isDistkitError(error)) {
    send(response, 500, { code: error.code, message: error.message });
  } else {
    send(response, 500, { code: 'INTERNAL', message: 'Internal error; see the server log.' });
  }
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
    const checked = requireOptions<StoreHttpApiOptions>('StoreHttpApi options', options);
    const host = requireString('options.host', checked.host ?? '127.0.0.1');
    const port = requireInteger('options.port', checked.port, { min: 0, max: 65_535 });
    const bodyBytesMax = requireInteger('options.bodyBytesMax', checked.bodyBytesMax ?? 65_536, {
      min: 1,
    });
    const server = createServer();
    const api = new StoreHttpApi(node, server, bodyBytesMax);
    server.on('request', (request, response) => api.#handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return api;
  }

  /** Where the API listens. */
  get address(): { readonly host: string; readonly port: number } {
    const info = this.#server.address() as AddressInfo;
    return { host: info.address, port: info.port };
  }

  /** Stops accepting connections and closes open ones; resolves when all are closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    this.#route(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendError(response, error);
      }
    });
  }

  #requestOptions(query: URLSearchParams): StoreRequestOptions {
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
    };
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    const query = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1));
    const method = request.method ?? 'GET';
    if (path.startsWith(kvPrefix) && path.length > kvPrefix.length) {
      let key: string;
      try {
        key = decodeURIComponent(path.slice(kvPrefix.length));
      } catch {
        request.resume();
        throw new HttpFailure(400, {
          code: 'INVALID_KEY',
          message: 'The key is not valid percent-encoding.',
        });
      }
      if (method === 'PUT') {
        const body = await readBody(request, this.#bodyBytesMax);
        const options = this.#requestOptions(query);
        const result = await this.#node.write(key, body.toString('utf8'), options);
        if (result.status !== 'ok') {
          throw failureOf(result);
        }
        send(response, 200, { key, replica: result.replica, attemptCount: result.attemptCount });
        return;
      }
      if (method === 'GET') {
        const result = await this.#node.read(key, this.#requestOptions(query));
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
        send(response, body.value === null ? 404 : 200, {
          ...(body.value === null ? { code: 'KEY_NOT_FOUND' } : {}),
          ...body,
        });
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

function methodNotAllowed(method: string, path: string): HttpFailure {
  return new HttpFailure(405, {
    code: 'METHOD_NOT_ALLOWED',
    message: `${method} is not allowed on ${path}.`,
  });
}
