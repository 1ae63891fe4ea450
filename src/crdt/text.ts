/**
 * A sequence CRDT for plain text: replicas edit by position, exchange updates in any
 * order, and converge to the same string.
 *
 * The algorithm is YATA (the one Yjs uses): every character has an id `(replica, seq)`
 * and remembers the ids of its neighbours when it was typed, its *left origin* and its
 * *right origin*. A remote insertion goes between its origins; concurrent insertions
 * between the same origins are ordered by the rule in {@link TextDocument}. Deleted
 * characters stay as tombstones without their text, so later insertions can still find
 * their origins.
 *
 * Performance comes from three choices:
 *
 * - Characters typed one after the other by one replica form one *piece* (a run with
 *   one id range, one pair of origins and one string); typing extends the last piece
 *   instead of allocating one per character.
 * - Pieces live in a list of blocks (at most {@link blockPieceCountMax} pieces each)
 *   that cache their visible length, and a cursor remembers the last block used: a
 *   position is found by skipping whole blocks from the cursor, not by walking every
 *   character.
 * - Ids are found through a per-replica array of pieces sorted by seq, searched in
 *   binary, plus a short walk along the replica's chain of pieces (the array grows on
 *   demand when a walk gets long).
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  LimitExceededError,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import { CrdtEncodingError } from './causal.js';
import { isWellFormedText, TextByteReader, TextByteWriter } from './text-encoding.js';

/**
 * The id of a text replica, chosen by the user: a non-empty string of at most
 * {@link textReplicaIdLengthMax} UTF-16 code units, or a non-negative safe integer.
 * Every replica that edits must have an id of its own: two replicas editing under one
 * id produce characters with the same ids, and replicas then diverge.
 */
export type TextReplicaId = string | number;

/** The longest string replica id, in UTF-16 code units. */
export const textReplicaIdLengthMax = 256;

/** Options of {@link TextDocument}. */
export interface TextDocumentOptions {
  /** This replica's id; see {@link TextReplicaId}. */
  readonly replicaId: TextReplicaId;
  /**
   * Most pieces of updates (insertion runs and deletion ranges) held back because
   * something they depend on has not arrived yet. Default 65,536. An update that would
   * hold back more throws {@link LimitExceededError}; what it integrated before stays
   * (a valid state), and the rest can be sent again.
   */
  readonly pendingCountMax?: number;
  /** Most distinct replica ids a document accepts. Default 65,536. */
  readonly replicaCountMax?: number;
}

/** The number of characters of every replica a document has integrated. */
export type TextVersion = ReadonlyMap<TextReplicaId, number>;

const none = -1;
/** A block splits in two when it holds more pieces than this. */
const blockPieceCountMax = 128;
/** A seq lookup that walks more than this many pieces adds the piece it found to the index. */
const seqWalkLengthMax = 8;
const pendingCountMaxDefault = 65_536;
const replicaCountMaxDefault = 65_536;

const updateMagic = 0x54; // 'T'
const versionMagic = 0x56; // 'V'
const formatVersion = 1;
const kindState = 0;
const kindDelta = 1;
/** Set in the kind byte when the text is stored as UTF-16 (it has unpaired surrogates). */
const kindFlagUtf16 = 2;

const flagDeleted = 1;
const flagSameAgent = 2;
const flagSeqExpected = 4;
const flagLeftIsPrevious = 8;
const flagLeftNone = 16;
const flagRightAsPrevious = 32;
const flagRightNone = 64;
const flagRightIsNext = 128;

/** A run of characters with consecutive ids, in the document. */
class Piece {
  agent: number;
  seq: number;
  length: number;
  leftAgent: number;
  leftSeq: number;
  rightAgent: number;
  rightSeq: number;
  deleted: boolean;
  /** The characters; empty once deleted. */
  content: string;
  block: Block;
  /** The piece of the same replica that holds the next seqs. */
  next: Piece | null = null;
  /**
   * Set when this piece was merged into the piece before it (see `#coalesce`); the seq
   * index may still point here and follows it.
   */
  mergedInto: Piece | null = null;

  constructor(
    agent: number,
    seq: number,
    length: number,
    leftAgent: number,
    leftSeq: number,
    rightAgent: number,
    rightSeq: number,
    deleted: boolean,
    content: string,
    block: Block,
  ) {
    this.agent = agent;
    this.seq = seq;
    this.length = length;
    this.leftAgent = leftAgent;
    this.leftSeq = leftSeq;
    this.rightAgent = rightAgent;
    this.rightSeq = rightSeq;
    this.deleted = deleted;
    this.content = content;
    this.block = block;
  }
}

/** Consecutive pieces in document order, with their visible length cached. */
class Block {
  pieces: Piece[] = [];
  visibleLength = 0;
  previous: Block | null = null;
  next: Block | null = null;
}

/** A run of an update: characters not integrated yet. Agents are document indexes. */
class Run {
  constructor(
    readonly agent: number,
    readonly seq: number,
    readonly length: number,
    readonly leftAgent: number,
    readonly leftSeq: number,
    readonly rightAgent: number,
    readonly rightSeq: number,
    readonly deleted: boolean,
    readonly content: string,
  ) {}
}

/** A deletion of `length` ids from `(agent, seq)`. */
interface DeleteRange {
  readonly agent: number;
  readonly seq: number;
  readonly length: number;
}

/** An update as decoded, before it touches any document; agents index `names`. */
interface DecodedUpdate {
  readonly kind: number;
  readonly names: TextReplicaId[];
  /** Not in a document yet: their block is {@link detachedBlock}. */
  readonly runs: Piece[];
  readonly deletes: DeleteRange[];
}

/**
 * Total order of replica ids, the same on every replica: numbers before strings,
 * numbers by value, strings by UTF-16 code units.
 */
export function compareTextReplicaIds(left: TextReplicaId, right: TextReplicaId): number {
  if (typeof left === 'number') {
    if (typeof right === 'number') {
      return left < right ? -1 : left > right ? 1 : 0;
    }
    return -1;
  }
  if (typeof right === 'number') {
    return 1;
  }
  return left < right ? -1 : left > right ? 1 : 0;
}

function isReplicaId(value: unknown): value is TextReplicaId {
  return typeof value === 'string'
    ? value.length > 0 && value.length <= textReplicaIdLengthMax
    : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function requireReplicaId(name: string, value: unknown): TextReplicaId {
  if (!isReplicaId(value)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a non-empty string of at most ${textReplicaIdLengthMax} characters ` +
        `or a non-negative safe integer; got ${describeValue(value)}.`,
    );
  }
  return value;
}

function requireBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a Uint8Array; got ${describeValue(value)}.`,
    );
  }
  return value;
}

/**
 * A replicated plain-text document (YATA sequence CRDT).
 *
 * - Edit locally with {@link TextDocument.insert} and {@link TextDocument.delete}; positions
 *   count UTF-16 code units, like `String.prototype.length`.
 * - Ship changes as updates: {@link TextDocument.encodeUpdate} with the receiver's
 *   {@link TextDocument.encodeVersion} gives what it lacks (without a version: the whole
 *   state); {@link TextDocument.applyUpdate} merges any update or state. Applying is
 *   idempotent and order-independent: an update whose dependencies have not arrived is
 *   held back (see {@link TextDocumentOptions.pendingCountMax}) and integrated as soon as
 *   they do.
 * - Concurrent insertions at one place: each character goes right after its left origin;
 *   among concurrent characters with the same origins, the one from the replica with the
 *   smaller id ({@link compareTextReplicaIds}) comes first, and a run typed by one replica
 *   stays together.
 *
 * @example
 * ```ts
 * const alice = new TextDocument({ replicaId: 'alice' });
 * alice.insert(0, 'hello');
 * const bob = TextDocument.load(alice.encodeState(), { replicaId: 'bob' });
 * alice.insert(5, '!');
 * bob.insert(0, 'oh, ');
 * alice.applyUpdate(bob.encodeUpdate(alice.encodeVersion()));
 * bob.applyUpdate(alice.encodeUpdate(bob.encodeVersion()));
 * alice.toString(); // 'oh, hello!', and the same on bob
 * ```
 */
