/**
 * map-ops: BpfMap element and batch operations against libbpf's bpf_map_*
 * (bench/libbpf/map-ops.c), in ns per operation.
 *
 * Both sides run the same phases (see the C file) over the same key sequence
 * (a permutation key(i) = i * P % N of 0..N-1) with the same values (key + 1),
 * after the same warm-up (every phase once over the first `warm` keys). The C
 * program runs as a server ("map-ops serve"), and the two sides take turns
 * every 64Ki operations (which one goes first alternating): on this shared
 * 2-vCPU machine the load from elsewhere then lands on both sides of each
 * figure instead of on whichever process happened to run during a burst. A
 * round's figure is a side's total time over its total operations for the
 * phase; each metric is the median over the rounds.
 *
 * The tsbpf side uses what a performance-minded user of BpfMap would write:
 *  - update:       map.update(k, k + 1): a number key and a number value (no bigint, no buffer).
 *  - lookup:       map.lookup(k, out) into a reused 8-byte buffer, read as two u32 halves
 *                  (lookupWith(k, u64) costs the same in the library but hands back a bigint).
 *  - get_next_key: map.nextKey(prev, out) with two reused buffers, like the C loop
 *                  (map.keys() hands out a fresh Buffer per key).
 *  - iterate:      nextKey(prev, out) + lookup(key, out) per entry (entries() allocates two Buffers per entry).
 *  - delete:       map.delete(k).
 *  - update_batch: map.updateBatch(keys, values, 0, count) over packed slices of the key/value arrays.
 *  - lookup_batch: map.lookupBatch(cursor, keys, values, 4096) until cursor.done, summing the values.
 *  - array lookup: as for the hash.
 *  - per-CPU update: map.update(k, k + 1) (a scalar is replicated to every possible CPU's slot);
 *    per-CPU lookup: map.lookup(k, out) with out of valueBytes, every slot summed.
 *  - syscall.getpid: getpid through the same koffi binding as bpf(2) (informational: the call floor).
 * Every result is folded into a checksum that is verified, so no call can be dropped.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BpfMap, type BatchCursor, type TypedMap } from '../../bpf/maps/map.ts';
import { u32, u64 } from '../../bpf/maps/codec.ts';
import { MapElemAttr } from '../../syscall/attr.ts';
import { BpfCmd } from '../../syscall/bpf.ts';
import { NativeBlock, putPtr } from '../../syscall/memory.ts';
import { libc, nr } from '../../syscall/libc.ts';
import { buildC, median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const BATCH = 4096;
const UNIT = 'ns/op';
const SYS_GETPID = process.arch === 'arm64' ? 172 : 39;
const TWO32 = 4294967296;

interface Config {
  n: number;
  maxEntries: number;
  /** Measured rounds (each side). */
  rounds: number;
  /** Keys in the warm-up round. */
  warm: number;
  /** Operations per turn (a multiple of the batch size). */
  slice: number;
}

const FULL: Config = { n: 1_000_000, maxEntries: 1_000_000, rounds: 5, warm: 65_536, slice: 65_536 };
// --quick: a small map (max_entries = N too, so creating it is cheap); a few seconds.
const QUICK: Config = { n: 20_000, maxEntries: 20_000, rounds: 3, warm: 5_000, slice: 8_192 };

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The key sequence shared with the C side: key(i) = i * P % N, P the first of 7919, 7921, ... coprime with N. */
export function keySequence(n: number): Uint32Array {
  let p = 7919;
  while (gcd(p, n) !== 1) p += 2;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = Number((BigInt(i) * BigInt(p)) % BigInt(n));
  return keys;
}

const now = (): bigint => process.hrtime.bigint();

/**
 * bpf(2) through the same koffi binding the library uses, with nothing of the
 * library around it: one native block holds the attr (filled once but for
 * map_fd and value) and the key and value slots; an operation writes the key,
 * calls, and reads the value. What is left above this is tsbpf's own cost.
 */
