/**
 * USDT: note parsing and argument specs (checked against readelf), and, for
 * real on the running kernel, attachUsdt on test/fixtures/usdt (a gcc-built
 * program and shared library with STAP_PROBE probes, at -O2 PIE, -O2 non-PIE
 * and -O0) with the programs of test/bpf/usdt_probe.c, which decode the
 * arguments with libbpf's usdt.bpf.h. Every attachment is filtered to, or
 * keyed by, the child process the test starts, so other processes running the
 * same binary do not disturb the counts.
 *
 * gcc and <sys/sdt.h> (systemtap-sdt-dev) build the fixture; without them the
 * fixture tests skip, and under CI that is a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectionSpec, type CollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { kernelBtf } from '../bpf/btf/kernel.ts';
import type { Program } from '../bpf/programs/program.ts';
import { ProgType } from '../bpf/programs/types.ts';
import { AttachError } from '../bpf/link/link.ts';
import { USDT_SPEC_SIZE, UsdtArgType, UsdtError, UsdtLink, attachUsdt, encodeUsdtSpec, parseUsdtArgs, ptRegsOffsets, readUsdtNotes, usdtSites } from '../bpf/link/usdt.ts';
import { parseElf } from '../elf/index.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount, which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';
import { run, startWaiting } from './helpers/process.ts';

const FIXTURE = new URL('./fixtures/usdt/', import.meta.url).pathname;
const OBJ = new URL('./bpf/usdt_probe.o', import.meta.url).pathname;
const N = 20;

// ---------------------------------------------------------------- fixture

let workDir = '';
let fixtureMissing: string | undefined;
const bins: Record<string, string> = {};
let lib = '';
let spec: CollectionSpec | undefined;
let fdsBefore = 0;
let ownedBefore = 0;

function sdtHeader(): string | undefined {
  return ['/usr/include/x86_64-linux-gnu/sys/sdt.h', '/usr/include/sys/sdt.h'].find((p) => existsSync(p));
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'tsbpf-usdt-'));
  spawnSync('/bin/true');
  await run('/bin/true');
  fdsBefore = fdCount();
  ownedBefore = ownedFdCount();
  if (!which('gcc')) fixtureMissing = 'gcc is not installed';
  else if (!sdtHeader()) fixtureMissing = '<sys/sdt.h> is missing (apt-get install systemtap-sdt-dev)';
  if (fixtureMissing) return;
  lib = join(workDir, 'libtsbpf_usdt.so');
  execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', lib, join(FIXTURE, 'lib.c')]);
  const variants: Record<string, string[]> = {
    'O2-pie': ['-O2', '-fPIE', '-pie'],
    'O2-nopie': ['-O2', '-fno-pie', '-no-pie'],
    'O0-pie': ['-O0', '-fPIE', '-pie'],
  };
  for (const [name, flags] of Object.entries(variants)) {
    bins[name] = join(workDir, `target-${name}`);
    execFileSync('gcc', [
      ...flags, '-DWITH_LIB', '-o', bins[name]!, join(FIXTURE, 'target.c'), join(FIXTURE, 'sema.c'),
      `-L${workDir}`, '-ltsbpf_usdt', '-Wl,-rpath,$ORIGIN',
    ]);
  }
  // The name usdt_probe.c's auto-attached section gives: found through PATH.
  copyFileSync(bins['O2-pie']!, join(workDir, 'tsbpf-usdt-auto'));
  execFileSync('chmod', ['+x', join(workDir, 'tsbpf-usdt-auto')]);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function needFixture(ctx: { skip: (m: string) => void }): void {
  if (!fixtureMissing) return;
  if (process.env.CI) throw new Error(`USDT fixture cannot be built under CI: ${fixtureMissing}`);
  ctx.skip(`skipped: ${fixtureMissing}`);
}

/** What `readelf -n` says about the stapsdt notes. */
function readelfNotes(bin: string): { provider: string; name: string; location: bigint; base: bigint; semaphore: bigint; args: string }[] {
  const out = execFileSync('readelf', ['-nW', bin], { encoding: 'utf8' });
  const notes = [];
  const re = /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)/g;
  for (const m of out.matchAll(re)) {
    notes.push({ provider: m[1]!, name: m[2]!, location: BigInt(m[3]!), base: BigInt(m[4]!), semaphore: BigInt(m[5]!), args: m[6]!.trim() });
  }
  return notes;
}

