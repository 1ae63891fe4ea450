/**
 * distkit/crdt: the CRDTs side by side with their npm peers.
 *
 * Text (the sequence CRDT, `TextDocument`) against Yjs (`Y.Doc` with a `Y.Text`) on the
 * real editing trace `automerge-paper.json.gz` (259,778 patches, one per transaction, by
 * one author; see ../shared/testdata/README.md):
 *
 * - **apply**: one iteration replays every patch into an empty document. distkit calls
 *   `insert`/`delete`; Yjs calls `text.insert`/`text.delete` outside any explicit
 *   transaction, so each call is a transaction of its own: Yjs's usual per-keystroke use.
 *   The trace has one patch per transaction, so this is also one transaction per txn.
 * - **encode**: the final document's whole state: `encodeState()` against
 *   `Y.encodeStateAsUpdate(doc)`; the sizes in bytes are printed and stored in the results
 *   under `text.encodedBytes`.
 * - **load**: a new document from that encoding: `TextDocument.load` against a new `Y.Doc`
 *   and `Y.applyUpdate`.
 * - **merge a stream**: the trace as a remote replica receives it, one update per patch
 *   (made once, before measuring: distkit's `takeLocalUpdate()` after each patch, Yjs's
 *   `update` events); one iteration applies all of them in order to an empty document.
 *
 * Every case's result is checked against the trace's `endContent` before measuring.
 * The targets: at least Yjs's speed on apply and no larger an encoding.
 *
 * More comparisons (the state-based CRDTs) go into `comparisons` below. Run with
 * `npm run bench crdt`; see bench/README.md for what the figures mean.
 */

import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { TextDocument } from 'distkit/crdt';
import * as Y from 'yjs';
import { type Comparison, runBenchmarks } from './harness.js';

type Patch = [number, number, string];
interface Trace {
  readonly endContent: string;
  readonly txns: readonly { readonly patches: readonly Patch[] }[];
}

const traceName = 'automerge-paper';
const trace = JSON.parse(
  gunzipSync(
    readFileSync(
      new URL(`../../shared/testdata/editing-traces/${traceName}.json.gz`, import.meta.url),
    ),
  ).toString('utf8'),
) as Trace;
const patches: Patch[] = trace.txns.flatMap((txn) => txn.patches);
const patchCount = patches.length;

function distkitApply(): InstanceType<typeof TextDocument> {
  const document = new TextDocument({ replicaId: 'author' });
  for (const [position, deleted, inserted] of patches) {
    if (deleted > 0) {
      document.delete(position, deleted);
    }
    if (inserted.length > 0) {
      document.insert(position, inserted);
    }
  }
  return document;
}

function yjsApply(): Y.Doc {
  const doc = new Y.Doc();
  const text = doc.getText();
  for (const [position, deleted, inserted] of patches) {
    if (deleted > 0) {
      text.delete(position, deleted);
    }
    if (inserted.length > 0) {
      text.insert(position, inserted);
    }
  }
  return doc;
}

function yjsLoad(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return doc;
}

// Check every case once before measuring.
const distkitDocument = distkitApply();
assert.ok(distkitDocument.toString() === trace.endContent, 'distkit replay differs');
const yjsDoc = yjsApply();
assert.ok(yjsDoc.getText().toString() === trace.endContent, 'Yjs replay differs');
const distkitState = distkitDocument.encodeState();
const yjsState = Y.encodeStateAsUpdate(yjsDoc);
assert.ok(
  TextDocument.load(distkitState, { replicaId: 'reader' }).toString() === trace.endContent,
  'distkit load differs',
);
assert.ok(yjsLoad(yjsState).getText().toString() === trace.endContent, 'Yjs load differs');

// The trace as a stream of per-patch updates, the way a collaborator receives it.
const distkitUpdates: Uint8Array[] = [];
{
  const document = new TextDocument({ replicaId: 'author' });
  for (const [position, deleted, inserted] of patches) {
    if (deleted > 0) {
      document.delete(position, deleted);
    }
    if (inserted.length > 0) {
      document.insert(position, inserted);
    }
    distkitUpdates.push(document.takeLocalUpdate());
  }
}
const yjsUpdates: Uint8Array[] = [];
{
  const doc = new Y.Doc();
  doc.on('update', (update: Uint8Array) => {
    yjsUpdates.push(update);
  });
  const text = doc.getText();
  for (const [position, deleted, inserted] of patches) {
    if (deleted > 0) {
      text.delete(position, deleted);
    }
    if (inserted.length > 0) {
      text.insert(position, inserted);
    }
  }
}

function distkitMergeStream(): InstanceType<typeof TextDocument> {
  const document = new TextDocument({ replicaId: 'collaborator' });
  for (const update of distkitUpdates) {
    document.applyUpdate(update);
  }
  return document;
}

function yjsMergeStream(): Y.Doc {
  const doc = new Y.Doc();
  for (const update of yjsUpdates) {
    Y.applyUpdate(doc, update);
  }
  return doc;
}

assert.ok(distkitMergeStream().toString() === trace.endContent, 'distkit stream differs');
assert.ok(yjsMergeStream().getText().toString() === trace.endContent, 'Yjs stream differs');
const streamBytes = {
  distkit: distkitUpdates.reduce((sum, update) => sum + update.length, 0),
  yjs: yjsUpdates.reduce((sum, update) => sum + update.length, 0),
};

