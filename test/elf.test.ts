import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EM_BPF, EM_X86_64, ET_DYN, ET_REL, ElfError, NT_GNU_BUILD_ID, PN_XNUM, PT_LOAD, PT_NOTE,
  R_BPF_64_64, SHF_ALLOC, SHF_WRITE, SHN_ABS, SHN_COMMON, SHN_UNDEF, SHN_XINDEX, SHT_NOBITS, SHT_NOTE,
  SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_RELR, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_GLOBAL, STB_LOCAL,
  STB_WEAK, STT_FUNC, STT_OBJECT, STT_SECTION, STV_HIDDEN, iterateNotes, parseElf, type ElfFile,
} from '../elf/index.ts';
import {
  BASH, CILIUM_BTF_TESTDATA, CILIUM_TESTDATA, LIBC, StrtabBuilder, buildElf, corpusFiles, encodeNote,
  encodeRelocations, encodeSymbols, specIndex,
} from './fuzz/elf-helpers.ts';

const LLVM_READOBJ = '/usr/bin/llvm-readobj-16';
const LLVM_READELF = '/usr/bin/llvm-readelf-16';
const READELF = '/usr/bin/readelf';
const CLANG = '/usr/bin/clang-16';

const corpus = corpusFiles();
const hasCorpus = corpus.length > 0;
const hasLlvm = existsSync(LLVM_READOBJ) && existsSync(LLVM_READELF);
const hasReadelf = existsSync(READELF);
const hasClang = existsSync(CLANG);

const load = (path: string): ElfFile => parseElf(readFileSync(path));

/** Calls `fn` and returns the ElfError it throws (failing if it throws anything else or nothing). */
function elfErrorOf(fn: () => unknown): ElfError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ElfError);
    return err as ElfError;
  }
  throw new Error('expected an ElfError, nothing was thrown');
}

/** Touches everything lazily decoded, so that decoding errors surface. */
function walk(elf: ElfFile): void {
  for (const s of elf.sections) void s.data.length;
  elf.symbols();
  elf.dynamicSymbols();
  elf.relocations();
  for (const s of elf.sectionsOfType(SHT_NOTE)) elf.notes(s);
  for (const p of elf.programHeaders) if (p.type === PT_NOTE) elf.notes(p);
}

// ---------------------------------------------------------------------------
// Cross-checking against LLVM's and binutils' readers
// ---------------------------------------------------------------------------

interface LlvmSection {
  Index: number;
  Name: { Value: string; RawValue: number };
  Type: { RawValue: number };
  Flags: { RawFlags: number };
  Address: number;
  Offset: number;
  Size: number;
  Link: number;
  Info: number;
  AddressAlignment: number;
  EntrySize: number;
}

interface LlvmSymbol {
  Name: { Value: string; RawValue: number };
  Value: number;
  Size: number;
  Binding: { RawValue: number };
  Type: { RawValue: number };
  Other: number;
  Section: { RawValue: number };
}

