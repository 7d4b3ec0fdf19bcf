/**
 * ELF mutation machinery shared by test/elf-fuzz.test.ts and the fuzz driver
 * (./driver.ts): seeds, a seed's layout, layout-aware mutators, and a walk
 * over every accessor of a parsed file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ElfError, PT_NOTE, SHT_NOBITS, SHT_NOTE, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
  SHT_SYMTAB_SHNDX, SHN_XINDEX, STB_GLOBAL, iterateNotes, parseElf, type ElfFile,
} from '../../elf/index.ts';
import {
  CILIUM_BTF_TESTDATA, CILIUM_TESTDATA, StrtabBuilder, buildElf, encodeNote, encodeRelocations, encodeSymbols,
  specIndex,
} from './elf-helpers.ts';

/** A synthetic object with what the corpus lacks: extended numbering, SHT_SYMTAB_SHNDX, RELA, notes, PN_XNUM. */
export function syntheticSeed(littleEndian: boolean): Uint8Array {
  const strtab = new StrtabBuilder();
  const symbols = encodeSymbols(littleEndian, [
    { name: 0, shndx: 0 },
    { name: strtab.add('a'), bind: STB_GLOBAL, shndx: SHN_XINDEX, value: 0x401000n },
    { name: strtab.add('b'), bind: STB_GLOBAL, shndx: specIndex(0), value: 0x401008n },
  ]);
  const shndx = new Uint8Array(12);
  new DataView(shndx.buffer).setUint32(4, specIndex(0), littleEndian);
  return buildElf({
    littleEndian,
    type: 3,
    machine: 62,
    extendedShnum: true,
    extendedShstrndx: true,
    extendedPhnum: true,
    programHeaders: [{ type: 1, offset: 0n, vaddr: 0x400000n, filesz: 0x200n, memsz: 0x300n }, { type: PT_NOTE, offset: 0x100n, vaddr: 0x400100n, filesz: 0x20n }],
    sections: [
      { name: '.text', type: SHT_PROGBITS, data: new Uint8Array(64).fill(0x90), addr: 0x401000n },
      { name: '.symtab', type: SHT_SYMTAB, data: symbols, link: specIndex(2), entsize: 24n },
      { name: '.strtab', type: SHT_STRTAB, data: strtab.bytes() },
      { name: '.symtab_shndx', type: SHT_SYMTAB_SHNDX, data: shndx, link: specIndex(1), entsize: 4n },
      { name: '.rela.text', type: SHT_RELA, data: encodeRelocations(littleEndian, [{ offset: 8n, symbol: 1, type: 2, addend: -4n }], true), link: specIndex(1), info: specIndex(0), entsize: 24n },
      { name: '.note.stapsdt', type: SHT_NOTE, data: encodeNote(littleEndian, 'stapsdt', 3, new Uint8Array(20).fill(7)), addralign: 4n },
      { name: '.note.gnu.property', type: SHT_NOTE, data: encodeNote(littleEndian, 'GNU', 5, new Uint8Array(16), 8), addralign: 8n },
      { name: '.bss', type: SHT_NOBITS, size: 0x1000n },
    ],
  });
}

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

export function elfSeeds(): Seed[] {
  const files = [
    join(CILIUM_TESTDATA, 'loader-el.elf'),
    join(CILIUM_TESTDATA, 'loader-eb.elf'),
    join(CILIUM_TESTDATA, 'subprog_reloc-eb.elf'),
    join(CILIUM_BTF_TESTDATA, 'relocs-el.elf'),
    join(CILIUM_TESTDATA, 'vdso.bin'),
  ].filter(existsSync);
  return [
    ...files.map((f) => ({ name: f.split('/').pop()!, bytes: new Uint8Array(readFileSync(f)) })),
    { name: 'synthetic-el', bytes: syntheticSeed(true) },
    { name: 'synthetic-eb', bytes: syntheticSeed(false) },
  ];
}