export class TextDocument {
  readonly #replicaId: TextReplicaId;
  readonly #pendingCountMax: number;
  readonly #replicaCountMax: number;
  #names: TextReplicaId[] = [];
  #agentOfName = new Map<TextReplicaId, number>();
  /** Per agent: the next seq, that is how many of its characters are integrated. */
  #known: number[] = [];
  /** Per agent: pieces sorted by seq (not all of them; see {@link TextDocument.#findPiece}). */
  #seqIndex: Piece[][] = [];
  /** Per agent: the piece holding its highest seq. */
  #lastPiece: (Piece | null)[] = [];
  #head: Block = new Block();
  #length = 0;
  #cursorBlock: Block;
  #cursorStart = 0;
  #foundIndex = 0;
  #foundOffset = 0;
  /** Per agent: runs waiting for an earlier run or an origin. */
  #pendingRuns: Run[][] = [];
  /** Per agent: whether `#pendingRuns` is sorted by seq. */
  #pendingSorted: boolean[] = [];
  /** Per agent: the lowest seq among `#pendingRuns`. */
  #pendingSeqMin: number[] = [];
  /** Per agent: deletions waiting for the ids they delete, or to be applied. */
  #pendingDeletes: DeleteRange[][] = [];
  /** Per agent: the lowest seq among `#pendingDeletes`. */
  #pendingDeleteSeqMin: number[] = [];
  /** This replica's seq at the last {@link TextDocument.takeLocalUpdate}. */
  #flushedSeq = 0;
  /** Ids deleted by {@link TextDocument.delete} since then, as ranges. */
  #localDeleteAgents: number[] = [];
  #localDeleteSeqs: number[] = [];
  #localDeleteLengths: number[] = [];
  #pendingCount = 0;

  /** Creates an empty document for the replica `options.replicaId`. */
  constructor(options: TextDocumentOptions) {
    const checked = requireOptions('options', options);
    this.#replicaId = requireReplicaId('options.replicaId', checked.replicaId);
    this.#pendingCountMax =
      checked.pendingCountMax === undefined
        ? pendingCountMaxDefault
        : requireInteger('options.pendingCountMax', checked.pendingCountMax, { min: 0 });
    this.#replicaCountMax =
      checked.replicaCountMax === undefined
        ? replicaCountMaxDefault
        : requireInteger('options.replicaCountMax', checked.replicaCountMax, { min: 1 });
    this.#cursorBlock = this.#head;
    this.#agent(this.#replicaId);
  }

  /**
   * Loads a document from {@link TextDocument.encodeState} (or any update) for the
   * replica `options.replicaId`. A state loads without re-running the merge: its pieces
   * are stored in document order.
   *
   * @throws {@link CrdtEncodingError} when `state` is malformed.
   */
  static load(state: Uint8Array, options: TextDocumentOptions): TextDocument {
    const document = new TextDocument(options);
    document.applyUpdate(state);
    return document;
  }

  /** This replica's id. */
  get replicaId(): TextReplicaId {
    return this.#replicaId;
  }

  /** The number of visible characters (UTF-16 code units). */
  get length(): number {
    return this.#length;
  }

  /** Runs and deletion ranges received but held back until what they depend on arrives. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** The visible text. */
  toString(): string {
    const parts: string[] = [];
    for (let block: Block | null = this.#head; block !== null; block = block.next) {
      for (const piece of block.pieces) {
        if (!piece.deleted) {
          parts.push(piece.content);
        }
      }
    }
    return parts.join('');
  }