class Bare {
  readonly block = new NativeBlock(64);
  readonly u32 = this.block.u32;
  readonly sys = libc().syscall3;
  readonly nr = nr.bpf;
  /** u32 indexes of the key and of the value (a u64 as two halves). */
  readonly k = 32 >> 2;
  readonly v = 40 >> 2;
  constructor() {
    putPtr(this.u32, MapElemAttr.key, this.block.addr + 32);
    putPtr(this.u32, MapElemAttr.value, this.block.addr + 40);
  }
  /** Point the attr at a map; a value pointer of 0 for delete. */
  use(fd: number, withValue: boolean): void {
    this.u32[MapElemAttr.map_fd >> 2] = fd;
    putPtr(this.u32, MapElemAttr.value, withValue ? this.block.addr + 40 : 0);
  }
}

/** The tsbpf side's maps and buffers. */
class Side {
  readonly keys: Uint32Array;
  /** keys and values packed for the batch calls: keyBytes[i] = keys[i], valBytes[i] = keys[i] + 1 (u64). */
  readonly keyBytes: Buffer;
  readonly valBytes: Buffer;
  readonly hash: BpfMap;
  readonly array: BpfMap;
  readonly pcpu: BpfMap;
  /** 8-byte value buffer and its two u32 halves. */
  readonly v = Buffer.alloc(8);
  readonly v32 = new Uint32Array(this.v.buffer, this.v.byteOffset, 2);
  readonly bk = Buffer.alloc(BATCH * 4);
  readonly bv = Buffer.alloc(BATCH * 8);
  readonly bv32 = new Uint32Array(this.bv.buffer, this.bv.byteOffset, BATCH * 2);
  readonly pv: Buffer;
  readonly pv32: Uint32Array;
  /** prefix[i] = Σ (key + 1) over the first i keys. */
  readonly #prefix: Float64Array;
  // Where the walks stand between slices.
  walkA: Buffer = Buffer.alloc(4);
  walkB: Buffer = Buffer.alloc(4);
  walkSeen = 0;
  walkSum = 0;
  cursor: BatchCursor = { done: false };
  batchTotal = 0;
  batchSum = 0;
  /** The typed views, and the values as bigints (made once: the typed figures time the library, not BigInt()). */
  readonly th: TypedMap<number, bigint>;
  readonly ta: TypedMap<number, bigint>;
  readonly bigVals: bigint[];
  typedKey: number | undefined;
  /** A walk kept across slices: a generator of entries() or typed entries(). */
  iter: Iterator<[unknown, unknown]> | undefined;
  readonly pcpuOut: bigint[] = [];
  /** Time and operations of the variants rotate() measured in this phase: metric -> [ns, ops]. */
  readonly extra = new Map<string, [number, number]>();
  /** Per-op time of every full block rotate() ran, by metric (over all measured rounds). */
  readonly blocks = new Map<string, number[]>();
  /** The bare koffi call: an attr and key/value slots in one native block, filled once. */
  readonly bare: Bare;

  constructor(cfg: Config) {
    this.keys = keySequence(cfg.n);
    this.keyBytes = Buffer.from(this.keys.buffer, this.keys.byteOffset, this.keys.byteLength);
    const vals = new BigUint64Array(cfg.n);
    for (let i = 0; i < cfg.n; i++) vals[i] = BigInt(this.keys[i]! + 1);
    this.valBytes = Buffer.from(vals.buffer, vals.byteOffset, vals.byteLength);
    this.#prefix = new Float64Array(cfg.n + 1);
    for (let i = 0; i < cfg.n; i++) this.#prefix[i + 1] = this.#prefix[i]! + this.keys[i]! + 1;
    const maps: BpfMap[] = [];
    try {
      this.hash = BpfMap.create({ name: 'bench_hash', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: cfg.maxEntries });
      maps.push(this.hash);
      this.array = BpfMap.create({ name: 'bench_array', type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: cfg.n });
      maps.push(this.array);
      this.pcpu = BpfMap.create({ name: 'bench_pcpu', type: 'PERCPU_HASH', keySize: 4, valueSize: 8, maxEntries: cfg.maxEntries });
      maps.push(this.pcpu);
      for (let k = 0; k < cfg.n; k++) this.array.update(k, k + 1);
    } catch (e) {
      for (const m of maps) m.close();
      throw e;
    }
    this.pv = Buffer.alloc(this.pcpu.valueBytes);
    this.pv32 = new Uint32Array(this.pv.buffer, this.pv.byteOffset, this.pv.length / 4);
    this.th = this.hash.typed(u32, u64);
    this.ta = this.array.typed(u32, u64);
    this.bigVals = Array.from(this.keys, (k) => BigInt(k + 1));
    this.bare = new Bare();
  }

