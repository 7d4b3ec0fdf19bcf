/**
 * Shared helpers of the ELF tests: the on-disk corpus, a seeded PRNG, and a
 * builder for small synthetic ELF64 files (both byte orders) that exercise
 * what real objects rarely contain (extended numbering, PN_XNUM, huge NOBITS).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const CILIUM_TESTDATA = '/usr/share/gocode/src/github.com/cilium/ebpf/testdata';
export const CILIUM_BTF_TESTDATA = '/usr/share/gocode/src/github.com/cilium/ebpf/btf/testdata';
export const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
export const BASH = '/usr/bin/bash';

/** Every *.elf of the cilium/ebpf test data (BPF objects, -el/-eb twins), plus the vDSO images. */
export function corpusFiles(): string[] {
  const files: string[] = [];
  for (const dir of [CILIUM_TESTDATA, CILIUM_BTF_TESTDATA]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.elf') || /^vdso.*\.bin$/.test(name)) files.push(join(dir, name));
    }
  }
  return files;
}

/** mulberry32: tiny deterministic PRNG, good enough to drive mutations. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds a string table; offset 0 is the empty string. */
export class StrtabBuilder {
  private readonly parts: string[] = [''];
  private length = 1;
  private readonly offsets = new Map<string, number>([['', 0]]);

  add(name: string): number {
    const known = this.offsets.get(name);
    if (known !== undefined) return known;
    const offset = this.length;
    this.parts.push(name);
    this.offsets.set(name, offset);
    this.length += Buffer.byteLength(name) + 1;
    return offset;
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.from(this.parts.join('\0') + '\0'));
  }
}

export interface SectionSpec {
  name: string;
  type: number;
  flags?: bigint;
  addr?: bigint;
  data?: Uint8Array;
  /** sh_size override (e.g. for SHT_NOBITS, or to lie). */
  size?: bigint;
  /** sh_offset override. */
  offset?: bigint;
  link?: number;
  info?: number;
  addralign?: bigint;
  entsize?: bigint;
}

export interface ProgramHeaderSpec {
  type: number;
  flags?: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz?: bigint;
  align?: bigint;
}

export interface ElfSpec {
  littleEndian: boolean;
  type?: number;
  machine?: number;
  /** Sections 1..n; section 0 (null) and the name table (appended last) are added by the builder. */
  sections: SectionSpec[];
  programHeaders?: ProgramHeaderSpec[];
  /** Store the section count in section 0's sh_size and write e_shnum = 0. */
  extendedShnum?: boolean;
  /** Store the name table index in section 0's sh_link and write e_shstrndx = SHN_XINDEX. */
  extendedShstrndx?: boolean;
  /** Store the program header count in section 0's sh_info and write e_phnum = PN_XNUM. */
  extendedPhnum?: boolean;
}

/** Index the builder gives to section spec i (section 0 is the null section). */
export const specIndex = (i: number): number => i + 1;

