/**
 * `tsbpf gen min_core_btf` / minCoreBtf (btf/min-core.ts).
 *
 * Oracles: the CO-RE engine against the full target (every relocation
 * resolves to the same value against the minimal BTF, but type ids); the
 * running kernel (objects loaded with the minimal BTF as their CO-RE target
 * get the same translated instructions as with vmlinux, and run: the checks
 * of core_kernel.o, a traced exec for execsnoop); bpftool's own
 * `gen min_core_btf` on the same inputs (same bytes, so the same named types
 * and members).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Btf,
  BtfBuilder,
  BtfError,
  CoreCache,
  CoreReloKind,
  applyCoreRelo,
  minCoreBtf,
  parseElfBtf,
  type BtfExt,
  type CoreResolution,
} from '../btf/index.ts';
import { TsbpfError } from '../errors.ts';
import { parseElf } from '../elf/index.ts';
import { resolveCoreRelo } from '../btf/core.ts';
import { loadCollection, setVariable } from '../bpf/loader/collection.ts';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { programImage } from '../bpf/programs/dump.ts';
import { RingBufferReader } from '../bpf/events/ringbuf.ts';
import { btfCodec } from '../btf/codec.ts';
import { BtfHandle } from '../bpf/btf/handle.ts';
import { ktest } from './helpers/kernel.ts';
import { fdCount } from './helpers/env.ts';
import { thrown } from './helpers/thrown.ts';
import { btfMutators } from './fuzz/btf-mutators.ts';
import { BPFTOOL, CILIUM, VMLINUX, corpusVmlinux, hasBpftool, hasCilium, hasVmlinux } from './fixtures/btf/corpus.ts';

const root = resolve(__dirname, '..');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8' });
const work = mkdtempSync(join(tmpdir(), 'tsbpf-mincore-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BPF = join(root, 'test/bpf');
const CORE_KERNEL = join(BPF, 'core_kernel.o');
const EXECSNOOP = join(root, 'examples/execsnoop.bpf.o');
const TD = join(CILIUM, 'btf/testdata');
/** Every committed object with CO-RE relocations against the kernel. */
const KERNEL_OBJECTS = [CORE_KERNEL, EXECSNOOP, join(BPF, 'core_local.o'), join(BPF, 'vm_modules.o')];

interface Obj {
  path: string;
  btf: Btf;
  ext: BtfExt;
  bytes: Uint8Array;
}
function obj(path: string): Obj {
  const bytes = readFileSync(path);
  const { btf, ext } = parseElfBtf(bytes);
  return { path, btf, ext: ext!, bytes };
}

function bpftoolMin(input: string, objects: string[]): { status: number | null; bytes?: Buffer; stderr: string } {
  const out = join(work, `bpftool-${Math.random().toString(36).slice(2)}.btf`);
  const r = spawnSync(BPFTOOL, ['gen', 'min_core_btf', input, out, ...objects], { encoding: 'utf8' });
  return { status: r.status, bytes: r.status === 0 ? readFileSync(out) : undefined, stderr: r.stderr };
}

/** Every relocation of every section, resolved and applied to a copy of the section's code. */
function relocateAll(o: Obj, target: Btf): { section: string; code: Uint8Array; res: CoreResolution[] }[] {
  const elf = parseElf(o.bytes);
  const cache = new CoreCache();
  return o.ext.coreRelos.map((sec) => {
    const code = new Uint8Array(elf.section(sec.name)!.data);
    const res = sec.records.map((r) => {
      const x = resolveCoreRelo(o.btf, r, r.kind === CoreReloKind.TYPE_ID_LOCAL ? [] : target, cache);
      applyCoreRelo(code, r.insnOff / 8, x, { littleEndian: o.btf.littleEndian });
      return x;
    });
    return { section: sec.name, code, res };
  });
}

/** Named types, and each struct/union's member names, as sorted lines. */
function namedTypes(btf: Btf): string[] {
  const out: string[] = [];
  for (const t of btf.types()) {
    if (t.name === '') continue;
    const ms = t.kind === 'struct' || t.kind === 'union' ? ` {${t.members.map((m) => m.name || '(anon)').join(',')}}` : '';
    out.push(`${t.kind} ${t.name}${ms}`);
  }
  return out.sort();
}

