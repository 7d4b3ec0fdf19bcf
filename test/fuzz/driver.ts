/**
 * The fuzz driver: seeded mutations of ELF objects, BTF and BTF.ext run
 * through parseElf, loadBtf, loadCollectionSpec (and generateSkeleton), dumpC, dumpRaw, dumpJson,
 * the decoder and minCoreBtf (mutated BTF as the target, mutated objects against their own BTF). Case `i` is a pure function of `i` (its seed file and its
 * PRNG), so any reported case can be replayed alone (`npm run fuzz -- --case N`).
 *
 * An outcome is `ok`, `typed:<code>` (a TsbpfError from the parse, the
 * expected rejection), or `untyped:<name>` (anything else, anywhere: a bug).
 * Hangs and crashes are caught by ./run.ts, which runs cases in child
 * processes under a watchdog.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf, BtfBuilder, btfDecoder, dumpC, dumpJson, dumpRaw, loadBtf, minCoreBtf, parseBtfExt, parseElfBtf } from '../../btf/index.ts';
import { parseElf, readLineTable } from '../../elf/index.ts';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { generateSkeleton } from '../../lib/gen/skeleton.ts';
import { TsbpfError } from '../../errors.ts';
import { btfMutators, extMutators, int, limitMutators, type Mutator } from './btf-mutators.ts';
import { mulberry32 } from './elf-helpers.ts';
import { elfSeeds, layoutOf, makeMutator, walkEverything, type SeedLayout } from './elf-mutators.ts';

export type Target = 'elf' | 'spec' | 'btf' | 'ext';

export interface FuzzSeed {
  name: string;
  target: Target;
  bytes: Uint8Array;
  /** spec/elf: the seed's layout; spec: where .BTF and .BTF.ext are in the file. */
  layout?: SeedLayout;
  sections?: { btf?: [number, number]; ext?: [number, number] };
  /** spec: file offsets of the section headers the loader reads most (data, maps, BTF, symbols). */
  headers?: number[];
  /** ext: the BTF the .BTF.ext belongs to. */
  btf?: Uint8Array;
}

/** The repository (set by ./run.ts for its bundled workers, whose import.meta.url is elsewhere). */
const ROOT = process.env.TSBPF_FUZZ_ROOT ?? new URL('../..', import.meta.url).pathname;
const CILIUM = '/usr/share/gocode/src/github.com/cilium/ebpf';

/** BPF objects: the committed test objects, the BTF fixtures, and cilium/ebpf's corpus when installed. */
function objectFiles(): string[] {
  const dir = join(ROOT, 'test/bpf');
  const own = readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f));
  const fixtures = ['core.o', 'core-eb.o'].map((f) => join(ROOT, 'test/fixtures/btf', f));
  const cilium = ['testdata/loader-el.elf', 'testdata/loader-eb.elf', 'btf/testdata/relocs-el.elf', 'testdata/map_spin_lock-el.elf']
    .map((f) => join(CILIUM, f))
    .filter(existsSync);
  return [...own, ...fixtures, ...cilium];
}

let cached: FuzzSeed[] | undefined;

/** Every seed, in a fixed order (case i uses seed i % length). */
export function fuzzSeeds(): FuzzSeed[] {
  if (cached) return cached;
  const out: FuzzSeed[] = [];
  for (const file of objectFiles()) {
    const bytes = new Uint8Array(readFileSync(file));
    const elf = parseElf(bytes);
    const name = file.slice(file.lastIndexOf('/') + 1);
    const btf = elf.section('.BTF');
    const ext = elf.section('.BTF.ext');
    out.push({
      name,
      target: 'spec',
      bytes,
      layout: layoutOf(bytes),
      sections: { btf: btf && [btf.offset, btf.size], ext: ext && [ext.offset, ext.size] },
      headers: elf.sections
        .filter((s) => /^(\.(data|rodata|bss|kconfig|maps|BTF|BTF\.ext|symtab)|maps|license|version)/.test(s.name) || s.type === 9)
        .map((s) => layoutOf(bytes).shoff + 64 * s.index),
    });
    if (btf) out.push({ name: `${name}:.BTF`, target: 'btf', bytes: btf.data.slice() });
    if (btf && ext) out.push({ name: `${name}:.BTF.ext`, target: 'ext', bytes: ext.data.slice(), btf: btf.data.slice() });
  }
  for (const s of elfSeeds()) out.push({ name: s.name, target: 'elf', bytes: s.bytes, layout: layoutOf(s.bytes) });
  return (cached = out);
}