export function buildElf(spec: ElfSpec): Uint8Array {
  const le = spec.littleEndian;
  const names = new StrtabBuilder();
  const all: SectionSpec[] = [...spec.sections, { name: '.shstrtab', type: 3 }];
  const nameOffsets = all.map((s) => names.add(s.name));
  const shstrtab = names.bytes();
  all[all.length - 1]!.data = shstrtab;
  const shnum = all.length + 1;
  const shstrndx = all.length;
  const phdrs = spec.programHeaders ?? [];

  const align8 = (n: number) => Math.ceil(n / 8) * 8;
  let cursor = 64 + phdrs.length * 56;
  const offsets = all.map((s) => {
    cursor = align8(cursor);
    const at = cursor;
    if (s.type !== 8) cursor += s.data?.length ?? 0;
    return at;
  });
  const shoff = align8(cursor);
  const out = new Uint8Array(shoff + shnum * 64);
  const view = new DataView(out.buffer);
  const u16 = (at: number, v: number) => view.setUint16(at, v, le);
  const u32 = (at: number, v: number) => view.setUint32(at, v, le);
  const u64 = (at: number, v: bigint) => view.setBigUint64(at, v, le);

  out.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1]);
  u16(16, spec.type ?? 1);
  u16(18, spec.machine ?? 247);
  u32(20, 1);
  u64(32, phdrs.length ? 64n : 0n);
  u64(40, BigInt(shoff));
  u16(52, 64);
  u16(54, 56);
  u16(56, spec.extendedPhnum ? 0xffff : phdrs.length);
  u16(58, 64);
  u16(60, spec.extendedShnum ? 0 : shnum);
  u16(62, spec.extendedShstrndx ? 0xffff : shstrndx);

  phdrs.forEach((p, i) => {
    const at = 64 + i * 56;
    u32(at, p.type);
    u32(at + 4, p.flags ?? 4);
    u64(at + 8, p.offset);
    u64(at + 16, p.vaddr);
    u64(at + 24, p.vaddr);
    u64(at + 32, p.filesz);
    u64(at + 40, p.memsz ?? p.filesz);
    u64(at + 48, p.align ?? 0x1000n);
  });

  // Section 0 carries the extended-numbering escapes.
  if (spec.extendedShnum) u64(shoff + 32, BigInt(shnum));
  if (spec.extendedShstrndx) u32(shoff + 40, shstrndx);
  if (spec.extendedPhnum) u32(shoff + 44, phdrs.length);

  all.forEach((s, i) => {
    if (s.type !== 8 && s.data) out.set(s.data, offsets[i]);
    const at = shoff + (i + 1) * 64;
    u32(at, nameOffsets[i]!);
    u32(at + 4, s.type);
    u64(at + 8, s.flags ?? 0n);
    u64(at + 16, s.addr ?? 0n);
    u64(at + 24, s.offset ?? BigInt(offsets[i]!));
    u64(at + 32, s.size ?? BigInt(s.data?.length ?? 0));
    u32(at + 40, s.link ?? 0);
    u32(at + 44, s.info ?? 0);
    u64(at + 48, s.addralign ?? 1n);
    u64(at + 56, s.entsize ?? 0n);
  });
  return out;
}

export interface SymbolSpec {
  name: number;
  bind?: number;
  type?: number;
  other?: number;
  shndx: number;
  value?: bigint;
  size?: bigint;
}

/** Encodes Elf64_Sym entries (include the null symbol yourself). */
export function encodeSymbols(littleEndian: boolean, symbols: SymbolSpec[]): Uint8Array {
  const out = new Uint8Array(symbols.length * 24);
  const view = new DataView(out.buffer);
  symbols.forEach((s, i) => {
    const at = i * 24;
    view.setUint32(at, s.name, littleEndian);
    view.setUint8(at + 4, ((s.bind ?? 0) << 4) | (s.type ?? 0));
    view.setUint8(at + 5, s.other ?? 0);
    view.setUint16(at + 6, s.shndx, littleEndian);
    view.setBigUint64(at + 8, s.value ?? 0n, littleEndian);
    view.setBigUint64(at + 16, s.size ?? 0n, littleEndian);
  });
  return out;
}

/** Encodes Elf64_Rel (no addend) or Elf64_Rela entries. */
export function encodeRelocations(
  littleEndian: boolean,
  entries: { offset: bigint; symbol: number; type: number; addend?: bigint }[],
  rela: boolean,
): Uint8Array {
  const size = rela ? 24 : 16;
  const out = new Uint8Array(entries.length * size);
  const view = new DataView(out.buffer);
  entries.forEach((r, i) => {
    view.setBigUint64(i * size, r.offset, littleEndian);
    view.setBigUint64(i * size + 8, (BigInt(r.symbol) << 32n) | BigInt(r.type), littleEndian);
    if (rela) view.setBigInt64(i * size + 16, r.addend ?? 0n, littleEndian);
  });
  return out;
}

/** Encodes a note (name NUL-terminated, name and desc padded to `align`). */
export function encodeNote(littleEndian: boolean, name: string, type: number, desc: Uint8Array, align = 4): Uint8Array {
  const pad = (n: number) => Math.ceil(n / align) * align;
  const nameBytes = Buffer.from(name + '\0');
  const descAt = pad(12 + nameBytes.length);
  const out = new Uint8Array(pad(descAt + desc.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, nameBytes.length, littleEndian);
  view.setUint32(4, desc.length, littleEndian);
  view.setUint32(8, type, littleEndian);
  out.set(nameBytes, 12);
  out.set(desc, descAt);
  return out;
}
