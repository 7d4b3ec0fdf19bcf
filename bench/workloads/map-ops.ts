/**
 * map-ops: BpfMap element and batch operations against libbpf's bpf_map_*
 * (bench/libbpf/map-ops.c), in ns per operation.
 *
 * Both sides run the same rounds over the same key sequence (a permutation
 * key(i) = i * P % N of 0..N-1) with the same values (key + 1) and the same
 * warm-up; see the C file for the round structure. tsbpf and libbpf sessions
 * alternate (tsbpf, libbpf, libbpf, tsbpf, ...), each session creating fresh
 * maps, warming up and running some rounds; every metric is the median of all
 * rounds of a side. That way a burst of load from elsewhere on the machine
 * lands on both sides rather than on one.
 *
 * The tsbpf side uses what a performance-minded user of BpfMap would write:
 *  - update:      map.update(k, k + 1): a number key and a number value (no bigint, no buffer).
 *  - lookup:      map.lookup(k, out) into a reused 8-byte buffer, read as two u32 halves
 *                 (lookupWith(k, u64) returns a bigint, which costs an allocation per call).
 *  - get_next_key: map.nextKey(prev, out) with two reused buffers, like the C loop
 *                 (map.keys() hands out a fresh Buffer per key).
 *  - iterate:     nextKey(prev, out) + lookup(key, out) per entry (entries() allocates two Buffers per entry).
 *  - delete:      map.delete(k).
 *  - update_batch: map.updateBatch(keys, values, 0, count) over packed slices of the key/value arrays.
 *  - lookup_batch: map.lookupBatch(cursor, keys, values, 4096) until cursor.done, summing the values.
 *  - per-CPU update: map.update(k, k + 1) (a scalar is replicated to every possible CPU's slot);
 *    per-CPU lookup: map.lookup(k, out) with out of valueBytes, every slot summed.
 *  - syscall.getpid: getpid through the same koffi binding as bpf(2) (informational: the call floor).
 * Every result is folded into a checksum that is verified, so no call can be dropped.
 */
import { BpfMap, type BatchCursor } from '../../bpf/map.ts';
import { libc } from '../../syscall/libc.ts';
import { median, type BenchContext, type Impl, type Measurement, type Workload } from '../harness.ts';

const BATCH = 4096;
const UNIT = 'ns/op';
const SYS_GETPID = process.arch === 'arm64' ? 172 : 39;

const METRICS = [
  'hash.update',
  'hash.lookup',
  'hash.get_next_key',
  'hash.iterate',
  'hash.lookup_batch',
  'hash.delete',
  'hash.update_batch',
  'array.lookup',
  'percpu_hash.update',
  'percpu_hash.lookup',
  'syscall.getpid',
] as const;
type Metric = (typeof METRICS)[number];
type Round = Partial<Record<Metric, number>>;

interface Config {
  n: number;
  maxEntries: number;
  /** tsbpf/libbpf session pairs. */
  sessions: number;
  /** Measured rounds per session. */
  rounds: number;
  /** Keys in the warm-up round of each session. */
  warm: number;
}

const FULL: Config = { n: 1_000_000, maxEntries: 1_000_000, sessions: 5, rounds: 1, warm: 65_536 };
// --quick: a small map (max_entries = N, so creation is cheap) and one session; a few seconds.
const QUICK: Config = { n: 20_000, maxEntries: 20_000, sessions: 1, rounds: 3, warm: 20_000 };

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
const per = (t0: bigint, ops: number): number => Number(now() - t0) / ops;
const TWO32 = 4294967296;

class Checksum {
  got = 0;
  want = 0;
  check(what: string): void {
    if (this.got !== this.want) throw new Error(`map-ops: ${what}: checksum ${this.got}, expected ${this.want}`);
    this.got = this.want = 0;
  }
}

interface Data {
  keys: Uint32Array;
  /** keys and values packed for the batch calls: keyBytes[i] = keys[i], valBytes[i] = keys[i] + 1 (u64). */
  keyBytes: Buffer;
  valBytes: Buffer;
  /** Σ (key + 1) over the first n keys, indexed by n for the sizes used. */
  sums: Map<number, number>;
}

function makeData(cfg: Config): Data {
  const keys = keySequence(cfg.n);
  const keyBytes = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
  const vals = new BigUint64Array(cfg.n);
  for (let i = 0; i < cfg.n; i++) vals[i] = BigInt(keys[i]! + 1);
  const valBytes = Buffer.from(vals.buffer, vals.byteOffset, vals.byteLength);
  const sums = new Map<number, number>();
  for (const n of [cfg.n, cfg.warm]) {
    let s = 0;
    for (let i = 0; i < n; i++) s += keys[i]! + 1;
    sums.set(n, s);
  }
  return { keys, keyBytes, valBytes, sums };
}