  close(): void {
    this.bare.block.free();
    this.hash.close();
    this.array.close();
    this.pcpu.close();
  }

  /** Σ (key + 1) over keys lo..hi-1. */
  sum(lo: number, hi: number): number {
    return this.#prefix[hi]! - this.#prefix[lo]!;
  }

  check(what: string, got: number, want: number): void {
    if (got !== want) throw new Error(`map-ops: ${what}: checksum ${got}, expected ${want}`);
  }

  /** Empty a hash map (unmeasured), like the C side's delete_batch. */
  drain(m: BpfMap, n: number): void {
    for (let i = 0; i < n; i += BATCH) {
      const c = Math.min(BATCH, n - i);
      m.deleteBatch(this.keyBytes.subarray(i * 4, (i + c) * 4), c);
    }
  }
}

/** A slice of a phase: operations lo..hi-1 of a round over n keys. Returns [ns taken, operations done]. */
type Phase = (s: Side, lo: number, hi: number, n: number) => [number, number];

const elapsed = (t0: bigint): number => Number(now() - t0);

function lookupRange(s: Side, m: BpfMap, what: string, lo: number, hi: number): [number, number] {
  const { keys, v, v32 } = s;
  let sum = 0;
  const t0 = now();
  for (let i = lo; i < hi; i++) {
    if (!m.lookup(keys[i]!, v)) throw new Error(`map-ops: ${what} missed`);
    sum += v32[0]! + v32[1]! * TWO32;
  }
  const ns = elapsed(t0);
  s.check(what, sum, s.sum(lo, hi));
  return [ns, hi - lo];
}

function bareLookupRange(s: Side, m: BpfMap, what: string, lo: number, hi: number): [number, number] {
  const { keys, bare } = s;
  const { u32: u, sys, nr: bpf, k: ki, v: vi } = bare;
  bare.use(m.fd, true);
  let sum = 0;
  const t0 = now();
  for (let i = lo; i < hi; i++) {
    u[ki] = keys[i]!;
    if (sys(bpf, BpfCmd.MAP_LOOKUP_ELEM, bare.block.addr, 32) !== 0) throw new Error(`map-ops: ${what} missed`);
    sum += u[vi]! + u[vi + 1]! * TWO32;
  }
  const ns = elapsed(t0);
  s.check(what, sum, s.sum(lo, hi));
  return [ns, hi - lo];
}

/** Operations per block when variants of one operation take turns (see rotate). */
const BLOCK = 128;
/** The variants rotate() measures beside the raw call, by index. */
const VARIANTS = ['', '.koffi', '.typed'];

/**
 * Variants of one operation (0: the raw API, 1: the bare koffi call, 2: the
 * typed API; a per-CPU duo has 0 and 2 as 0 and 1) taking turns in blocks of
 * BLOCK operations, so that the load from elsewhere on this shared machine
 * lands on all of them alike: a difference of a few ns over a ~1 µs syscall
 * is only visible that way. Read-only operations run every variant over
 * each block (in rotating order); others give each block to one variant.
 * Variant i's time goes to s.extra (the raw one is also returned).
 */
