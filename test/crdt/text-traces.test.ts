import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { TextDocument } from '../../src/crdt/text.js';

/** `[position, numberDeleted, inserted]`. */
type Patch = [number, number, string];

interface Trace {
  readonly endContent: string;
  readonly txns: readonly {
    readonly patches: readonly Patch[];
    readonly agent?: number;
    readonly parents?: readonly number[];
  }[];
}

const tracesFolder = join(
  fileURLToPath(new URL('../../', import.meta.url)),
  '..',
  'shared',
  'testdata',
  'editing-traces',
);

function readTrace(name: string): Trace {
  return JSON.parse(
    gunzipSync(readFileSync(join(tracesFolder, `${name}.json.gz`))).toString('utf8'),
  ) as Trace;
}

function applyPatches(document: TextDocument, patches: readonly Patch[]): void {
  for (const [position, deleted, inserted] of patches) {
    if (deleted > 0) {
      document.delete(position, deleted);
    }
    if (inserted.length > 0) {
      document.insert(position, inserted);
    }
  }
}

describe('TextDocument replays the sequential editing traces', () => {
  for (const name of ['automerge-paper', 'sveltecomponent']) {
    it(`${name}: every patch in order gives endContent, and the state round-trips`, () => {
      const trace = readTrace(name);
      const document = new TextDocument({ replicaId: 'author' });
      for (const txn of trace.txns) {
        applyPatches(document, txn.patches);
      }
      assert.equal(document.length, trace.endContent.length);
      assert.ok(document.toString() === trace.endContent, 'the replay differs from endContent');

      const state = document.encodeState();
      if (name === 'automerge-paper') {
        // The size target: no larger than Yjs's 311,034 bytes for this trace.
        assert.ok(state.length <= 311_034, `the state takes ${state.length} bytes`);
      }
      const loaded = TextDocument.load(state, { replicaId: 'reader' });
      assert.ok(loaded.toString() === trace.endContent, 'the loaded state differs');
      assert.deepEqual(loaded.version(), document.version());
      // The loaded document is a full replica: a state of it is the same bytes, and it
      // merges an edit from the author.
      assert.deepEqual(loaded.encodeState(), state);
      const version = loaded.encodeVersion();
      document.insert(0, '# ');
      loaded.applyUpdate(document.encodeUpdate(version));
      assert.ok(loaded.toString() === `# ${trace.endContent}`);
    });
  }
});

describe('TextDocument merges the concurrent trace friendsforever', () => {
  it('replays each txn on a checkout of its parents, then merges every branch', () => {
    const trace = readTrace('friendsforever');
    const agentCount = 1 + Math.max(...trace.txns.map((txn) => txn.agent ?? 0));
    // Each agent's txns form a chain (checked below), so the set of txns a version holds
    // is, for every agent, a prefix of its txns: a vector of prefix lengths.
    const txnsOfAgent: number[][] = Array.from({ length: agentCount }, () => []);
    const versionAfter: number[][] = [];
    const updates: Uint8Array[] = [];
    const documents = Array.from(
      { length: agentCount },
      (_, agent) => new TextDocument({ replicaId: `agent-${agent}` }),
    );
    const documentVersions = Array.from({ length: agentCount }, () =>
      new Array<number>(agentCount).fill(0),
    );
    trace.txns.forEach((txn, index) => {
      const agent = txn.agent ?? 0;
      const target = new Array<number>(agentCount).fill(0);
      for (const parent of txn.parents ?? []) {
        (versionAfter[parent] as number[]).forEach((count, other) => {
          target[other] = Math.max(target[other] as number, count);
        });
      }
      const own = txnsOfAgent[agent] as number[];
      assert.equal(target[agent], own.length, `txn ${index} does not follow its agent's last`);
      // Check out the parents' version on the agent's replica: it holds a prefix of it
      // (never more), so merging the txns it lacks, in trace order, gives exactly it.
      const current = documentVersions[agent] as number[];
      const missing: number[] = [];
      for (let other = 0; other < agentCount; other += 1) {
        assert.ok((current[other] as number) <= (target[other] as number));
        for (
          let ordinal = current[other] as number;
          ordinal < (target[other] as number);
          ordinal += 1
        ) {
          missing.push((txnsOfAgent[other] as number[])[ordinal] as number);
        }
      }
      missing.sort((left, right) => left - right);
      const document = documents[agent] as TextDocument;
      for (const txnIndex of missing) {
        document.applyUpdate(updates[txnIndex] as Uint8Array);
      }
      assert.equal(document.pendingCount, 0);
      applyPatches(document, txn.patches);
      updates.push(document.takeLocalUpdate());
      own.push(index);
      target[agent] = own.length;
      versionAfter.push(target);
      documentVersions[agent] = target;
    });

    const merged = new TextDocument({ replicaId: 'merged' });
    for (const update of updates) {
      merged.applyUpdate(update);
    }
    assert.equal(merged.pendingCount, 0);
    assert.ok(merged.toString() === trace.endContent, 'the merge differs from endContent');

    // Delivery order does not matter: newest first, everything waits, then integrates.
    const reversed = new TextDocument({ replicaId: 'reversed', pendingCountMax: 1_000_000 });
    for (let index = updates.length - 1; index >= 0; index -= 1) {
      reversed.applyUpdate(updates[index] as Uint8Array);
    }
    assert.equal(reversed.pendingCount, 0);
    assert.ok(reversed.toString() === trace.endContent, 'the reversed merge differs');

    // The agents' replicas catch up with each other through version-based updates.
    const [first, second] = documents as [TextDocument, TextDocument];
    first.applyUpdate(second.encodeUpdate(first.encodeVersion()));
    second.applyUpdate(first.encodeUpdate(second.encodeVersion()));
    assert.ok(first.toString() === trace.endContent);
    assert.ok(second.toString() === trace.endContent);
    assert.deepEqual(first.version(), merged.version());
  });
});
