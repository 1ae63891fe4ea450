/**
 * A data-driven harness for the Raft core in the style of etcd's interaction tests: a
 * script of commands drives a cluster of {@link RaftNode}s whose messages are delivered
 * by hand, and each command prints what happened (the readies: state changes, entries to
 * persist, committed entries, messages). `test/raft/golden.test.ts` compares the output
 * with `testdata/*.txt` and rewrites it with `DISTKIT_REWRITE_GOLDEN=1`.
 *
 * A script is a sequence of blocks: comment lines (`#`), one command line, `----`, the
 * expected output, and a blank line.
 */

import { SeededRandom } from '../../src/core/index.js';
import {
  type Entry,
  MemoryRaftStorage,
  type RaftMessage,
  RaftNode,
  type RaftNodeOptions,
  type Ready,
} from '../../src/raft/index.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function formatEntry(entry: Entry): string {
  const text = decoder.decode(entry.data);
  return `${entry.term}/${entry.index}${entry.type === 'config' ? ' config' : ''} ${JSON.stringify(text)}`;
}

function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(', ')}]`;
}

/** One line per message: sender, receiver, type and the fields that matter. */
export function formatMessage(message: RaftMessage): string {
  const head = `${message.from}->${message.to} ${message.type} term=${message.term}`;
  switch (message.type) {
    case 'vote-request':
    case 'pre-vote-request':
      return `${head} last=${message.lastLogTerm}/${message.lastLogIndex}${message.transfer ? ' transfer' : ''}`;
    case 'vote-response':
    case 'pre-vote-response':
      return `${head} ${message.granted ? 'granted' : 'rejected'}`;
    case 'append':
      return `${head} prev=${message.previousTerm}/${message.previousIndex} commit=${message.commitIndex} ${formatEntries(message.entries)}`;
    case 'append-response':
      return message.rejected
        ? `${head} rejected index=${message.index} hint=${message.hintTerm}/${message.hintIndex}`
        : `${head} index=${message.index}`;
    case 'heartbeat':
      return `${head} commit=${message.commitIndex}${message.context === null ? '' : ` context=${message.context}`}`;
    case 'heartbeat-response':
      return `${head}${message.context === null ? '' : ` context=${message.context}`}`;
    case 'snapshot':
      return `${head} snapshot=${message.metadata.term}/${message.metadata.index} offset=${message.offset} bytes=${message.data.byteLength}/${message.totalBytes}${message.done ? ' done' : ''}`;
    case 'snapshot-response':
      return `${head} snapshot=${message.index} offset=${message.offset}`;
    case 'timeout-now':
      return head;
    case 'propose':
      return `${head} ${message.entries.map((entry) => JSON.stringify(decoder.decode(entry.data))).join(' ')}`;
    case 'read-index':
      return `${head} context=${message.context}`;
    case 'read-index-response':
      return `${head} context=${message.context} index=${message.index}`;
  }
}

interface Member {
  readonly node: RaftNode;
  readonly storage: MemoryRaftStorage;
  /** Applied entries' data, in order (the harness's state machine). */
  readonly applied: string[];
  inbox: RaftMessage[];
}

/** A hand-driven cluster. */
export class InteractionCluster {
  readonly members = new Map<string, Member>();
  /** Each node's group; nodes in different groups cannot exchange messages. */
  readonly #groups = new Map<string, number>();

  addNode(id: string, voters: readonly string[], options: Partial<RaftNodeOptions>): void {
    const storage = new MemoryRaftStorage();
    const node = new RaftNode({
      id,
      voters,
      storage,
      random: new SeededRandom({ seed: Number.parseInt(id, 10) || 1 }),
      ...options,
    });
    this.members.set(id, { node, storage, applied: [], inbox: [] });
  }

  member(id: string): Member {
    const member = this.members.get(id);
    if (member === undefined) {
      throw new Error(`no node ${id}`);
    }
    return member;
  }

  partition(groups: readonly (readonly string[])[]): void {
    this.#groups.clear();
    groups.forEach((group, index) => {
      for (const id of group) {
        this.#groups.set(id, index);
      }
    });
  }

  heal(): void {
    this.#groups.clear();
  }

  #connected(from: string, to: string): boolean {
    return (this.#groups.get(from) ?? -1) === (this.#groups.get(to) ?? -1);
  }

  /** Persists, sends and applies one ready of `id`; returns its description. */
  processReady(id: string, out: string[]): void {
    const member = this.member(id);
    const ready: Ready = member.node.ready();
    out.push(`> ${id} ready`);
    if (ready.softState !== undefined) {
      out.push(`  soft: leader=${ready.softState.leader ?? '-'} role=${ready.softState.role}`);
    }
    if (ready.hardState !== undefined) {
      const hard = ready.hardState;
      out.push(`  hard: term=${hard.term} vote=${hard.vote ?? '-'} commit=${hard.commitIndex}`);
      member.storage.setHardState(hard);
    }
    if (ready.snapshot !== undefined) {
      const metadata = ready.snapshot.metadata;
      out.push(
        `  snapshot: ${metadata.term}/${metadata.index} voters=${metadata.membership.voters.join(',')} data=${JSON.stringify(decoder.decode(ready.snapshot.data))}`,
      );
      member.storage.applySnapshot(ready.snapshot);
      member.applied.length = 0;
      const text = decoder.decode(ready.snapshot.data);
      if (text.length > 0) {
        member.applied.push(...text.split(','));
      }
    }
    if (ready.entries.length > 0) {
      out.push(`  entries: ${formatEntries(ready.entries)}`);
      member.storage.append(ready.entries);
    }
    if (ready.committedEntries.length > 0) {
      out.push(`  committed: ${formatEntries(ready.committedEntries)}`);
      for (const entry of ready.committedEntries) {
        if (entry.type === 'normal' && entry.data.byteLength > 0) {
          member.applied.push(decoder.decode(entry.data));
        }
      }
    }
    for (const read of ready.readStates) {
      out.push(`  read-state: context=${read.context} index=${read.index}`);
    }
    for (const message of ready.messages) {
      if (this.#connected(message.from, message.to) && this.members.has(message.to)) {
        out.push(`  ${formatMessage(message)}`);
        this.member(message.to).inbox.push(message);
      } else {
        out.push(`  dropped ${formatMessage(message)}`);
      }
    }
    member.node.advance(ready);
  }

  /** Readies and deliveries until nothing is left, in node order. */
  stabilize(ids: readonly string[], out: string[]): void {
    for (let round = 0; round < 1000; round += 1) {
      let active = false;
      for (const id of ids) {
        const member = this.member(id);
        if (member.node.hasReady()) {
          active = true;
          this.processReady(id, out);
        }
      }
      for (const id of ids) {
        const member = this.member(id);
        const inbox = member.inbox;
        member.inbox = [];
        for (const message of inbox) {
          active = true;
          member.node.step(message);
        }
      }
      if (!active) {
        return;
      }
    }
    throw new Error('stabilize did not settle in 1000 rounds');
  }
}

function parseArguments(words: readonly string[]): {
  positional: string[];
  named: Map<string, string>;
} {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const word of words) {
    const equals = word.indexOf('=');
    if (equals > 0) {
      named.set(word.slice(0, equals), word.slice(equals + 1));
    } else {
      positional.push(word);
    }
  }
  return { positional, named };
}

function nodeOptions(named: Map<string, string>): Partial<RaftNodeOptions> {
  const options: Record<string, unknown> = {};
  const booleans: Record<string, string> = { 'pre-vote': 'preVote', 'check-quorum': 'checkQuorum' };
  const integers: Record<string, string> = {
    election: 'electionTicks',
    heartbeat: 'heartbeatTicks',
    inflight: 'inflightMessageCountMax',
    'message-bytes': 'messageBytesMax',
    'snapshot-chunk': 'snapshotChunkBytesMax',
  };
  for (const [key, value] of named) {
    if (key in booleans) {
      options[booleans[key] as string] = value === 'true';
    } else if (key in integers) {
      options[integers[key] as string] = Number.parseInt(value, 10);
    } else if (key === 'read-only') {
      options['readOnly'] = value;
    }
  }
  return options as Partial<RaftNodeOptions>;
}

/** Runs one command and returns its output (never empty: `ok` when silent). */
export function runCommand(cluster: InteractionCluster, line: string): string {
  const [command, ...rest] = line.trim().split(/\s+/);
  const { positional, named } = parseArguments(rest);
  const out: string[] = [];
  const allIds = [...cluster.members.keys()];
  switch (command) {
    case 'add-nodes': {
      const count = Number.parseInt(positional[0] ?? '3', 10);
      const voters = Array.from({ length: count }, (_, index) => String(index + 1));
      for (const id of voters) {
        cluster.addNode(id, voters, nodeOptions(named));
      }
      break;
    }
    case 'add-joining-node': {
      cluster.addNode(positional[0] as string, [], nodeOptions(named));
      break;
    }
    case 'campaign':
      cluster.member(positional[0] as string).node.campaign();
      break;
    case 'tick': {
      const count = Number.parseInt(positional[1] ?? '1', 10);
      for (let index = 0; index < count; index += 1) {
        cluster.member(positional[0] as string).node.tick();
      }
      break;
    }
    case 'tick-election': {
      const node = cluster.member(positional[0] as string).node;
      for (let index = 0; index < 2 * node.electionTicks; index += 1) {
        node.tick();
        if (node.hasReady()) {
          break;
        }
      }
      break;
    }
    case 'tick-heartbeat': {
      const node = cluster.member(positional[0] as string).node;
      for (let index = 0; index < node.heartbeatTicks; index += 1) {
        node.tick();
      }
      break;
    }
    case 'stabilize':
      cluster.stabilize(positional.length > 0 ? positional : allIds, out);
      break;
    case 'process-ready':
      cluster.processReady(positional[0] as string, out);
      break;
    case 'deliver': {
      const member = cluster.member(positional[0] as string);
      const inbox = member.inbox;
      member.inbox = [];
      for (const message of inbox) {
        member.node.step(message);
      }
      break;
    }
    case 'drop': {
      const member = cluster.member(positional[0] as string);
      for (const message of member.inbox) {
        out.push(`dropped ${formatMessage(message)}`);
      }
      member.inbox = [];
      break;
    }
    case 'propose': {
      const result = cluster
        .member(positional[0] as string)
        .node.propose(encoder.encode(positional[1] ?? ''));
      out.push(JSON.stringify(result));
      break;
    }
    case 'propose-membership': {
      const result = cluster.member(positional[0] as string).node.proposeMembership({
        voters: (named.get('voters') ?? '').split(',').filter((id) => id.length > 0),
        learners: (named.get('learners') ?? '').split(',').filter((id) => id.length > 0),
      });
      out.push(JSON.stringify(result));
      break;
    }
    case 'read-index': {
      const result = cluster.member(positional[0] as string).node.readIndex(positional[1] ?? '');
      out.push(JSON.stringify(result));
      break;
    }
    case 'transfer-leadership': {
      const result = cluster
        .member(positional[0] as string)
        .node.transferLeadership(positional[1] as string);
      out.push(JSON.stringify(result));
      break;
    }
    case 'partition':
      cluster.partition(
        rest
          .join(' ')
          .split('|')
          .map((group) => group.trim().split(/\s+/)),
      );
      break;
    case 'isolate':
      cluster.partition([[positional[0] as string], allIds.filter((id) => id !== positional[0])]);
      break;
    case 'heal':
      cluster.heal();
      break;
    case 'snapshot': {
      // The application snapshots its state at an applied index and compacts the log.
      const member = cluster.member(positional[0] as string);
      const index = Number.parseInt(positional[1] as string, 10);
      const data = encoder.encode(member.applied.join(','));
      member.storage.createSnapshot(index, member.node.membership, data);
      member.storage.compact(index);
      out.push(`snapshot at ${index}, log from ${member.storage.firstIndex()}`);
      break;
    }
    case 'status':
      for (const id of positional.length > 0 ? positional : allIds) {
        const status = cluster.member(id).node.status();
        const progress = Object.entries(status.progress)
          .map(([peer, value]) => `${peer}:${value.state}/${value.matchIndex}/${value.nextIndex}`)
          .join(' ');
        out.push(
          `${id}: ${status.role} term=${status.term} vote=${status.vote ?? '-'} leader=${status.leader ?? '-'} commit=${status.commitIndex} applied=${status.appliedIndex} last=${status.lastIndex} voters=${status.membership.voters.join(',')}${status.membership.votersOutgoing.length > 0 ? ` outgoing=${status.membership.votersOutgoing.join(',')}` : ''}${status.membership.learners.length > 0 ? ` learners=${status.membership.learners.join(',')}` : ''}${progress.length > 0 ? ` progress ${progress}` : ''}`,
        );
      }
      break;
    case 'applied':
      for (const id of positional.length > 0 ? positional : allIds) {
        out.push(`${id}: ${JSON.stringify(cluster.member(id).applied)}`);
      }
      break;
    default:
      throw new Error(`unknown command ${JSON.stringify(line)}`);
  }
  return out.length === 0 ? 'ok' : out.join('\n');
}

/** One block of a script. */
interface Block {
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

/** Parses a script into blocks. */
export function parseScript(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let index = 0;
  while (index < lines.length) {
    const comments: string[] = [];
    while (
      index < lines.length &&
      ((lines[index] as string).startsWith('#') || (lines[index] as string).trim() === '')
    ) {
      if ((lines[index] as string).startsWith('#')) {
        comments.push(lines[index] as string);
      }
      index += 1;
    }
    if (index >= lines.length) {
      break;
    }
    const command = lines[index] as string;
    index += 1;
    if (lines[index] !== '----') {
      throw new Error(`line ${index + 1}: expected ---- after ${JSON.stringify(command)}`);
    }
    index += 1;
    const expected: string[] = [];
    while (index < lines.length && (lines[index] as string).trim() !== '') {
      expected.push(lines[index] as string);
      index += 1;
    }
    blocks.push({ comments, command, expected: expected.join('\n') });
  }
  return blocks;
}

/** Runs a script; returns the text with the actual outputs in place of the expected. */
export function runScript(text: string): { actual: string; blocks: number } {
  const cluster = new InteractionCluster();
  const blocks = parseScript(text);
  const parts: string[] = [];
  for (const block of blocks) {
    const output = runCommand(cluster, block.command);
    parts.push([...block.comments, block.command, '----', output].join('\n'));
  }
  return { actual: `${parts.join('\n\n')}\n`, blocks: blocks.length };
}