/** Touches every accessor, including lazily decoded ones and notes of every section. */
export function walkEverything(elf: ElfFile): void {
  for (const s of elf.sections) {
    void [s.name, s.flags, s.addr, s.addralign, s.entsize, s.data.length, s.isNobits, s.description];
    // Decoding arbitrary bytes as notes stresses the note parser's size checks.
    try {
      for (const note of iterateNotes(s.data, elf.littleEndian, s.addralign === 8n ? 8 : 4)) void note.desc.length;
    } catch (err) {
      if (!(err instanceof ElfError)) throw err;
    }
    if (s.type === SHT_STRTAB) {
      for (const offset of [0, 1, s.size - 1, s.size, s.size + 1]) guard(() => elf.stringAt(s.index, offset));
    }
  }
  void elf.sectionsByName.size;
  guard(() => {
    for (const sym of elf.symbols()) {
      void [sym.isUndefined, sym.isAbsolute, sym.isCommon, sym.definedInSection];
      elf.virtualAddressToFileOffset(sym.value);
    }
  });
  guard(() => elf.dynamicSymbols());
  guard(() => {
    for (const rel of elf.relocations()) void [rel.targetSection?.name, rel.entries.length];
  });
  for (const s of elf.sectionsOfType(SHT_NOTE)) guard(() => elf.notes(s));
  for (const p of elf.programHeaders) {
    void p.data.length;
    if (p.type === PT_NOTE) guard(() => elf.notes(p));
  }
}

/** Runs fn; an ElfError is an acceptable outcome, anything else propagates. */
export function guard(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ElfError)) throw err;
  }
}

