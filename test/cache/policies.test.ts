import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Cache, type CachePolicy, FrequencySketch, hashKey } from '../../src/cache/index.js';
import { SeededRandom } from '../../src/core/index.js';

// Each policy against a slow, obviously correct model of it: arrays in recency order,
// evicting before inserting, as the papers describe. Over generated sequences of get,
// set and delete, the cache and the model must report the same hits and evict the same
// keys, for the same reasons, in the same order.

type Op = { kind: 'get' | 'set' | 'delete'; key: number };
type Eviction = [key: number, reason: 'capacity' | 'rejected'];

interface Model {
  get(key: number): boolean;
  set(key: number): Eviction[];
  delete(key: number): void;
}

function remove(list: number[], key: number): boolean {
  const index = list.indexOf(key);
  if (index < 0) {
    return false;
  }
  list.splice(index, 1);
  return true;
}

class LruModel implements Model {
  readonly order: number[] = [];
  constructor(readonly capacity: number) {}
  get(key: number): boolean {
    if (!remove(this.order, key)) {
      return false;
    }
    this.order.push(key);
    return true;
  }
  set(key: number): Eviction[] {
    if (this.get(key)) {
      return [];
    }
    const evicted: Eviction[] = [];
    if (this.order.length >= this.capacity) {
      evicted.push([this.order.shift() as number, 'capacity']);
    }
    this.order.push(key);
    return evicted;
  }
  delete(key: number): void {
    remove(this.order, key);
  }
}

/** LFU: the victim has the lowest use count, and among those the oldest last use. */
class LfuModel implements Model {
  readonly entries = new Map<number, { count: number; lastUse: number }>();
  tick = 0;
  constructor(readonly capacity: number) {}
  get(key: number): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return false;
    }
    entry.count += 1;
    entry.lastUse = ++this.tick;
    return true;
  }
  set(key: number): Eviction[] {
    if (this.get(key)) {
      return [];
    }
    const evicted: Eviction[] = [];
    if (this.entries.size >= this.capacity) {
      let victim: number | undefined;
      let best = { count: Number.POSITIVE_INFINITY, lastUse: Number.POSITIVE_INFINITY };
      for (const [candidate, entry] of this.entries) {
        if (
          entry.count < best.count ||
          (entry.count === best.count && entry.lastUse < best.lastUse)
        ) {
          victim = candidate;
          best = entry;
        }
      }
      this.entries.delete(victim as number);
      evicted.push([victim as number, 'capacity']);
    }
    this.entries.set(key, { count: 1, lastUse: ++this.tick });
    return evicted;
  }
  delete(key: number): void {
    this.entries.delete(key);
  }
}

class SlruModel implements Model {
  readonly probation: number[] = [];
  readonly protected: number[] = [];
  constructor(
    readonly capacity: number,
    readonly protectedMax = capacity * 0.8,
  ) {}
  get(key: number): boolean {
    if (remove(this.protected, key)) {
      this.protected.push(key);
      return true;
    }
    if (!remove(this.probation, key)) {
      return false;
    }
    this.protected.push(key);
    while (this.protected.length > this.protectedMax) {
      this.probation.push(this.protected.shift() as number);
    }
    return true;
  }
  set(key: number): Eviction[] {
    if (this.get(key)) {
      return [];
    }
    const evicted: Eviction[] = [];
    if (this.probation.length + this.protected.length >= this.capacity) {
      const from = this.probation.length > 0 ? this.probation : this.protected;
      evicted.push([from.shift() as number, 'capacity']);
    }
    this.probation.push(key);
    return evicted;
  }
  delete(key: number): void {
    remove(this.probation, key) || remove(this.protected, key);
  }
}