/** File offset of a virtual address, from `readelf -lW`'s LOAD segments. */
function readelfFileOffset(bin: string, vaddr: bigint): bigint {
  const seg = execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\s+LOAD/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ off: BigInt(f[1]!), vaddr: BigInt(f[2]!), filesz: BigInt(f[4]!) }))
    .find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  if (!seg) throw new Error(`0x${vaddr.toString(16)} is in no LOAD segment of ${bin}`);
  return vaddr - seg.vaddr + seg.off;
}

// ---------------------------------------------------------------- parsing, no kernel

describe('USDT argument strings (x86-64)', () => {
  it('registers (sub-registers map to the full pt_regs member), constants, memory, %rip symbols', () => {
    const args = parseUsdtArgs('-4@%edi 8@%rax 4@-20(%rbp) 8@$5 -1@%dil 2@8(%rsp) -4@$-9 8@(%rax) -2@%r8w 1@%r10b -8@tsbpf_global(%rip) 4@sym+16(%rip)');
    expect(args.map((a) => [a.kind, a.size, a.signed])).toEqual([
      ['reg', 4, true], ['reg', 8, false], ['deref', 4, false], ['const', 8, false], ['reg', 1, true], ['deref', 2, false],
      ['const', 4, true], ['deref', 8, false], ['reg', 2, true], ['reg', 1, false], ['deref', 8, true], ['deref', 4, false],
    ]);
    expect(args.map((a) => (a.kind === 'const' ? a.value : a.register))).toEqual([
      'di', 'ax', 'bp', 5n, 'di', 'sp', -9n, 'ax', 'r8', 'r10', 'ip', 'ip',
    ]);
    expect(args.map((a) => (a.kind === 'deref' ? [a.offset, a.symbol] : null)).filter(Boolean)).toEqual([
      [-20n, undefined], [8n, undefined], [0n, undefined], [0n, 'tsbpf_global'], [16n, 'sym'],
    ]);
    expect(parseUsdtArgs('')).toEqual([]);
    expect(parseUsdtArgs('8@$0x10')[0]).toMatchObject({ kind: 'const', value: 16n });
  });

  it('unsupported forms: UsdtError USDT_BAD_ARG naming the site, the argument and the string', () => {
    const cases: [string, RegExp][] = [
      ['8@(%rax,%rdx,8)', /SIB/],
      ['-4@-8(%rbp,%rcx,4)', /SIB/],
      ['-1@%ah', /high-byte/],
      ['3@%eax', /size 3/],
      ['%eax', /no size/],
      ['8@%xmm0', /unknown x86-64 register %xmm0/],
      ['8@%fs:8', /segment/],
      ['8@16(%rip)', /%rip displacement/],
      ['8@sym(%rbx)', /only supported relative to %rip/],
      ['8@rax', /expected %reg/],
    ];
    for (const [s, why] of cases) {
      const e = thrown(() => parseUsdtArgs(`-4@%edi ${s}`, 'bin: USDT p:n at 0x1234'));
      expect(e, s).toBeInstanceOf(UsdtError);
      expect(e.code, s).toBe('USDT_BAD_ARG');
      expect(e.message, s).toContain('bin: USDT p:n at 0x1234');
      expect(e.message, s).toContain(`argument #1 '${s}'`);
      expect(e.message, s).toContain(`'-4@%edi ${s}'`);
      expect(e.message, s).toMatch(why);
    }
    expect(thrown(() => parseUsdtArgs(Array(13).fill('8@%rax').join(' '))).code).toBe('USDT_TOO_MANY_ARGS');
  });

  it.skipIf(!existsSync('/sys/kernel/btf/vmlinux'))('register offsets come from the kernel BTF struct pt_regs; specs are laid out as usdt.bpf.h says', () => {
    const regs = ptRegsOffsets(kernelBtf());
    // x86-64 struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss.
    expect(Object.fromEntries(regs)).toEqual({
      r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56, r9: 64, r8: 72,
      ax: 80, cx: 88, dx: 96, si: 104, di: 112, ip: 128, sp: 152,
    });
    const b = encodeUsdtSpec(parseUsdtArgs('-4@%edi 8@$5 -2@-20(%rbp)'), 0x1122334455667788n, regs);
    expect(b.byteLength).toBe(USDT_SPEC_SIZE);
    const v = new DataView(b.buffer);
    const arg = (i: number) => ({
      valOff: v.getBigUint64(i * 16, true),
      type: v.getUint32(i * 16 + 8, true),
      regOff: v.getInt16(i * 16 + 12, true),
      signed: v.getUint8(i * 16 + 14),
      shift: v.getUint8(i * 16 + 15),
    });
    expect(arg(0)).toEqual({ valOff: 0n, type: UsdtArgType.REG, regOff: 112, signed: 1, shift: 32 });
    expect(arg(1)).toEqual({ valOff: 5n, type: UsdtArgType.CONST, regOff: 0, signed: 0, shift: 0 });
    expect(arg(2)).toEqual({ valOff: 2n ** 64n - 20n, type: UsdtArgType.REG_DEREF, regOff: 32, signed: 1, shift: 48 });
    expect(arg(3)).toEqual({ valOff: 0n, type: 0, regOff: 0, signed: 0, shift: 0 });
    expect(v.getBigUint64(192, true)).toBe(0x1122334455667788n);
    expect(v.getInt16(200, true)).toBe(3);
  });
});