const INTERESTING_64 = [
  0n, 1n, 7n, 8n, 0x40n, 0xffn, 0x100n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x1fffffffffffffn, 0x20000000000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn,
];
const INTERESTING_32 = [0, 1, 2, 3, 7, 8, 9, 11, 0x12, 0xff, 0xff00, 0xfff1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_16 = [0, 1, 2, 3, 0x38, 0x40, 0xff, 0xff00, 0xfff1, 0xfff2, 0xffff];

/** Offsets of the structures a seed contains, found by parsing it cleanly once. */
export interface SeedLayout {
  littleEndian: boolean;
  shoff: number;
  shnum: number;
  phoff: number;
  phnum: number;
  symbols: number[]; // file offsets of symbol entries
  relocations: { at: number; size: number }[];
  notes: number[]; // file offsets of note sections
}

export function layoutOf(bytes: Uint8Array): SeedLayout {
  const elf = parseElf(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = elf.littleEndian;
  const symbols: number[] = [];
  const relocations: { at: number; size: number }[] = [];
  for (const s of elf.sections) {
    if (s.type === SHT_SYMTAB || s.type === 11) for (let at = 0; at < s.size; at += 24) symbols.push(s.offset + at);
    if (s.type === SHT_REL || s.type === SHT_RELA) {
      const size = s.type === SHT_RELA ? 24 : 16;
      for (let at = 0; at < s.size; at += size) relocations.push({ at: s.offset + at, size });
    }
  }
  return {
    littleEndian: le,
    shoff: Number(view.getBigUint64(40, le)),
    shnum: elf.sections.length,
    phoff: Number(view.getBigUint64(32, le)),
    phnum: elf.programHeaders.length,
    symbols,
    relocations,
    notes: elf.sectionsOfType(SHT_NOTE).map((s) => s.offset),
  };
}

export type Mutation = (bytes: Uint8Array, view: DataView) => Uint8Array;

export function makeMutator(layout: SeedLayout, random: () => number) {
  const le = layout.littleEndian;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  const any64 = () => (random() < 0.7 ? pick(INTERESTING_64) : BigInt(int(0x100000)));
  const any32 = () => (random() < 0.7 ? pick(INTERESTING_32) : int(0x100000));
  const any16 = () => (random() < 0.8 ? pick(INTERESTING_16) : int(0x10000));
  const set64 = (v: DataView, at: number, value: bigint) => { if (at + 8 <= v.byteLength) v.setBigUint64(at, value, le); };
  const set32 = (v: DataView, at: number, value: number) => { if (at + 4 <= v.byteLength) v.setUint32(at, value >>> 0, le); };
  const set16 = (v: DataView, at: number, value: number) => { if (at + 2 <= v.byteLength) v.setUint16(at, value & 0xffff, le); };
  // Section header fields: [offset in Elf64_Shdr, width].
  const shdrFields = [[0, 4], [4, 4], [8, 8], [24, 8], [32, 8], [40, 4], [44, 4], [48, 8], [56, 8]] as const;

  const mutations: [string, Mutation][] = [
    ['flip bytes', (b) => {
      for (let n = 1 + int(8); n > 0; n--) b[int(b.length)] ^= 1 << int(8);
      return b;
    }],
    ['random bytes', (b) => {
      const at = int(b.length);
      for (let i = 0; i < 1 + int(16) && at + i < b.length; i++) b[at + i] = int(256);
      return b;
    }],
    ['truncate', (b) => b.subarray(0, int(b.length))],
    ['truncate near end', (b) => b.subarray(0, Math.max(0, b.length - 1 - int(128)))],
    ['ELF header field', (b, v) => {
      const field = pick([[4, 1], [5, 1], [16, 2], [24, 8], [32, 8], [40, 8], [52, 2], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2]] as const);
      if (field[1] === 1) b[field[0]] = pick([0, 1, 2, 3, 0xff]);
      else if (field[1] === 2) set16(v, field[0], any16());
      else set64(v, field[0], any64());
      return b;
    }],
    ['e_shnum / e_shoff / e_shstrndx', (b, v) => {
      pick([() => set16(v, 60, any16()), () => set64(v, 40, any64()), () => set16(v, 62, any16()),
        () => set64(v, 40, BigInt(layout.shoff + int(128) - 64))])();
      return b;
    }],
    ['section header field', (b, v) => {
      if (layout.shnum === 0) return b;
      const at = layout.shoff + int(layout.shnum) * 64;
      const [offset, width] = pick(shdrFields);
      if (width === 8) set64(v, at + offset, any64());
      else set32(v, at + offset, any32());
      return b;
    }],
    ['sh_offset / sh_size / sh_entsize / sh_link', (b, v) => {
      if (layout.shnum === 0) return b;
      const at = layout.shoff + int(layout.shnum) * 64;
      pick([
        () => set64(v, at + 24, any64()),
        () => set64(v, at + 32, any64()),
        () => set64(v, at + 32, 0xffffffffn), // a 4 GB section
        () => set64(v, at + 56, any64()),
        () => set32(v, at + 40, random() < 0.5 ? any32() : int(layout.shnum + 2)),
        () => set32(v, at + 44, random() < 0.5 ? any32() : int(layout.shnum + 2)),
        () => set32(v, at + 4, pick([SHT_NOBITS, SHT_NOTE, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, 11, 0])),
      ])();
      return b;
    }],
    ['section 0 (extended numbering escapes)', (b, v) => {
      pick([() => set64(v, layout.shoff + 32, any64()), () => set32(v, layout.shoff + 40, any32()),
        () => set32(v, layout.shoff + 44, any32()), () => { set16(v, 60, 0); set64(v, layout.shoff + 32, any64()); },
        () => { set16(v, 62, SHN_XINDEX); set32(v, layout.shoff + 40, any32()); },
        () => { set16(v, 56, 0xffff); set32(v, layout.shoff + 44, any32()); }])();
      return b;
    }],
    ['symbol field', (b, v) => {
      if (layout.symbols.length === 0) return b;
      const at = pick(layout.symbols);
      pick([() => set32(v, at, any32()), () => { b[at + 4] = int(256); }, () => { b[at + 5] = int(256); },
        () => set16(v, at + 6, any16()), () => set64(v, at + 8, any64()), () => set64(v, at + 16, any64())])();
      return b;
    }],
    ['relocation field', (b, v) => {
      if (layout.relocations.length === 0) return b;
      const { at, size } = pick(layout.relocations);
      pick([() => set64(v, at, any64()), () => set64(v, at + 8, any64()), () => set32(v, at + (le ? 12 : 8), any32()),
        () => { if (size === 24) set64(v, at + 16, any64()); }])();
      return b;
    }],
    ['note header', (b, v) => {
      if (layout.notes.length === 0) return b;
      set32(v, pick(layout.notes) + 4 * int(3), any32());
      return b;
    }],
    ['program header field', (b, v) => {
      if (layout.phnum === 0) return b;
      const at = layout.phoff + int(layout.phnum) * 56;
      const offset = pick([0, 4, 8, 16, 24, 32, 40, 48]);
      if (offset < 8) set32(v, at + offset, any32());
      else set64(v, at + offset, any64());
      return b;
    }],
  ];
  return () => pick(mutations);
}