/** Empty a hash map (unmeasured), like the C side's delete_batch. */
function drain(m: BpfMap, d: Data, n: number): void {
  for (let i = 0; i < n; i += BATCH) {
    const c = Math.min(BATCH, n - i);
    m.deleteBatch(d.keyBytes.subarray(i * 4, (i + c) * 4), c);
  }
}

function hashRound(m: BpfMap, d: Data, n: number, out: Round | undefined): void {
  const keys = d.keys;
  const sum = d.sums.get(n)!;
  const ck = new Checksum();
  const vbuf = Buffer.alloc(8);
  const v32 = new Uint32Array(vbuf.buffer, vbuf.byteOffset, 2);
  let t0: bigint;

  t0 = now();
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    m.update(k, k + 1);
  }
  if (out) out['hash.update'] = per(t0, n);

  t0 = now();
  for (let i = 0; i < n; i++) {
    if (!m.lookup(keys[i]!, vbuf)) throw new Error('map-ops: lookup missed');
    ck.got += v32[0]! + v32[1]! * TWO32;
  }
  if (out) out['hash.lookup'] = per(t0, n);
  ck.want = sum;
  ck.check('hash.lookup');

  // Two key buffers: nextKey(a, b) writes the successor of a into b, then they swap.
  let a: Buffer = Buffer.alloc(4);
  let b: Buffer = Buffer.alloc(4);
  let t: Buffer;
  let seen = 0;
  t0 = now();
  for (let k = m.nextKey(undefined, a); k; k = m.nextKey(a, b), t = a, a = b, b = t) seen++;
  if (out) out['hash.get_next_key'] = per(t0, seen);
  if (seen !== n) throw new Error(`map-ops: get_next_key saw ${seen} keys, expected ${n}`);

  seen = 0;
  t0 = now();
  for (let k = m.nextKey(undefined, a); k; k = m.nextKey(a, b), t = a, a = b, b = t) {
    if (m.lookup(a, vbuf)) {
      ck.got += v32[0]! + v32[1]! * TWO32;
      seen++;
    }
  }
  if (out) out['hash.iterate'] = per(t0, seen);
  if (seen !== n) throw new Error(`map-ops: iterate saw ${seen} entries, expected ${n}`);
  ck.want = sum;
  ck.check('hash.iterate');

  {
    const bk = Buffer.alloc(BATCH * 4);
    const bv = Buffer.alloc(BATCH * 8);
    const bv32 = new Uint32Array(bv.buffer, bv.byteOffset, BATCH * 2);
    const cursor: BatchCursor = { done: false };
    let total = 0;
    t0 = now();
    while (!cursor.done) {
      const c = m.lookupBatch(cursor, bk, bv, BATCH);
      for (let j = 0; j < 2 * c; j += 2) ck.got += bv32[j]! + bv32[j + 1]! * TWO32;
      total += c;
    }
    if (out) out['hash.lookup_batch'] = per(t0, total);
    if (total !== n) throw new Error(`map-ops: lookup_batch read ${total} entries, expected ${n}`);
    ck.want = sum;
    ck.check('hash.lookup_batch');
  }

  t0 = now();
  for (let i = 0; i < n; i++) {
    if (!m.delete(keys[i]!)) throw new Error('map-ops: delete missed');
  }
  if (out) out['hash.delete'] = per(t0, n);

  t0 = now();
  for (let i = 0; i < n; i += BATCH) {
    const c = Math.min(BATCH, n - i);
    m.updateBatch(d.keyBytes.subarray(i * 4, (i + c) * 4), d.valBytes.subarray(i * 8, (i + c) * 8), 0, c);
  }
  if (out) out['hash.update_batch'] = per(t0, n);
  for (const i of [0, n >> 1, n - 1]) {
    if (!m.lookup(keys[i]!, vbuf) || v32[0]! + v32[1]! * TWO32 !== keys[i]! + 1) throw new Error('map-ops: update_batch wrote a wrong value');
  }

  drain(m, d, n);
}

function arrayRound(m: BpfMap, d: Data, n: number, out: Round | undefined): void {
  const keys = d.keys;
  const vbuf = Buffer.alloc(8);
  const v32 = new Uint32Array(vbuf.buffer, vbuf.byteOffset, 2);
  const ck = new Checksum();
  const t0 = now();
  for (let i = 0; i < n; i++) {
    m.lookup(keys[i]!, vbuf);
    ck.got += v32[0]! + v32[1]! * TWO32;
  }
  if (out) out['array.lookup'] = per(t0, n);
  ck.want = d.sums.get(n)!;
  ck.check('array.lookup');
}