describe('.note.stapsdt of the gcc-built fixture', () => {
  it('every note and site offset agrees with readelf -n and the LOAD segments (PIE, non-PIE, -O0, shared library)', (ctx) => {
    needFixture(ctx);
    for (const bin of [...Object.values(bins), lib]) {
      const expected = readelfNotes(bin);
      expect(expected.length, bin).toBeGreaterThan(0);
      const elf = parseElf(readFileSync(bin));
      expect(readUsdtNotes(elf, bin)).toEqual(expected);
      const sites = usdtSites(bin);
      expect(sites.map((s) => [s.provider, s.name, s.args])).toEqual(expected.map((n) => [n.provider, n.name, n.args]));
      for (const s of sites) {
        // Not prelinked: .stapsdt.base is where the notes say.
        expect(s.address).toBe(s.location);
        expect(s.fileOffset).toBe(readelfFileOffset(bin, s.location));
        expect(s.semaphoreOffset).toBe(s.semaphore ? readelfFileOffset(bin, s.semaphore) : undefined);
      }
    }
    const names = (bin: string) => [...new Set(usdtSites(bin).map((s) => `${s.provider}:${s.name}`))].sort();
    expect(names(bins['O2-pie']!)).toEqual(['tsbpf:ints', 'tsbpf:konst', 'tsbpf:mem', 'tsbpf:multi', 'tsbpf:sema', 'tsbpf:str']);
    expect(names(lib)).toEqual(['tsbpf:lib']);
    expect(usdtSites(bins['O2-pie']!, 'tsbpf', 'multi')).toHaveLength(2);
    expect(usdtSites(bins['O2-pie']!, 'tsbpf', 'sema')[0]!.semaphore).not.toBe(0n);
    // -O2 keeps the arguments in registers, -O0 in the frame.
    expect(usdtSites(bins['O2-pie']!, 'tsbpf', 'ints')[0]!.args).toMatch(/^-1@%\w+ 1@%\w+ -2@%\w+ 2@%\w+ -4@%\w+ 4@%\w+ -8@%\w+ 8@%\w+$/);
    expect(usdtSites(bins['O0-pie']!, 'tsbpf', 'ints')[0]!.args).toMatch(/^-1@-?\d+\(%rbp\) 1@-?\d+\(%rbp\)/);
  });

  it('a prelinked file: site and semaphore move by how far .stapsdt.base moved from the note\'s base', (ctx) => {
    needFixture(ctx);
    const bytes = Buffer.from(readFileSync(bins['O2-pie']!));
    const elf = parseElf(bytes);
    const before = usdtSites(elf, 'tsbpf', 'sema')[0]!;
    // Rewrite every note's base as if the notes were written 0x40 bytes further on: the file
    // (as prelink left it) has .stapsdt.base 0x40 lower, so sites are 0x40 lower than recorded.
    const sec = elf.section('.note.stapsdt')!;
    for (const n of elf.notes(sec)) {
      const at = sec.offset + (n.desc.byteOffset - sec.data.byteOffset) + 8;
      bytes.writeBigUInt64LE(bytes.readBigUInt64LE(at) + 0x40n, at);
    }
    const moved = usdtSites(parseElf(bytes), 'tsbpf', 'sema')[0]!;
    expect(moved.base).toBe(before.base + 0x40n);
    expect(moved.address).toBe(before.address - 0x40n);
    expect(moved.fileOffset).toBe(before.fileOffset - 0x40n);
    expect(moved.semaphoreAddress).toBe(before.semaphoreAddress - 0x40n);
  });
});