/** ARC as in Megiddo and Modha's Figure 4; REPLACE runs only when the cache is full. */
class ArcModel implements Model {
  readonly t1: number[] = [];
  readonly t2: number[] = [];
  readonly b1: number[] = [];
  readonly b2: number[] = [];
  p = 0;
  constructor(readonly capacity: number) {}
  get(key: number): boolean {
    if (remove(this.t1, key) || remove(this.t2, key)) {
      this.t2.push(key);
      return true;
    }
    return false;
  }
  set(key: number): Eviction[] {
    if (this.get(key)) {
      return [];
    }
    const c = this.capacity;
    const evicted: Eviction[] = [];
    const full = this.t1.length + this.t2.length >= c;
    if (this.b1.includes(key)) {
      const delta = this.b1.length >= this.b2.length ? 1 : this.b2.length / this.b1.length;
      this.p = Math.min(c, this.p + delta);
      if (full) {
        evicted.push(this.replace(false));
      }
      remove(this.b1, key);
      this.t2.push(key);
      return evicted;
    }
    if (this.b2.includes(key)) {
      const delta = this.b2.length >= this.b1.length ? 1 : this.b1.length / this.b2.length;
      this.p = Math.max(0, this.p - delta);
      if (full) {
        evicted.push(this.replace(true));
      }
      remove(this.b2, key);
      this.t2.push(key);
      return evicted;
    }
    if (this.t1.length + this.b1.length >= c) {
      if (this.t1.length < c) {
        while (this.t1.length + this.b1.length >= c && this.b1.length > 0) {
          this.b1.shift();
        }
        if (full) {
          evicted.push(this.replace(false));
        }
      } else {
        evicted.push([this.t1.shift() as number, 'capacity']);
      }
    } else if (this.t1.length + this.t2.length + this.b1.length + this.b2.length >= c) {
      while (
        this.t1.length + this.t2.length + this.b1.length + this.b2.length >= 2 * c &&
        this.b2.length > 0
      ) {
        this.b2.shift();
      }
      if (full) {
        evicted.push(this.replace(false));
      }
    }
    this.t1.push(key);
    return evicted;
  }
  replace(missInB2: boolean): Eviction {
    let fromT1 =
      this.t1.length >= 1 && ((missInB2 && this.t1.length === this.p) || this.t1.length > this.p);
    if (!fromT1 && this.t2.length === 0) {
      fromT1 = true;
    }
    const victim = (fromT1 ? this.t1 : this.t2).shift() as number;
    (fromT1 ? this.b1 : this.b2).push(victim);
    return [victim, 'capacity'];
  }
  delete(key: number): void {
    remove(this.t1, key) || remove(this.t2, key);
  }
}

/**
 * W-TinyLFU with a fixed window. The frequency estimator is shared with the policy under
 * test: the model builds a FrequencySketch of the same size and hashes keys with the same
 * seed (the first uint32 of the cache's SeededRandom), so the sketch itself is checked
 * separately (frequency-sketch.test.ts) and this test checks the regions and admission.
 * Sightings reach the sketch when the policy lets them: counted per key, a key's count is
 * added when its estimate is read and when it leaves, and every count when the sketch's
 * aging is due (that batch in any order: it only reads the doorkeeper).
 */
class TinyLfuModel implements Model {
  readonly window: number[] = [];
  readonly probation: number[] = [];
  readonly protected: number[] = [];
  readonly sketch: FrequencySketch;
  readonly pending = new Map<number, number>();
  untilAging: number;
  readonly seed: number;
  readonly windowMax: number;
  readonly mainMax: number;
  readonly protectedMax: number;
  constructor(
    readonly capacity: number,
    randomSeed: number,
  ) {
    this.sketch = new FrequencySketch({ entryCount: capacity });
    this.untilAging = this.sketch.sampleSize;
    this.seed = new SeededRandom({ seed: randomSeed }).uint32() | 0;
    this.windowMax = capacity * 0.01;
    this.mainMax = capacity - this.windowMax;
    this.protectedMax = this.mainMax * 0.8;
  }
  frequency(key: number): number {
    this.flush(key);
    return this.sketch.frequency(hashKey(key, this.seed));
  }
  sight(key: number): void {
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    this.untilAging -= 1;
    if (this.untilAging === 0) {
      for (const [pendingKey, count] of this.pending) {
        this.sketch.addBeforeAging(hashKey(pendingKey, this.seed), count);
      }
      this.pending.clear();
      this.untilAging = this.sketch.sampleSize;
    }
  }
  flush(key: number): void {
    const count = this.pending.get(key);
    if (count !== undefined) {
      this.pending.delete(key);
      this.sketch.add(hashKey(key, this.seed), count);
    }
  }
  /** Removes `key` from `list`, its pending sightings added first. */
  leave(list: number[], key: number): boolean {
    if (!list.includes(key)) {
      return false;
    }
    this.flush(key);
    return remove(list, key);
  }
  get(key: number): boolean {
    const hit =
      this.window.includes(key) || this.probation.includes(key) || this.protected.includes(key);
    if (!hit) {
      return false;
    }
    this.sight(key);
    if (remove(this.window, key)) {
      this.window.push(key);
    } else if (remove(this.protected, key)) {
      this.protected.push(key);
    } else {
      remove(this.probation, key);
      this.protected.push(key);
      while (this.protected.length > this.protectedMax) {
        this.probation.push(this.protected.shift() as number);
      }
    }
    return true;
  }
  set(key: number): Eviction[] {
    if (this.get(key)) {
      return [];
    }
    this.sight(key);
    this.window.push(key);
    const evicted: Eviction[] = [];
    while (this.window.length + this.probation.length + this.protected.length > this.capacity) {
      evicted.push(this.evictOne());
    }
    return evicted;
  }
  evictOne(): Eviction {
    while (this.window.length > this.windowMax) {
      const candidate = this.window[0] as number;
      const main = this.probation.length + this.protected.length;
      if (main === 0 || main + 1 <= this.mainMax) {
        this.probation.push(this.window.shift() as number);
        continue;
      }
      const from = this.probation.length > 0 ? this.probation : this.protected;
      const victim = from[0] as number;
      const candidateFrequency = this.frequency(candidate);
      if (candidateFrequency > this.frequency(victim)) {
        this.probation.push(this.window.shift() as number);
        this.leave(from, victim);
        return [victim, 'capacity'];
      }
      this.leave(this.window, candidate);
      return [candidate, 'rejected'];
    }
    const from =
      this.probation.length > 0
        ? this.probation
        : this.protected.length > 0
          ? this.protected
          : this.window;
    const evicted = from[0] as number;
    this.leave(from, evicted);
    return [evicted, 'capacity'];
  }
  delete(key: number): void {
    this.leave(this.window, key) ||
      this.leave(this.probation, key) ||
      this.leave(this.protected, key);
  }
}

