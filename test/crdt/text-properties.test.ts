import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareTextReplicaIds, TextDocument, type TextReplicaId } from '../../src/crdt/text.js';

/** One step of a random session; numbers are reduced modulo what exists when it runs. */
type Step =
  | {
      readonly kind: 'insert';
      readonly replica: number;
      readonly at: number;
      readonly text: string;
    }
  | {
      readonly kind: 'delete';
      readonly replica: number;
      readonly at: number;
      readonly count: number;
    }
  | { readonly kind: 'send'; readonly replica: number }
  | {
      readonly kind: 'deliver';
      readonly replica: number;
      readonly at: number;
      /** Delivered and removed, delivered and kept (a duplicate later), or lost. */
      readonly fate: 'once' | 'duplicate' | 'lose';
    };

const replicaIds: readonly TextReplicaId[] = ['ana', 'bo', 3, 'carla'];

const textArbitrary = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', ' ', 'é', '😀'),
  minLength: 1,
  maxLength: 5,
});

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      replica: fc.nat(),
      at: fc.nat(),
      text: textArbitrary,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      replica: fc.nat(),
      at: fc.nat(),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('send' as const), replica: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      replica: fc.nat(),
      at: fc.nat(),
      fate: fc.constantFrom('once' as const, 'duplicate' as const, 'lose' as const),
    }),
  },
);

function edit(document: TextDocument, step: Step): void {
  if (step.kind === 'insert') {
    document.insert(step.at % (document.length + 1), step.text);
  } else if (step.kind === 'delete' && document.length > 0) {
    const position = step.at % document.length;
    document.delete(position, Math.min(step.count, document.length - position));
  }
}

/**
 * Runs `steps` on `replicaCount` replicas that broadcast their local updates through
 * inboxes with duplication and loss; returns the replicas and the messages in flight.
 */
function runSession(
  replicaCount: number,
  steps: readonly Step[],
): { replicas: TextDocument[]; inboxes: Uint8Array[][]; sent: Uint8Array[] } {
  const replicas = replicaIds
    .slice(0, replicaCount)
    .map((replicaId) => new TextDocument({ replicaId, pendingCountMax: 100_000 }));
  const inboxes: Uint8Array[][] = replicas.map(() => []);
  const sent: Uint8Array[] = [];
  for (const step of steps) {
    const index = step.replica % replicaCount;
    const replica = replicas[index] as TextDocument;
    if (step.kind === 'send') {
      const update = replica.takeLocalUpdate();
      sent.push(update);
      inboxes.forEach((inbox, other) => {
        if (other !== index) {
          inbox.push(update);
        }
      });
    } else if (step.kind === 'deliver') {
      const inbox = inboxes[index] as Uint8Array[];
      if (inbox.length === 0) {
        continue;
      }
      const at = step.at % inbox.length;
      const message = inbox[at] as Uint8Array;
      if (step.fate !== 'duplicate') {
        inbox.splice(at, 1);
      }
      if (step.fate !== 'lose') {
        replica.applyUpdate(message);
      }
    } else {
      edit(replica, step);
    }
  }
  return { replicas, inboxes, sent };
}

/** Retransmission: each pair exchanges what the other lacks, twice round. */
function antiEntropy(replicas: readonly TextDocument[]): void {
  for (let round = 0; round < 2; round += 1) {
    for (const source of replicas) {
      for (const target of replicas) {
        if (source !== target) {
          target.applyUpdate(source.encodeUpdate(target.encodeVersion()));
        }
      }
    }
  }
}

function observed(document: TextDocument): { text: string; version: [TextReplicaId, number][] } {
  return {
    text: document.toString(),
    version: [...document.version()].sort(([left], [right]) => compareTextReplicaIds(left, right)),
  };
}

/** Three concurrent states with shared history: the inputs of the merge laws. */
const statesArbitrary = fc
  .array(stepArbitrary, { maxLength: 50 })
  .map((steps) => runSession(3, steps).replicas.map((replica) => replica.encodeState()));