  /** How many characters of each replica this document has integrated. */
  version(): TextVersion {
    const version = new Map<TextReplicaId, number>();
    this.#names.forEach((name, agent) => {
      const known = this.#known[agent] as number;
      if (known > 0) {
        version.set(name, known);
      }
    });
    return version;
  }

  /**
   * Inserts `text` so that it starts at `position` (0 to {@link TextDocument.length}, in
   * UTF-16 code units).
   */
  insert(position: number, text: string): void {
    requireInteger('position', position, { min: 0, max: this.#length });
    if (typeof text !== 'string') {
      throw new InvalidArgumentError('text', `text must be a string; got ${describeValue(text)}.`);
    }
    const count = text.length;
    if (count === 0) {
      return;
    }
    const agent = 0;
    const seq = this.#known[agent] as number;
    let block: Block;
    let index: number;
    let left: Piece | null = null;
    if (position === 0) {
      block = this.#head;
      index = -1;
      this.#cursorBlock = block;
      this.#cursorStart = 0;
    } else {
      block = this.#locate(position);
      index = this.#foundIndex;
      left = block.pieces[index] as Piece;
      if (this.#foundOffset < left.length) {
        this.#split(left, this.#foundOffset, index);
      }
    }
    const right =
      index + 1 < block.pieces.length
        ? (block.pieces[index + 1] as Piece)
        : firstPieceAfter(block.next);
    if (
      left !== null &&
      left.agent === agent &&
      left.seq + left.length === seq &&
      !left.deleted &&
      (right === null
        ? left.rightAgent === none
        : left.rightAgent === right.agent && left.rightSeq === right.seq)
    ) {
      left.length += count;
      left.content += text;
    } else {
      const piece = new Piece(
        agent,
        seq,
        count,
        left === null ? none : left.agent,
        left === null ? 0 : left.seq + left.length - 1,
        right === null ? none : right.agent,
        right === null ? 0 : right.seq,
        false,
        text,
        block,
      );
      block.pieces.splice(index + 1, 0, piece);
      this.#appendToAgent(piece);
    }
    block.visibleLength += count;
    this.#length += count;
    this.#known[agent] = seq + count;
    this.#rebalance(block);
  }

  /** Deletes `count` characters from `position` on (UTF-16 code units). */
  delete(position: number, count: number): void {
    requireInteger('position', position, { min: 0, max: this.#length });
    requireInteger('count', count, { min: 0, max: this.#length - position });
    if (count === 0) {
      return;
    }
    let block = this.#locate(position + 1);
    let index = this.#foundIndex;
    const offset = this.#foundOffset - 1;
    if (offset > 0) {
      this.#split(block.pieces[index] as Piece, offset, index);
      index += 1;
    }
    let remaining = count;
    for (;;) {
      const pieces = block.pieces;
      for (; index < pieces.length && remaining > 0; index += 1) {
        const piece = pieces[index] as Piece;
        if (piece.deleted) {
          continue;
        }
        if (piece.length > remaining) {
          this.#split(piece, remaining, index);
        }
        piece.deleted = true;
        piece.content = '';
        block.visibleLength -= piece.length;
        remaining -= piece.length;
        this.#logDelete(piece);
        index = this.#coalesce(block, index);
      }
      const next = block.next;
      this.#rebalance(block);
      if (remaining === 0 || next === null) {
        break;
      }
      block = next;
      index = 0;
    }
    this.#length -= count;
  }

  #logDelete(piece: Piece): void {
    const last = this.#localDeleteSeqs.length - 1;
    if (last >= 0 && this.#localDeleteAgents[last] === piece.agent) {
      const seq = this.#localDeleteSeqs[last] as number;
      const length = this.#localDeleteLengths[last] as number;
      // Typing forwards deletes ids in increasing order, backspacing in decreasing order.
      if (seq + length === piece.seq) {
        this.#localDeleteLengths[last] = length + piece.length;
        return;
      }
      if (piece.seq + piece.length === seq) {
        this.#localDeleteSeqs[last] = piece.seq;
        this.#localDeleteLengths[last] = length + piece.length;
        return;
      }
    }
    this.#localDeleteAgents.push(piece.agent);
    this.#localDeleteSeqs.push(piece.seq);
    this.#localDeleteLengths.push(piece.length);
  }

  /** This document's version, encoded for {@link TextDocument.encodeUpdate} elsewhere. */
  encodeVersion(): Uint8Array {
    const writer = new TextByteWriter();
    writer.byte(versionMagic);
    writer.byte(formatVersion);
    writer.varint(this.#names.length);
    this.#names.forEach((name, agent) => {
      writeReplicaId(writer, name);
      writer.varint(this.#known[agent] as number);
    });
    return writer.finish();
  }

  /** The whole state, in document order; {@link TextDocument.load} reads it back. */
  encodeState(): Uint8Array {
    const encoder = new RunEncoder(this.#names);
    let last: Piece | null = null;
    let lastLength = 0;
    for (let block: Block | null = this.#head; block !== null; block = block.next) {
      for (const piece of block.pieces) {
        if (
          last !== null &&
          piece.agent === last.agent &&
          piece.seq === last.seq + lastLength &&
          piece.deleted === last.deleted &&
          piece.leftAgent === last.agent &&
          piece.leftSeq === piece.seq - 1 &&
          piece.rightAgent === last.rightAgent &&
          piece.rightSeq === last.rightSeq
        ) {
          lastLength += piece.length;
          if (!piece.deleted) {
            encoder.content(piece.content);
          }
          continue;
        }
        if (last !== null) {
          encoder.add(last, last.seq, lastLength, last.leftAgent, last.leftSeq);
        }
        last = piece;
        lastLength = piece.length;
        if (!piece.deleted) {
          encoder.content(piece.content);
        }
      }
    }
    if (last !== null) {
      encoder.add(last, last.seq, lastLength, last.leftAgent, last.leftSeq);
    }
    return encoder.finish(kindState, []);
  }

  /**
   * What a replica at `version` (from its {@link TextDocument.encodeVersion}) lacks: the
   * characters it has not seen and every deletion. Without `version`, the whole state
   * (like {@link TextDocument.encodeState}).
   *
   * @throws {@link CrdtEncodingError} when `version` is malformed.
   */
  encodeUpdate(version?: Uint8Array): Uint8Array {
    if (version === undefined) {
      return this.encodeState();
    }
    const since = decodeVersion(requireBytes('version', version));
    const names = this.#names;
    const encoder = new RunEncoder(names);
    const deletes: DeleteRange[] = [];
    for (let agent = 0; agent < names.length; agent += 1) {
      const known = this.#known[agent] as number;
      const from = Math.min(since.get(names[agent] as TextReplicaId) ?? 0, known);
      this.#collectDeletes(agent, from, deletes);
      if (from === known) {
        continue;
      }
      this.#encodeRuns(encoder, agent, from);
    }
    return encoder.finish(kindDelta, deletes);
  }

  /** Adds the runs of `agent` from seq `from` (below its known seq) to `encoder`. */
  #encodeRuns(encoder: RunEncoder, agent: number, from: number): void {
    let piece: Piece | null = this.#findPiece(agent, from);
    let start = from;
    let runSeq = from;
    let runLength = 0;
    let runFirst: Piece = piece;
    let runLeftAgent = from > piece.seq ? agent : piece.leftAgent;
    let runLeftSeq = from > piece.seq ? from - 1 : piece.leftSeq;
    while (piece !== null) {
      const partLength = piece.seq + piece.length - start;
      if (
        runLength > 0 &&
        !(
          piece.deleted === runFirst.deleted &&
          piece.leftAgent === agent &&
          piece.leftSeq === piece.seq - 1 &&
          piece.rightAgent === runFirst.rightAgent &&
          piece.rightSeq === runFirst.rightSeq
        )
      ) {
        encoder.add(runFirst, runSeq, runLength, runLeftAgent, runLeftSeq);
        runFirst = piece;
        runSeq = piece.seq;
        runLength = 0;
        runLeftAgent = piece.leftAgent;
        runLeftSeq = piece.leftSeq;
      }
      runLength += partLength;
      if (!piece.deleted) {
        encoder.content(
          start === piece.seq ? piece.content : piece.content.slice(start - piece.seq),
        );
      }
      piece = piece.next;
      start = piece === null ? 0 : piece.seq;
    }
    encoder.add(runFirst, runSeq, runLength, runLeftAgent, runLeftSeq);
  }

  /**
   * The changes this replica's own {@link TextDocument.insert} and
   * {@link TextDocument.delete} calls made since the previous call (since the document was
   * created or loaded, the first time), as an update for
   * {@link TextDocument.applyUpdate}. This is the cheap way to broadcast edits as they
   * happen: its size depends on the edits only, while {@link TextDocument.encodeUpdate}
   * with a version also carries every deletion the document holds.
   */
  takeLocalUpdate(): Uint8Array {
    const encoder = new RunEncoder(this.#names);
    const known = this.#known[0] as number;
    if (this.#flushedSeq < known) {
      this.#encodeRuns(encoder, 0, this.#flushedSeq);
    }
    this.#flushedSeq = known;
    const count = this.#localDeleteSeqs.length;
    const order = Array.from({ length: count }, (_, index) => index);
    const agents = this.#localDeleteAgents;
    const seqs = this.#localDeleteSeqs;
    order.sort(
      (left, right) =>
        (agents[left] as number) - (agents[right] as number) ||
        (seqs[left] as number) - (seqs[right] as number),
    );
    const deletes = order.map((index) => ({
      agent: agents[index] as number,
      seq: seqs[index] as number,
      length: this.#localDeleteLengths[index] as number,
    }));
    this.#localDeleteAgents = [];
    this.#localDeleteSeqs = [];
    this.#localDeleteLengths = [];
    return encoder.finish(kindDelta, deletes);
  }

  /**
   * Merges an update or a state from any replica: {@link TextDocument.encodeUpdate},
   * {@link TextDocument.encodeState}. Idempotent, and the order of updates does not
   * matter: what depends on something missing is held back until it arrives.
   *
   * @throws {@link CrdtEncodingError} when `update` is malformed; the document is unchanged.
   * @throws {@link LimitExceededError} when more than `pendingCountMax` pieces would be held
   *   back, or the update names more than `replicaCountMax` replicas.
   */
  applyUpdate(update: Uint8Array): void {
    const decoded = decodeUpdate(requireBytes('update', update));
    let newNames = 0;
    for (const name of decoded.names) {
      if (!this.#agentOfName.has(name)) {
        newNames += 1;
      }
    }
    if (this.#names.length + newNames > this.#replicaCountMax) {
      throw new LimitExceededError(
        this.#replicaCountMax,
        `The update would take the document past ${this.#replicaCountMax} replica ids ` +
          '(options.replicaCountMax); raise the limit or use fewer replica ids.',
      );
    }
    if (decoded.kind === kindState && this.#isEmpty()) {
      this.#loadState(decoded);
      return;
    }
    const agents = decoded.names.map((name) => this.#agent(name));
    const added = new Set<Run>();
    for (const run of decoded.runs) {
      const agent = agents[run.agent] as number;
      const translated = new Run(
        agent,
        run.seq,
        run.length,
        run.leftAgent === none ? none : (agents[run.leftAgent] as number),
        run.leftSeq,
        run.rightAgent === none ? none : (agents[run.rightAgent] as number),
        run.rightSeq,
        run.deleted,
        run.content,
      );
      added.add(translated);
      this.#holdRun(translated);
    }
    const addedDeletes = new Set<DeleteRange>();
    for (const range of decoded.deletes) {
      const translated = {
        agent: agents[range.agent] as number,
        seq: range.seq,
        length: range.length,
      };
      addedDeletes.add(translated);
      this.#pushDelete(translated);
    }
    this.#drain();
    this.#applyPendingDeletes();
    this.#cursorBlock = this.#head;
    this.#cursorStart = 0;
    if (this.#pendingCount > this.#pendingCountMax) {
      this.#dropPending(added, addedDeletes);
      throw new LimitExceededError(
        this.#pendingCountMax,
        `More than ${this.#pendingCountMax} pieces of updates (options.pendingCountMax) would ` +
          'wait for updates they depend on; what could be merged was, the rest was dropped. ' +
          'Deliver the missing updates first, then send this one again.',
      );
    }
  }

  /** Adds `run` to its agent's pending runs. */
  #holdRun(run: Run): void {
    const agent = run.agent;
    const pending = this.#pendingRuns[agent] as Run[];
    const last = pending[pending.length - 1];
    if (last !== undefined && last.seq > run.seq) {
      this.#pendingSorted[agent] = false;
    }
    pending.push(run);
    if (run.seq < (this.#pendingSeqMin[agent] as number)) {
      this.#pendingSeqMin[agent] = run.seq;
    }
    this.#pendingCount += 1;
  }

  /** Forgets the pending runs and deletions of one update (over the limit). */
  #dropPending(runs: ReadonlySet<Run>, deletes: ReadonlySet<DeleteRange>): void {
    this.#pendingRuns.forEach((pending, agent) => {
      const kept = pending.filter((run) => !runs.has(run));
      this.#pendingRuns[agent] = kept;
      this.#pendingSeqMin[agent] = kept.reduce(
        (min, run) => Math.min(min, run.seq),
        Number.POSITIVE_INFINITY,
      );
    });
    this.#pendingDeletes.forEach((pending, agent) => {
      const kept = pending.filter((range) => !deletes.has(range));
      this.#pendingDeletes[agent] = kept;
      this.#pendingDeleteSeqMin[agent] = kept.reduce(
        (min, range) => Math.min(min, range.seq),
        Number.POSITIVE_INFINITY,
      );
    });
    this.#pendingCount =
      this.#pendingRuns.reduce((sum, pending) => sum + pending.length, 0) +
      this.#pendingDeletes.reduce((sum, pending) => sum + pending.length, 0);
  }

  #isEmpty(): boolean {
    return (
      this.#known.every((known) => known === 0) &&
      this.#pendingCount === 0 &&
      this.#head.pieces.length === 0
    );
  }

  /** The agent index of `name`, added when new. */
  #agent(name: TextReplicaId): number {
    const existing = this.#agentOfName.get(name);
    if (existing !== undefined) {
      return existing;
    }
    const agent = this.#names.length;
    this.#names.push(name);
    this.#agentOfName.set(name, agent);
    this.#known.push(0);
    this.#seqIndex.push([]);
    this.#lastPiece.push(null);
    this.#pendingRuns.push([]);
    this.#pendingSorted.push(true);
    this.#pendingSeqMin.push(Number.POSITIVE_INFINITY);
    this.#pendingDeletes.push([]);
    this.#pendingDeleteSeqMin.push(Number.POSITIVE_INFINITY);
    return agent;
  }

  /**
   * The block holding the visible character number `target - 1` (target >= 1); sets
   * `#foundIndex` to its piece and `#foundOffset` to the characters of that piece up to
   * and including it. Moves the cursor there.
   */
  #locate(target: number): Block {
    let block = this.#cursorBlock;
    let start = this.#cursorStart;
    while (target <= start) {
      block = block.previous as Block;
      start -= block.visibleLength;
    }
    while (target > start + block.visibleLength) {
      start += block.visibleLength;
      block = block.next as Block;
    }
    this.#cursorBlock = block;
    this.#cursorStart = start;
    const pieces = block.pieces;
    let remaining = target - start;
    for (let index = 0; ; index += 1) {
      const piece = pieces[index] as Piece;
      if (!piece.deleted) {
        if (remaining <= piece.length) {
          this.#foundIndex = index;
          this.#foundOffset = remaining;
          return block;
        }
        remaining -= piece.length;
      }
    }
  }

  /**
   * Cuts `piece` (at `index` in its block) after `offset` characters; returns the second
   * part, which follows it in the block. The block may exceed its size limit until the
   * caller rebalances it.
   */
  #split(piece: Piece, offset: number, index: number): Piece {
    const tail = new Piece(
      piece.agent,
      piece.seq + offset,
      piece.length - offset,
      piece.agent,
      piece.seq + offset - 1,
      piece.rightAgent,
      piece.rightSeq,
      piece.deleted,
      piece.deleted ? '' : piece.content.slice(offset),
      piece.block,
    );
    if (!piece.deleted) {
      piece.content = piece.content.slice(0, offset);
    }
    piece.length = offset;
    tail.next = piece.next;
    piece.next = tail;
    if (this.#lastPiece[piece.agent] === piece) {
      this.#lastPiece[piece.agent] = tail;
    }
    piece.block.pieces.splice(index + 1, 0, tail);
    return tail;
  }

  #appendToAgent(piece: Piece): void {
    const agent = piece.agent;
    const last = this.#lastPiece[agent];
    if (last !== null && last !== undefined) {
      last.next = piece;
    }
    this.#lastPiece[agent] = piece;
    (this.#seqIndex[agent] as Piece[]).push(piece);
  }

  /** Splits `block` in two when it holds too many pieces. */
  #rebalance(block: Block): void {
    const pieces = block.pieces;
    if (pieces.length <= blockPieceCountMax) {
      return;
    }
    const half = pieces.length >>> 1;
    const second = new Block();
    second.pieces = pieces.slice(half);
    pieces.length = half;
    let moved = 0;
    for (const piece of second.pieces) {
      piece.block = second;
      if (!piece.deleted) {
        moved += piece.length;
      }
    }
    second.visibleLength = moved;
    block.visibleLength -= moved;
    second.next = block.next;
    second.previous = block;
    if (block.next !== null) {
      block.next.previous = second;
    }
    block.next = second;
  }

  /** The piece holding id `(agent, seq)`, which must be integrated. */
  #findPiece(agent: number, seq: number): Piece {
    const index = this.#seqIndex[agent] as Piece[];
    let low = 0;
    let high = index.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((index[middle] as Piece).seq <= seq) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    let piece = index[low] as Piece;
    while (piece.mergedInto !== null) {
      piece = piece.mergedInto;
    }
    let steps = 0;
    while (piece.seq + piece.length <= seq) {
      piece = piece.next as Piece;
      steps += 1;
    }
    if (steps > seqWalkLengthMax) {
      index.splice(low + 1, 0, piece);
    }
    return piece;
  }

  /** The piece holding `(agent, seq)`, split so that it starts there. */
  #pieceStartingAt(agent: number, seq: number): Piece {
    const piece = this.#findPiece(agent, seq);
    if (piece.seq === seq) {
      return piece;
    }
    return this.#split(piece, seq - piece.seq, piece.block.pieces.indexOf(piece));
  }

  /** True when `(agent, seq)` is integrated (or `agent` is none). */
  #has(agent: number, seq: number): boolean {
    return agent === none || seq < (this.#known[agent] as number);
  }

  /** Integrates every pending run whose dependencies are present. */
  #drain(): void {
    const work: number[] = [];
    this.#pendingSeqMin.forEach((seq, agent) => {
      if (seq <= (this.#known[agent] as number)) {
        work.push(agent);
      }
    });
    const queued = new Set(work);
    // An agent blocked on another's missing id waits in `waiting[other]`.
    const waiting = new Map<number, number[]>();
    while (work.length > 0) {
      const agent = work.pop() as number;
      queued.delete(agent);
      const pending = this.#pendingRuns[agent] as Run[];
      if (!this.#pendingSorted[agent]) {
        pending.sort((left, right) => left.seq - right.seq);
        this.#pendingSorted[agent] = true;
      }
      let taken = 0;
      let progressed = false;
      while (taken < pending.length) {
        const run = pending[taken] as Run;
        const known = this.#known[agent] as number;
        if (run.seq > known) {
          break;
        }
        if (run.seq + run.length <= known) {
          taken += 1;
          this.#pendingCount -= 1;
          if (run.deleted) {
            this.#holdDelete(agent, run.seq, run.length);
          }
          continue;
        }
        const skip = known - run.seq;
        const effective =
          skip === 0
            ? run
            : new Run(
                agent,
                known,
                run.length - skip,
                agent,
                known - 1,
                run.rightAgent,
                run.rightSeq,
                run.deleted,
                run.deleted ? '' : run.content.slice(skip),
              );
        const blocker = !this.#has(effective.leftAgent, effective.leftSeq)
          ? effective.leftAgent
          : !this.#has(effective.rightAgent, effective.rightSeq)
            ? effective.rightAgent
            : none;
        if (blocker !== none) {
          const list = waiting.get(blocker);
          if (list === undefined) {
            waiting.set(blocker, [agent]);
          } else {
            list.push(agent);
          }
          break;
        }
        taken += 1;
        this.#pendingCount -= 1;
        if (skip > 0 && run.deleted) {
          this.#holdDelete(agent, run.seq, skip);
        }
        this.#integrate(effective);
        progressed = true;
      }
      if (taken > 0) {
        pending.splice(0, taken);
        this.#pendingSeqMin[agent] = pending[0]?.seq ?? Number.POSITIVE_INFINITY;
      }
      if (progressed) {
        const unblocked = waiting.get(agent);
        if (unblocked !== undefined) {
          waiting.delete(agent);
          for (const other of unblocked) {
            if (!queued.has(other)) {
              queued.add(other);
              work.push(other);
            }
          }
        }
      }
    }
  }

  /** Queues a deletion of ids the document already has, for {@link #applyPendingDeletes}. */
  #holdDelete(agent: number, seq: number, length: number): void {
    this.#pushDelete({ agent, seq, length });
  }

  #pushDelete(range: DeleteRange): void {
    (this.#pendingDeletes[range.agent] as DeleteRange[]).push(range);
    if (range.seq < (this.#pendingDeleteSeqMin[range.agent] as number)) {
      this.#pendingDeleteSeqMin[range.agent] = range.seq;
    }
    this.#pendingCount += 1;
  }

  /** Applies the pending deletions of ids that have arrived; keeps the rest. */
  #applyPendingDeletes(): void {
    this.#pendingDeleteSeqMin.forEach((seqMin, agent) => {
      const known = this.#known[agent] as number;
      if (seqMin >= known) {
        return;
      }
      const pending = this.#pendingDeletes[agent] as DeleteRange[];
      const kept: DeleteRange[] = [];
      let keptSeqMin = Number.POSITIVE_INFINITY;
      for (const range of pending) {
        if (range.seq >= known) {
          kept.push(range);
          keptSeqMin = Math.min(keptSeqMin, range.seq);
          continue;
        }
        const end = Math.min(range.seq + range.length, known);
        this.#deleteIds(agent, range.seq, end - range.seq);
        if (range.seq + range.length > known) {
          kept.push({ agent, seq: known, length: range.seq + range.length - known });
          keptSeqMin = Math.min(keptSeqMin, known);
        }
      }
      this.#pendingCount -= pending.length - kept.length;
      this.#pendingDeletes[agent] = kept;
      this.#pendingDeleteSeqMin[agent] = keptSeqMin;
    });
  }

  /** Marks the integrated ids `(agent, seq .. seq + length - 1)` deleted. */
  #deleteIds(agent: number, seq: number, length: number): void {
    const end = seq + length;
    let at = seq;
    while (at < end) {
      let piece = this.#findPiece(agent, at);
      if (piece.deleted) {
        at = piece.seq + piece.length;
        continue;
      }
      const block = piece.block;
      let index = block.pieces.indexOf(piece);
      if (piece.seq < at) {
        piece = this.#split(piece, at - piece.seq, index);
        index += 1;
      }
      if (piece.seq + piece.length > end) {
        this.#split(piece, end - piece.seq, index);
      }
      at = piece.seq + piece.length;
      piece.deleted = true;
      piece.content = '';
      block.visibleLength -= piece.length;
      this.#length -= piece.length;
      this.#coalesce(block, index);
      this.#rebalance(block);
    }
  }

  /**
   * Merges the deleted piece at `index` with deleted neighbours in its block that continue
   * it (same replica, next seqs, same origins as one run would have): backspacing over
   * text would otherwise leave a piece per character. Returns the index of the piece that
   * now holds it.
   */
  #coalesce(block: Block, index: number): number {
    const pieces = block.pieces;
    const piece = pieces[index] as Piece;
    const right = pieces[index + 1];
    if (right?.deleted && continues(piece, right)) {
      this.#absorb(piece, right);
      pieces.splice(index + 1, 1);
    }
    if (index > 0) {
      const left = pieces[index - 1] as Piece;
      if (left.deleted && continues(left, piece)) {
        this.#absorb(left, piece);
        pieces.splice(index, 1);
        return index - 1;
      }
    }
    return index;
  }

  /** Makes `left` hold `right` too; `right` leaves the document and the chain. */
  #absorb(left: Piece, right: Piece): void {
    left.length += right.length;
    left.next = right.next;
    right.mergedInto = left;
    if (this.#lastPiece[right.agent] === right) {
      this.#lastPiece[right.agent] = left;
    }
  }

  /** Adds the deleted ids of `agent` below `limit` to `into`, merged into ranges. */
  #collectDeletes(agent: number, limit: number, into: DeleteRange[]): void {
    if (limit === 0) {
      return;
    }
    let piece = (this.#seqIndex[agent] as Piece[])[0] ?? null;
    while (piece?.mergedInto != null) {
      piece = piece.mergedInto;
    }
    let start = -1;
    let end = -1;
    while (piece !== null && piece.seq < limit) {
      if (piece.deleted) {
        const pieceEnd = Math.min(piece.seq + piece.length, limit);
        if (piece.seq === end) {
          end = pieceEnd;
        } else {
          if (end > start) {
            into.push({ agent, seq: start, length: end - start });
          }
          start = piece.seq;
          end = pieceEnd;
        }
      }
      piece = piece.next;
    }
    if (end > start) {
      into.push({ agent, seq: start, length: end - start });
    }
  }

  /** Integrates `run`, whose seq is the next of its agent and whose origins are present. */
  #integrate(run: Run): void {
    const agent = run.agent;
    let block: Block;
    let index: number;
    let left: Piece | null = null;
    if (run.leftAgent !== none) {
      left = this.#findPiece(run.leftAgent, run.leftSeq);
      block = left.block;
      index = block.pieces.indexOf(left);
      const offset = run.leftSeq - left.seq + 1;
      if (offset < left.length) {
        this.#split(left, offset, index);
      }
    } else {
      block = this.#head;
      index = -1;
    }
    let right: Piece | null = null;
    if (run.rightAgent !== none) {
      right = this.#pieceStartingAt(run.rightAgent, run.rightSeq);
      if (left !== null) {
        block = left.block;
        index = block.pieces.indexOf(left);
      }
    }
    // YATA: scan from the left origin to the right origin for concurrent insertions.
    let scanBlock: Block | null = block;
    let scanIndex = index + 1;
    while (scanBlock !== null && scanIndex >= scanBlock.pieces.length) {
      scanBlock = scanBlock.next;
      scanIndex = 0;
    }
    let other: Piece | null = scanBlock === null ? null : (scanBlock.pieces[scanIndex] as Piece);
    if (other !== right) {
      const names = this.#names;
      const name = names[agent] as TextReplicaId;
      const conflicting = new Set<Piece>();
      const beforeOrigin = new Set<Piece>();
      while (other !== null && other !== right) {
        beforeOrigin.add(other);
        conflicting.add(other);
        if (other.leftAgent === run.leftAgent && other.leftSeq === run.leftSeq) {
          if (compareTextReplicaIds(names[other.agent] as TextReplicaId, name) < 0) {
            block = scanBlock as Block;
            index = scanIndex;
            left = other;
            conflicting.clear();
          } else if (other.rightAgent === run.rightAgent && other.rightSeq === run.rightSeq) {
            break;
          }
        } else if (other.leftAgent !== none) {
          const originPiece = this.#findPiece(other.leftAgent, other.leftSeq);
          if (!beforeOrigin.has(originPiece)) {
            break;
          }
          if (!conflicting.has(originPiece)) {
            block = scanBlock as Block;
            index = scanIndex;
            left = other;
            conflicting.clear();
          }
        } else {
          break;
        }
        scanIndex += 1;
        while (scanBlock !== null && scanIndex >= scanBlock.pieces.length) {
          scanBlock = scanBlock.next;
          scanIndex = 0;
        }
        other = scanBlock === null ? null : (scanBlock.pieces[scanIndex] as Piece);
      }
    }
    const last = this.#lastPiece[agent] ?? null;
    if (
      left !== null &&
      left === last &&
      left.seq + left.length === run.seq &&
      run.leftAgent === agent &&
      run.leftSeq === run.seq - 1 &&
      left.deleted === run.deleted &&
      left.rightAgent === run.rightAgent &&
      left.rightSeq === run.rightSeq
    ) {
      left.length += run.length;
      if (!run.deleted) {
        left.content += run.content;
      }
    } else {
      const piece = new Piece(
        agent,
        run.seq,
        run.length,
        run.leftAgent,
        run.leftSeq,
        run.rightAgent,
        run.rightSeq,
        run.deleted,
        run.deleted ? '' : run.content,
        block,
      );
      block.pieces.splice(index + 1, 0, piece);
      this.#appendToAgent(piece);
    }
    if (!run.deleted) {
      block.visibleLength += run.length;
      this.#length += run.length;
    }
    this.#known[agent] = run.seq + run.length;
    if (agent === 0 && this.#flushedSeq === run.seq) {
      // This replica's own earlier edits, sent back by a peer (after a restart from an
      // older state): not local edits to broadcast again.
      this.#flushedSeq = run.seq + run.length;
    }
    this.#rebalance(block);
    if (right !== null && right.block !== block) {
      this.#rebalance(right.block);
    }
  }

  /** Builds this (empty) document from a state, checking it before anything changes. */
  #loadState(decoded: DecodedUpdate): void {
    const names = decoded.names;
    const count = names.length;
    const agentRuns: Piece[][] = names.map(() => []);
    const blocks: Block[] = [];
    let block = new Block();
    blocks.push(block);
    let length = 0;
    for (const piece of decoded.runs) {
      if (block.pieces.length >= blockPieceCountMax / 2) {
        block = new Block();
        blocks.push(block);
      }
      piece.block = block;
      block.pieces.push(piece);
      if (!piece.deleted) {
        block.visibleLength += piece.length;
        length += piece.length;
      }
      (agentRuns[piece.agent] as Piece[]).push(piece);
    }
    const known: number[] = [];
    for (let agent = 0; agent < count; agent += 1) {
      const pieces = sortBySeq(agentRuns[agent] as Piece[]);
      agentRuns[agent] = pieces;
      let expected = 0;
      let previous: Piece | null = null;
      for (const piece of pieces) {
        if (piece.seq !== expected) {
          throw new CrdtEncodingError(
            `A text state has ${piece.seq === expected - 1 ? 'overlapping' : 'missing'} ids of ` +
              `replica ${JSON.stringify(names[agent])} at ${Math.min(piece.seq, expected)}.`,
          );
        }
        expected += piece.length;
        if (previous !== null) {
          previous.next = piece;
        }
        previous = piece;
      }
      known.push(expected);
    }
    for (const run of decoded.runs) {
      if (
        (run.leftAgent !== none && run.leftSeq >= (known[run.leftAgent] as number)) ||
        (run.rightAgent !== none && run.rightSeq >= (known[run.rightAgent] as number))
      ) {
        throw new CrdtEncodingError('A text state has an origin that names a missing id.');
      }
    }
    // Valid: adopt it. This replica's id may or may not be among the names.
    for (let index = 1; index < blocks.length; index += 1) {
      const previous = blocks[index - 1] as Block;
      const current = blocks[index] as Block;
      previous.next = current;
      current.previous = previous;
    }
    const ownName = this.#replicaId;
    this.#names = [];
    this.#agentOfName = new Map();
    this.#known = [];
    this.#seqIndex = [];
    this.#lastPiece = [];
    this.#pendingRuns = [];
    this.#pendingSorted = [];
    this.#pendingSeqMin = [];
    this.#pendingDeletes = [];
    this.#pendingDeleteSeqMin = [];
    // Agent 0 is always this replica, so the pieces' agent numbers are remapped.
    const remap = new Array<number>(count);
    this.#agent(ownName);
    names.forEach((name, agent) => {
      remap[agent] = this.#agent(name);
    });
    if (remap.some((agent, index) => agent !== index)) {
      for (const current of blocks) {
        for (const piece of current.pieces) {
          piece.agent = remap[piece.agent] as number;
          if (piece.leftAgent !== none) {
            piece.leftAgent = remap[piece.leftAgent] as number;
          }
          if (piece.rightAgent !== none) {
            piece.rightAgent = remap[piece.rightAgent] as number;
          }
        }
      }
    }
    names.forEach((_name, agent) => {
      const target = remap[agent] as number;
      const pieces = agentRuns[agent] as Piece[];
      this.#known[target] = known[agent] as number;
      this.#seqIndex[target] = pieces;
      this.#lastPiece[target] = pieces[pieces.length - 1] ?? null;
    });
    this.#head = blocks[0] as Block;
    this.#length = length;
    this.#flushedSeq = this.#known[0] as number;
    this.#cursorBlock = this.#head;
    this.#cursorStart = 0;
  }
}