function rotate(s: Side, metric: string, lo: number, hi: number, readOnly: boolean, fns: ((a: number, b: number) => number)[]): [number, number] {
  const k = fns.length;
  const names = fns.map((_, i) => metric + (k === 2 && i === 1 ? '.typed' : VARIANTS[i]!));
  const ns = new Array<number>(k).fill(0);
  const ops = new Array<number>(k).fill(0);
  const blocks = names.map((n) => s.blocks.get(n) ?? (s.blocks.set(n, []), s.blocks.get(n)!));
  const run = (v: number, a: number, e: number) => {
    const t = fns[v]!(a, e);
    ns[v] += t;
    ops[v] += e - a;
    if (e - a === BLOCK) blocks[v]!.push(t / BLOCK);
  };
  for (let a = lo, b = 0; a < hi; a += BLOCK, b++) {
    const e = Math.min(hi, a + BLOCK);
    if (readOnly) for (let j = 0; j < k; j++) run((b + j) % k, a, e);
    else run(b % k, a, e);
  }
  for (let v = 1; v < k; v++) {
    const x = s.extra.get(names[v]!) ?? [0, 0];
    s.extra.set(names[v]!, [x[0]! + ns[v]!, x[1]! + ops[v]!]);
  }
  return [ns[0]!, ops[0]!];
}

/** Lookups of keys lo..hi-1: raw (lookup into a reused buffer), bare koffi and typed (a bigint per value) taking turns. */
function lookupTrio(s: Side, m: BpfMap, t: TypedMap<number, bigint>, what: string, lo: number, hi: number): [number, number] {
  return rotate(s, what, lo, hi, true, [
    (a, b) => lookupRange(s, m, what, a, b)[0],
    (a, b) => bareLookupRange(s, m, `${what}.koffi`, a, b)[0],
    (a, b) => typedLookupRange(s, t, `${what}.typed`, a, b)[0],
  ]);
}

/** Walk a generator of [key, value] pairs kept across slices: hi - lo entries, all of them by the last slice. */
function walkIter(s: Side, what: string, lo: number, hi: number, n: number, start: () => Iterator<[unknown, unknown]>, num: (v: unknown) => number): [number, number] {
  if (lo === 0) {
    s.walkSeen = 0;
    s.walkSum = 0;
  }
  const t0 = now();
  if (lo === 0) s.iter = start();
  const it = s.iter!;
  let seen = 0;
  let sum = 0;
  let end = false;
  for (let i = lo; i < hi || hi === n; i++) {
    const r = it.next();
    if (r.done) {
      end = true;
      break;
    }
    seen++;
    sum += num(r.value[1]);
  }
  const ns = elapsed(t0);
  s.walkSeen += seen;
  s.walkSum += sum;
  if (hi === n) {
    if (!end || s.walkSeen !== n) throw new Error(`map-ops: ${what} saw ${s.walkSeen} entries, expected ${n}`);
    s.check(what, s.walkSum, s.sum(0, n));
  }
  return [ns, seen];
}

const bufU64 = (v: unknown): number => (v as Buffer).readUInt32LE(0) + (v as Buffer).readUInt32LE(4) * TWO32;

/** Walk keys lo..hi-1 with nextKey(prev, out) (and look each up when `withValues`), going on from the previous slice. */
function walk(s: Side, what: string, lo: number, hi: number, n: number, withValues: boolean): [number, number] {
  const { hash, v, v32 } = s;
  if (lo === 0) {
    s.walkSeen = 0;
    s.walkSum = 0;
  }
  // Two key buffers: nextKey(a, b) writes the successor of a into b, then they swap.
  let a = s.walkA;
  let b = s.walkB;
  let t: Buffer;
  let more = true;
  let seen = 0;
  let sum = 0;
  const t0 = now();
  for (let i = lo; i < hi; i++) {
    if (i === 0) more = hash.nextKey(undefined, a) !== undefined;
    else {
      more = hash.nextKey(a, b) !== undefined;
      t = a;
      a = b;
      b = t;
    }
    if (!more) break;
    seen++;
    if (withValues && hash.lookup(a, v)) sum += v32[0]! + v32[1]! * TWO32;
  }
  if (more && hi === n) more = hash.nextKey(a, b) !== undefined; // the call that finds the end
  const ns = elapsed(t0);
  s.walkA = a;
  s.walkB = b;
  s.walkSeen += seen;
  s.walkSum += sum;
  if (hi === n) {
    if (more || s.walkSeen !== n) throw new Error(`map-ops: ${what} saw ${s.walkSeen} keys, expected ${n}`);
    if (withValues) s.check(what, s.walkSum, s.sum(0, n));
  }
  return [ns, seen];
}

