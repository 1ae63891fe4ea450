/**
 * The HTTP plumbing that the store's JSON APIs ({@link RaftHttpApi}, {@link StoreHttpApi})
 * share: listening, reading a body under a byte limit, parsing and sending JSON, and
 * turning errors into status codes. Each API keeps its own routes and its own mapping of
 * its domain errors.
 *
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  isDistkitError,
  isInvalidArgumentError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';

/** A failure answered as is: a status, a JSON body and optional headers. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: { readonly code: string; readonly message: string } & Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(body.message);
  }
}

/** The options both APIs' `listen` take. */
export interface HttpListenOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 lets the system pick. */
  readonly port: number;
  /** Largest request body, in bytes; each API has its own default. */
  readonly bodyBytesMax?: number;
}

/** Checks the options of an API's `listen` (`what` names them in errors). */
export function checkListenOptions(
  what: string,
  options: HttpListenOptions,
  bodyBytesMaxDefault: number,
): { readonly host: string; readonly port: number; readonly bodyBytesMax: number } {
  const checked = requireOptions<HttpListenOptions>(what, options);
  const host = requireString('options.host', checked.host ?? '127.0.0.1');
  const port = requireInteger('options.port', checked.port, { min: 0, max: 65_535 });
  const bodyBytesMax = requireInteger(
    'options.bodyBytesMax',
    checked.bodyBytesMax ?? bodyBytesMaxDefault,
    { min: 1 },
  );
  return { host, port, bodyBytesMax };
}

/** Maps the errors one API knows to its answers; `undefined` for any other error. */
export type ErrorAnswer = (error: unknown) => HttpFailure | undefined;

/**
 * Serves `route` on `server` and resolves once it listens. A request whose route fails
 * before answering gets {@link sendError}'s answer.
 */
export async function serveRoutes(
  server: Server,
  host: string,
  port: number,
  route: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  answerOf: ErrorAnswer,
): Promise<void> {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendError(response, error, answerOf);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Where `server` listens. */
export function addressOf(server: Server): { readonly host: string; readonly port: number } {
  const info = server.address() as AddressInfo;
  return { host: info.address, port: info.port };
}

/** Stops accepting connections and closes open ones; resolves when all are closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Reads the request body; over `bytesMax` bytes (declared or received) it rejects with a
 * 413 {@link HttpFailure} that closes the connection.
 */
export function readBody(request: IncomingMessage, bytesMax: number): Promise<Buffer> {
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
  return new HttpFailure(
    413,
    { code: 'BODY_TOO_LARGE', message: `The request body is over ${bytesMax} bytes.` },
    { connection: 'close' },
  );
}

/** Parses a body that must be a JSON object; 400 `INVALID_JSON` otherwise. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
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
  return value as Record<string, unknown>;
}

/** Answers `status` with `body` as JSON. */
export function send(
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

/**
 * Answers a failed request: an {@link HttpFailure} as is, then what `answerOf` maps, then
 * 400 for an invalid argument, 500 with the code for another distkit error, and 500
 * `INTERNAL` for anything else.
 */
export function sendError(response: ServerResponse, error: unknown, answerOf: ErrorAnswer): void {
  const failure = error instanceof HttpFailure ? error : answerOf(error);
  if (failure !== undefined) {
    send(response, failure.status, failure.body, failure.headers);
  } else if (isInvalidArgumentError(error)) {
    send(response, 400, { code: error.code, message: error.message });
  } else if (isDistkitError(error)) {
    send(response, 500, { code: error.code, message: error.message });
  } else {
    send(response, 500, { code: 'INTERNAL', message: 'Internal error; see the server log.' });
  }
}

/**
 * Decodes the percent-encoded key of a path; 400 `INVALID_KEY` otherwise (the request's
 * body is discarded first).
 */
export function decodeKey(encoded: string, request: IncomingMessage): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    request.resume();
    throw new HttpFailure(400, {
      code: 'INVALID_KEY',
      message: 'The key is not valid percent-encoding.',
    });
  }
}

/** 405 `METHOD_NOT_ALLOWED` for `method` on `path`. */
export function methodNotAllowed(method: string, path: string): HttpFailure {
  return new HttpFailure(405, {
    code: 'METHOD_NOT_ALLOWED',
    message: `${method} is not allowed on ${path}.`,
  });
}

/** The path and the query of a request. */
export function pathAndQuery(request: IncomingMessage): {
  readonly path: string;
  readonly query: URLSearchParams;
} {
  const url = request.url ?? '/';
  const queryStart = url.indexOf('?');
  return {
    path: queryStart < 0 ? url : url.slice(0, queryStart),
    query: new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1)),
  };
}