/** The merge of states: the first loaded, the others applied in order. */
function merge(...states: Uint8Array[]): TextDocument {
  const document = TextDocument.load(states[0] as Uint8Array, { replicaId: 'observer' });
  for (const state of states.slice(1)) {
    document.applyUpdate(state);
  }
  return document;
}

describe('TextDocument properties', () => {
  it('replicas converge under random delivery order, duplication and loss with retransmission', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.array(stepArbitrary, { maxLength: 80 }),
        fc.boolean(),
        (replicaCount, steps, deliverRest) => {
          const { replicas, inboxes } = runSession(replicaCount, steps);
          if (deliverRest) {
            // Whatever is still in flight arrives late, newest first.
            replicas.forEach((replica, index) => {
              for (const message of (inboxes[index] as Uint8Array[]).reverse()) {
                replica.applyUpdate(message);
              }
            });
          }
          antiEntropy(replicas);
          const first = observed(replicas[0] as TextDocument);
          for (const replica of replicas) {
            assert.equal(replica.pendingCount, 0);
            assert.deepEqual(observed(replica), first);
            assert.equal(replica.length, first.text.length);
          }
        },
      ),
    );
  });

  it('merging states is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(statesArbitrary, ([a, b, c]) => {
        const [sa, sb, sc] = [a, b, c] as [Uint8Array, Uint8Array, Uint8Array];
        assert.deepEqual(observed(merge(sa, sb)), observed(merge(sb, sa)));
        const leftFirst = merge(merge(sa, sb).encodeState(), sc);
        const rightFirst = merge(sa, merge(sb, sc).encodeState());
        assert.deepEqual(observed(leftFirst), observed(rightFirst));
        assert.deepEqual(observed(merge(sa, sa)), observed(merge(sa)));
        assert.deepEqual(observed(merge(sa, sb, sb, sa)), observed(merge(sa, sb)));
      }),
    );
  });

  it('applying updates is commutative and idempotent: any order, any repeats, one result', () => {
    fc.assert(
      fc.property(
        fc.array(stepArbitrary, { maxLength: 60 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        (steps, picks) => {
          const { replicas, sent } = runSession(3, steps);
          // Every local edit of every replica, in the updates that carried it.
          const updates = [...sent, ...replicas.map((replica) => replica.takeLocalUpdate())];
          const reference = new TextDocument({ replicaId: 'reference', pendingCountMax: 100_000 });
          for (const update of updates) {
            reference.applyUpdate(update);
          }
          const shuffled = new TextDocument({ replicaId: 'shuffled', pendingCountMax: 100_000 });
          for (const pick of picks) {
            shuffled.applyUpdate(updates[pick % updates.length] as Uint8Array);
          }
          for (const update of [...updates].reverse()) {
            shuffled.applyUpdate(update);
          }
          assert.deepEqual(observed(shuffled), observed(reference));
          assert.equal(shuffled.pendingCount, 0);
        },
      ),
    );
  });

  it('a state and a version-based update round-trip', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 60 }), (steps) => {
        const { replicas } = runSession(3, steps);
        antiEntropy(replicas.slice(0, 2));
        for (const replica of replicas) {
          const state = replica.encodeState();
          const loaded = TextDocument.load(state, { replicaId: 'fresh' });
          assert.deepEqual(observed(loaded), observed(replica));
          assert.deepEqual(loaded.encodeState(), state);
          const empty = new TextDocument({ replicaId: 'empty' });
          empty.applyUpdate(replica.encodeUpdate(empty.encodeVersion()));
          assert.deepEqual(observed(empty), observed(replica));
        }
        // Merging what a replica already holds changes nothing.
        const [a, , c] = replicas as [TextDocument, TextDocument, TextDocument];
        c.applyUpdate(a.encodeUpdate(c.encodeVersion()));
        const before = observed(c);
        c.applyUpdate(a.encodeState());
        c.applyUpdate(a.encodeUpdate(c.encodeVersion()));
        assert.deepEqual(observed(c), before);
      }),
    );
  });
});