/** A typed get_next_key walk (and a typed lookup per key when `withValues`), going on from the previous slice. */
function typedWalk(s: Side, what: string, lo: number, hi: number, n: number, withValues: boolean): [number, number] {
  const t = s.th;
  if (lo === 0) {
    s.walkSeen = 0;
    s.walkSum = 0;
  }
  let k = s.typedKey;
  let seen = 0;
  let sum = 0;
  const t0 = now();
  for (let i = lo; i < hi; i++) {
    k = i === 0 ? t.nextKey() : t.nextKey(k);
    if (k === undefined) break;
    seen++;
    if (withValues) sum += Number(t.get(k));
  }
  const more = k !== undefined && hi === n ? t.nextKey(k) !== undefined : k !== undefined;
  const ns = elapsed(t0);
  s.typedKey = k;
  s.walkSeen += seen;
  s.walkSum += sum;
  if (hi === n) {
    if (more || s.walkSeen !== n) throw new Error(`map-ops: ${what} saw ${s.walkSeen} keys, expected ${n}`);
    if (withValues) s.check(what, s.walkSum, s.sum(0, n));
  }
  return [ns, seen];
}

function typedLookupRange(s: Side, t: TypedMap<number, bigint>, what: string, lo: number, hi: number): [number, number] {
  const { keys } = s;
  let sum = 0;
  const t0 = now();
  for (let i = lo; i < hi; i++) {
    const v = t.get(keys[i]!);
    if (v === undefined) throw new Error(`map-ops: ${what} missed`);
    sum += Number(v);
  }
  const ns = elapsed(t0);
  s.check(what, sum, s.sum(lo, hi));
  return [ns, hi - lo];
}

/**
 * The phases of a round, in the C side's order. A phase with a third element
 * is tsbpf's only (typed API, bare koffi, entries()): its libbpf figure is
 * that C metric's, measured in the same round.
 */