// ---------------------------------------------------------------- on the kernel

interface Rec {
  count: bigint;
  argCnt: number;
  errors: number;
  first: bigint[];
  last: bigint[];
  sum: bigint[];
}

function record(c: Collection, pid: number, probe: number): Rec | undefined {
  const key = Buffer.alloc(8);
  key.writeUInt32LE(pid, 0);
  key.writeUInt32LE(probe, 4);
  const v = c.maps.records!.lookup(key);
  if (!v) return undefined;
  const arr = (at: number) => Array.from({ length: 12 }, (_, i) => v.readBigInt64LE(at + i * 8));
  return { count: v.readBigUInt64LE(0), argCnt: v.readInt32LE(8), errors: v.readInt32LE(12), first: arr(16), last: arr(16 + 96), sum: arr(16 + 192) };
}

function strRecord(c: Collection, pid: number, len: number): { count: bigint; read: bigint; last: string } | undefined {
  const key = Buffer.alloc(8);
  key.writeUInt32LE(pid, 0);
  key.writeUInt32LE(len, 4);
  const v = c.maps.strs!.lookup(key);
  if (!v) return undefined;
  return { count: v.readBigUInt64LE(0), read: v.readBigInt64LE(8), last: v.subarray(16, 32).toString('latin1').replace(/\0.*$/s, '') };
}

const s64 = (v: bigint) => BigInt.asIntN(64, v);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sumOf = (f: (i: number) => bigint) => s64(range(N).reduce((acc, i) => acc + f(i), 0n));

/** tsbpf:ints(i) as the BPF program sees them: each narrowed to its C type, then widened to s64. */
const INTS: ((i: number) => bigint)[] = [
  (i) => BigInt.asIntN(8, BigInt(-i)),
  (i) => BigInt.asUintN(8, BigInt(200 + i)),
  (i) => BigInt.asIntN(16, BigInt(-1000 * i)),
  (i) => BigInt.asUintN(16, BigInt(60000 + i)),
  (i) => BigInt.asIntN(32, BigInt(-100000 * i)),
  (i) => BigInt.asUintN(32, 0xf0000000n + BigInt(i)),
  (i) => BigInt.asIntN(64, -1000000000000n * BigInt(i)),
  (i) => s64(0xf000000000000000n + BigInt(i)),
];

const PROBES = ['ints', 'konst', 'mem', 'multi', 'sema'] as const;
const LIB_PROBE = 6;

const load = (programs: string[]): Collection => loadCollection((spec ??= loadCollectionSpec(OBJ)), { programs });

function attachAllProbes(c: Collection, bin: string, pid?: number): UsdtLink[] {
  const links: UsdtLink[] = [];
  try {
    PROBES.forEach((p, k) => links.push(attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', p, { pid, cookie: BigInt(k + 1) })));
    links.push(attachUsdt(c, c.programs.on_usdt!, lib, 'tsbpf', 'lib', { pid, cookie: BigInt(LIB_PROBE) }));
    links.push(attachUsdt(c, c.programs.on_str!, bin, 'tsbpf', 'str', { pid }));
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return links;
}

function bpftoolPerf(): any[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'show'], { encoding: 'utf8' }).trim() || '[]');
}