/** True when `right` can join `left` in one piece: it continues `left`'s run exactly. */
function continues(left: Piece, right: Piece): boolean {
  return (
    left.agent === right.agent &&
    left.seq + left.length === right.seq &&
    right.leftAgent === left.agent &&
    right.leftSeq === right.seq - 1 &&
    left.rightAgent === right.rightAgent &&
    left.rightSeq === right.rightSeq &&
    left.deleted === right.deleted
  );
}

/** Where decoded pieces point until a document adopts them. */
const detachedBlock = new Block();

const sortIndexBits = 2 ** 21;
const sortSeqLimit = 2 ** 31;

/**
 * `pieces` in seq order. Packs seq and position into one number and sorts a
 * Float64Array (a native numeric sort, several times faster than a comparator) when
 * both fit; otherwise sorts with a comparator.
 */
function sortBySeq(pieces: Piece[]): Piece[] {
  const count = pieces.length;
  if (count < sortIndexBits && pieces.every((piece) => piece.seq < sortSeqLimit)) {
    const keys = new Float64Array(count);
    for (let index = 0; index < count; index += 1) {
      keys[index] = (pieces[index] as Piece).seq * sortIndexBits + index;
    }
    keys.sort();
    const sorted = new Array<Piece>(count);
    for (let index = 0; index < count; index += 1) {
      sorted[index] = pieces[(keys[index] as number) % sortIndexBits] as Piece;
    }
    return sorted;
  }
  return pieces.sort((left, right) => left.seq - right.seq);
}

