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
import type { AddressInfo } from 'node:net';
import {
  InvalidArgumentError,
  isDistkitError,
  isInvalidArgumentError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import {
  isReplicaClosedError,
  isReplicaUnavailableError,
  isRequestTimeoutError,
} from './errors.js';
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

interface FailureBody {
  readonly code: string;
  readonly message: string;
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

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: FailureBody,
  ) {
    super(body.message);
  }
}

const kvPrefix = '/v1/kv/';

function readBody(request: IncomingMessage, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > bytesMax) {
      reject(bodyTooLarge(bytesMax));
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > bytesMax) {
        // Read no more; the 413 goes out with "Connection: close", which ends the socket.
        request.pause();
        request.removeAllListeners('data');
        reject(bodyTooLarge(bytesMax));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () =>
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
    );
    request.on('error', reject);
  });
}

function bodyTooLarge(bytesMax: number): HttpFailure {
  return new HttpFailure(413, {
    code: 'BODY_TOO_LARGE',
    message: `The request body is over ${bytesMax} bytes.`,
  });
}

function parseJson(body: Buffer): JsonBody {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpFailure(400, { code: 'INVALID_JSON', message: 'The body is not valid JSON.' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpFailure(400, {
      code: 'INVALID_JSON',
      message: 'The body must be a JSON object.',
    });
  }
  return value as JsonBody;
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
    send(
      response,
      error.status,
      error.body,
      error.status === 413 ? { connection: 'close' } : undefined,
    );
  } else if (isInvalidArgumentError(error)) {
    send(response, 400, { code: error.code, message: error.message });
  } else if (isReplicaUnavailableError(error)) {
    send(
      response,
      503,
      { code: error.code, reason: error.reason, leader: error.leaderId, message: error.message },
      { 'retry-after': '1' },
    );
  } else if (isRequestTimeoutError(error)) {
    send(response, 504, { code: error.code, outcome: error.outcome, message: error.message });
  } else if (isReplicaClosedError(error)) {
    send(response, 503, { code: error.code, message: error.message }, { 'retry-after': '1' });
  } else if (isDistkitError(error)) {
    send(response, 500, { code: error.code, message: error.message });
  } else {
    send(response, 500, { code: 'INTERNAL', message: 'Internal error; see the server log.' });
  }
}

function keyOf(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new HttpFailure(400, {
      code: 'INVALID_KEY',
      message: 'The key is not valid percent-encoding.',
    });
  }
}

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
    const checked = requireOptions<RaftHttpApiOptions>('RaftHttpApi options', options);
    const host = requireString('options.host', checked.host ?? '127.0.0.1');
    const port = requireInteger('options.port', checked.port, { min: 0, max: 65_535 });
    const bodyBytesMax = requireInteger(
      'options.bodyBytesMax',
      checked.bodyBytesMax ?? replica.valueBytesMax + 64 * 1024,
      { min: 1 },
    );
    const server = createServer();
    const api = new RaftHttpApi(replica, server, bodyBytesMax);
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

  /** Stops accepting connections and closes idle ones; resolves when all are closed. */
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

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const method = request.method ?? 'GET';
    const replica = this.#replica;
    if (path.startsWith(kvPrefix) && path.length > kvPrefix.length) {
      const rest = path.slice(kvPrefix.length);
      if (method === 'POST' && rest.endsWith('/cas')) {
        const key = keyOf(rest.slice(0, -'/cas'.length));
        const body = parseJson(await readBody(request, this.#bodyBytesMax));
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
      const key = keyOf(rest);
      if (method === 'PUT') {
        const body = await readBody(request, this.#bodyBytesMax);
        send(response, 200, await replica.put(key, body.toString('utf8')));
        return;
      }
      if (method === 'GET') {
        const consistency = new URLSearchParams(query < 0 ? '' : url.slice(query + 1)).get(
          'consistency',
        );
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
      const body = parseJson(await readBody(request, this.#bodyBytesMax));
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
      const body = parseJson(await readBody(request, this.#bodyBytesMax));
      await replica.transferLeadership(body.to as string);
      send(response, 202, {});
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
