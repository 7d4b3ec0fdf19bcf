/**
 * BTF and BTF.ext mutators shared by test/btf-fuzz.test.ts and the fuzz
 * driver (./driver.ts). Each takes the bytes (mutated in place or cut), a
 * DataView of them, the byte order and the PRNG.
 */
export type Mutator = (u: Uint8Array, d: DataView, le: boolean, r: () => number) => Uint8Array;
export const int = (r: () => number, n: number) => Math.floor(r() * n);
const interesting = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];
const pick = (r: () => number) => (r() < 0.5 ? interesting[int(r, interesting.length)]! : int(r, 0x100000000));

/** Word offsets of the types in a (valid) BTF blob, for targeted mutations. */
export function typeWordOffsets(u: Uint8Array, d: DataView, le: boolean): number[] {
  const hdr = d.getUint32(4, le);
  const start = hdr + d.getUint32(8, le);
  const end = start + d.getUint32(12, le);
  const out: number[] = [];
  const extra: Record<number, [number, number]> = {
    1: [1, 0], 3: [3, 0], 4: [0, 3], 5: [0, 3], 6: [0, 2], 13: [0, 2], 14: [1, 0], 15: [0, 3], 17: [1, 0], 19: [0, 3],
  };
  for (let o = start; o + 12 <= end; ) {
    out.push(o);
    const info = d.getUint32(o + 4, le);
    const [f, v] = extra[(info >>> 24) & 0x1f] ?? [0, 0];
    o += 12 + 4 * (f + v * (info & 0xffff));
  }
  void u;
  return out;
}

export const btfMutators: Mutator[] = [
  // random byte flips
  (u, _d, _le, r) => {
    for (let i = 1 + int(r, 8); i > 0; i--) u[int(r, u.length)] = int(r, 256);
    return u;
  },
  // truncation
  (u, _d, _le, r) => u.subarray(0, int(r, u.length)),
  // huge / odd header fields
  (u, d, le, r) => (d.setUint32(4 + 4 * int(r, 5), pick(r), le), u),
  // a random word anywhere
  (u, d, le, r) => (d.setUint32(4 * int(r, u.length >> 2), pick(r), le), u),
  // vlen bomb / kind change / kind_flag flip on a type
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    const o = ts[int(r, ts.length)]!;
    const info = d.getUint32(o + 4, le);
    const what = int(r, 3);
    const v = what === 0 ? (info & ~0xffff) | 0xffff : what === 1 ? (info & 0xe0ffffff) | (int(r, 32) << 24) : info ^ 0x80000000;
    d.setUint32(o + 4, v >>> 0, le);
    return u;
  },
  // self reference / reference loops / out of range references
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    const i = int(r, ts.length);
    const o = ts[i]!;
    const target = r() < 0.5 ? i + 1 : r() < 0.5 ? int(r, ts.length + 1) : pick(r);
    const slot = r() < 0.5 ? 8 : 12 + 4 * int(r, 6);
    if (o + slot + 4 <= u.length) d.setUint32(o + slot, target >>> 0, le);
    return u;
  },
  // name offsets pointing anywhere
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    d.setUint32(ts[int(r, ts.length)]!, r() < 0.5 ? int(r, 4096) : pick(r), le);
    return u;
  },
];

export const extMutators: Mutator[] = [
  btfMutators[0]!,
  btfMutators[1]!,
  (u, d, le, r) => (d.setUint32(4 + 4 * int(r, 7), pick(r), le), u),
  btfMutators[3]!,
  // record size / record count bombs
  (u, d, le, r) => {
    const hdr = d.getUint32(4, le);
    const block = 8 + 8 * int(r, 3);
    const off = hdr + d.getUint32(block, le);
    if (off + 12 <= u.length) d.setUint32(off + 4 * int(r, 3), pick(r), le);
    return u;
  },
];


/** Mutations aimed at the kernel's limits: huge sizes with few members, wide INTs, members past the end, cycles. */
export const limitMutators: Mutator[] = [
  // an INT or struct/union/enum/float/datasec size word set to something huge
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    const o = ts[int(r, ts.length)]!;
    d.setUint32(o + 8, [0xffffffff, 0x7fffffff, 0x40004, 262148, 17, 4096, 0x10000000][int(r, 7)]!, le);
    return u;
  },
  // INT data word: bits / offset / encoding out of range
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le).filter((o) => ((d.getUint32(o + 4, le) >>> 24) & 0x1f) === 1);
    if (!ts.length) return u;
    d.setUint32(ts[int(r, ts.length)]! + 12, [129, 255, 0x00ff0080, 0x0f000020, 0x10000020, 0x00800001][int(r, 6)]!, le);
    return u;
  },
  // a member / param / enumerator / secinfo word anywhere in a type's vlen area
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    const o = ts[int(r, ts.length)]!;
    const vlen = d.getUint32(o + 4, le) & 0xffff;
    if (!vlen) return u;
    const at = o + 12 + 4 * int(r, vlen * 3);
    if (at + 4 <= u.length) d.setUint32(at, pick(r) >>> 0, le);
    return u;
  },
  // an array's element count set to something huge
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le).filter((o) => ((d.getUint32(o + 4, le) >>> 24) & 0x1f) === 3);
    if (!ts.length) return u;
    d.setUint32(ts[int(r, ts.length)]! + 20, [0xffffffff, 0x80000000, 0x40000000, 0x10000, 0x1000001][int(r, 5)]!, le);
    return u;
  },
  // a reference cycle through modifiers: type i -> i+1 -> i
  (u, d, le, r) => {
    const ts = typeWordOffsets(u, d, le);
    const i = int(r, ts.length - 1);
    const id = i + 1;
    const mod = [8, 9, 10, 11, 18][int(r, 5)]!;
    d.setUint32(ts[i]! + 4, (mod << 24) >>> 0, le);
    d.setUint32(ts[i]! + 8, id + 1, le);
    if (r() < 0.7) {
      const j = ts[i + 1]!;
      const info = d.getUint32(j + 4, le);
      const k = (info >>> 24) & 0x1f;
      if (k === 8 || k === 9 || k === 10 || k === 11 || k === 18 || k === 2) d.setUint32(j + 8, id, le);
      else if (k === 4 || k === 5) {
        if (info & 0xffff) d.setUint32(j + 16, id, le); // first member's type: a struct containing itself
      }
    }
    return u;
  },
];