/** The first piece in `block` or a later block; null at the end of the document. */
function firstPieceAfter(start: Block | null): Piece | null {
  for (let block = start; block !== null; block = block.next) {
    if (block.pieces.length > 0) {
      return block.pieces[0] as Piece;
    }
  }
  return null;
}

function writeReplicaId(writer: TextByteWriter, name: TextReplicaId): void {
  if (typeof name === 'number') {
    writer.byte(0);
    writer.varint(name);
  } else {
    writer.byte(1);
    writer.string(name);
  }
}

function readReplicaId(reader: TextByteReader): TextReplicaId {
  const tag = reader.byte();
  if (tag === 0) {
    return reader.varint();
  }
  if (tag !== 1) {
    throw new CrdtEncodingError(`${reader.what}: unknown replica id tag ${tag}.`);
  }
  const name = reader.string();
  if (!isReplicaId(name)) {
    throw new CrdtEncodingError(`${reader.what}: a replica id is empty or too long.`);
  }
  return name;
}

function readNames(reader: TextByteReader): TextReplicaId[] {
  // Every name takes at least two bytes.
  const count = reader.varintAtMost(reader.remaining / 2, 'replica count');
  const names: TextReplicaId[] = [];
  const seen = new Set<TextReplicaId>();
  for (let index = 0; index < count; index += 1) {
    const name = readReplicaId(reader);
    if (seen.has(name)) {
      throw new CrdtEncodingError(`${reader.what}: replica id ${JSON.stringify(name)} twice.`);
    }
    seen.add(name);
    names.push(name);
  }
  return names;
}