/** The same relocated code, but that a type_id_target instruction holds the id in its own target. */
function expectSameRelocations(o: Obj, full: Btf, min: Btf): number {
  const a = relocateAll(o, full);
  const b = relocateAll(o, min);
  let n = 0;
  for (let s = 0; s < a.length; s++) {
    const [x, y] = [a[s]!, b[s]!];
    const codeA = x.code.slice();
    const codeB = y.code.slice();
    for (let i = 0; i < x.res.length; i++) {
      const [ra, rb] = [x.res[i]!, y.res[i]!];
      expect({ d: rb.description.replace(/ -> .*/, ''), poison: rb.poison }).toEqual({ d: ra.description.replace(/ -> .*/, ''), poison: ra.poison });
      if (ra.kind === CoreReloKind.TYPE_ID_TARGET && ra.targetValue !== 0n) {
        // Ids are those of each target: the same type (kind, name, size) under another number.
        const [ta, tb] = [full.typeById(Number(ra.targetValue)), min.typeById(Number(rb.targetValue))];
        expect([tb.kind, tb.name, min.sizeOf(tb.id)]).toEqual([ta.kind, ta.name, full.sizeOf(ta.id)]);
        const o8 = ra.insnOff;
        codeA.fill(0, o8, o8 + 16);
        codeB.fill(0, o8, o8 + 16);
      } else {
        expect(rb.targetValue, ra.description).toBe(ra.targetValue);
      }
      n++;
    }
    expect(Buffer.from(codeB).equals(Buffer.from(codeA)), x.section).toBe(true);
  }
  return n;
}