function percpuRound(m: BpfMap, d: Data, n: number, out: Round | undefined): void {
  const keys = d.keys;
  const ncpu = m.valueBytes / 8;
  const vbuf = Buffer.alloc(m.valueBytes);
  const v32 = new Uint32Array(vbuf.buffer, vbuf.byteOffset, ncpu * 2);
  const ck = new Checksum();
  let t0 = now();
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    m.update(k, k + 1);
  }
  if (out) out['percpu_hash.update'] = per(t0, n);

  t0 = now();
  for (let i = 0; i < n; i++) {
    if (!m.lookup(keys[i]!, vbuf)) throw new Error('map-ops: per-CPU lookup missed');
    for (let j = 0; j < 2 * ncpu; j += 2) ck.got += v32[j]! + v32[j + 1]! * TWO32;
  }
  if (out) out['percpu_hash.lookup'] = per(t0, n);
  ck.want = d.sums.get(n)! * ncpu;
  ck.check('percpu_hash.lookup');
  drain(m, d, n);
}

function getpidRound(n: number, out: Round | undefined): void {
  const sys = libc().syscall3; // the binding bpf(2) goes through
  const pid = process.pid;
  let s = 0;
  const t0 = now();
  for (let i = 0; i < n; i++) s += sys(SYS_GETPID, 0, 0, 0);
  if (out) out['syscall.getpid'] = per(t0, n);
  if (s !== pid * n) throw new Error('map-ops: getpid returned something else');
}

/** One tsbpf session: fresh maps, a warm-up round, then cfg.rounds measured rounds. */
function tsbpfSession(cfg: Config, d: Data): Round[] {
  const maps: BpfMap[] = [];
  try {
    const hash = BpfMap.create({ name: 'bench_hash', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: cfg.maxEntries });
    maps.push(hash);
    const array = BpfMap.create({ name: 'bench_array', type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: cfg.n });
    maps.push(array);
    const pcpu = BpfMap.create({ name: 'bench_pcpu', type: 'PERCPU_HASH', keySize: 4, valueSize: 8, maxEntries: cfg.maxEntries });
    maps.push(pcpu);
    for (let k = 0; k < cfg.n; k++) array.update(k, k + 1);

    hashRound(hash, d, cfg.warm, undefined);
    arrayRound(array, d, cfg.warm, undefined);
    percpuRound(pcpu, d, cfg.warm, undefined);
    getpidRound(cfg.warm, undefined);

    const rounds: Round[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      const out: Round = {};
      hashRound(hash, d, cfg.n, out);
      arrayRound(array, d, cfg.n, out);
      percpuRound(pcpu, d, cfg.n, out);
      getpidRound(cfg.n, out);
      rounds.push(out);
    }
    return rounds;
  } finally {
    for (const m of maps) m.close();
  }
}

export const mapOps: Workload = {
  name: 'map-ops',
  description: 'HASH/ARRAY/PERCPU_HASH element and batch operations (u32 -> u64), ns per operation',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const cfg = ctx.quick ? QUICK : FULL;
    const d = makeData(cfg);
    const samples: Record<'tsbpf' | 'libbpf', Record<string, number[]>> = { tsbpf: {}, libbpf: {} };
    const add = (impl: 'tsbpf' | 'libbpf', metric: string, v: number) => (samples[impl][metric] ??= []).push(v);
    const cArgs = [cfg.n, cfg.maxEntries, cfg.rounds, cfg.warm, 1].map(String);

    for (let s = 0; s < cfg.sessions; s++) {
      const order: ('tsbpf' | 'libbpf')[] = s % 2 ? ['libbpf', 'tsbpf'] : ['tsbpf', 'libbpf'];
      for (const impl of order) {
        ctx.log(`session ${s + 1}/${cfg.sessions}: ${impl} (${cfg.n} keys, ${cfg.rounds} rounds)`);
        if (impl === 'tsbpf') {
          for (const r of tsbpfSession(cfg, d)) for (const [m, v] of Object.entries(r)) add('tsbpf', m, v);
        } else {
          // With a fifth argument the C side prints every round rather than its median.
          for (const m of ctx.runC('map-ops', cArgs)) add('libbpf', m.metric, m.value);
        }
      }
    }

    const out: Measurement[] = [];
    for (const metric of METRICS) {
      for (const impl of ['tsbpf', 'libbpf'] as Impl[]) {
        const xs = samples[impl as 'tsbpf' | 'libbpf'][metric];
        if (!xs?.length) throw new Error(`map-ops: no ${impl} samples for ${metric}`);
        out.push({ workload: 'map-ops', impl, metric, value: median(xs), unit: UNIT });
      }
    }
    return out;
  },
};