/** A mixed 32-bit seed of case i (the case number alone decides everything). */
function caseSeed(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) >>> 0;
}

function applyBtf(bytes: Uint8Array, le: boolean, r: () => number, mutators: readonly Mutator[]): Uint8Array {
  let m = bytes;
  for (let k = 1 + int(r, 3); k > 0; k--) {
    try {
      m = mutators[int(r, mutators.length)]!(m, new DataView(m.buffer, m.byteOffset, m.byteLength), le, r);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e; // the mutator itself walked off an already broken blob
    }
  }
  return m;
}

const ALL_BTF = [...btfMutators, ...limitMutators, ...limitMutators];

/** The mutated input of case i, and what it is. */
export function mutateCase(i: number): { seed: FuzzSeed; bytes: Uint8Array; btf?: Uint8Array } {
  const seeds = fuzzSeeds();
  const seed = seeds[i % seeds.length]!;
  const r = mulberry32(caseSeed(i));
  const le = seed.bytes[0] === 0x9f || seed.bytes[5] === 1;
  switch (seed.target) {
    case 'btf':
      return { seed, bytes: applyBtf(seed.bytes.slice(), le, r, ALL_BTF) };
    case 'ext':
      return { seed, bytes: applyBtf(seed.bytes.slice(), le, r, extMutators), btf: seed.btf };
    case 'elf':
    case 'spec': {
      let bytes = seed.bytes.slice();
      const { btf, ext } = seed.sections ?? {};
      if (seed.target === 'spec' && (btf || ext) && r() < 0.5) {
        // Mutate the .BTF or .BTF.ext inside the object, in place: the loader parses it from there.
        const isExt = ext !== undefined && (!btf || r() < 0.3);
        const [off, size] = (isExt ? ext : btf)!;
        const part = bytes.subarray(off, off + size);
        // A truncation becomes zeros at the end: the section keeps its size in the file.
        const m = applyBtf(part.slice(), le, r, isExt ? extMutators : ALL_BTF);
        part.fill(0);
        part.set(m.subarray(0, size));
        return { seed, bytes };
      }
      if (seed.headers?.length && r() < 0.5) {
        // The size, offset or entry size of a section the loader reads: 2 GiB .. 2^64 - 1 and small odd values.
        const at = seed.headers[int(r, seed.headers.length)]!;
        const field = [32, 32, 56, 24][int(r, 4)]!;
        const v = [1n << 31n, 1n << 32n, (1n << 32n) - 1n, 1n << 33n, 1n << 40n, 1n << 63n, (1n << 64n) - 1n, 0n, 1n, 7n, 19n, 21n][int(r, 12)]!;
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(at + field, v, le);
        return { seed, bytes };
      }
      const next = makeMutator(seed.layout!, r);
      for (let n = 1 + int(r, 3); n > 0; n--) {
        const [, mutate] = next();
        bytes = mutate(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as typeof bytes;
      }
      return { seed, bytes };
    }
  }
}

/** An untyped failure: not a TsbpfError (or a TsbpfError without a string code). */
export class Untyped extends Error {
  constructor(
    readonly where: string,
    readonly error: unknown,
  ) {
    super(`${where}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
}

const isTyped = (e: unknown): e is TsbpfError => e instanceof TsbpfError && typeof e.code === 'string' && e.code.length > 0;

/** Run fn; a typed error is returned, anything else becomes Untyped. */
function step<T>(where: string, fn: () => T): T | TsbpfError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Untyped) throw e;
    if (isTyped(e)) return e;
    throw new Untyped(where, e);
  }
}

/** dumpC output must stay linear in its input: this much per input byte, plus a constant. */
export const DUMP_BYTES_PER_INPUT_BYTE = 256;
const DUMP_ALLOWANCE = 1 << 20;
/** Decode values of at most this size (bigger types are still planned). */
const DECODE_MAX = 1 << 16;

let coreObjects: ReturnType<typeof parseElfBtf>[] | undefined;
/** Objects whose CO-RE relocations a mutated target BTF is minimised for. */
function minCoreObjects(): ReturnType<typeof parseElfBtf>[] {
  return (coreObjects ??= ['core_kernel.o', 'min_core.o'].map((f) => parseElfBtf(readFileSync(join(ROOT, 'test/bpf', f)))));
}

/** Every query, dump and decoder of a parsed BTF. */
function exercise(btf: Btf, inputBytes: number): void {
  const zeros = new Uint8Array(DECODE_MAX);
  for (let id = 0; id < btf.length; id++) {
    const t = step('typeById', () => btf.typeById(id));
    if (t instanceof TsbpfError) continue;
    step('resolve', () => btf.resolve(id));
    const size = step('sizeOf', () => btf.sizeOf(id));
    step('alignOf', () => btf.alignOf(id));
    step('typeName', () => btf.typeName(id));
    if (t.kind === 'struct' || t.kind === 'union') step('findMember', () => btf.findMember(id, 'x'));
    if (t.name) step('findAllByName', () => btf.findAllByName(t.name));
    step('btfDecoder', () => {
      const d = btfDecoder(btf, id);
      if (typeof size === 'number' && size <= DECODE_MAX) d.decode(zeros.subarray(0, size));
      return d;
    });
  }
  step('dumpRaw', () => dumpRaw(btf));
  step('dumpJson', () => dumpJson(btf));
  const c = step('dumpC', () => dumpC(btf));
  if (typeof c === 'string' && c.length > DUMP_ALLOWANCE + DUMP_BYTES_PER_INPUT_BYTE * inputBytes) {
    throw new Untyped('dumpC', new Error(`output of ${c.length} bytes from ${inputBytes} bytes of input`));
  }
  step('BtfBuilder', () => BtfBuilder.from(btf).build());
  // As a CO-RE target: its minimal BTF must parse back.
  step('minCoreBtf', () => Btf.parse(minCoreBtf(btf, minCoreObjects())));
}

/** The outcome of case i. Throws Untyped (with the failing step) for a bug. */
export function runCase(i: number): string {
  const { seed, bytes, btf } = mutateCase(i);
  let first: TsbpfError | undefined;
  const note = (r: unknown) => {
    if (r instanceof TsbpfError && !first) first = r;
    return r;
  };
  switch (seed.target) {
    case 'elf': {
      const elf = note(step('parseElf', () => parseElf(bytes)));
      if (!(elf instanceof TsbpfError)) {
        step('walkEverything', () => walkEverything(elf as ReturnType<typeof parseElf>));
        // The objects' .debug_line (clang -g) through the DWARF line reader, strict and lenient: typed errors only.
        step('readLineTable', () => readLineTable(elf as ReturnType<typeof parseElf>));
        step('readLineTable lenient', () => readLineTable(elf as ReturnType<typeof parseElf>, { lenient: true }));
      }
      break;
    }
    case 'spec': {
      const spec = note(step('loadCollectionSpec', () => loadCollectionSpec(bytes)));
      if (!(spec instanceof TsbpfError)) {
        // The skeleton generator over whatever the spec holds: typed errors only, output linear in the input.
        const src = step('generateSkeleton', () => generateSkeleton(spec as ReturnType<typeof loadCollectionSpec>, bytes));
        if (typeof src === 'string' && src.length > DUMP_ALLOWANCE + DUMP_BYTES_PER_INPUT_BYTE * bytes.length) {
          throw new Untyped('generateSkeleton', new Error(`output of ${src.length} bytes from ${bytes.length} bytes of input`));
        }
      }
      const loaded = step('loadBtf', () => loadBtf(bytes));
      // The object's relocations against its own BTF (the target and the object both mutated).
      if (!(loaded instanceof TsbpfError) && loaded.ext) step('minCoreBtf', () => Btf.parse(minCoreBtf(loaded.btf, [loaded])));
      // The object's BTF through the queries too, when it parses but the object does not.
      if (!(loaded instanceof TsbpfError) && first) {
        const b = loaded.btf;
        for (let id = 0; id < Math.min(b.length, 64); id++) step('typeName', () => b.typeName(id));
      }
      break;
    }
    case 'btf': {
      const b = note(step('Btf.parse', () => Btf.parse(bytes)));
      if (!(b instanceof TsbpfError)) exercise(b as Btf, bytes.length);
      break;
    }
    case 'ext': {
      const base = Btf.parse(btf!);
      note(step('parseBtfExt', () => parseBtfExt(bytes, base)));
      break;
    }
  }
  return first ? `typed:${first.code}` : 'ok';
}