describe.skipIf(!hasVmlinux)('minimal BTF of the repo objects against vmlinux', () => {
  const full = Btf.parse(readFileSync(VMLINUX));
  const objects = KERNEL_OBJECTS.map(obj);
  const bytes = minCoreBtf(full, objects);
  const min = Btf.parse(bytes);

  it('relocates every instruction as vmlinux does (type ids aside), and is much smaller', () => {
    let n = 0;
    for (const o of objects) n += expectSameRelocations(o, full, min);
    expect(n).toBeGreaterThan(80);
    const vmlinuxSize = statSync(VMLINUX).size;
    console.log(`[min_core_btf] ${objects.length} objects, ${n} relocations: ${bytes.length} bytes, ${min.count} types (vmlinux: ${vmlinuxSize} bytes, ${full.count} types)`);
    expect(bytes.length * 500).toBeLessThan(vmlinuxSize);
  });

  it('keeps only the members relocations use, at their offsets, with the full struct size', () => {
    const ts = min.getByName('task_struct', 'struct');
    const tsFull = full.getByName('task_struct', 'struct');
    expect(ts.kind === 'struct' && ts.size).toBe(tsFull.kind === 'struct' && tsFull.size);
    if (ts.kind !== 'struct' || tsFull.kind !== 'struct') throw new Error('not a struct');
    expect(ts.members.length).toBeLessThan(tsFull.members.length / 5);
    for (const m of ts.members) {
      const f = tsFull.members.find((x) => x.name === m.name && x.bitOffset === m.bitOffset);
      expect(f, m.name).toBeDefined();
      expect(m.bitfieldSize).toBe(f!.bitfieldSize);
    }
    expect(ts.members.map((m) => m.name)).toEqual(expect.arrayContaining(['pid', 'tgid', 'comm', 'real_parent', 'mm']));
    // real_parent is read as a pointer, then its tgid: the pointer stays typed (task_struct is kept).
    // A pointer no relocation goes through points to void.
    const ptrTargets = ts.members.filter((m) => min.typeById(m.type).kind === 'ptr').map((m) => [m.name, min.typeName((min.typeById(m.type) as { type: number }).type)]);
    expect(ptrTargets).toContainEqual(['real_parent', 'struct task_struct']);
    // The whole enum for an enum value relocation.
    const cmd = min.getByName('bpf_cmd', 'enum');
    const cmdFull = full.getByName('bpf_cmd', 'enum');
    expect(cmd).toEqual({ ...cmdFull, id: cmd.id });
  });

  ktest('the kernel accepts it as BTF (BPF_BTF_LOAD)', () => {
    BtfHandle.load(bytes).close();
  });

  ktest('objects load with it as their CO-RE target: same xlated code as with vmlinux, and they run', async () => {
    const before = fdCount();
    const names = ['core_checks', 'core_ppid', 'core_start_code', 'core_values'];
    const xlated = (kernelBtf: Btf | string) => {
      const coll = loadCollection(loadCollectionSpec(readFileSync(CORE_KERNEL), { name: 'core_kernel' }), { kernelBtf, programs: names });
      try {
        return Object.fromEntries(names.map((n) => [n, { code: programImage(coll.programs[n]!.fd).xlated, ret: coll.programs[n]!.testRun({ repeat: 0 }).retval }]));
      } finally {
        coll.close();
      }
    };
    const a = xlated(VMLINUX);
    const b = xlated(min);
    for (const n of ['core_checks', 'core_ppid', 'core_start_code']) {
      expect(Buffer.from(b[n]!.code).equals(Buffer.from(a[n]!.code)), n).toBe(true);
      expect(b[n]!.ret, n).toBe(a[n]!.ret);
    }
    expect(b.core_checks!.ret).toBe(0); // every CHECK passed
    expect(b.core_ppid!.ret).toBe(process.ppid);
    // core_values adds bpf_core_type_id_kernel(struct task_struct): the id in each target.
    const idFull = full.findIdByName('task_struct', 'struct');
    const idMin = min.findIdByName('task_struct', 'struct');
    expect(a.core_values!.ret - b.core_values!.ret).toBe(idFull - idMin);

    // execsnoop: a tracepoint, triggered by an exec.
    const events: { pid: number; comm: string }[] = [];
    const load = (kernelBtf: Btf | string) => {
      const spec = loadCollectionSpec(readFileSync(EXECSNOOP), { name: 'execsnoop' });
      setVariable(spec, 'target_ppid', process.pid);
      return { spec, coll: loadCollection(spec, { kernelBtf }) };
    };
    const x = load(VMLINUX);
    const codeFull = normalizeMapIds(programImage(x.coll.programs.handle_exec!.fd).xlated);
    x.coll.close();
    const { spec, coll } = load(min);
    const reader = new RingBufferReader(coll.maps.events!);
    try {
      expect(Buffer.from(normalizeMapIds(programImage(coll.programs.handle_exec!.fd).xlated)).equals(Buffer.from(codeFull))).toBe(true);
      coll.attachAll();
      const codec = btfCodec(spec.btf!, spec.btf!.findIdByName('event', 'struct'));
      const child = spawnSync('/bin/true').pid;
      for await (const e of reader.records({ codec, signal: AbortSignal.timeout(10_000) })) {
        events.push(e as { pid: number; comm: string });
        if ((e as { pid: number }).pid === child) break;
      }
      expect(events.find((e) => e.pid === child)).toMatchObject({ comm: 'true' });
    } finally {
      reader.close();
      coll.close();
    }
    expect(fdCount()).toBe(before);
  });
});

/** xlated code names maps by id, which differ between two loads: blank them. */
function normalizeMapIds(code: Uint8Array): Uint8Array {
  const c = code.slice();
  for (let o = 0; o + 16 <= c.length; o += 8) {
    if (c[o] === 0x18) {
      if (c[o + 1]! >> 4 !== 0) c.fill(0, o + 4, o + 8);
      o += 8;
    }
  }
  return c;
}

