/**
 * distkit/net: round trips per second over loopback between two `TcpTransport`s (HMAC
 * handshake done once, MessagePack frames, one corked write per event-loop turn), side by
 * side with what a Node.js team writes first: a plain `node:net` socket pair carrying
 * newline-delimited JSON, with no authentication, limits or reconnection.
 *
 * Each message is a Raft-like append: a term, an index and a 256-byte payload (bytes for
 * distkit, base64 text for JSON, which cannot carry bytes). The receiver echoes every
 * message back; an iteration ends when every echo has arrived.
 *
 * - pipelined: 1,000 messages sent at once, 1,000 echoes awaited (throughput);
 * - one at a time: 100 round trips, each sent when the previous echo arrived (latency).
 *
 * Run with `npm run bench net`.
 */

import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type ReceivedMessage, TcpTransport } from 'distkit/net';
import { runBenchmarks } from './harness.js';

const host = '127.0.0.1';
const secret = 'bench-cluster-secret-0123456789ab';
const payload = new Uint8Array(256).map((_, index) => index);
const payloadText = Buffer.from(payload).toString('base64');
const pipelinedCount = 1_000;
const sequentialCount = 100;

// ---- distkit ------------------------------------------------------------------------

const a = new TcpTransport({ id: 'a', listen: { host, port: 0 }, secret });
const b = new TcpTransport({ id: 'b', listen: { host, port: 0 }, secret });
await a.start();
await b.start();
a.addPeer('b', { host, port: b.address?.port ?? 0 });
b.addPeer('a', { host, port: a.address?.port ?? 0 });
b.onMessage(({ message }: ReceivedMessage) => {
  b.send('a', message);
});

let distkitReceived = 0;
let distkitTarget = 0;
let distkitDone: (() => void) | undefined;
let distkitNext: (() => void) | undefined;
a.onMessage(() => {
  distkitReceived += 1;
  if (distkitReceived === distkitTarget) {
    distkitDone?.();
  } else {
    distkitNext?.();
  }
});

function distkitMessage(index: number) {
  return { type: 'append', term: 7, index, payload };
}

function distkitPipelined(): Promise<number> {
  distkitReceived = 0;
  distkitTarget = pipelinedCount;
  distkitNext = undefined;
  const done = new Promise<number>((resolve) => {
    distkitDone = () => resolve(distkitReceived);
  });
  for (let index = 0; index < pipelinedCount; index += 1) {
    a.send('b', distkitMessage(index));
  }
  return done;
}

function distkitSequential(): Promise<number> {
  distkitReceived = 0;
  distkitTarget = sequentialCount;
  let sent = 0;
  const done = new Promise<number>((resolve) => {
    distkitDone = () => resolve(distkitReceived);
  });
  distkitNext = () => {
    sent += 1;
    a.send('b', distkitMessage(sent));
  };
  a.send('b', distkitMessage(0));
  return done;
}

// ---- plain net + newline-delimited JSON ----------------------------------------------

function lines(socket: Socket, onLine: (line: string) => void): void {
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      onLine(part);
    }
  });
}

const echoServer: Server = createServer({ noDelay: true }, (socket) => {
  lines(socket, (line) => {
    const message = JSON.parse(line) as unknown;
    socket.write(`${JSON.stringify(message)}\n`);
  });
});
await new Promise<void>((resolve) => echoServer.listen(0, host, resolve));
const echoAddress = echoServer.address();
const client = netConnect({
  host,
  port: typeof echoAddress === 'object' && echoAddress !== null ? echoAddress.port : 0,
  noDelay: true,
});
await new Promise<void>((resolve) => client.once('connect', () => resolve()));

let jsonReceived = 0;
let jsonTarget = 0;
let jsonDone: (() => void) | undefined;
let jsonNext: (() => void) | undefined;
lines(client, (line) => {
  JSON.parse(line);
  jsonReceived += 1;
  if (jsonReceived === jsonTarget) {
    jsonDone?.();
  } else {
    jsonNext?.();
  }
});

function jsonLine(index: number): string {
  return `${JSON.stringify({ type: 'append', term: 7, index, payload: payloadText })}\n`;
}

function jsonPipelined(): Promise<number> {
  jsonReceived = 0;
  jsonTarget = pipelinedCount;
  jsonNext = undefined;
  const done = new Promise<number>((resolve) => {
    jsonDone = () => resolve(jsonReceived);
  });
  for (let index = 0; index < pipelinedCount; index += 1) {
    client.write(jsonLine(index));
  }
  return done;
}

function jsonSequential(): Promise<number> {
  jsonReceived = 0;
  jsonTarget = sequentialCount;
  let sent = 0;
  const done = new Promise<number>((resolve) => {
    jsonDone = () => resolve(jsonReceived);
  });
  jsonNext = () => {
    sent += 1;
    client.write(jsonLine(sent));
  };
  client.write(jsonLine(0));
  return done;
}

// Both sides connected before measuring.
while (!a.isConnected('b') || !b.isConnected('a')) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}

await runBenchmarks({
  module: 'net',
  comparisons: [
    {
      title: `Loopback: ${pipelinedCount} pipelined round trips of a 256-byte append`,
      unit: { name: 'round trip', countPerIteration: pipelinedCount },
      distkit: { name: 'distkit TcpTransport (MessagePack, HMAC)', run: distkitPipelined },
      peers: [{ name: 'node:net + newline-delimited JSON', run: jsonPipelined }],
    },
    {
      title: `Loopback: ${sequentialCount} round trips one at a time`,
      unit: { name: 'round trip', countPerIteration: sequentialCount },
      distkit: { name: 'distkit TcpTransport (MessagePack, HMAC)', run: distkitSequential },
      peers: [{ name: 'node:net + newline-delimited JSON', run: jsonSequential }],
    },
  ],
});

client.destroy();
await new Promise<void>((resolve) => echoServer.close(() => resolve()));
await Promise.all([a.close(), b.close()]);