function llvmJson(file: string, ...flags: string[]): Record<string, unknown> {
  const out = execFileSync(LLVM_READOBJ, ['--elf-output-style=JSON', ...flags, file], {
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
  return (JSON.parse(out) as Record<string, unknown>[])[0]!;
}

/** JSON numbers lose precision above 2^53; make sure the comparison is meaningful. */
function exact(n: number): bigint {
  if (!Number.isSafeInteger(n)) throw new Error(`llvm-readobj value ${n} lost precision in JSON`);
  return BigInt(n);
}

// These build both sides as rows and compare them as strings: expect()'s deep
// equality over 66,000 sections would dominate the test's run time.

function expectRowsEqual(ours: unknown[][], theirs: unknown[][]): void {
  const text = (row: unknown[]) => JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  expect(ours.length).toBe(theirs.length);
  const mismatch = ours.findIndex((row, i) => text(row) !== text(theirs[i]!));
  if (mismatch >= 0) expect(ours[mismatch]).toEqual(theirs[mismatch]); // fails with a readable diff
}

function expectSectionsMatchLlvm(elf: ElfFile, file: string): void {
  const refs = (llvmJson(file, '-S').Sections as { Section: LlvmSection }[]).map((s) => s.Section);
  const theirs = refs.map((r) => [
    r.Index, r.Name.Value, r.Name.RawValue, r.Type.RawValue, exact(r.Flags.RawFlags), exact(r.Address), r.Offset, r.Size,
    r.Link, r.Info, exact(r.AddressAlignment), exact(r.EntrySize),
    r.Type.RawValue === SHT_NOBITS || r.Type.RawValue === 0 ? 0 : r.Size,
  ]);
  const ours = elf.sections.map((s) => [
    s.index, s.name, s.nameOffset, s.type, s.flags, s.addr, s.offset, s.size, s.link, s.info, s.addralign, s.entsize,
    s.data.length,
  ]);
  expectRowsEqual(ours, theirs);
}

function expectSymbolsMatchLlvm(elf: ElfFile, file: string, dynamic: boolean): number {
  const key = dynamic ? 'DynamicSymbols' : 'Symbols';
  const refs = ((llvmJson(file, dynamic ? '--dyn-syms' : '-s')[key] ?? []) as { Symbol: LlvmSymbol }[])
    .map((s) => s.Symbol);
  const symbols = dynamic ? elf.dynamicSymbols() : elf.symbols();
  const ours = symbols.map((sym, i) => [
    sym.index === i, sym.nameOffset, sym.name, sym.value, sym.size, sym.bind, sym.type, sym.other, sym.sectionIndex,
  ]);
  const theirs = refs.map((ref, i) => {
    const sym = symbols[i];
    let name = ref.Name.Value;
    // STT_SECTION symbols have no name in the file (kept so); LLVM prints the section's.
    if (ref.Type.RawValue === STT_SECTION && ref.Name.RawValue === 0) name = '';
    // LLVM appends "@VERSION" / "@@VERSION" to versioned dynamic symbols.
    else if (sym && name.startsWith(sym.name + '@')) name = sym.name;
    return [
      true, ref.Name.RawValue, name, exact(ref.Value), exact(ref.Size), ref.Binding.RawValue, ref.Type.RawValue, ref.Other,
      ref.Section.RawValue,
    ];
  });
  expectRowsEqual(ours, theirs);
  return refs.length;
}

interface TextRelocation { offset: bigint; symbolIndex: number; type: number; addend?: bigint }

/** Parses `llvm-readelf -rW` (GNU style): per section, the count and each entry's raw fields. */
function llvmRelocations(file: string): Map<string, { count: number; entries: TextRelocation[] }> {
  const text = execFileSync(LLVM_READELF, ['-rW', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const result = new Map<string, { count: number; entries: TextRelocation[] }>();
  let current: { count: number; entries: TextRelocation[] } | undefined;
  let rela = false;
  for (const line of text.split('\n')) {
    const head = /^Relocation section '(.*)' at offset 0x[0-9a-f]+ contains (\d+) entr/.exec(line);
    if (head) {
      current = { count: Number(head[2]), entries: [] };
      result.set(head[1]!, current);
      rela = false;
      continue;
    }
    if (/Symbol's Name \+ Addend/.test(line)) rela = true;
    const entry = /^([0-9a-f]{16})\s+([0-9a-f]{16})\s+(.*)$/.exec(line);
    if (!entry || !current) continue;
    const info = BigInt('0x' + entry[2]);
    const reloc: TextRelocation = { offset: BigInt('0x' + entry[1]), symbolIndex: Number(info >> 32n), type: Number(info & 0xffffffffn) };
    if (rela) {
      // "... name + 1a" / "... name - 8" with a symbol, a bare hex addend without one.
      const signed = / ([+-]) ([0-9a-f]+)$/.exec(entry[3]!);
      const bare = /\s([0-9a-f]+)$/.exec(entry[3]!);
      reloc.addend = signed ? (signed[1] === '-' ? -1n : 1n) * BigInt('0x' + signed[2]) : BigInt('0x' + bare![1]);
    }
    current.entries.push(reloc);
  }
  return result;
}

function expectRelocationsMatchLlvm(elf: ElfFile, file: string): number {
  const refs = llvmRelocations(file);
  // llvm-readelf also lists SHT_RELR (packed relative relocations), which relocations() does not cover.
  for (const s of elf.sectionsOfType(SHT_RELR)) refs.delete(s.name);
  const ours = elf.relocations();
  expect(ours.map((r) => r.section.name)).toEqual([...refs.keys()]);
  let total = 0;
  for (const rel of ours) {
    const ref = refs.get(rel.section.name)!;
    expect(rel.entries.length).toBe(ref.count);
    expect(rel.entries.map((e) => ({ ...e }))).toEqual(ref.entries);
    total += ref.count;
  }
  return total;
}

describe.runIf(hasCorpus)('cilium/ebpf corpus', () => {
  it('parses every object and walks all sections, symbols, relocations and notes', () => {
    expect(corpus.length).toBeGreaterThan(30);
    for (const file of corpus) {
      const elf = load(file);
      walk(elf);
      if (file.endsWith('.elf')) {
        expect(elf.machine, file).toBe(EM_BPF);
        expect(elf.type, file).toBe(ET_REL);
        expect(elf.endianness, file).toBe(file.endsWith('-eb.elf') ? 'big' : 'little');
        expect(elf.littleEndian, file).toBe(elf.endianness === 'little');
        expect(elf.section('.symtab')?.type, file).toBe(SHT_SYMTAB);
        expect(elf.symbols().length, file).toBeGreaterThan(1);
      }
    }
  });

  const twins = corpus.filter((f) => f.endsWith('-el.elf')).map((el) => [el, el.replace(/-el\.elf$/, '-eb.elf')] as const);

  it.each(twins.map(([el, eb]) => [basename(el), el, eb]))('%s: little- and big-endian twins agree', (_, elPath, ebPath) => {
    const el = load(elPath);
    const eb = load(ebPath);
    expect([el.endianness, eb.endianness]).toEqual(['little', 'big']);
    const sectionSummary = (f: ElfFile) => f.sections.map((s) => [s.name, s.type, s.flags, s.link, s.info, s.entsize]);
    expect(sectionSummary(eb)).toEqual(sectionSummary(el));
    const symbolSummary = (f: ElfFile) =>
      f.symbols().map((s) => [s.name, s.value, s.size, s.bind, s.type, s.visibility, s.sectionIndex]);
    expect(symbolSummary(eb)).toEqual(symbolSummary(el));
    const relocs = (rs: ElfFile['relocations'] extends () => infer R ? R : never) =>
      rs.map((r) => [r.section.name, r.target, r.targetSection?.name, r.entries.map((e) => [e.offset, e.symbolIndex, e.type])]);
    const relocSummary = (f: ElfFile) => relocs(f.relocations());
    expect(relocSummary(eb)).toEqual(relocSummary(el));
    expect(el.relocations().length).toBeGreaterThan(0);
    // relocationsFor decodes one target's sections only, before or after relocations(), and agrees with it.
    for (const f of [load(elPath), el]) {
      for (const s of f.sections) {
        expect(relocs(f.relocationsFor(s.index))).toEqual(relocs(el.relocations().filter((r) => r.target === s.index)));
      }
    }
    // Instruction bytes differ by byte order, but the sizes of code and data do not.
    for (const s of el.sections) {
      if (s.type === SHT_PROGBITS && !s.name.startsWith('.BTF')) expect(eb.sections[s.index]!.size).toBe(s.size);
    }
  });

  it('section data are zero-copy views of the input', () => {
    const bytes = readFileSync(join(CILIUM_TESTDATA, 'loader-el.elf'));
    const elf = parseElf(bytes);
    const btf = elf.section('.BTF')!;
    expect(btf.data.buffer).toBe(bytes.buffer);
    expect(btf.data.byteOffset).toBe(bytes.byteOffset + btf.offset);
    expect(btf.data.length).toBe(btf.size);
    expect(elf.section('.BTF.ext')).toBeDefined();
    // Magic of BTF (0xeb9f) read in the file's byte order.
    expect(new DataView(btf.data.buffer, btf.data.byteOffset).getUint16(0, true)).toBe(0xeb9f);
    const bss = elf.section('.bss')!;
    expect(bss.isNobits).toBe(true);
    expect(bss.data.length).toBe(0);
    expect(bss.size).toBeGreaterThan(0);
    expect(elf.sectionsByName.get('.bss')).toBe(bss);
  });

  it('reads an input that starts at an odd, unaligned offset of a larger buffer', () => {
    const file = readFileSync(join(CILIUM_TESTDATA, 'loader-eb.elf'));
    const backing = new Uint8Array(file.length + 7);
    backing.set(file, 3);
    const shifted = parseElf(backing.subarray(3, 3 + file.length));
    const plain = parseElf(file);
    expect(shifted.symbols().map((s) => [s.name, s.value])).toEqual(plain.symbols().map((s) => [s.name, s.value]));
    expect(shifted.relocations().map((r) => r.entries)).toEqual(plain.relocations().map((r) => r.entries));
    expect(Buffer.compare(shifted.section('.BTF')!.data, plain.section('.BTF')!.data)).toBe(0);
  });

  it('decodes the relocations the loader needs (loader-el.elf .relxdp)', () => {
    const elf = load(join(CILIUM_TESTDATA, 'loader-el.elf'));
    const xdp = elf.relocations().find((r) => r.section.name === '.relxdp')!;
    expect(xdp.isRela).toBe(false);
    expect(xdp.targetSection?.name).toBe('xdp');
    expect(xdp.target).toBe(elf.section('xdp')!.index);
    expect(elf.sections[xdp.symbolTable]!.name).toBe('.symtab');
    const first = xdp.entries[0]!;
    expect(first).toEqual({ offset: 0n, symbolIndex: first.symbolIndex, type: R_BPF_64_64 });
    expect(elf.symbols()[first.symbolIndex]!.name).toBe('hash_map');
    const second = elf.symbols()[xdp.entries[1]!.symbolIndex]!;
    expect(second.type).toBe(STT_SECTION);
    expect(second.name).toBe('');
    expect(elf.sections[second.sectionIndex]!.name).toBe('.bss');
  });

  it('stringAt reads names from any string table and reports bad references', () => {
    const elf = load(join(CILIUM_TESTDATA, 'loader-el.elf'));
    const symtab = elf.section('.symtab')!;
    const hashMap = elf.symbols().find((s) => s.name === 'hash_map')!;
    expect(elf.stringAt(symtab.link, hashMap.nameOffset)).toBe('hash_map');
    expect(elf.stringAt(elf.sectionNameTableIndex, elf.section('.BTF')!.nameOffset)).toBe('.BTF');
    expect(elfErrorOf(() => elf.stringAt(999, 0)).code).toBe('ELF_NOT_FOUND');
    const err = elfErrorOf(() => elf.stringAt(symtab.link, 1_000_000));
    expect(err.code).toBe('ELF_MALFORMED');
    expect(err.message).toMatch(/string offset 0xf4240 is outside the string table/);
  });
});

describe.runIf(hasCorpus && hasLlvm)('agreement with llvm-readobj-16 / llvm-readelf-16', () => {
  const files = [
    join(CILIUM_TESTDATA, 'loader-el.elf'),
    join(CILIUM_TESTDATA, 'loader-eb.elf'),
    join(CILIUM_TESTDATA, 'loader-clang-7-eb.elf'),
    join(CILIUM_TESTDATA, 'subprog_reloc-el.elf'),
    join(CILIUM_BTF_TESTDATA, 'relocs-el.elf'),
    join(CILIUM_BTF_TESTDATA, 'relocs-eb.elf'),
    join(CILIUM_TESTDATA, 'vdso.bin'),
  ];
  it.each(files.map((f) => [basename(f), f]))('%s: sections, symbols and relocations match', (_, file) => {
    const elf = load(file);
    expectSectionsMatchLlvm(elf, file);
    expectSymbolsMatchLlvm(elf, file, false);
    expectSymbolsMatchLlvm(elf, file, true);
    expectRelocationsMatchLlvm(elf, file);
  });

  it.runIf(existsSync(LIBC))('libc.so.6: sections, dynamic symbols and RELA relocations match', () => {
    const elf = load(LIBC);
    expect(elf.machine).toBe(EM_X86_64);
    expect(elf.type).toBe(ET_DYN);
    expectSectionsMatchLlvm(elf, LIBC);
    expect(expectSymbolsMatchLlvm(elf, LIBC, true)).toBeGreaterThan(1000);
    expect(expectRelocationsMatchLlvm(elf, LIBC)).toBeGreaterThan(10);
    expect(elf.relocations().every((r) => r.isRela && r.entries.every((e) => e.addend !== undefined))).toBe(true);
  });

  it.runIf(existsSync(BASH))('bash: sections and dynamic symbols match', () => {
    const elf = load(BASH);
    expectSectionsMatchLlvm(elf, BASH);
    expectSymbolsMatchLlvm(elf, BASH, true);
    expectRelocationsMatchLlvm(elf, BASH);
  });
});

/** Program headers as `readelf -lW` prints them. */
function readelfLoadSegments(file: string): { offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }[] {
  const text = execFileSync(READELF, ['-lW', file], { encoding: 'utf8' });
  return [...text.matchAll(/^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/gm)].map(
    (m) => ({ offset: BigInt(m[1]!), vaddr: BigInt(m[2]!), filesz: BigInt(m[3]!), memsz: BigInt(m[4]!) }),
  );
}

describe.runIf(hasReadelf && existsSync(LIBC))('host binaries, against binutils readelf', () => {
  it('libc.so.6: malloc resolves to the file offset readelf -s / -l imply', () => {
    const elf = load(LIBC);
    const symLine = execFileSync(READELF, ['-Ws', LIBC], { encoding: 'utf8' })
      .split('\n')
      .find((l) => /\sFUNC\s.*\smalloc@@/.test(l))!;
    const readelfValue = BigInt('0x' + symLine.trim().split(/\s+/)[1]);

    const malloc = elf.dynamicSymbols().find((s) => s.name === 'malloc' && !s.isUndefined)!;
    expect(malloc.type).toBe(STT_FUNC);
    expect(malloc.bind).toBe(STB_GLOBAL);
    expect(malloc.value).toBe(readelfValue);

    const loads = readelfLoadSegments(LIBC);
    expect(elf.programHeaders.filter((p) => p.type === PT_LOAD).map(({ offset, vaddr, filesz, memsz }) => ({ offset, vaddr, filesz, memsz })))
      .toEqual(loads);
    const segment = loads.find((l) => readelfValue >= l.vaddr && readelfValue < l.vaddr + l.filesz)!;
    const expected = readelfValue - segment.vaddr + segment.offset;
    expect(elf.virtualAddressToFileOffset(malloc.value)).toBe(expected);
    // And the same offset via the symbol's section.
    const text = elf.sections[malloc.sectionIndex]!;
    expect(BigInt(text.offset) + (malloc.value - text.addr)).toBe(expected);
    // Addresses outside any file-backed PT_LOAD part have no file offset.
    const rw = loads[loads.length - 1]!;
    expect(elf.virtualAddressToFileOffset(rw.vaddr + rw.filesz)).toBeUndefined();
    expect(elf.virtualAddressToFileOffset(0xffff_ffff_ffffn)).toBeUndefined();
  });

  it('libc.so.6 and bash: notes match readelf -n (build ID, ABI tag, 8-aligned gnu.property)', () => {
    for (const file of [LIBC, BASH]) {
      const elf = load(file);
      const buildIdText = execFileSync(READELF, ['-n', file], { encoding: 'utf8' });
      const buildId = /Build ID: ([0-9a-f]+)/.exec(buildIdText)![1];
      const note = elf.notes(elf.section('.note.gnu.build-id')!)[0]!;
      expect({ name: note.name, type: note.type, desc: Buffer.from(note.desc).toString('hex') })
        .toEqual({ name: 'GNU', type: NT_GNU_BUILD_ID, desc: buildId });
      const property = elf.notes(elf.section('.note.gnu.property')!);
      expect(property.map((n) => [n.name, n.type, n.desc.length])).toEqual([['GNU', 5, 16]]);
      const abiTag = elf.notes(elf.section('.note.ABI-tag')!)[0]!;
      expect(Array.from(new Uint32Array(new Uint8Array(abiTag.desc).buffer))).toEqual([0, 3, 2, 0]); // Linux 3.2.0
      // The same notes are reachable through PT_NOTE segments.
      const segmentNotes = elf.programHeaders.filter((p) => p.type === PT_NOTE).flatMap((p) => elf.notes(p));
      expect(segmentNotes.some((n) => Buffer.from(n.desc).toString('hex') === buildId)).toBe(true);
    }
  });

  // Speed is measured in bench/, not asserted here: timings on shared machines are noise.
  it('parses libc.so.6 headers and all its dynamic symbols', () => {
    const elf = parseElf(readFileSync(LIBC));
    expect(elf.dynamicSymbols().length).toBeGreaterThan(1000);
  });
});

describe.runIf(hasCorpus)('notes of the vDSO images', () => {
  it('vdso.bin: Linux version note and the GNU build ID', () => {
    const elf = load(join(CILIUM_TESTDATA, 'vdso.bin'));
    const notes = elf.notes(elf.section('.note')!);
    expect(notes.map((n) => [n.name, n.type])).toEqual([['Linux', 0], ['Linux', 0x100], ['GNU', NT_GNU_BUILD_ID]]);
    expect(Buffer.from(notes[2]!.desc).toString('hex')).toBe('4286d016f71e32db3a4f7221c847c3d1e13d6bd4');
    const version = new DataView(notes[0]!.desc.buffer, notes[0]!.desc.byteOffset).getUint32(0, true);
    expect(version).toBeGreaterThan(0x040000); // a 4.x+ kernel version code
  });
});

// ---------------------------------------------------------------------------
// Synthetic files: features real objects rarely have, and error reporting
// ---------------------------------------------------------------------------

describe.each([true, false])('synthetic ELF (littleEndian=%s)', (le) => {
  /** A small object: .text, .bss (NOBITS), .symtab/.strtab, .rela.text, a note. */
  function smallObject(overrides: { nobitsSize?: bigint } = {}) {
    const strtab = new StrtabBuilder();
    const symbols = encodeSymbols(le, [
      { name: 0, shndx: SHN_UNDEF },
      { name: 0, type: STT_SECTION, shndx: specIndex(0) },
      { name: strtab.add('func'), bind: STB_GLOBAL, type: STT_FUNC, shndx: specIndex(0), value: 8n, size: 16n },
      { name: strtab.add('counter'), bind: STB_WEAK, type: STT_OBJECT, other: STV_HIDDEN, shndx: specIndex(1), size: 8n },
      { name: strtab.add('abs'), bind: STB_GLOBAL, shndx: SHN_ABS, value: 0xffff_ffff_ffff_fff0n },
      { name: strtab.add('common'), bind: STB_GLOBAL, type: STT_OBJECT, shndx: SHN_COMMON, value: 8n, size: 4n },
      { name: strtab.add('extern'), bind: STB_GLOBAL, shndx: SHN_UNDEF },
    ]);
    const relocs = encodeRelocations(le, [
      { offset: 0x10n, symbol: 2, type: 1, addend: -8n },
      { offset: 0x18n, symbol: 3, type: 10, addend: 0x7fff_ffff_ffff_ffffn },
    ], true);
    return buildElf({
      littleEndian: le,
      sections: [
        { name: '.text', type: SHT_PROGBITS, flags: 6n, data: new Uint8Array(32).fill(0x95), addralign: 8n },
        { name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, size: overrides.nobitsSize ?? 64n, offset: 0x40n },
        { name: '.symtab', type: SHT_SYMTAB, data: symbols, link: specIndex(3), info: 2, entsize: 24n, addralign: 8n },
        { name: '.strtab', type: SHT_STRTAB, data: strtab.bytes() },
        { name: '.rela.text', type: SHT_RELA, data: relocs, link: specIndex(2), info: specIndex(0), entsize: 24n },
        { name: '.note.test', type: SHT_NOTE, data: encodeNote(le, 'stapsdt', 3, new Uint8Array([1, 2, 3, 4, 5])), addralign: 4n },
      ],
    });
  }

  it('reads header, sections, symbols, RELA relocations and notes', () => {
    const elf = parseElf(smallObject());
    expect(elf.endianness).toBe(le ? 'little' : 'big');
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.text', '.bss', '.symtab', '.strtab', '.rela.text', '.note.test', '.shstrtab']);
    expect(elf.section('.bss')!.size).toBe(64);
    const syms = elf.symbols();
    expect(syms.map((s) => s.name)).toEqual(['', '', 'func', 'counter', 'abs', 'common', 'extern']);
    expect(syms[2]).toMatchObject({ value: 8n, size: 16n, bind: STB_GLOBAL, type: STT_FUNC, sectionIndex: 1 });
    expect(syms[3]).toMatchObject({ bind: STB_WEAK, visibility: STV_HIDDEN, sectionIndex: 2 });
    expect([syms[4]!.isAbsolute, syms[4]!.value, syms[4]!.definedInSection]).toEqual([true, 0xffff_ffff_ffff_fff0n, false]);
    expect([syms[5]!.isCommon, syms[5]!.definedInSection]).toEqual([true, false]);
    expect([syms[6]!.isUndefined, syms[6]!.definedInSection, syms[2]!.definedInSection]).toEqual([true, false, true]);
    expect(syms[1]!.bind).toBe(STB_LOCAL);
    expect(elf.symbols()).toBe(syms); // cached
    expect(elf.dynamicSymbols()).toEqual([]);
    const [rela] = elf.relocations();
    expect(rela!.isRela).toBe(true);
    expect(rela!.targetSection!.name).toBe('.text');
    expect(rela!.entries).toEqual([
      { offset: 0x10n, symbolIndex: 2, type: 1, addend: -8n },
      { offset: 0x18n, symbolIndex: 3, type: 10, addend: 0x7fff_ffff_ffff_ffffn },
    ]);
    const [note] = elf.notes(elf.section('.note.test')!);
    expect(note!.name).toBe('stapsdt');
    expect(Array.from(note!.desc)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a NOBITS section claiming 4 GB (or 2^52) is fine: no data, no allocation', () => {
    for (const size of [0xffff_ffffn, 1n << 52n]) {
      const before = process.memoryUsage().arrayBuffers;
      const elf = parseElf(smallObject({ nobitsSize: size }));
      walk(elf);
      expect(elf.section('.bss')!.size).toBe(Number(size));
      expect(elf.section('.bss')!.data.length).toBe(0);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    }
    const err = elfErrorOf(() => parseElf(smallObject({ nobitsSize: 1n << 60n })));
    expect(err.code).toBe('ELF_MALFORMED');
    expect(err.message).toMatch(/section 2 \(\.bss\): sh_size: value 0x1000000000000000 is too large/);
  });

  it('extended numbering: e_shnum = 0, e_shstrndx = SHN_XINDEX, symbols through SHT_SYMTAB_SHNDX', () => {
    const strtab = new StrtabBuilder();
    const symbols = encodeSymbols(le, [
      { name: 0, shndx: SHN_UNDEF },
      { name: strtab.add('via_xindex'), bind: STB_GLOBAL, shndx: SHN_XINDEX, value: 4n },
      { name: strtab.add('direct'), bind: STB_GLOBAL, shndx: specIndex(0) },
    ]);
    const shndx = new Uint8Array(12);
    new DataView(shndx.buffer).setUint32(4, specIndex(1), le); // symbol 1 lives in section 2 (.data)
    const bytes = buildElf({
      littleEndian: le,
      extendedShnum: true,
      extendedShstrndx: true,
      sections: [
        { name: '.text', type: SHT_PROGBITS, data: new Uint8Array(8) },
        { name: '.data', type: SHT_PROGBITS, data: new Uint8Array(8) },
        { name: '.symtab', type: SHT_SYMTAB, data: symbols, link: specIndex(3), entsize: 24n },
        { name: '.strtab', type: SHT_STRTAB, data: strtab.bytes() },
        { name: '.symtab_shndx', type: SHT_SYMTAB_SHNDX, data: shndx, link: specIndex(2), entsize: 4n },
      ],
    });
    const view = new DataView(bytes.buffer);
    expect([view.getUint16(60, le), view.getUint16(62, le)]).toEqual([0, SHN_XINDEX]);
    const elf = parseElf(bytes);
    expect(elf.sections.length).toBe(7);
    expect(elf.sectionNameTableIndex).toBe(6);
    expect(elf.section('.data')!.index).toBe(2);
    const [, viaXindex, direct] = elf.symbols();
    expect([viaXindex!.name, viaXindex!.sectionIndex, viaXindex!.rawSectionIndex, viaXindex!.definedInSection])
      .toEqual(['via_xindex', 2, SHN_XINDEX, true]);
    expect(direct!.sectionIndex).toBe(1);
  });

  it('SHN_XINDEX without a SHT_SYMTAB_SHNDX section is an ElfError', () => {
    const strtab = new StrtabBuilder();
    const bytes = buildElf({
      littleEndian: le,
      sections: [
        { name: '.symtab', type: SHT_SYMTAB, link: specIndex(1), entsize: 24n,
          data: encodeSymbols(le, [{ name: 0, shndx: 0 }, { name: strtab.add('x'), shndx: SHN_XINDEX }]) },
        { name: '.strtab', type: SHT_STRTAB, data: strtab.bytes() },
      ],
    });
    const err = elfErrorOf(() => parseElf(bytes).symbols());
    expect(err.code).toBe('ELF_MALFORMED');
    expect(err.message).toMatch(/section 1 \(\.symtab\): a symbol uses SHN_XINDEX but no SHT_SYMTAB_SHNDX/);
  });

  it('program headers, PN_XNUM, and virtual address to file offset', () => {
    const code = new Uint8Array(0x40).fill(0xcc);
    const spec = {
      littleEndian: le,
      type: ET_DYN,
      machine: EM_X86_64,
      sections: [{ name: '.text', type: SHT_PROGBITS, data: code, addr: 0x401000n }],
      programHeaders: [
        // .text is the first section, placed right after the header and 2 program headers.
        { type: PT_LOAD, flags: 5, offset: 0n, vaddr: 0x400000n, filesz: 0x100n, memsz: 0x2000n },
        { type: 0x6474e551, offset: 0n, vaddr: 0n, filesz: 0n },
      ],
    };
    for (const extendedPhnum of [false, true]) {
      const elf = parseElf(buildElf({ ...spec, extendedPhnum }));
      expect(elf.programHeaders.length).toBe(2);
      const [load] = elf.programHeaders;
      expect(load).toMatchObject({ type: PT_LOAD, flags: 5, offset: 0n, vaddr: 0x400000n, filesz: 0x100n, memsz: 0x2000n, align: 0x1000n });
      expect(load!.data.length).toBe(0x100);
      expect(elf.virtualAddressToFileOffset(0x400000n)).toBe(0n);
      expect(elf.virtualAddressToFileOffset(0x4000ffn)).toBe(0xffn);
      expect(elf.virtualAddressToFileOffset(0x400100n)).toBeUndefined(); // in memsz, not in the file
      expect(elf.virtualAddressToFileOffset(0x3fffffn)).toBeUndefined();
    }
    const bytes = buildElf({ ...spec, extendedPhnum: true });
    expect(new DataView(bytes.buffer).getUint16(56, le)).toBe(PN_XNUM);
  });

  it('notes: 8-byte alignment, several notes, and truncation', () => {
    const desc = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]);
    const data8 = new Uint8Array([...encodeNote(le, 'GNU', 5, desc, 8), ...encodeNote(le, 'Go', 4, new Uint8Array(0), 8)]);
    const notes = [...iterateNotes(data8, le, 8)];
    expect(notes.map((n) => [n.name, n.type, Array.from(n.desc), n.offset])).toEqual([
      ['GNU', 5, Array.from(desc), 0],
      ['Go', 4, [], 32],
    ]);
    const data4 = encodeNote(le, 'stapsdt', 3, desc);
    expect([...iterateNotes(data4, le)][0]!.desc).toEqual(desc);
    const truncatedHeader = elfErrorOf(() => [...iterateNotes(data4.subarray(0, 8), le, 4, '.note.stapsdt')]);
    expect(truncatedHeader.code).toBe('ELF_TRUNCATED');
    expect(truncatedHeader.message).toMatch(/^\.note\.stapsdt: note at offset 0x0 has only 8 of 12 header bytes/);
    const truncatedDesc = elfErrorOf(() => [...iterateNotes(data4.subarray(0, data4.length - 4), le)]);
    expect(truncatedDesc.message).toMatch(/desc size 0xc\) extends past the end of the note data/);
    const huge = data4.slice();
    new DataView(huge.buffer).setUint32(0, 0xffff_ffff, le);
    expect(elfErrorOf(() => [...iterateNotes(huge, le)]).code).toBe('ELF_TRUNCATED');
  });
});

describe('errors', () => {
  const base = () => buildElf({
    littleEndian: true,
    sections: [
      { name: '.text', type: SHT_PROGBITS, data: new Uint8Array(16) },
      { name: '.BTF', type: SHT_PROGBITS, data: new Uint8Array(24) },
    ],
  });
  const shoff = (b: Uint8Array) => Number(new DataView(b.buffer).getBigUint64(40, true));
  const patch = (b: Uint8Array, fn: (v: DataView) => void) => {
    const copy = b.slice();
    fn(new DataView(copy.buffer));
    return copy;
  };

  it.each([
    ['empty input', new Uint8Array(0), 'ELF_BAD_MAGIC', /input is empty/],
    ['bad magic', new Uint8Array(Buffer.from('#!/bin/sh\necho hi\n')), 'ELF_BAD_MAGIC', /magic is 23 21 2f 62/],
    ['truncated magic', new Uint8Array([0x7f, 0x45]), 'ELF_TRUNCATED', /identification truncated/],
    ['ELF32', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, ...new Array(45).fill(0)]), 'ELF_UNSUPPORTED_CLASS', /ELF32 \(ELFCLASS32\).*only ELF64/],
    ['unknown class', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 9, 1, 1, ...new Array(57).fill(0)]), 'ELF_UNSUPPORTED_CLASS', /unknown ELF class 9/],
    ['unknown data encoding', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 3, 1, ...new Array(57).fill(0)]), 'ELF_MALFORMED', /data encoding 3/],
    ['truncated header', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(30).fill(0)]), 'ELF_TRUNCATED', /ELF header truncated/],
  ] as const)('%s', (_, bytes, code, message) => {
    const err = elfErrorOf(() => parseElf(bytes));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('section data past the end of the file names the section, offset, size and file size', () => {
    const bytes = patch(base(), (v) => v.setBigUint64(shoff(base()) + 2 * 64 + 32, 0x99999n, true));
    const err = elfErrorOf(() => parseElf(bytes));
    expect(err.code).toBe('ELF_TRUNCATED');
    expect(err.message).toMatch(
      new RegExp(`^section 2 \\(\\.BTF\\): data \\[offset 0x[0-9a-f]+, size 0x99999\\] extends past end of file \\(size 0x${bytes.length.toString(16)}\\)$`),
    );
  });

  it('a section header claiming a 4 GB section, or sh_offset near 2^64, is rejected without allocating', () => {
    for (const [field, value] of [[32, 0xffff_ffffn], [32, 0xffff_ffff_ffff_ffffn], [24, 0xffff_ffff_ffff_fff0n]] as const) {
      const bytes = patch(base(), (v) => v.setBigUint64(shoff(base()) + 64 + field, value, true));
      const before = process.memoryUsage().arrayBuffers;
      expect(elfErrorOf(() => parseElf(bytes)).code).toBe('ELF_TRUNCATED');
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    }
  });

  it('a truncated file reports the section header table', () => {
    const bytes = base().subarray(0, shoff(base()) + 100);
    const err = elfErrorOf(() => parseElf(bytes));
    expect(err.code).toBe('ELF_TRUNCATED');
    expect(err.message).toMatch(/^section header table \(4 entries of 64 bytes\): data \[offset 0x[0-9a-f]+, size 0x100\] extends past end of file/);
  });

  it('extended section count from section 0 is checked before use (2^40 sections)', () => {
    const bytes = patch(base(), (v) => {
      v.setUint16(60, 0, true);
      v.setBigUint64(shoff(base()) + 32, 1n << 40n, true);
    });
    const err = elfErrorOf(() => parseElf(bytes));
    expect(err.code).toBe('ELF_TRUNCATED');
    expect(err.message).toMatch(/section header table \(1099511627776 entries/);
  });

  it.each([
    ['e_shentsize', (v: DataView) => v.setUint16(58, 40, true), /e_shentsize is 40, expected 64/],
    ['e_shstrndx out of range', (v: DataView) => v.setUint16(62, 9, true), /section name table index 9 is out of range \(4 sections\)/],
    ['e_shstrndx reserved', (v: DataView) => v.setUint16(62, SHN_ABS, true), /e_shstrndx 0xfff1 is a reserved section index/],
    ['e_shnum without e_shoff', (v: DataView) => v.setBigUint64(40, 0n, true), /e_shnum is 4 but e_shoff is 0/],
    ['section name offset', (v: DataView) => v.setUint32(shoff(base()) + 64, 0x10000, true), /name of section 1: string offset 0x10000 is outside the string table/],
    ['e_phentsize', (v: DataView) => { v.setBigUint64(32, 64n, true); v.setUint16(56, 1, true); v.setUint16(54, 32, true); }, /e_phentsize is 32, expected 56/],
    ['program header table', (v: DataView) => { v.setBigUint64(32, 0xffff_fff0n, true); v.setUint16(56, 3, true); }, /^program header table \(3 entries of 56 bytes\).*extends past end of file/],
  ] as const)('malformed header field: %s', (_, mutate, message) => {
    const err = elfErrorOf(() => parseElf(patch(base(), mutate)));
    expect(['ELF_MALFORMED', 'ELF_TRUNCATED']).toContain(err.code);
    expect(err.message).toMatch(message);
  });

  it('symbol and relocation tables: entsize, link and info are validated', () => {
    const strtab = new StrtabBuilder();
    const symbols = encodeSymbols(true, [{ name: 0, shndx: 0 }, { name: strtab.add('f'), shndx: 1 }]);
    const make = (symtab: object, rel: object = {}) => buildElf({
      littleEndian: true,
      sections: [
        { name: '.symtab', type: SHT_SYMTAB, data: symbols, link: specIndex(1), entsize: 24n, ...symtab },
        { name: '.strtab', type: SHT_STRTAB, data: strtab.bytes() },
        { name: '.rel.x', type: SHT_REL, data: encodeRelocations(true, [{ offset: 0n, symbol: 1, type: 1 }], false), link: specIndex(0), info: specIndex(0), entsize: 16n, ...rel },
      ],
    });
    expect(parseElf(make({})).symbols().map((s) => s.name)).toEqual(['', 'f']);
    const cases: [Uint8Array, () => unknown, RegExp][] = [];
    const add = (bytes: Uint8Array, op: (e: ElfFile) => unknown, message: RegExp) => cases.push([bytes, () => op(parseElf(bytes)), message]);
    add(make({ entsize: 16n }), (e) => e.symbols(), /section 1 \(\.symtab\): sh_entsize is 16, expected 24/);
    add(make({ data: symbols.subarray(0, 40) }), (e) => e.symbols(), /size 0x28 is not a multiple of the entry size 24/);
    add(make({ link: specIndex(0) }), (e) => e.symbols(), /sh_link 1 does not name a string table/);
    add(make({ link: 77 }), (e) => e.symbols(), /sh_link 77 does not name a string table/);
    add(make({ data: encodeSymbols(true, [{ name: 0, shndx: 0 }, { name: 999, shndx: 1 }]) }), (e) => e.symbols(), /name of symbol 1: string offset 0x3e7/);
    add(make({ data: encodeSymbols(true, [{ name: 0, shndx: 0 }, { name: 0, shndx: 500 }]) }), (e) => e.symbols(), /symbol 1 refers to section 500, but there are 5 sections/);
    add(make({}, { info: 40 }), (e) => e.relocations(), /section 3 \(\.rel\.x\): sh_info \(target section\) 40 is out of range/);
    add(make({}, { link: 40 }), (e) => e.relocations(), /sh_link \(symbol table\) 40 is out of range/);
    add(make({}, { entsize: 24n }), (e) => e.relocations(), /sh_entsize is 24, expected 16/);
    for (const [, run, message] of cases) {
      const err = elfErrorOf(run);
      expect(err.code).toBe('ELF_MALFORMED');
      expect(err.message).toMatch(message);
    }
  });

  it('an unterminated string table entry is reported', () => {
    const bytes = buildElf({
      littleEndian: false,
      sections: [
        { name: '.strtab', type: SHT_STRTAB, data: new Uint8Array([0, 0x61, 0x62]) },
      ],
    });
    const elf = parseElf(bytes);
    expect(elf.stringAt(1, 0)).toBe('');
    const err = elfErrorOf(() => elf.stringAt(1, 1));
    expect(err.message).toMatch(/section 1 \(\.strtab\): string at offset 0x1 is not NUL-terminated/);
  });

  it('parseElf rejects non-byte input with a TypeError', () => {
    expect(() => parseElf('ELF' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('ElfError carries its code and extends TsbpfError', async () => {
    const { TsbpfError } = await import('../errors.ts');
    const err = elfErrorOf(() => parseElf(new Uint8Array(0)));
    expect(err).toBeInstanceOf(TsbpfError);
    expect(err.name).toBe('ElfError');
  });
});

// ---------------------------------------------------------------------------
// Objects compiled here (only when clang-16 is available)
// ---------------------------------------------------------------------------

describe.runIf(hasClang && hasLlvm)('objects built with clang-16', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-elf-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bpfSource = `
typedef unsigned int u32; typedef unsigned long long u64;
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } counters __attribute__((section(".maps"), used));
static long (*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
u64 bss_counter; const volatile u32 cfg = 7;
__attribute__((section("xdp"), used)) int prog(void *ctx) {
  u32 k = 0; u64 *v = (u64 *)bpf_map_lookup_elem(&counters, &k);
  if (v) { *v += cfg; bss_counter++; }
  return 2;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

  it.each(['bpfel', 'bpfeb'])('BPF object (-target %s) matches llvm-readobj', (target) => {
    const src = join(dir, 'prog.c');
    const obj = join(dir, `prog-${target}.o`);
    writeFileSync(src, bpfSource);
    execFileSync(CLANG, ['-target', target, '-O2', '-g', '-c', src, '-o', obj]);
    const elf = load(obj);
    expect(elf.endianness).toBe(target === 'bpfel' ? 'little' : 'big');
    expectSectionsMatchLlvm(elf, obj);
    expectSymbolsMatchLlvm(elf, obj, false);
    expect(expectRelocationsMatchLlvm(elf, obj)).toBeGreaterThan(3);
    const xdp = elf.relocations().find((r) => r.targetSection?.name === 'xdp')!;
    expect(xdp.entries.map((e) => elf.symbols()[e.symbolIndex]!.name)).toEqual(['counters', 'cfg', 'bss_counter']);
    expect(elf.section('.BTF')!.data.length).toBeGreaterThan(0);
    expect(elf.section('.BTF.ext')!.data.length).toBeGreaterThan(0);
  });

  it('an object with more than 65280 sections (extended numbering, SHT_SYMTAB_SHNDX)', () => {
    const count = 66_000;
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`.section .s${i},"a"`, `.globl sym${i}`, `sym${i}: .byte ${i % 256}`);
    const src = join(dir, 'many.s');
    const obj = join(dir, 'many.o');
    writeFileSync(src, lines.join('\n') + '\n');
    execFileSync(CLANG, ['-target', 'x86_64-linux-gnu', '-c', '-x', 'assembler', src, '-o', obj]);
    const bytes = readFileSync(obj);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(60, true)).toBe(0); // e_shnum escape used
    const elf = parseElf(bytes);
    expect(elf.sections.length).toBeGreaterThan(count);
    expect(elf.sectionsOfType(SHT_SYMTAB_SHNDX).length).toBe(1);
    expectSectionsMatchLlvm(elf, obj);
    expectSymbolsMatchLlvm(elf, obj, false);
    const last = elf.symbols().find((s) => s.name === `sym${count - 1}`)!;
    expect(last.rawSectionIndex).toBe(SHN_XINDEX);
    expect(elf.sections[last.sectionIndex]!.name).toBe(`.s${count - 1}`);
    expect(Array.from(elf.sections[last.sectionIndex]!.data)).toEqual([(count - 1) % 256]);
  }, 60_000);
});