describe('attachUsdt on the kernel', () => {
  for (const variant of ['O2-pie', 'O2-nopie', 'O0-pie']) {
    ktest(`${variant}: every probe decodes (ints of each size and sign, a string pointer, a constant, memory and %rip operands, two layouts of one probe, a semaphore, a shared library)`, async (ctx) => {
      needFixture(ctx);
      const bin = bins[variant]!;
      // Not attached: nobody sets the semaphore.
      expect((await run(bin, ['3'])).stdout).toBe('sema 0\n');
      using c = load(['on_usdt', 'on_str']);
      const child = startWaiting(bin, N);
      let links: UsdtLink[] = [];
      let r: { code: number | null; stdout: string };
      try {
        links = attachAllProbes(c, bin, child.pid);
      } finally {
        r = await child.go();
      }
      try {
        expect(r.code).toBe(0);
        // The kernel raised the semaphore (ref_ctr_offset) while tsbpf:sema was attached.
        expect(r.stdout).toBe(`sema ${N}\n`);

        const ints = record(c, child.pid, 1)!;
        expect(ints).toMatchObject({ count: BigInt(N), argCnt: 8, errors: 0 });
        expect(ints.first.slice(0, 8)).toEqual(INTS.map((f) => f(0)));
        expect(ints.last.slice(0, 8)).toEqual(INTS.map((f) => f(N - 1)));
        expect(ints.sum.slice(0, 8)).toEqual(INTS.map((f) => sumOf(f)));

        const konst = record(c, child.pid, 2)!;
        expect(konst).toMatchObject({ count: BigInt(N), argCnt: 2, errors: 0 });
        expect(konst.first.slice(0, 2)).toEqual([42n, 0n]);
        expect(konst.sum.slice(0, 2)).toEqual([42n * BigInt(N), sumOf(BigInt)]);

        const mem = record(c, child.pid, 3)!;
        expect(mem).toMatchObject({ count: BigInt(N), argCnt: 3, errors: 0 });
        expect(mem.sum.slice(0, 3)).toEqual([sumOf(BigInt), -sumOf(BigInt), 1000n * BigInt(N)]);

        // tsbpf:multi: one site passes i in a register (or the frame at -O0), the other the constant 7.
        const multiLink = links[3]!;
        expect(multiLink.sites).toHaveLength(2);
        expect(new Set(multiLink.sites.map((s) => s.specId)).size).toBe(2);
        expect(multiLink.specIds).toHaveLength(2);
        expect(multiLink.sites.map((s) => s.args[0]!.kind).sort()).toEqual(['const', variant.startsWith('O0') ? 'deref' : 'reg']);
        const multi = record(c, child.pid, 4)!;
        expect(multi).toMatchObject({ count: BigInt(2 * N), argCnt: 1, errors: 0 });
        expect(multi.sum[0]).toBe(sumOf(BigInt) + 7n * BigInt(N));

        const sema = record(c, child.pid, 5)!;
        expect(sema).toMatchObject({ count: BigInt(N), argCnt: 1, errors: 0 });
        expect(sema.sum[0]).toBe(sumOf(BigInt));

        const libRec = record(c, child.pid, LIB_PROBE)!;
        expect(libRec).toMatchObject({ count: BigInt(N), argCnt: 2, errors: 0 });
        expect(libRec.sum.slice(0, 2)).toEqual([sumOf(BigInt), 2n * sumOf(BigInt)]);

        // BPF_USDT(on_str, const char *msg, int len): the pointer leads to the string.
        expect(strRecord(c, child.pid, 3)).toEqual({ count: BigInt(N / 2), read: 4n, last: 'odd' });
        expect(strRecord(c, child.pid, 4)).toEqual({ count: BigInt(N / 2), read: 5n, last: 'even' });

        // bpftool sees one uprobe per site, at the file offsets tsbpf resolved.
        const shown = bpftoolPerf().filter((p) => p.pid === process.pid && p.fd_type === 'uprobe');
        const expected = links.flatMap((l) => l.sites.map((s) => [l === links[5] ? lib : bin, Number(s.site.fileOffset)]));
        expect(shown.map((p) => [p.filename, p.offset]).sort()).toEqual(expected.sort());
      } finally {
        for (const l of links) l.close();
      }
    });
  }

  ktest('spec ids: one per distinct layout, shared by the attachments of one object, freed on close', (ctx) => {
    needFixture(ctx);
    using c = load(['on_usdt']);
    const bin = bins['O2-pie']!;
    const a = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'ints', { cookie: 7n });
    const b = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'multi', { cookie: 8n });
    try {
      expect(a.specIds).toEqual([0]);
      expect(b.specIds).toEqual([1, 2]);
      const stored = Buffer.from(c.maps.__bpf_usdt_specs!.lookup(0)!);
      expect(stored.readBigUInt64LE(192)).toBe(7n);
      expect(stored.readInt16LE(200)).toBe(8);
      expect(a.description).toContain('1 site');
    } finally {
      a.close();
    }
    try {
      const again = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'konst');
      expect(again.specIds).toEqual([0]);
      again.close();
    } finally {
      b.close();
    }
  });

  ktest('pid filter: a second process running the same binary is not seen', async (ctx) => {
    needFixture(ctx);
    using c = load(['on_usdt']);
    const bin = bins['O2-nopie']!;
    const a = startWaiting(bin, 5);
    let link: UsdtLink | undefined;
    let other: { pid: number; code: number | null; stdout: string } | undefined;
    try {
      link = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'sema', { pid: a.pid, cookie: 1n });
      other = await run(bin, ['6']);
    } finally {
      const r = await a.go();
      expect(r.stdout).toBe('sema 5\n');
    }
    try {
      expect(other!.code).toBe(0);
      // Nor was its semaphore raised: the uprobe is not installed in it.
      expect(other!.stdout).toBe('sema 0\n');
      expect(record(c, a.pid, 1)?.count).toBe(5n);
      expect(record(c, other!.pid, 1)).toBeUndefined();
    } finally {
      link!.close();
    }
    // Unfiltered: every process.
    using _all = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'konst', { cookie: 2n });
    const r = await run(bin, ['4']);
    expect(record(c, r.pid, 2)?.count).toBe(4n);
  });

  ktest('close() detaches: no more records, semaphore back to 0, fds back to baseline', async (ctx) => {
    needFixture(ctx);
    const bin = bins['O2-pie']!;
    {
      using c = load(['on_usdt', 'on_str']);
      const links = attachAllProbes(c, bin);
      const r1 = await run(bin, ['2']);
      expect(r1.stdout).toBe('sema 2\n');
      expect(record(c, r1.pid, 1)?.count).toBe(2n);
      for (const l of links) {
        l.close();
        expect(l.closed).toBe(true);
        for (const sub of l.links) expect(sub.closed).toBe(true);
      }
      const r2 = await run(bin, ['2']);
      expect(r2.stdout).toBe('sema 0\n');
      expect(record(c, r2.pid, 1)).toBeUndefined();
      expect(bpftoolPerf().filter((p) => p.pid === process.pid)).toEqual([]);
    }
    expect(ownedFdCount()).toBe(ownedBefore);
    expect(fdCount()).toBe(fdsBefore);
  });

  ktest('Collection.attachAll: SEC("usdt/tsbpf-usdt-auto:tsbpf:konst") found through PATH', async (ctx) => {
    needFixture(ctx);
    const path = process.env.PATH;
    process.env.PATH = `${workDir}:${path}`;
    let c: Collection | undefined;
    try {
      c = load(['auto_konst', 'on_usdt']);
      const made = c.attachAll();
      // SEC("usdt") names no target: left alone.
      expect(Object.keys(made)).toEqual(['auto_konst']);
      expect(made.auto_konst).toBeInstanceOf(UsdtLink);
      const r = await run(join(workDir, 'tsbpf-usdt-auto'), ['10']);
      expect(r.code).toBe(0);
      const v = c.maps.auto_sum!.lookup(r.pid);
      expect(v && Buffer.from(v).readBigUInt64LE(0)).toBe(range(10).reduce((a, i) => a + 42000n + BigInt(i), 0n));
    } finally {
      process.env.PATH = path;
      c?.close();
    }
    // The collection closes the links attachAll made.
    expect(c.links.auto_konst!.closed).toBe(true);
  });

  ktest('errors: a missing probe names the ones there are; no usdt.bpf.h maps; wrong program type', (ctx) => {
    needFixture(ctx);
    using c = load(['on_usdt']);
    const bin = bins['O2-pie']!;
    const e = thrown(() => attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'nope'));
    expect(e).toBeInstanceOf(AttachError);
    expect(e.code).toBe('NO_USDT');
    expect(e.message).toContain('tsbpf:nope');
    expect(e.message).toContain('tsbpf:ints');
    expect(thrown(() => attachUsdt(c, c.programs.on_usdt!, '/bin/true', 'tsbpf', 'ints')).message).toContain('no .note.stapsdt probes');
    expect(thrown(() => attachUsdt({ maps: {} } as unknown as Collection, c.programs.on_usdt!, bin, 'tsbpf', 'ints')).code).toBe('NO_USDT_MAPS');
    const xdp = { type: ProgType.XDP, name: 'x' } as unknown as Program;
    expect(thrown(() => attachUsdt(c, xdp, bin, 'tsbpf', 'ints')).code).toBe('WRONG_PROGRAM_TYPE');
    expect(thrown(() => attachUsdt(c, c.programs.on_usdt!, join(workDir, 'missing'), 'tsbpf', 'ints')).code).toBe('NO_BINARY');
    // Nothing leaked into the spec map's bookkeeping.
    using l = attachUsdt(c, c.programs.on_usdt!, bin, 'tsbpf', 'ints');
    expect(l.specIds).toEqual([0]);
  });
});