const traceTitle = `${traceName} (${patchCount.toLocaleString('en-US')} patches)`;
// Whole-trace iterations take from a tenth of a second to seconds: one iteration per
// sample, three rounds, garbage collected before each.
const longIteration = {
  timeBudgetMs: 1,
  sampleCountMin: 3,
  roundCount: 3,
  gcBeforeEachSample: true,
} as const;

const titles = {
  apply: `Text: apply ${traceTitle} to an empty document`,
  encode: `Text: encode the final document of ${traceName} (whole state)`,
  load: `Text: load a document from that encoding`,
  stream: `Text: merge ${traceName} as ${patchCount.toLocaleString('en-US')} remote updates, one per patch`,
};

const comparisons: Comparison[] = [
  {
    title: titles.apply,
    distkit: { name: 'distkit TextDocument', run: distkitApply },
    peers: [{ name: 'Yjs Y.Text, a transaction per patch', run: yjsApply }],
    unit: { name: 'patch', countPerIteration: patchCount },
    ...longIteration,
  },
  {
    title: titles.encode,
    distkit: { name: 'distkit encodeState()', run: () => distkitDocument.encodeState() },
    peers: [{ name: 'Yjs encodeStateAsUpdate()', run: () => Y.encodeStateAsUpdate(yjsDoc) }],
    timeBudgetMs: 900,
  },
  {
    title: titles.load,
    distkit: {
      name: 'distkit TextDocument.load()',
      run: () => TextDocument.load(distkitState, { replicaId: 'reader' }),
    },
    peers: [{ name: 'Yjs applyUpdate() into a new Y.Doc', run: () => yjsLoad(yjsState) }],
    timeBudgetMs: 900,
  },
  {
    title: titles.stream,
    distkit: { name: 'distkit applyUpdate() per update', run: distkitMergeStream },
    peers: [{ name: 'Yjs applyUpdate() per update', run: yjsMergeStream }],
    unit: { name: 'update', countPerIteration: patchCount },
    ...longIteration,
    roundCount: 2,
  },
];

const report = await runBenchmarks({ module: 'crdt', comparisons });

function meanMsOf(title: string, role: 'distkit' | 'peer'): number {
  const comparison = report.comparisons.find((candidate) => candidate.title === title);
  const found = comparison?.cases.find((entry) => entry.role === role);
  assert.ok(found !== undefined, `no ${role} case in '${title}'`);
  return Number((found.meanNsPerOp / 1e6).toPrecision(4));
}

const text = {
  note:
    'Text CRDT on the automerge-paper editing trace. Times are the mean per iteration in ' +
    'milliseconds from the comparisons above; yjsOverDistkit above 1 means distkit is ' +
    'faster (apply, encode, load) or smaller (encodedBytes). The issue asks for apply ' +
    'at least as fast as Yjs and an encoding no larger.',
  trace: traceName,
  patches: patchCount,
  endContentLength: trace.endContent.length,
  applyMs: {
    distkit: meanMsOf(titles.apply, 'distkit'),
    yjs: meanMsOf(titles.apply, 'peer'),
  },
  encodeMs: {
    distkit: meanMsOf(titles.encode, 'distkit'),
    yjs: meanMsOf(titles.encode, 'peer'),
  },
  loadMs: {
    distkit: meanMsOf(titles.load, 'distkit'),
    yjs: meanMsOf(titles.load, 'peer'),
  },
  mergeStreamMs: {
    distkit: meanMsOf(titles.stream, 'distkit'),
    yjs: meanMsOf(titles.stream, 'peer'),
  },
  encodedBytes: { distkit: distkitState.length, yjs: yjsState.length },
  streamUpdateBytes: streamBytes,
  yjsOverDistkit: {
    applyTime: 0,
    encodedBytes: Number((yjsState.length / distkitState.length).toPrecision(4)),
  },
};
text.yjsOverDistkit.applyTime = Number((text.applyMs.yjs / text.applyMs.distkit).toPrecision(4));

console.log(
  `\n${traceName}: encoded state ${distkitState.length.toLocaleString('en-US')} bytes ` +
    `(Yjs ${yjsState.length.toLocaleString('en-US')}, Yjs/distkit ` +
    `${text.yjsOverDistkit.encodedBytes.toFixed(2)}x); apply ${text.applyMs.distkit} ms ` +
    `(Yjs ${text.applyMs.yjs} ms, ${text.yjsOverDistkit.applyTime.toFixed(2)}x); load ` +
    `${text.loadMs.distkit} ms (Yjs ${text.loadMs.yjs} ms); merge as a stream of updates ` +
    `${text.mergeStreamMs.distkit} ms (Yjs ${text.mergeStreamMs.yjs} ms), ` +
    `${streamBytes.distkit.toLocaleString('en-US')} bytes of updates ` +
    `(Yjs ${streamBytes.yjs.toLocaleString('en-US')})`,
);

const resultsPath = new URL('./results/crdt.json', import.meta.url);
const written = JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>;
written['text'] = text;
writeFileSync(resultsPath, `${JSON.stringify(written, null, 2)}\n`);