function decodeVersion(bytes: Uint8Array): Map<TextReplicaId, number> {
  const reader = new TextByteReader(bytes, 'text version');
  if (reader.byte() !== versionMagic || reader.byte() !== formatVersion) {
    throw new CrdtEncodingError('Not an encoded text version (or of an unknown format).');
  }
  const count = reader.varintAtMost(reader.remaining / 3, 'replica count');
  const version = new Map<TextReplicaId, number>();
  for (let index = 0; index < count; index += 1) {
    const name = readReplicaId(reader);
    if (version.has(name)) {
      throw new CrdtEncodingError(`text version: replica id ${JSON.stringify(name)} twice.`);
    }
    version.set(name, reader.varint());
  }
  reader.end();
  return version;
}

/**
 * Writes runs with the flags of the format: most runs repeat their neighbour's replica,
 * continue its seqs or take its origins, and then cost a flag byte and a length.
 */
class RunEncoder {
  readonly #writer = new TextByteWriter();
  readonly #expectedSeq: number[];
  readonly #contents: string[] = [];
  #runCount = 0;
  // The run being held back until the next one is known (for flagRightIsNext).
  #held = false;
  #agent = 0;
  #seq = 0;
  #length = 0;
  #deleted = false;
  #leftAgent = 0;
  #leftSeq = 0;
  #rightAgent = 0;
  #rightSeq = 0;
  // The run written before the held one.
  #previousAgent = none;
  #previousSeq = 0;
  #previousLength = 0;
  #previousRightAgent = none;
  #previousRightSeq = 0;
  readonly #body = new TextByteWriter(1);
  /** The replicas the encoding names, in order of first use; `#code` numbers them. */
  readonly #names: TextReplicaId[] = [];
  readonly #code: number[];
  readonly #documentNames: readonly TextReplicaId[];