const PHASES: [string, Phase, string?][] = [
  [
    'hash.update',
    (s, lo, hi) =>
      rotate(s, 'hash.update', lo, hi, false, [
        (a, b) => {
          const { hash, keys } = s;
          const t0 = now();
          for (let i = a; i < b; i++) {
            const k = keys[i]!;
            hash.update(k, k + 1);
          }
          return elapsed(t0);
        },
        (a, b) => {
          const { keys, bare } = s;
          const { u32: u, sys, nr: bpf, k: ki, v: vi } = bare;
          bare.use(s.hash.fd, true);
          u[MapElemAttr.flags >> 2] = 0;
          const t0 = now();
          for (let i = a; i < b; i++) {
            const k = keys[i]!;
            u[ki] = k;
            u[vi] = k + 1;
            u[vi + 1] = 0;
            if (sys(bpf, BpfCmd.MAP_UPDATE_ELEM, bare.block.addr, 32) !== 0) throw new Error('map-ops: bare update failed');
          }
          return elapsed(t0);
        },
        (a, b) => {
          const { th, keys, bigVals } = s;
          const t0 = now();
          for (let i = a; i < b; i++) th.set(keys[i]!, bigVals[i]!);
          return elapsed(t0);
        },
      ]),
  ],
  ['hash.lookup', (s, lo, hi) => lookupTrio(s, s.hash, s.th, 'hash.lookup', lo, hi)],
  ['hash.get_next_key', (s, lo, hi, n) => walk(s, 'hash.get_next_key', lo, hi, n, false)],
  ['hash.get_next_key.typed', (s, lo, hi, n) => typedWalk(s, 'hash.get_next_key.typed', lo, hi, n, false), 'hash.get_next_key'],
  ['hash.iterate', (s, lo, hi, n) => walk(s, 'hash.iterate', lo, hi, n, true)],
  ['hash.iterate.typed', (s, lo, hi, n) => typedWalk(s, 'hash.iterate.typed', lo, hi, n, true), 'hash.iterate'],
  ['hash.entries', (s, lo, hi, n) => walkIter(s, 'hash.entries', lo, hi, n, () => s.hash.entries(), bufU64), 'hash.iterate'],
  ['hash.entries.typed', (s, lo, hi, n) => walkIter(s, 'hash.entries.typed', lo, hi, n, () => s.th.entries(), Number), 'hash.iterate'],
  [
    'hash.lookup_batch',
    // Batches of up to 4096 until hi - lo elements are read (or, for the last slice, the end).
    (s, lo, hi, n) => {
      const { hash, bk, bv, bv32 } = s;
      if (lo === 0) {
        s.cursor = { done: false };
        s.batchTotal = 0;
        s.batchSum = 0;
      }
      const cursor = s.cursor;
      let got = 0;
      let sum = 0;
      const t0 = now();
      while (!cursor.done && (got < hi - lo || hi === n)) {
        const c = hash.lookupBatch(cursor, bk, bv, BATCH);
        for (let j = 0; j < 2 * c; j += 2) sum += bv32[j]! + bv32[j + 1]! * TWO32;
        got += c;
      }
      const ns = elapsed(t0);
      s.batchTotal += got;
      s.batchSum += sum;
      if (hi === n) {
        if (s.batchTotal !== n) throw new Error(`map-ops: lookup_batch read ${s.batchTotal} entries, expected ${n}`);
        s.check('hash.lookup_batch', s.batchSum, s.sum(0, n));
      }
      return [ns, got];
    },
  ],
  [
    'hash.delete',
    (s, lo, hi) =>
      rotate(s, 'hash.delete', lo, hi, false, [
        (a, b) => {
          const { hash, keys } = s;
          const t0 = now();
          for (let i = a; i < b; i++) {
            if (!hash.delete(keys[i]!)) throw new Error('map-ops: delete missed');
          }
          return elapsed(t0);
        },
        (a, b) => {
          const { keys, bare } = s;
          const { u32: u, sys, nr: bpf, k: ki } = bare;
          bare.use(s.hash.fd, false);
          const t0 = now();
          for (let i = a; i < b; i++) {
            u[ki] = keys[i]!;
            if (sys(bpf, BpfCmd.MAP_DELETE_ELEM, bare.block.addr, 32) !== 0) throw new Error('map-ops: bare delete missed');
          }
          return elapsed(t0);
        },
        (a, b) => {
          const { th, keys } = s;
          const t0 = now();
          for (let i = a; i < b; i++) {
            if (!th.delete(keys[i]!)) throw new Error('map-ops: typed delete missed');
          }
          return elapsed(t0);
        },
      ]),
  ],
  [
    'hash.update_batch',
    (s, lo, hi, n) => {
      const { hash, keys, keyBytes, valBytes, v, v32 } = s;
      const t0 = now();
      for (let i = lo; i < hi; i += BATCH) {
        const c = Math.min(BATCH, hi - i);
        hash.updateBatch(keyBytes.subarray(i * 4, (i + c) * 4), valBytes.subarray(i * 8, (i + c) * 8), 0, c);
      }
      const ns = elapsed(t0);
      for (const i of [lo, hi - 1]) {
        if (!hash.lookup(keys[i]!, v) || v32[0]! + v32[1]! * TWO32 !== keys[i]! + 1) throw new Error('map-ops: update_batch wrote a wrong value');
      }
      if (hi === n) s.drain(hash, n);
      return [ns, hi - lo];
    },
  ],
  ['array.lookup', (s, lo, hi) => lookupTrio(s, s.array, s.ta, 'array.lookup', lo, hi)],
  [
    'percpu_hash.update',
    (s, lo, hi) => {
      const { pcpu, keys } = s;
      const t0 = now();
      for (let i = lo; i < hi; i++) {
        const k = keys[i]!;
        pcpu.update(k, k + 1);
      }
      return [elapsed(t0), hi - lo];
    },
  ],
  [
    'percpu_hash.lookup',
    (s, lo, hi, n) => {
      const r = rotate(s, 'percpu_hash.lookup', lo, hi, true, [
        (a, b) => {
          const { pcpu, keys, pv, pv32 } = s;
          const words = pv32.length;
          let sum = 0;
          const t0 = now();
          for (let i = a; i < b; i++) {
            if (!pcpu.lookup(keys[i]!, pv)) throw new Error('map-ops: per-CPU lookup missed');
            for (let j = 0; j < words; j += 2) sum += pv32[j]! + pv32[j + 1]! * TWO32;
          }
          const ns = elapsed(t0);
          s.check('percpu_hash.lookup', sum, s.sum(a, b) * (words / 2));
          return ns;
        },
        (a, b) => {
          const { pcpu, keys, pcpuOut } = s;
          let sum = 0;
          const t0 = now();
          for (let i = a; i < b; i++) {
            const vs = pcpu.lookupPerCpuWith(keys[i]!, u64, pcpuOut);
            if (!vs) throw new Error('map-ops: typed per-CPU lookup missed');
            for (let j = 0; j < vs.length; j++) sum += Number(vs[j]!);
          }
          const ns = elapsed(t0);
          s.check('percpu_hash.lookup.typed', sum, s.sum(a, b) * pcpuOut.length);
          return ns;
        },
      ]);
      if (hi === n) s.drain(s.pcpu, n);
      return r;
    },
  ],
  [
    'syscall.getpid',
    (_s, lo, hi) => {
      const sys = libc().syscall3; // the binding bpf(2) goes through
      let sum = 0;
      const t0 = now();
      for (let i = lo; i < hi; i++) sum += sys(SYS_GETPID, 0, 0, 0);
      const ns = elapsed(t0);
      if (sum !== process.pid * (hi - lo)) throw new Error('map-ops: getpid returned something else');
      return [ns, hi - lo];
    },
  ],
];

