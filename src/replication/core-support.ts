/**
 * Pieces every replication mode's core shares, internal to `distkit/replication`.
 *
 * @module
 */

import type { ClientEnvelope, PeerEnvelope, ReplicaOutput, ReplicaReply } from './protocol.js';

/**
 * What a replica has produced since the driver last called `drain()`:
 * the peer messages to send and the client replies to give, in the order produced.
 * Each mode keeps one and hands it over whole on `drain()`.
 */
export class ReplicaOutbox {
  #messages: PeerEnvelope[] = [];
  #replies: ClientEnvelope[] = [];

  /** Queues `message` for the peer `to`. */
  send(to: string, message: unknown): void {
    this.#messages.push({ to, message });
  }

  /** Queues `reply` for the client node `to`. */
  reply(to: string, reply: ReplicaReply): void {
    this.#replies.push({ to, reply });
  }

  /** Everything queued since the last call; the outbox starts empty again. */
  drain(): ReplicaOutput {
    const output = { messages: this.#messages, replies: this.#replies };
    this.#messages = [];
    this.#replies = [];
    return output;
  }
}
