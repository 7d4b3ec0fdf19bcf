/**
 * BTF from untrusted files, checked against the kernel's own limits
 * (kernel/bpf/btf.c) so that nothing downstream (decoder, C dump, sizes)
 * runs without bound: each case was accepted, hung, or threw a raw
 * RangeError before these checks.
 */
import { describe, expect, it } from 'vitest';
import { Btf, BtfError, btfDecoder, dumpC, dumpJson, dumpRaw } from '../btf/index.ts';
import { A, INT32, K, info, rawBtf } from './fuzz/btf-raw.ts';
import { codeOf } from './helpers/thrown.ts';

const code = (f: () => unknown) => codeOf(BtfError, f);

describe('parse-time limits', () => {
  it('INT wider than 16 bytes / 128 bits, or bits beyond its size, is refused when decoded', () => {
    const int = (size: number, data: number) => Btf.parse(rawBtf([[A, info(K.INT), size, data]]));
    for (const b of [int(262148, 32), int(16, 129), int(4, (8 << 16) | 32), int(0, 0), int(4, 0x10000020)]) {
      expect(code(() => b.typeById(1))).toBe('BTF_MALFORMED');
      expect(code(() => btfDecoder(b, 1))).toBe('BTF_MALFORMED');
    }
    expect(int(16, 128).typeById(1)).toMatchObject({ size: 16, bits: 128 });
  });

  it('vlen on a kind without one is refused by parse; a bad name offset when decoded', () => {
    expect(code(() => Btf.parse(rawBtf([[A, info(K.PTR, 5), 0]])))).toBe('BTF_MALFORMED');
    expect(code(() => Btf.parse(rawBtf([[A, info(K.INT, 1), 4, 32]])))).toBe('BTF_MALFORMED');
    expect(code(() => Btf.parse(rawBtf([[999, info(K.PTR), 0]])).typeById(1))).toBe('BTF_MALFORMED');
  });

  it('a member outside its struct is refused when the struct is decoded', () => {
    // struct a { int a; } claiming 2 bytes; and one with the member at byte 100 of 8.
    const small = Btf.parse(rawBtf([INT32, [A, info(K.STRUCT, 1), 2, A, 1, 0]]));
    expect(code(() => small.typeById(2))).toBe('BTF_MALFORMED');
    const far = Btf.parse(rawBtf([INT32, [A, info(K.STRUCT, 1), 8, A, 1, 800]]));
    expect(code(() => far.typeById(2))).toBe('BTF_MALFORMED');
    const bits = Btf.parse(rawBtf([INT32, [A, info(K.STRUCT, 1, true), 4, A, 1, (200 << 24) | 0]]));
    expect(code(() => bits.typeById(2))).toBe('BTF_MALFORMED');
  });

  it('an array whose size overflows 32 bits has no size (but decodes: map definitions use int (*)[N])', () => {
    const b = Btf.parse(rawBtf([INT32, [0, info(K.ARRAY), 0, 1, 1, 0x40000001]]));
    expect(b.typeOfKind(2, 'array').nelems).toBe(0x40000001);
    expect(code(() => b.sizeOf(2))).toBe('BTF_INVALID_TYPE');
    expect(code(() => btfDecoder(b, 2))).toBe('BTF_INVALID_TYPE');
    // ... nor does a struct with such a member: it cannot fit in any struct size.
    const s = Btf.parse(rawBtf([INT32, [0, info(K.ARRAY), 0, 1, 1, 0x40000001], [A, info(K.STRUCT, 1), 8, A, 2, 0]]));
    expect(code(() => s.typeById(3))).toBe('BTF_MALFORMED');
  });

  it('a typedef / const cycle is a typed error everywhere, not a hang or stack overflow', () => {
    const b = Btf.parse(rawBtf([[A, info(K.TYPEDEF), 2], [0, info(K.CONST), 1], [A, info(K.STRUCT, 1), 4, A, 1, 0]]));
    expect(code(() => b.resolve(1))).toBe('BTF_LOOP');
    expect(code(() => b.sizeOf(3))).toBe('BTF_LOOP');
    expect(code(() => b.alignOf(3))).toBe('BTF_LOOP');
    expect(code(() => btfDecoder(b, 3))).toBe('BTF_LOOP');
    expect(code(() => dumpC(b))).toBe('BTF_LOOP');
    expect(code(() => dumpRaw(b))).toBe('BTF_LOOP');
    expect(code(() => dumpJson(b))).toBe('BTF_LOOP');
  });
});

describe('dumpC output is bounded by its input', () => {
  it('a struct claiming 0xffffffff bytes around one char: typed error, not gigabytes of padding', () => {
    const blob = rawBtf([[A, info(K.INT), 1, (2 << 24) | 8], [A, info(K.STRUCT, 1), 0xffffffff, A, 1, 0]]);
    const t0 = Date.now();
    expect(code(() => dumpC(Btf.parse(blob)))).toBe('BTF_MALFORMED');
    expect(Date.now() - t0).toBeLessThan(5000); // was 20 s and 3.2 GB
  }, 60_000);

  it('honest padding (a page-aligned struct) is still written in full', () => {
    const blob = rawBtf([[A, info(K.INT), 1, (2 << 24) | 8], [A, info(K.STRUCT, 1), 4096, A, 1, 0]]);
    const out = dumpC(Btf.parse(blob), { header: false });
    expect(out.match(/long: 64;/g)!.length).toBe(511);
  });
});

describe('btfDecoder on hostile BTF', () => {
  it('decode(undefined), a negative or fractional offset: typed errors', () => {
    const b = Btf.parse(rawBtf([INT32]));
    const d = btfDecoder(b, 1);
    expect(code(() => d.decode(undefined as unknown as Uint8Array))).toBe('BTF_INVALID_TYPE');
    expect(code(() => d.decode(new Uint8Array(8), -1))).toBe('BTF_TRUNCATED');
    expect(code(() => d.decode(new Uint8Array(8), 0.5))).toBe('BTF_TRUNCATED');
    expect(d.decode(new Uint8Array([1, 0, 0, 0, 9]), 0)).toBe(1);
  });

  it('a field that reads past its enclosing type is refused with its path', () => {
    // struct a { enum(3 bytes) a; } of 3 bytes: the enum reader takes 4.
    const b = Btf.parse(rawBtf([[A, info(K.ENUM, 0), 3], [A, info(K.STRUCT, 1), 3, A, 1, 0]]));
    let err: unknown;
    try {
      btfDecoder(b, 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtfError);
    expect((err as BtfError).code).toBe('BTF_MALFORMED');
    expect((err as BtfError).message).toContain('struct a.a');
    // A float of 2 bytes read as a double.
    const f = Btf.parse(rawBtf([[A, info(K.FLOAT), 2]]));
    expect(code(() => btfDecoder(f, 1))).toBe('BTF_MALFORMED');
  });

  it('exponential fan-out of zero-sized members is refused, not expanded', () => {
    // Each level: 200 members at offset 0 of the level below (all 0 bytes): 200^4 values.
    const types: number[][] = [[A, info(K.STRUCT, 0), 0]];
    for (let level = 0; level < 4; level++) {
      const below = types.length;
      const t = [A, info(K.STRUCT, 200), 0];
      for (let i = 0; i < 200; i++) t.push(A, below, 0);
      types.push(t);
    }
    const b = Btf.parse(rawBtf(types));
    const t0 = Date.now();
    expect(code(() => btfDecoder(b, types.length).decode(new Uint8Array(0)))).toBe('BTF_INVALID_TYPE');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