describe('type tags and forward declarations behind followed pointers (min_core.o against itself)', () => {
  const MIN_CORE = join(BPF, 'min_core.o');
  const o = obj(MIN_CORE);
  const bytes = minCoreBtf(o.btf, [o]);
  const min = Btf.parse(bytes);

  it('keeps them, and relocates as the full BTF does', () => {
    expect(min.findByName('user', 'type_tag')).toBeDefined();
    expect(min.findByName('opaque', 'fwd')).toBeDefined();
    expect(namedTypes(min)).toEqual(['fwd opaque', 'int int', 'struct pair {c}', 'type_tag user', 'typedef opaque_ptr', 'typedef user_fn']);
    expect(expectSameRelocations(o, o.btf, min)).toBe(4);
  });

  ktest('the kernel accepts the result', () => {
    BtfHandle.load(bytes).close();
  });

  it.skipIf(!hasBpftool)('where bpftool stops with "unsupported kind: type_tag"', () => {
    const r = bpftoolMin(MIN_CORE, [MIN_CORE]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unsupported kind: type_tag/);
  });
});

describe.skipIf(!hasCilium)('cilium/ebpf objects, both byte orders (bpftool 7.1 refuses the big-endian ones)', () => {
  const pair = (e: string) => ({ tgt: obj(join(TD, `relocs_read_tgt-${e}.elf`)), read: obj(join(TD, `relocs_read-${e}.elf`)) });
  const [el, eb] = [pair('el'), pair('eb')];

  it('relocs_read against relocs_read_tgt: the same relocations as the full target, the same bytes from either byte order', () => {
    const minEl = minCoreBtf(el.tgt.btf, [el.read]);
    const minEb = minCoreBtf(eb.tgt.btf, [eb.read]);
    expect(Buffer.from(minEb).equals(Buffer.from(minEl))).toBe(true); // host byte order
    expect(expectSameRelocations(el.read, el.tgt.btf, Btf.parse(minEl))).toBeGreaterThan(10);
    expect(expectSameRelocations(eb.read, eb.tgt.btf, Btf.parse(minEb))).toBeGreaterThan(10);
  });

  it.skipIf(!hasVmlinux)('relocs against vmlinux', () => {
    const full = Btf.parse(readFileSync(VMLINUX));
    for (const e of ['el', 'eb']) {
      const o = obj(join(TD, `relocs-${e}.elf`));
      expect(expectSameRelocations(o, full, Btf.parse(minCoreBtf(full, [o])))).toBeGreaterThan(10);
    }
  });
});

describe.skipIf(!hasBpftool)('against bpftool gen min_core_btf', () => {
  const cases: { name: string; input: string | (() => string); objects: string[] }[] = [
    { name: 'core_kernel.o', input: VMLINUX, objects: [CORE_KERNEL] },
    { name: 'execsnoop.bpf.o', input: VMLINUX, objects: [EXECSNOOP] },
    { name: 'every object with kernel relocations at once', input: VMLINUX, objects: KERNEL_OBJECTS },
    {
      name: 'core_kernel.o against cilium/ebpf\'s vmlinux',
      input: () => {
        const p = join(work, 'corpus-vmlinux.btf');
        writeFileSync(p, corpusVmlinux());
        return p;
      },
      objects: [CORE_KERNEL],
    },
    { name: 'cilium relocs_read-el.elf against an ELF target', input: join(TD, 'relocs_read_tgt-el.elf'), objects: [join(TD, 'relocs_read-el.elf')] },
    { name: 'cilium relocs-el.elf', input: VMLINUX, objects: [join(TD, 'relocs-el.elf')] },
  ];
  for (const c of cases) {
    const needs = c.input === VMLINUX ? hasVmlinux : hasCilium || !c.name.includes('cilium');
    it.skipIf(!needs || (c.name.includes('cilium') && !hasCilium))(`${c.name}: the same bytes, so the same named types and members`, () => {
      const input = typeof c.input === 'string' ? c.input : c.input();
      const want = bpftoolMin(input, c.objects);
      expect(want.status, want.stderr).toBe(0);
      const got = minCoreBtf(parseElfBtfOrRaw(input), c.objects.map((p) => readFileSync(p)));
      expect(namedTypes(Btf.parse(got))).toEqual(namedTypes(Btf.parse(want.bytes!)));
      expect(Buffer.from(got).equals(want.bytes!)).toBe(true);
    });
  }

  it('both refuse an object without .BTF.ext and ambiguous candidates', () => {
    const noExt = join(BPF, 'core_target.o');
    expect(bpftoolMin(VMLINUX, [noExt]).status).not.toBe(0);
    expect(thrown(() => minCoreBtf(parseElfBtfOrRaw(VMLINUX), [readFileSync(noExt)])).code).toBe('BTF_NO_BTF_EXT');
    // core_target.o has struct amb and amb___v2 with the member at different offsets.
    expect(bpftoolMin(noExt, [join(BPF, 'core_local.o')]).status).not.toBe(0);
    expect(thrown(() => minCoreBtf(parseElfBtfOrRaw(noExt), [readFileSync(join(BPF, 'core_local.o'))])).code).toBe('CORE_AMBIGUOUS');
  });
});