/** Typed metrics and the raw API metric each is held to (within 1.10x). */
const TYPED_VS_RAW: [string, string][] = [
  ['hash.lookup.typed', 'hash.lookup'],
  ['hash.get_next_key.typed', 'hash.get_next_key'],
  ['hash.iterate.typed', 'hash.iterate'],
  ['hash.entries.typed', 'hash.entries'],
  ['hash.update.typed', 'hash.update'],
  ['hash.delete.typed', 'hash.delete'],
  ['array.lookup.typed', 'array.lookup'],
  ['percpu_hash.lookup.typed', 'percpu_hash.lookup'],
];

/** The C side in server mode: one slice of one phase per request. */
class CSide {
  readonly #child;
  readonly #lines: AsyncIterator<string>;
  #stderr = '';

  constructor(bin: string, cfg: Config) {
    this.#child = spawn(bin, ['serve', String(cfg.n), String(cfg.maxEntries)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async run(metric: string, lo: number, hi: number, n: number): Promise<[number, number]> {
    this.#child.stdin.write(`${metric} ${lo} ${hi} ${n}\n`);
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`map-ops: the libbpf side exited during ${metric}: ${this.#stderr.trim() || `exit code ${this.#child.exitCode}`}`);
    const m = JSON.parse(value) as { metric: string; value: number; ops: number };
    if (m.metric !== metric) throw new Error(`map-ops: asked the libbpf side for ${metric}, got ${m.metric}`);
    return [m.value, m.ops];
  }

  close(): void {
    this.#child.stdin.end();
  }
}

export const mapOps: Workload = {
  name: 'map-ops',
  description: 'HASH/ARRAY/PERCPU_HASH element and batch operations (u32 -> u64), ns per operation',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const cfg = ctx.quick ? QUICK : FULL;
    const c = new CSide(buildC(ctx.root, 'map-ops'), cfg);
    const ts = new Side(cfg);
    const samples = new Map<string, { tsbpf: number[]; libbpf: number[] }>(PHASES.map(([m]) => [m, { tsbpf: [], libbpf: [] }]));
    /** Which C metric each variant measured by rotate() is compared with. */
    const variantBase = new Map<string, string>();
    try {
      ctx.log(`warm-up over ${cfg.warm} keys`);
      for (const [metric, phase, base] of PHASES) {
        phase(ts, 0, cfg.warm, cfg.warm);
        if (!base) await c.run(metric, 0, cfg.warm, cfg.warm);
      }
      ts.extra.clear();
      ts.blocks.clear();
      for (let r = 0; r < cfg.rounds; r++) {
        const ratios: string[] = [];
        for (const [i, [metric, phase, base]] of PHASES.entries()) {
          // Time and operations of each side over the whole phase, taking turns slice by slice.
          const acc = { tsbpf: [0, 0], libbpf: [0, 0] };
          for (let lo = 0, j = 0; lo < cfg.n; lo += cfg.slice, j++) {
            const hi = Math.min(cfg.n, lo + cfg.slice);
            const runTs = () => {
              const [ns, ops] = phase(ts, lo, hi, cfg.n);
              acc.tsbpf[0] += ns;
              acc.tsbpf[1] += ops;
            };
            if (base) {
              runTs();
              continue;
            }
            if ((r + i + j) % 2 === 0) runTs();
            const [ns, ops] = await c.run(metric, lo, hi, cfg.n);
            acc.libbpf[0] += ns;
            acc.libbpf[1] += ops;
            if ((r + i + j) % 2 !== 0) runTs();
          }
          const xs = samples.get(metric)!;
          xs.tsbpf.push(acc.tsbpf[0]! / acc.tsbpf[1]!);
          // A tsbpf-only phase is compared with its C metric of this round (which ran before it).
          xs.libbpf.push(base ? samples.get(base)!.libbpf.at(-1)! : acc.libbpf[0]! / acc.libbpf[1]!);
          ratios.push(`${metric} ${(xs.tsbpf.at(-1)! / xs.libbpf.at(-1)!).toFixed(2)}`);
          for (const [name, [ns, ops]] of ts.extra) {
            if (!samples.has(name)) samples.set(name, { tsbpf: [], libbpf: [] });
            variantBase.set(name, metric);
            samples.get(name)!.tsbpf.push(ns / ops);
            samples.get(name)!.libbpf.push(xs.libbpf.at(-1)!);
            ratios.push(`${name} ${(ns / ops / xs.libbpf.at(-1)!).toFixed(2)}`);
          }
          ts.extra.clear();
        }
        ctx.log(`round ${r + 1}/${cfg.rounds} (${cfg.n} keys, turns of ${cfg.slice}), tsbpf/libbpf: ${ratios.join(', ')}`);
      }
    } finally {
      c.close();
      ts.close();
    }
    const out: Measurement[] = [];
    for (const [metric, xs] of samples) {
      out.push({ workload: 'map-ops', impl: 'tsbpf', metric, value: median(xs.tsbpf), unit: UNIT });
      out.push({ workload: 'map-ops', impl: 'libbpf', metric, value: median(xs.libbpf), unit: UNIT });
    }
    // tsbpf's own cost over the bare koffi call, and the typed API over the raw one. Element operations: from the
    // medians of their blocks (variants taking turns, see rotate()), robust to the preemptions a sum takes in;
    // walks: per round, then the median.
    const blockMedian = (m: string) => median(ts.blocks.get(m)!);
    for (const op of ['hash.lookup', 'hash.update', 'hash.delete', 'array.lookup']) {
      out.push({ workload: 'map-ops', impl: 'tsbpf', metric: `${op}.koffi.block_median`, value: blockMedian(`${op}.koffi`), unit: 'ns/op' });
      out.push({ workload: 'map-ops', impl: 'tsbpf', metric: `${op}.overhead_vs_koffi`, value: blockMedian(op) - blockMedian(`${op}.koffi`), unit: 'ns/op' });
    }
    const perRound = (a: string, b: string) => median(samples.get(a)!.tsbpf.map((x, r) => x / samples.get(b)!.tsbpf[r]!));
    for (const [typed, raw] of TYPED_VS_RAW) {
      const v = ts.blocks.has(typed) ? blockMedian(typed) / blockMedian(raw) : perRound(typed, raw);
      out.push({ workload: 'map-ops', impl: 'tsbpf', metric: `${typed}.vs_raw`, value: v, unit: 'x raw' });
    }
    return out;
  },
};