function modelOf(policy: CachePolicy, capacity: number, seed: number): Model {
  switch (policy) {
    case 'lru':
      return new LruModel(capacity);
    case 'lfu':
      return new LfuModel(capacity);
    case 'slru':
      return new SlruModel(capacity);
    case 'arc':
      return new ArcModel(capacity);
    case 'w-tinylfu':
      return new TinyLfuModel(capacity, seed);
  }
}

/** Runs `ops` on a cache and on the model; returns both transcripts. */
function transcripts(
  policy: CachePolicy,
  capacity: number,
  ops: readonly Op[],
  seed = 1,
): { cache: string[]; model: string[] } {
  const cache = new Cache<number, number>({
    maxEntries: capacity,
    policy,
    adaptiveWindow: false,
    random: new SeededRandom({ seed }),
  });
  const model = modelOf(policy, capacity, seed);
  const fromCache: string[] = [];
  const fromModel: string[] = [];
  cache.removed(({ key, reason }) => {
    if (reason === 'capacity' || reason === 'rejected') {
      fromCache.push(`evict ${key} ${reason}`);
    }
  });
  for (const { kind, key } of ops) {
    if (kind === 'get') {
      fromCache.push(`get ${key} ${cache.get(key) === undefined ? 'miss' : 'hit'}`);
      fromModel.push(`get ${key} ${model.get(key) ? 'hit' : 'miss'}`);
    } else if (kind === 'set') {
      cache.set(key, key);
      for (const [evicted, reason] of model.set(key)) {
        fromModel.push(`evict ${evicted} ${reason}`);
      }
    } else {
      cache.delete(key);
      model.delete(key);
    }
  }
  assert.ok(cache.size <= capacity);
  return { cache: fromCache, model: fromModel };
}

const ops = (keyCount: number) =>
  fc.array(
    fc.record({
      kind: fc.constantFrom<Op['kind']>('get', 'set', 'set', 'delete'),
      key: fc.integer({ min: 0, max: keyCount - 1 }),
    }),
    { maxLength: 300 },
  );

/** A read-through trace: get, and set when it missed. */
function readThrough(keys: readonly number[]): Op[] {
  return keys.flatMap((key) => [
    { kind: 'get' as const, key },
    { kind: 'set' as const, key },
  ]);
}

const policies: readonly CachePolicy[] = ['lru', 'lfu', 'slru', 'arc', 'w-tinylfu'];

describe('eviction policies against reference models', () => {
  for (const policy of policies) {
    it(`${policy}: same hits and the same evictions, in order, as the model`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 8 }), ops(16), (capacity, sequence) => {
          const { cache, model } = transcripts(policy, capacity, sequence);
          assert.deepEqual(cache, model);
        }),
        { numRuns: 300 },
      );
    });

    it(`${policy}: the same on a long skewed read-through trace (capacity 50)`, () => {
      const random = new SeededRandom({ seed: 42 });
      const keys = Array.from({ length: 4_000 }, () => random.zipf(400, 0.9));
      const { cache, model } = transcripts(policy, 50, readThrough(keys));
      assert.deepEqual(cache, model);
      assert.ok(cache.some((line) => line.startsWith('evict')));
    });
  }

  it('the models are not vacuous: they disagree with each other on a trace', () => {
    const random = new SeededRandom({ seed: 3 });
    const keys = Array.from({ length: 2_000 }, () => random.zipf(100, 0.8));
    const seen = new Set(
      policies.map((policy) => JSON.stringify(transcripts(policy, 10, readThrough(keys)).model)),
    );
    assert.equal(seen.size, policies.length);
  });
});