function parseElfBtfOrRaw(path: string): Btf {
  const b = readFileSync(path);
  return b[0] === 0x7f ? parseElfBtf(b).btf : Btf.parse(b);
}

describe('hostile input', () => {
  const coreKernel = readFileSync(CORE_KERNEL);

  it('garbage and truncated target BTF: typed errors', () => {
    expect(thrown(() => minCoreBtf(Btf.parse(new Uint8Array(64).fill(0x41)), [coreKernel]))).toBeInstanceOf(BtfError);
    if (!hasVmlinux) return;
    const v = readFileSync(VMLINUX);
    for (const n of [3, 24, 100, 4096, v.length >> 1, v.length - 1]) {
      const e = thrown(() => minCoreBtf(Btf.parse(v.subarray(0, n)), [coreKernel]), `${n} bytes`);
      expect(e, `${n} bytes`).toBeInstanceOf(BtfError);
    }
  });

  it('mutated target BTF: a typed error or a result, never anything else', () => {
    // Valid targets to mutate: the minimal BTF of core_kernel.o (structs, enums, bitfields) and
    // min_core.o's own BTF (pointers into func protos, a type tag, a forward declaration).
    const minCore = readFileSync(join(BPF, 'min_core.o'));
    const minCoreRaw = Uint8Array.from(parseElf(minCore).section('.BTF')!.data);
    const bases = [minCoreRaw, ...(hasVmlinux ? [minCoreBtf(Btf.parse(readFileSync(VMLINUX)), [coreKernel])] : [])];
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    const outcomes = { ok: 0, typed: 0 };
    const N = 600;
    for (let i = 0; i < N; i++) {
      const base = bases[i % bases.length]!;
      const m = Uint8Array.from(base);
      const mutated = btfMutators[Math.floor(rand() * btfMutators.length)]!(m, new DataView(m.buffer), true, rand);
      try {
        const out = minCoreBtf(Btf.parse(mutated), [coreKernel, minCore]);
        Btf.parse(out);
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw e;
        outcomes.typed++;
      }
    }
    console.log(`[min_core_btf] ${N} mutated targets: ${outcomes.ok} gave BTF, ${outcomes.typed} a typed error`);
    expect(outcomes.ok + outcomes.typed).toBe(N);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it.skipIf(!hasVmlinux)('mutated objects (.BTF and .BTF.ext bytes): a typed error or a result', () => {
    const full = Btf.parse(readFileSync(VMLINUX));
    const elf = parseElf(coreKernel);
    const regions = ['.BTF', '.BTF.ext'].map((n) => elf.section(n)!).map((sec) => [sec.offset, sec.size] as const);
    let seed = 777;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    const outcomes = { ok: 0, typed: 0 };
    const N = 300;
    for (let i = 0; i < N; i++) {
      const m = Uint8Array.from(coreKernel);
      const [off, size] = regions[i % 2]!;
      for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) m[off + Math.floor(rand() * size)] = Math.floor(rand() * 256);
      try {
        Btf.parse(minCoreBtf(full, [m]));
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw e;
        outcomes.typed++;
      }
    }
    console.log(`[min_core_btf] ${N} mutated objects: ${outcomes.ok} gave BTF, ${outcomes.typed} a typed error`);
    expect(outcomes.ok + outcomes.typed).toBe(N);
  });

  it('reference cycles in the target end: a typed error or a result', () => {
    // typedef user_fn -> ptr -> ptr -> (the first ptr); typedefs opaque_ptr <-> opaque_ptr2.
    const b = new BtfBuilder();
    b.add({ kind: 'typedef', name: 'user_fn', type: 2 });
    b.add({ kind: 'ptr', name: '', type: 3 });
    b.add({ kind: 'ptr', name: '', type: 2 });
    b.add({ kind: 'typedef', name: 'opaque_ptr', type: 5 });
    b.add({ kind: 'typedef', name: 'opaque_ptr2', type: 4 });
    const minCore = readFileSync(join(BPF, 'min_core.o'));
    let outcome: string;
    try {
      outcome = `${Btf.parse(minCoreBtf(Btf.parse(b.marshal()), [minCore])).count} types`;
    } catch (e) {
      expect(e).toBeInstanceOf(TsbpfError);
      outcome = (e as TsbpfError).code;
    }
    console.log(`[min_core_btf] cyclic target: ${outcome}`);
  });

  it('split BTF as the target: refused (bpftool reads INPUT as base BTF too)', () => {
    const base = parseElfBtf(readFileSync(join(BPF, 'core_target.o'))).btf;
    const split = new BtfBuilder({ base });
    split.add({ kind: 'ptr', name: '', type: 1 });
    expect(thrown(() => minCoreBtf(split.build(), [coreKernel])).code).toBe('BTF_INVALID_TYPE');
  });

  it('objects: no .BTF, no .BTF.ext, a broken ELF', () => {
    const target = parseElfBtf(readFileSync(join(BPF, 'core_target.o'))).btf;
    expect(thrown(() => minCoreBtf(target, [readFileSync('/bin/true')])).code).toBe('BTF_NO_BTF');
    expect(thrown(() => minCoreBtf(target, [readFileSync(join(BPF, 'core_target.o'))])).code).toBe('BTF_NO_BTF_EXT');
    expect(thrown(() => minCoreBtf(target, [coreKernel.subarray(0, 200)]))).toBeInstanceOf(TsbpfError);
  });

  it('the CLI: exit 1 with the code for bad files, 2 for a bad command line, no stack trace', () => {
    const out = join(work, 'out.btf');
    const target = join(BPF, 'core_target.o');
    const garbage = join(work, 'garbage.btf');
    writeFileSync(garbage, Buffer.alloc(100, 0x5a));
    const runs: [string[], number, RegExp][] = [
      [[garbage, out, CORE_KERNEL], 1, /garbage\.btf: .*\[BTF_BAD_MAGIC\]/],
      [[join(work, 'nope.btf'), out, CORE_KERNEL], 1, /nope\.btf.*\[ENOENT\]/],
      [[target, out, join(work, 'nope.o')], 1, /nope\.o.*\[ENOENT\]/],
      [[target, out, work], 1, /FILE_NOT_REGULAR/],
      [[target, out, '/bin/true'], 1, /\/bin\/true: .*\[BTF_NO_BTF\]/],
      [[target, out, target], 1, /core_target\.o: no \.BTF\.ext section .*\[BTF_NO_BTF_EXT\]/],
      [[target, out], 2, /usage: tsbpf gen min_core_btf INPUT OUTPUT OBJECT\.\.\./],
      [[target, join(work, 'no/such/dir/out.btf'), CORE_KERNEL], 1, /ENOENT/],
    ];
    for (const [args, status, err] of runs) {
      const r = cli(['gen', 'min_core_btf', ...args]);
      expect({ args, status: r.status }).toEqual({ args, status });
      expect(r.stderr).toMatch(err);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it.skipIf(!hasVmlinux)('the CLI writes what minCoreBtf returns', () => {
    const out = join(work, 'cli.btf');
    const r = cli(['gen', 'min_core_btf', VMLINUX, out, CORE_KERNEL, EXECSNOOP]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    const want = minCoreBtf(Btf.parse(readFileSync(VMLINUX)), [readFileSync(CORE_KERNEL), readFileSync(EXECSNOOP)]);
    expect(readFileSync(out).equals(Buffer.from(want))).toBe(true);
  });
});