  constructor(names: readonly TextReplicaId[]) {
    this.#documentNames = names;
    this.#expectedSeq = names.map(() => 0);
    this.#code = names.map(() => none);
  }

  /** The number of `agent` in this encoding, given on first use. */
  #codeOf(agent: number): number {
    const code = this.#code[agent] as number;
    if (code !== none) {
      return code;
    }
    this.#code[agent] = this.#names.length;
    this.#names.push(this.#documentNames[agent] as TextReplicaId);
    return this.#names.length - 1;
  }

  content(text: string): void {
    this.#contents.push(text);
  }

  add(piece: Piece, seq: number, length: number, leftAgent: number, leftSeq: number): void {
    if (this.#held) {
      this.#write(piece.agent, seq);
    }
    this.#held = true;
    this.#agent = piece.agent;
    this.#seq = seq;
    this.#length = length;
    this.#deleted = piece.deleted;
    this.#leftAgent = leftAgent;
    this.#leftSeq = leftSeq;
    this.#rightAgent = piece.rightAgent;
    this.#rightSeq = piece.rightSeq;
  }

  #write(nextAgent: number, nextSeq: number): void {
    const body = this.#body;
    const agent = this.#agent;
    const seq = this.#seq;
    const expected = this.#expectedSeq[agent] as number;
    let flags = this.#deleted ? flagDeleted : 0;
    if (agent === this.#previousAgent) {
      flags |= flagSameAgent;
    }
    if (seq === expected) {
      flags |= flagSeqExpected;
    }
    const leftAgent = this.#leftAgent;
    const leftSeq = this.#leftSeq;
    let leftExplicit = false;
    if (leftAgent === none) {
      flags |= flagLeftNone;
    } else if (
      this.#previousAgent === none
        ? leftAgent === agent && leftSeq === seq - 1
        : leftAgent === this.#previousAgent &&
          leftSeq === this.#previousSeq + this.#previousLength - 1
    ) {
      // The first run has no previous one: the flag then means "after its own seq - 1".
      flags |= flagLeftIsPrevious;
    } else {
      leftExplicit = true;
    }
    const rightAgent = this.#rightAgent;
    const rightSeq = this.#rightSeq;
    let rightExplicit = false;
    if (rightAgent === none) {
      flags |= flagRightNone;
    } else if (rightAgent === this.#previousRightAgent && rightSeq === this.#previousRightSeq) {
      flags |= flagRightAsPrevious;
    } else if (rightAgent === nextAgent && rightSeq === nextSeq) {
      flags |= flagRightIsNext;
    } else {
      rightExplicit = true;
    }
    body.byte(flags);
    if ((flags & flagSameAgent) === 0) {
      body.varint(this.#codeOf(agent));
    }
    if ((flags & flagSeqExpected) === 0) {
      body.signedVarint(seq - expected);
    }
    body.varint(this.#length);
    if (leftExplicit) {
      body.varint(this.#codeOf(leftAgent));
      if (leftAgent === agent) {
        body.signedVarint(seq - 1 - leftSeq);
      } else {
        body.varint(leftSeq);
      }
    }
    if (rightExplicit) {
      body.varint(this.#codeOf(rightAgent));
      if (rightAgent === agent) {
        body.signedVarint(rightSeq - seq - this.#length);
      } else {
        body.varint(rightSeq);
      }
    }
    this.#expectedSeq[agent] = seq + this.#length;
    this.#previousAgent = agent;
    this.#previousSeq = seq;
    this.#previousLength = this.#length;
    this.#previousRightAgent = rightAgent;
    this.#previousRightSeq = rightSeq;
    this.#runCount += 1;
  }

  finish(kind: number, deletes: readonly DeleteRange[]): Uint8Array {
    if (this.#held) {
      this.#write(none, 0);
      this.#held = false;
    }
    for (const range of deletes) {
      this.#codeOf(range.agent);
    }
    const text = this.#contents.join('');
    const utf16 = !isWellFormedText(text);
    const writer = this.#writer;
    writer.byte(updateMagic);
    writer.byte(formatVersion);
    writer.byte(kind | (utf16 ? kindFlagUtf16 : 0));
    writer.varint(this.#names.length);
    for (const name of this.#names) {
      writeReplicaId(writer, name);
    }
    writer.varint(this.#runCount);
    writer.bytes(this.#body.finish());
    writer.text(text, utf16);
    writer.varint(deletes.length);
    let previousAgent = 0;
    let previousEnd = 0;
    for (const range of deletes) {
      const agent = this.#code[range.agent] as number;
      if (agent !== previousAgent) {
        previousEnd = 0;
      }
      writer.signedVarint(agent - previousAgent);
      writer.varint(range.seq - previousEnd);
      writer.varint(range.length);
      previousAgent = agent;
      previousEnd = range.seq + range.length;
    }
    return writer.finish();
  }
}

function decodeUpdate(bytes: Uint8Array): DecodedUpdate {
  const reader = new TextByteReader(bytes, 'text update');
  if (reader.byte() !== updateMagic || reader.byte() !== formatVersion) {
    throw new CrdtEncodingError('Not an encoded text update or state (or of an unknown format).');
  }
  const kindByte = reader.byte();
  const kind = kindByte & ~kindFlagUtf16;
  if (kind !== kindState && kind !== kindDelta) {
    throw new CrdtEncodingError(`text update: unknown kind ${kindByte}.`);
  }
  const names = readNames(reader);
  const agentCount = names.length;
  const runCount = reader.varintAtMost(reader.remaining / 2, 'run count');
  const agents: number[] = [];
  const seqs: number[] = [];
  const lengths: number[] = [];
  const flagsOf: number[] = [];
  const lefts: number[] = [];
  const leftSeqs: number[] = [];
  const rights: number[] = [];
  const rightSeqs: number[] = [];
  const expectedSeq: number[] = names.map(() => 0);
  let previousAgent = none;
  let previousSeq = 0;
  let previousLength = 0;
  let previousRightAgent = none;
  let previousRightSeq = 0;
  let visible = 0;
  const agentOf = (value: number): number => {
    if (value >= agentCount) {
      throw new CrdtEncodingError(`text update: replica number ${value} of ${agentCount}.`);
    }
    return value;
  };
  for (let index = 0; index < runCount; index += 1) {
    const flags = reader.byte();
    let agent: number;
    if ((flags & flagSameAgent) !== 0) {
      if (previousAgent === none) {
        throw new CrdtEncodingError('text update: the first run repeats a replica.');
      }
      agent = previousAgent;
    } else {
      agent = agentOf(reader.varint());
    }
    const expected = expectedSeq[agent] as number;
    const seq = (flags & flagSeqExpected) !== 0 ? expected : expected + reader.signedVarint();
    const length = reader.varint();
    if (seq < 0 || length < 1 || seq + length > Number.MAX_SAFE_INTEGER) {
      throw new CrdtEncodingError(`text update: run ${index} has ids out of range.`);
    }
    let leftAgent = none;
    let leftSeq = 0;
    if ((flags & flagLeftNone) !== 0) {
      if ((flags & flagLeftIsPrevious) !== 0) {
        throw new CrdtEncodingError(`text update: run ${index} has contradictory flags.`);
      }
    } else if ((flags & flagLeftIsPrevious) !== 0) {
      leftAgent = previousAgent === none ? agent : previousAgent;
      leftSeq = previousAgent === none ? seq - 1 : previousSeq + previousLength - 1;
    } else {
      leftAgent = agentOf(reader.varint());
      leftSeq = leftAgent === agent ? seq - 1 - reader.signedVarint() : reader.varint();
    }
    let rightAgent = none;
    let rightSeq = 0;
    const rightFlags = flags & (flagRightAsPrevious | flagRightNone | flagRightIsNext);
    if (rightFlags === flagRightNone) {
      // No right origin: the end of the document.
    } else if (rightFlags === flagRightAsPrevious) {
      if (previousAgent === none) {
        throw new CrdtEncodingError('text update: the first run refers to a previous one.');
      }
      rightAgent = previousRightAgent;
      rightSeq = previousRightSeq;
    } else if (rightFlags === flagRightIsNext) {
      if (index + 1 === runCount) {
        throw new CrdtEncodingError('text update: the last run refers to a next one.');
      }
      rightAgent = -2; // resolved below, once the next run is read
    } else if (rightFlags === 0) {
      rightAgent = agentOf(reader.varint());
      rightSeq = rightAgent === agent ? reader.signedVarint() + seq + length : reader.varint();
    } else {
      throw new CrdtEncodingError(`text update: run ${index} has contradictory flags.`);
    }
    if (leftSeq < 0 || rightSeq < 0 || !Number.isSafeInteger(leftSeq + rightSeq)) {
      throw new CrdtEncodingError(`text update: run ${index} has an origin out of range.`);
    }
    if ((flags & flagDeleted) === 0) {
      visible += length;
    }
    agents[index] = agent;
    seqs[index] = seq;
    lengths[index] = length;
    flagsOf[index] = flags;
    lefts[index] = leftAgent;
    leftSeqs[index] = leftSeq;
    rights[index] = rightAgent;
    rightSeqs[index] = rightSeq;
    if (index > 0 && rights[index - 1] === -2) {
      rights[index - 1] = agent;
      rightSeqs[index - 1] = seq;
    }
    expectedSeq[agent] = seq + length;
    previousAgent = agent;
    previousSeq = seq;
    previousLength = length;
    previousRightAgent = rightAgent === -2 ? none : rightAgent;
    previousRightSeq = rightSeq;
  }
  const text = reader.text((kindByte & kindFlagUtf16) !== 0);
  if (visible !== text.length) {
    throw new CrdtEncodingError(
      `text update: the runs hold ${visible} characters but the text has ${text.length}.`,
    );
  }
  const runs: Piece[] = new Array(runCount);
  let offset = 0;
  previousRightAgent = none;
  for (let index = 0; index < runCount; index += 1) {
    const deleted = ((flagsOf[index] as number) & flagDeleted) !== 0;
    const length = lengths[index] as number;
    let rightAgent = rights[index] as number;
    let rightSeq = rightSeqs[index] as number;
    // A run that took its right origin from a previous run whose own was "next".
    if (((flagsOf[index] as number) & flagRightAsPrevious) !== 0 && index > 0) {
      rightAgent = rights[index - 1] as number;
      rightSeq = rightSeqs[index - 1] as number;
      rights[index] = rightAgent;
      rightSeqs[index] = rightSeq;
    }
    runs[index] = new Piece(
      agents[index] as number,
      seqs[index] as number,
      length,
      lefts[index] as number,
      leftSeqs[index] as number,
      rightAgent,
      rightSeq,
      deleted,
      deleted ? '' : text.slice(offset, offset + length),
      detachedBlock,
    );
    if (!deleted) {
      offset += length;
    }
  }
  const deleteCount = reader.varintAtMost(reader.remaining / 3, 'deletion count');
  const deletes: DeleteRange[] = [];
  let agent = 0;
  let previousEnd = 0;
  for (let index = 0; index < deleteCount; index += 1) {
    const nextAgent = agent + reader.signedVarint();
    if (nextAgent !== agent) {
      previousEnd = 0;
    }
    agent = nextAgent;
    if (agent < 0 || agent >= agentCount) {
      throw new CrdtEncodingError(`text update: deletion of replica number ${agent}.`);
    }
    const seq = previousEnd + reader.varint();
    const length = reader.varint();
    if (length < 1 || seq + length > Number.MAX_SAFE_INTEGER) {
      throw new CrdtEncodingError(`text update: deletion ${index} is out of range.`);
    }
    deletes.push({ agent, seq, length });
    previousEnd = seq + length;
  }
  reader.end();
  return { kind, names, runs, deletes };
}
