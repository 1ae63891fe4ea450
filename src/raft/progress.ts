/**
 * What a leader knows about each follower's log, and the flow control of appends to it.
 *
 * - `probe`: the leader does not know where the follower's log matches; it sends one
 *   append at a time and waits for the answer.
 * - `replicate`: the logs match up to `matchIndex`; the leader streams appends
 *   optimistically (pipelining), at most `inflightMessageCountMax` messages and
 *   `inflightBytesMax` bytes unacknowledged.
 * - `snapshot`: the entries the follower needs are compacted; a snapshot is on its way.
 *
 * @module
 */

import { assert } from '../core/index.js';

/** The replication state of one follower. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower. */
export class Progress {
  matchIndex = 0;
  nextIndex: number;
  state: ProgressState = 'probe';
  /** In `snapshot` state: the index of the snapshot being sent. */
  pendingSnapshotIndex = 0;
  /** In `snapshot` state: the next chunk offset the follower asked for. */
  snapshotOffset = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /**
   * The leader's tick count when it sent the latest heartbeat this follower answered:
   * the follower ignores other candidates for `electionTicks` after receiving it.
   */
  leaseSentAtTick = Number.MIN_SAFE_INTEGER;
  /** The highest commit index an append to this follower carried. */
  commitIndexSent = 0;
  /** In `probe` state: an append is out and unanswered. */
  probeSent = false;
  readonly #inflightIndexes: number[] = [];
  readonly #inflightSizes: number[] = [];
  #inflightBytes = 0;

  constructor(
    nextIndex: number,
    readonly inflightMessageCountMax: number,
    readonly inflightBytesMax: number,
  ) {
    this.nextIndex = nextIndex;
  }

  /** Messages in flight (replicate state). */
  get inflightCount(): number {
    return this.#inflightIndexes.length;
  }

  /** Bytes in flight (replicate state). */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** True when no more appends may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return (
          this.#inflightIndexes.length >= this.inflightMessageCountMax ||
          this.#inflightBytes >= this.inflightBytesMax
        );
      case 'snapshot':
        return true;
    }
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.snapshotOffset = 0;
    this.#inflightIndexes.length = 0;
    this.#inflightSizes.length = 0;
    this.#inflightBytes = 0;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshotIndex;
      this.#reset('probe');
      this.nextIndex = Math.max(this.matchIndex + 1, pending + 1);
    } else {
      this.#reset('probe');
      this.nextIndex = this.matchIndex + 1;
    }
  }

  becomeReplicate(): void {
    this.#reset('replicate');
    this.nextIndex = this.matchIndex + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#reset('snapshot');
    this.pendingSnapshotIndex = snapshotIndex;
  }

  /** Records an append sent with entries up to `lastIndex` (`bytes` in total). */
  sentEntries(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.nextIndex = lastIndex + 1;
        this.#inflightIndexes.push(lastIndex);
        this.#inflightSizes.push(bytes);
        this.#inflightBytes += bytes;
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, 'sending entries to a follower in snapshot state');
    }
  }

  /** An acknowledgement up to `index`: true when it moved `matchIndex` forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.matchIndex < index) {
      this.matchIndex = index;
      updated = true;
      this.probeSent = false;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    let freed = 0;
    while (
      freed < this.#inflightIndexes.length &&
      (this.#inflightIndexes[freed] as number) <= index
    ) {
      this.#inflightBytes -= this.#inflightSizes[freed] as number;
      freed += 1;
    }
    this.#inflightIndexes.splice(0, freed);
    this.#inflightSizes.splice(0, freed);
    return updated;
  }

  /**
   * A rejection of the append after `rejectedIndex`; `probeIndex` is where the hint says
   * to probe next. False when the rejection is stale (an answer to an older append).
   */
  maybeDecreaseTo(rejectedIndex: number, probeIndex: number): boolean {
    if (this.state === 'replicate') {
      if (rejectedIndex <= this.matchIndex) {
        return false;
      }
      this.nextIndex = this.matchIndex + 1;
      return true;
    }
    if (this.nextIndex - 1 !== rejectedIndex) {
      return false;
    }
    this.nextIndex = Math.max(Math.min(rejectedIndex, probeIndex + 1), this.matchIndex + 1, 1);
    this.probeSent = false;
    return true;
  }
}