describe('policy behaviour', () => {
  it('lfu: breaks ties between equal counts by evicting the least recently used', () => {
    const cache = new Cache<string, number>({ maxEntries: 3, policy: 'lfu' });
    cache.set('a', 1).set('b', 2).set('c', 3);
    cache.get('a');
    cache.get('b');
    cache.get('c');
    cache.get('a'); // counts: a 3, b 2, c 2; b used before c
    cache.set('d', 4);
    assert.deepEqual([...cache.keys()].sort(), ['a', 'c', 'd']);
  });

  it('slru: a scan of one-time keys does not flush entries used twice', () => {
    const cache = new Cache<number, number>({ maxEntries: 10, policy: 'slru' });
    for (let key = 0; key < 5; key += 1) {
      cache.set(key, key);
      cache.get(key);
    }
    for (let key = 100; key < 200; key += 1) {
      cache.set(key, key);
    }
    for (let key = 0; key < 5; key += 1) {
      assert.equal(cache.peek(key), key);
    }
  });

  it('arc: a scan does not flush the frequently used keys (unlike lru)', () => {
    const run = (policy: CachePolicy) => {
      const cache = new Cache<number, number>({ maxEntries: 20, policy });
      for (let round = 0; round < 3; round += 1) {
        for (let key = 0; key < 10; key += 1) {
          if (cache.get(key) === undefined) {
            cache.set(key, key);
          }
        }
      }
      for (let key = 1000; key < 1100; key += 1) {
        if (cache.get(key) === undefined) {
          cache.set(key, key);
        }
      }
      let kept = 0;
      for (let key = 0; key < 10; key += 1) {
        kept += cache.has(key) ? 1 : 0;
      }
      return kept;
    };
    assert.equal(run('arc'), 10);
    assert.equal(run('lru'), 0);
  });

  it('w-tinylfu: rejects one-time keys in favour of frequent ones, reporting "rejected"', () => {
    const cache = new Cache<number, number>({
      maxEntries: 100,
      random: new SeededRandom({ seed: 5 }),
    });
    const reasons: string[] = [];
    cache.removed(({ reason }) => reasons.push(reason));
    for (let round = 0; round < 5; round += 1) {
      for (let key = 0; key < 90; key += 1) {
        if (cache.get(key) === undefined) {
          cache.set(key, key);
        }
      }
    }
    for (let key = 1000; key < 2000; key += 1) {
      if (cache.get(key) === undefined) {
        cache.set(key, key);
      }
    }
    let kept = 0;
    for (let key = 0; key < 90; key += 1) {
      kept += cache.has(key) ? 1 : 0;
    }
    assert.ok(kept >= 85, `kept ${kept} of 90 frequent keys`);
    assert.ok(reasons.filter((reason) => reason === 'rejected').length > 800);
  });

  it('w-tinylfu: the adaptive window grows on a recency-biased workload and shrinks on a frequency-biased one', () => {
    const random = new SeededRandom({ seed: 9 });
    const windowOf = (cache: Cache<number, number>) => cache.windowMax as number;
    // Recency: each key is read a few times right after it appears, then never again.
    const recent = new Cache<number, number>({ maxEntries: 100, random });
    let next = 0;
    for (let step = 0; step < 40_000; step += 1) {
      const key = random.float() < 0.5 ? next++ : Math.max(0, next - 1 - random.integer(0, 60));
      if (recent.get(key) === undefined) {
        recent.set(key, key);
      }
    }
    // Frequency: a fixed hot set under a stream of one-time keys.
    const frequent = new Cache<number, number>({ maxEntries: 100, random });
    for (let step = 0; step < 40_000; step += 1) {
      const key = random.float() < 0.5 ? random.integer(0, 79) : 1_000_000 + step;
      if (frequent.get(key) === undefined) {
        frequent.set(key, key);
      }
    }
    assert.ok(windowOf(recent) > 10, `recency window ${windowOf(recent)}`);
    assert.ok(windowOf(frequent) < windowOf(recent));
    const fixed = new Cache<number, number>({ maxEntries: 100, adaptiveWindow: false });
    assert.equal(windowOf(fixed), 1);
  });
});
