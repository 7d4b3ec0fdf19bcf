/**
 * Attach, for real, on the running kernel: tracing hooks (tracepoint,
 * raw_tp, tp_btf, perf_event sampling, uprobe/uretprobe/uprobe_multi),
 * iterators, trace_pipe, Collection.attachAll, link pinning, update and info,
 * and the typed errors for missing hooks. Each test attaches a program from
 * test/bpf/attach_*.c, triggers the hook, reads the effect from a map, and
 * checks with bpftool that the kernel shows the same attachment, and that
 * close() removes it.
 *
 * Not here: kprobe/kretprobe/ksyscall/kprobe_multi and fentry/fexit/fmod_ret/
 * lsm. This kernel has no CONFIG_KPROBES and no usable ftrace (see
 * ../shared/MACHINE.md); only the error a kprobe attach gives is checked.
 * Their positive tests run in the VM suite.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec, type CollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { kernelBtf } from '../bpf/btf/kernel.ts';
import type { BpfMap } from '../bpf/maps/map.ts';
import { AttachError, FdLink, Link, LinkType, MultiLink, linkIds } from '../bpf/link/link.ts';
import { attachIter } from '../bpf/link/iter.ts';
import { attachKprobe, attachKsyscall } from '../bpf/link/kprobe.ts';
import { attachPerfSampling } from '../bpf/link/perf-event.ts';
import { attachRawTracepoint, attachTracing } from '../bpf/link/raw-tracepoint.ts';
import { attachTracepoint } from '../bpf/link/tracepoint.ts';
import { attachUprobe, attachUprobeMulti, symbolFileOffset } from '../bpf/link/uprobe.ts';
import { tracePipe } from '../bpf/link/trace-pipe.ts';
import { TsbpfError } from '../errors.ts';
import { kernelAtLeast, notSupported, since } from '../bpf/features.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { BPFFS, fdCount, which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { ifSupported, kernelRefuses, skipIfNotSupported } from './helpers/kernel-features.ts';
import { thrown } from './helpers/thrown.ts';
import { run, startWaiting } from './helpers/process.ts';

const BPF_DIR = new URL('./bpf/', import.meta.url).pathname;
const TARGET_SRC = new URL('./fixtures/uprobe-target/target.c', import.meta.url).pathname;
const obj = (name: string) => join(BPF_DIR, `${name}.o`);

const libc = koffi.load('libc.so.6');
const sys = libc.func('long syscall(long)');
const libcGetpid = libc.func('int getpid(void)');
const gettid = libc.func('int gettid(void)');
const SYS_getpid = 39;
/** Trigger sys_enter_getpid `n` times from this thread (the raw syscall, not libc's getpid). */
const getpids = (n: number) => {
  for (let i = 0; i < n; i++) sys(SYS_getpid);
};
const TID = gettid() as number;
/** perf_event BPF links (5.15): before, a tracepoint, uprobe or perf event attachment has no link fd (the VM matrix's 5.10). */
const PERF_LINKS = kernelAtLeast(since('perf_event links')!);

function count(map: BpfMap, key: number | bigint): bigint {
  const v = map.lookup(key);
  return v ? Buffer.from(v).readBigUInt64LE(0) : 0n;
}

function bpftool(...args: string[]): any {
  // -f: show bpffs paths of pinned objects.
  return JSON.parse(execFileSync('bpftool', ['-j', '-f', ...args], { encoding: 'utf8' }).trim() || 'null');
}

function bpftoolLink(id: number): any {
  return (bpftool('link', 'show') as any[]).find((l) => l.id === id);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let spec: CollectionSpec;
const load = (programs: string[]): Collection => loadCollection(spec, { programs });

const linksBefore = new Set<number>();
let fdsBefore = 0;
let ownedBefore = 0;
let workDir = '';
const pins: string[] = [];

beforeAll(async () => {
  spec = loadCollectionSpec(obj('attach_trace'));
  workDir = mkdtempSync(join(tmpdir(), 'tsbpf-attach-'));
  // Warm up what allocates fds once per process (libuv's child watcher, koffi), then take the baseline.
  spawnSync('/bin/true');
  await run('/bin/true');
  fdsBefore = fdCount();
  ownedBefore = ownedFdCount();
  try {
    for (const id of linkIds()) linksBefore.add(id);
  } catch {
    // No privileges: the tests skip.
  }
});

afterAll(() => {
  for (const p of pins) rmSync(p, { force: true });
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('tracepoints', () => {
  ktest('syscalls/sys_enter_getpid counts this thread, bpftool shows the perf_event link, close() detaches', () => {
    using c = load(['tp_sys_enter_getpid']);
    const link = attachTracepoint(c.programs.tp_sys_enter_getpid!, 'syscalls', 'sys_enter_getpid');
    try {
      getpids(5);
      expect(count(c.maps.tp_getpid!, TID)).toBe(5n);

      if (!PERF_LINKS) {
        // Before 5.15 the perf event alone holds the attachment: no link to show.
        expect(link.fd).toBe(-1);
        expect(thrown(() => link.info()).code).toBe('NOT_A_BPF_LINK');
        return;
      }
      const info = link.info();
      expect(info.type).toBe(LinkType.PERF_EVENT);
      expect(info.typeName).toBe('PERF_EVENT');
      expect(info.progId).toBe(c.programs.tp_sys_enter_getpid!.info().id);
      const shown = bpftoolLink(info.id);
      expect(shown).toMatchObject({ id: info.id, type: 'perf_event', prog_id: info.progId });
      expect([...linkIds()]).toContain(info.id);
    } finally {
      link.close();
    }
    const id = thrown(() => link.info());
    expect(id.code).toBe('CLOSED');
    getpids(3);
    expect(count(c.maps.tp_getpid!, TID)).toBe(5n);
  });

  ktest('sched/sched_process_exec sees /bin/true exec, by the child pid', async () => {
    using c = load(['tp_sched_exec']);
    using _link = attachTracepoint(c.programs.tp_sched_exec!, 'sched', 'sched_process_exec');
    const r = await run('/bin/true');
    expect(r.code).toBe(0);
    expect(count(c.maps.tp_exec!, r.pid)).toBe(1n);
  });

  ktest('a tracepoint that does not exist: AttachError NO_TRACEPOINT naming it', () => {
    using c = load(['tp_sys_enter_getpid']);
    const e = thrown(() => attachTracepoint(c.programs.tp_sys_enter_getpid!, 'syscalls', 'sys_enter_no_such_call'));
    expect(e).toBeInstanceOf(AttachError);
    expect(e.code).toBe('NO_TRACEPOINT');
    expect(e.message).toContain('syscalls/sys_enter_no_such_call');
    expect(thrown(() => attachTracepoint(c.programs.tp_sys_enter_getpid!, '../x', 'y')).code).toBe('NO_TRACEPOINT');
  });

  ktest('a program of the wrong type: WRONG_PROGRAM_TYPE before any syscall', () => {
    using c = load(['raw_sys_enter', 'on_uprobe']);
    const e = thrown(() => attachTracepoint(c.programs.raw_sys_enter!, 'syscalls', 'sys_enter_getpid'));
    expect(e).toBeInstanceOf(TsbpfError);
    expect(e.code).toBe('WRONG_PROGRAM_TYPE');
    expect(e.message).toContain('raw_sys_enter');
    expect(thrown(() => attachRawTracepoint(c.programs.on_uprobe!, 'sys_enter')).code).toBe('WRONG_PROGRAM_TYPE');
    expect(thrown(() => attachTracing(c.programs.raw_sys_enter!)).code).toBe('WRONG_PROGRAM_TYPE');
    expect(thrown(() => attachUprobe(c.programs.raw_sys_enter!, '/bin/true', 'main')).code).toBe('WRONG_PROGRAM_TYPE');
    expect(thrown(() => attachKprobe(c.programs.raw_sys_enter!, 'do_sys_open')).code).toBe('WRONG_PROGRAM_TYPE');
  });
});

describe('raw tracepoints and tp_btf', () => {
  ktest('raw_tp/sys_enter counts getpid; bpftool shows the raw_tracepoint link; close() detaches', () => {
    using c = load(['raw_sys_enter', 'raw_sys_enter2']);
    const link = attachRawTracepoint(c.programs.raw_sys_enter!, 'sys_enter');
    let id = -1;
    try {
      // At least: the runtime on this thread may call getpid(2) too (process.pid), more often on a busy machine.
      getpids(4);
      expect(count(c.maps.raw_getpid!, TID)).toBeGreaterThanOrEqual(4n);
      const info = link.info();
      id = info.id;
      expect(info.typeName).toBe('RAW_TRACEPOINT');
      expect(info.progId).toBe(c.programs.raw_sys_enter!.info().id);
      expect(bpftoolLink(info.id)).toMatchObject({ type: 'raw_tracepoint', prog_id: info.progId, tp_name: 'sys_enter' });

      // The kernel has no BPF_LINK_UPDATE for raw_tp links (no update_prog: EINVAL), unlike xdp, tcx,
      // cgroup, netns and iter links (see attach-net/attach-cgroup): the link keeps its program.
      const e = thrown(() => link.update(c.programs.raw_sys_enter2!));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toContain('cannot be updated');
      const before = count(c.maps.raw_getpid!, TID);
      getpids(2);
      expect(count(c.maps.raw_getpid!, TID) - before).toBeGreaterThanOrEqual(2n);
      expect(count(c.maps.raw_getpid2!, TID)).toBe(0n);
    } finally {
      link.close();
    }
    expect(bpftoolLink(id)).toBeUndefined();
    const closed = count(c.maps.raw_getpid!, TID);
    getpids(2);
    expect(count(c.maps.raw_getpid!, TID)).toBe(closed);
  });

  ktest('raw_tp that does not exist: ENOENT naming it', () => {
    using c = load(['raw_sys_enter']);
    const e = thrown(() => attachRawTracepoint(c.programs.raw_sys_enter!, 'no_such_raw_tp'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toContain('no_such_raw_tp');
  });

  ktest('tp_btf/sys_enter and tp_btf/sched_process_exec load and count (BTF tracing link)', async () => {
    using c = load(['btf_sys_enter', 'btf_exec_prog']);
    using l1 = attachTracing(c.programs.btf_sys_enter!);
    using l2 = attachTracing(c.programs.btf_exec_prog!);
    getpids(6);
    expect(count(c.maps.btf_getpid!, TID)).toBe(6n);
    const r = await run('/bin/true');
    expect(count(c.maps.btf_exec!, r.pid)).toBe(1n);
    // tp_btf attaches through a raw tracepoint link (bpf_raw_tp_link), not a tracing link.
    for (const [l, tp] of [
      [l1, 'sys_enter'],
      [l2, 'sched_process_exec'],
    ] as const) {
      const i = l.info();
      expect(i.typeName).toBe('RAW_TRACEPOINT');
      expect(bpftoolLink(i.id)).toMatchObject({ type: 'raw_tracepoint', prog_id: i.progId, tp_name: tp });
    }
  });
});

describe('perf_event sampling', () => {
  ktest('software cpu-clock at 1 kHz on every CPU: samples of this process while it burns ~200 ms', () => {
    using c = load(['on_sample']);
    const link = attachPerfSampling(c.programs.on_sample!, { frequency: 1000 });
    try {
      expect(link).toBeInstanceOf(MultiLink);
      // One perf event per online CPU ("0-1", "0,2-3"...).
      const online = readFileSync('/sys/devices/system/cpu/online', 'utf8')
        .trim()
        .split(',')
        .reduce((n, r) => {
          const [a, b] = r.split('-').map(Number);
          return n + (b === undefined ? 1 : b - a! + 1);
        }, 0);
      expect(link.links.length).toBe(online);
      const ids = PERF_LINKS ? link.links.map((l) => l.info()) : [];
      for (const i of ids) {
        expect(i.typeName).toBe('PERF_EVENT');
        expect(bpftoolLink(i.id)).toMatchObject({ type: 'perf_event', prog_id: i.progId });
      }
      const end = Date.now() + 200;
      let x = 0;
      while (Date.now() < end) x += Math.sqrt(x + 1);
      expect(x).toBeGreaterThan(0);
      // 200 ms at 1 kHz on the CPU running us: about 200 samples; allow for a busy or throttled host.
      expect(Number(count(c.maps.samples!, process.pid))).toBeGreaterThan(40);
    } finally {
      link.close();
    }
    const n = count(c.maps.samples!, process.pid);
    const end = Date.now() + 50;
    while (Date.now() < end);
    expect(count(c.maps.samples!, process.pid)).toBe(n);
    for (const l of link.links) expect(l.closed).toBe(true);
  });
});

describe('uprobes on a gcc-built binary', () => {
  const bins: Record<string, string> = {};
  let gccMissing: string | undefined;
  beforeAll(() => {
    if (!which('gcc')) {
      gccMissing = 'gcc is not installed';
      return;
    }
    bins.pie = join(workDir, 'target-pie');
    bins.nopie = join(workDir, 'target-nopie');
    execFileSync('gcc', ['-O2', '-fPIE', '-pie', '-o', bins.pie, TARGET_SRC]);
    execFileSync('gcc', ['-O2', '-fno-pie', '-no-pie', '-o', bins.nopie, TARGET_SRC]);
  });
  const needGcc = (ctx: { skip: (m: string) => void }) => {
    if (gccMissing) {
      if (process.env.CI) throw new Error(gccMissing);
      ctx.skip(`skipped: ${gccMissing}`);
    }
  };

  for (const kind of ['pie', 'nopie'] as const) {
    ktest(`uprobe + uretprobe on tsbpf_add (${kind === 'pie' ? 'PIE' : 'non-PIE'}): calls, first argument, return values`, async (ctx) => {
      needGcc(ctx);
      const bin = bins[kind]!;
      using c = load(['on_uprobe', 'on_uretprobe']);
      using up = attachUprobe(c.programs.on_uprobe!, bin, 'tsbpf_add');
      using ret = attachUprobe(c.programs.on_uretprobe!, bin, 'tsbpf_add', { retprobe: true });
      const r = await run(bin, ['10']);
      expect(r.code).toBe(0);
      // tsbpf_add(i, 1) for i < 10: arguments sum to 45, results to 55 (what the program prints).
      expect(r.stdout.trim()).toBe('55');
      expect(count(c.maps.up_calls!, r.pid)).toBe(10n);
      expect(count(c.maps.up_args!, r.pid)).toBe(45n);
      expect(count(c.maps.uret_calls!, r.pid)).toBe(10n);
      expect(count(c.maps.uret_sum!, r.pid)).toBe(55n);

      // bpftool sees both probes on the file at the offset tsbpf resolved.
      const off = Number(symbolFileOffset(bin, 'tsbpf_add'));
      const perf = (bpftool('perf', 'show') as any[]).filter((p) => p.pid === process.pid && p.filename === bin);
      expect(perf.map((p) => [p.fd_type, p.offset]).sort()).toEqual([
        ['uprobe', off],
        ['uretprobe', off],
      ]);
      if (PERF_LINKS) for (const l of [up, ret]) expect(bpftoolLink(l.info().id)).toMatchObject({ type: 'perf_event' });
    });
  }

  ktest('symbolFileOffset agrees with nm and the segment table (non-PIE: vaddr minus the text segment bias)', (ctx) => {
    needGcc(ctx);
    for (const bin of Object.values(bins)) {
      const nm = execFileSync('nm', [bin], { encoding: 'utf8' });
      const vaddr = BigInt('0x' + /^([0-9a-f]+) T tsbpf_add$/m.exec(nm)![1]);
      const phdrs = execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' });
      const seg = phdrs
        .split('\n')
        .filter((l) => /^\s+LOAD/.test(l))
        .map((l) => l.trim().split(/\s+/))
        .map((f) => ({ off: BigInt(f[1]!), vaddr: BigInt(f[2]!), filesz: BigInt(f[4]!) }))
        .find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz)!;
      expect(symbolFileOffset(bin, 'tsbpf_add')).toBe(vaddr - seg.vaddr + seg.off);
    }
  });

  ktest('a dynamic libc symbol (getppid) through the binary calling it, filtered to that pid', async (ctx) => {
    needGcc(ctx);
    using c = load(['on_libc']);
    const child = startWaiting(bins.pie!, 7);
    let link: Link | undefined;
    try {
      link = attachUprobe(c.programs.on_libc!, 'libc.so.6', 'getppid', { pid: child.pid });
    } finally {
      const r = await child.go();
      expect(r.code).toBe(0);
    }
    try {
      expect(count(c.maps.libc_calls!, child.pid)).toBe(7n);
      // Only that pid: bash, node and everything else calling getppid meanwhile are not counted.
      const keys = [...c.maps.libc_calls!.keys()].map((k) => Buffer.from(k).readUInt32LE(0));
      expect(keys).toEqual([child.pid]);
    } finally {
      link.close();
    }
  });

  ktest('a pid-filtered uprobe does not fire for another process running the same binary', async (ctx) => {
    needGcc(ctx);
    using c = load(['on_uprobe']);
    const a = startWaiting(bins.nopie!, 4);
    let link: Link | undefined;
    let other: { pid: number; code: number | null } | undefined;
    try {
      link = attachUprobe(c.programs.on_uprobe!, bins.nopie!, 'tsbpf_add', { pid: a.pid });
      other = await run(bins.nopie!, ['6']);
      expect(other.code).toBe(0);
    } finally {
      await a.go();
    }
    try {
      expect(count(c.maps.up_calls!, a.pid)).toBe(4n);
      expect(count(c.maps.up_calls!, other!.pid)).toBe(0n);
    } finally {
      link!.close();
    }
  });

  ktest('uprobe_multi: one link on tsbpf_add and tsbpf_mul (6.6+), bpftool shows it', async (ctx) => {
    needGcc(ctx);
    using c = load(['on_uprobe_multi']);
    using link = await ifSupported(ctx, () => attachUprobeMulti(c.programs.on_uprobe_multi!, bins.pie!, ['tsbpf_add', 'tsbpf_mul']));
    const r = await run(bins.pie!, ['5']);
    expect(r.code).toBe(0);
    expect(count(c.maps.um_calls!, r.pid)).toBe(10n);
    const info = link.info();
    expect(info.type).toBe(LinkType.UPROBE_MULTI);
    const shown = bpftoolLink(info.id);
    expect(shown.prog_id).toBe(info.progId);
    // bpftool 7.1 predates uprobe_multi links and prints the type number.
    expect([12, 'uprobe_multi']).toContain(shown.type);
  });

  ktest('errors: a missing symbol is NO_SYMBOL naming it, a missing binary NO_BINARY', (ctx) => {
    needGcc(ctx);
    using c = load(['on_uprobe', 'on_uprobe_multi']);
    const e = thrown(() => attachUprobe(c.programs.on_uprobe!, bins.pie!, 'tsbpf_no_such_function'));
    expect(e.code).toBe('NO_SYMBOL');
    expect(e.message).toContain('tsbpf_no_such_function');
    expect(e.message).toContain(bins.pie!);
    expect(thrown(() => attachUprobeMulti(c.programs.on_uprobe_multi!, bins.pie!, ['tsbpf_add', 'nope'])).code).toBe('NO_SYMBOL');
    expect(thrown(() => attachUprobe(c.programs.on_uprobe!, join(workDir, 'missing'), 'main')).code).toBe('NO_BINARY');
  });
});

describe('kprobes on this kernel', () => {
  ktest('kprobe/ksyscall attach fails with a typed error (no CONFIG_KPROBES here; the positive test is in the VM suite)', () => {
    const has = existsSync('/sys/bus/event_source/devices/kprobe');
    using c = loadCollection(loadCollectionSpec(obj('attach_all')), { programs: ['all_uprobe'] });
    if (has) {
      // A kernel with the kprobe PMU but no such function: ENOENT/EINVAL from perf_event_open, typed NO_SYMBOL.
      expect(thrown(() => attachKprobe(c.programs.all_uprobe!, 'tsbpf_no_such_function')).code).toBe('NO_SYMBOL');
    } else {
      // No kprobe PMU and no tracefs kprobe_events: the library says the kernel lacks kprobes.
      const e = thrown(() => attachKprobe(c.programs.all_uprobe!, 'do_sys_openat2'));
      const e2 = thrown(() => attachKsyscall(c.programs.all_uprobe!, 'getpid'));
      for (const x of [e, e2]) {
        expect(x.code).toBe('NOT_SUPPORTED');
        expect(x.message).toMatch(/kprobe/);
        expect(x.message).toContain('CONFIG_KPROBES');
      }
    }
  });
});

describe('iterators', () => {
  /** Byte offset of a member of a kernel struct, from the kernel's BTF. */
  function kernelOffset(struct: string, member: string): number {
    const btf = kernelBtf();
    const t = btf.getByName(struct, 'struct');
    const m = btf.findMember(t.id, member);
    if (!m) throw new Error(`struct ${struct} has no ${member}`);
    return m.bitOffset / 8;
  }

  ktest('iter/task prints every task; the output contains this process; a pid-filtered iterator prints only our threads', async (ctx) => {
    using c = loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['dump_task'] });
    c.maps.config!.update(0, kernelOffset('task_struct', 'tgid'));
    c.maps.config!.update(1, kernelOffset('task_struct', 'pid'));
    using link = attachIter(c.programs.dump_task!);
    const lines = link.text().trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(lines).toContain(`${process.pid} ${process.pid}`);
    expect(lines).toContain(`${process.ppid} ${process.ppid}`);
    expect(link.info().typeName).toBe('ITER');
    expect(bpftoolLink(link.info().id)).toMatchObject({ type: 'iter', target_name: 'task' });
    // Reading again runs the program again.
    expect(link.text().trim().split('\n')).toContain(`${process.pid} ${process.pid}`);

    // Filters (tid, pid) need 6.1: before, the rest skips through the feature table.
    using mine = await ifSupported(ctx, () => attachIter(c.programs.dump_task!, { pid: process.pid }));
    const own = mine.text().trim().split('\n');
    expect(own.length).toBeGreaterThanOrEqual(1);
    for (const l of own) expect(l.split(' ')[0]).toBe(String(process.pid));
  });

  // Runs where the kernel loads iter/bpf_map_elem programs: some kernels refuse them with EPERM
  // (a documented kernel property, see test/helpers/kernel-features.ts and the README's testing notes).
  ktest('iter/bpf_map_elem walks a map given at attach', (ctx) => {
    skipIfNotSupported(ctx, 'iter/bpf_map_elem');
    using c = loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['dump_elem'] });
    const m = c.maps.elems!;
    m.update(1, 10n);
    m.update(2, 20n);
    m.update(7, 70n);
    using link = attachIter(c.programs.dump_elem!, { map: m });
    expect(link.text().trim().split('\n').sort()).toEqual(['1=10', '2=20', '7=70']);
    expect(bpftoolLink(link.info().id)).toMatchObject({ type: 'iter', target_name: 'bpf_map_elem', map_id: m.info().id });
  });

  ktest('the iter/bpf_map_elem probe agrees with loading the real program (a skip above is the kernel, not the probe)', () => {
    const refused = kernelRefuses('iter/bpf_map_elem');
    let err: unknown;
    try {
      loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['dump_elem'] }).close();
    } catch (e) {
      err = e;
    }
    if (refused) expect(err).toMatchObject({ code: 'EPERM' });
    else expect(err).toBeUndefined();
  });

  ktest('attachIter refuses a program that is not an iterator', () => {
    using c = loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['say_hello'] });
    expect(thrown(() => attachIter(c.programs.say_hello!)).code).toBe('WRONG_PROGRAM_TYPE');
  });
});

describe('trace_pipe', () => {
  ktest(
    'bpf_printk from a test-run program shows up in tracePipe(), which stops on abort',
    async () => {
      using c = loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['say_hello'] });
      const token = (process.pid * 7919 + Date.now()) >>> 0;
      c.maps.config!.update(2, token);
      const ac = new AbortController();
      const seen: { message: string; pid: number }[] = [];
      const reader = (async () => {
        for await (const line of tracePipe(ac.signal)) {
          if (line.message.includes(`tsbpf-printk token=${token}`)) {
            seen.push(line);
            ac.abort();
          }
        }
      })();
      const timeout = setTimeout(() => ac.abort(), 5000);
      // Test-run until the reader has the line (the pipe only shows what is written after it opens).
      for (let i = 0; i < 50 && !seen.length; i++) {
        expect(c.programs.say_hello!.testRun({ data: new Uint8Array(64) }).retval).toBe(0);
        await sleep(50);
      }
      await reader;
      clearTimeout(timeout);
      expect(seen.length).toBe(1);
      expect(seen[0]!.message).toBe(`tsbpf-printk token=${token} len=50`);
      expect(seen[0]!.pid).toBe(TID);
    },
    { needs: 'tracefs', timeout: 15_000 },
  );

  ktest(
    'an abort ends tracePipe() at once even when no line comes, and its fd is closed',
    async () => {
      const fds = fdCount();
      const ac = new AbortController();
      let lines = 0;
      const reader = (async () => {
        for await (const _ of tracePipe(ac.signal)) lines++; // whatever other tests print meanwhile
      })();
      await sleep(150);
      const t0 = Date.now();
      ac.abort();
      await reader;
      expect(Date.now() - t0).toBeLessThan(500);
      expect(lines).toBeGreaterThanOrEqual(0);
      expect(fdCount()).toBe(fds);
      // Already aborted: returns without opening anything.
      for await (const _ of tracePipe(ac.signal)) throw new Error('no line expected');
    },
    { needs: 'tracefs', timeout: 5_000 },
  );
});

describe('Collection.attachAll', () => {
  ktest('attaches tracepoint, raw_tp and uprobe/libc.so.6:getpid from their sections, not xdp/tc/cgroup/socket', () => {
    using c = loadCollection(loadCollectionSpec(obj('attach_all')));
    const made = c.attachAll();
    expect(Object.keys(made).sort()).toEqual(['all_raw', 'all_tp', 'all_uprobe']);
    expect(Object.keys(c.links).sort()).toEqual(['all_raw', 'all_tp', 'all_uprobe']);
    // Again: nothing new.
    expect(Object.keys(c.attachAll())).toEqual([]);

    // libc's getpid: the uprobe, then the syscall (tracepoint and raw_tp).
    libcGetpid();
    const key = (slot: number) => (BigInt(process.pid) << 8n) | BigInt(slot);
    expect(count(c.maps.hits!, key(0))).toBeGreaterThanOrEqual(1n);
    expect(count(c.maps.hits!, key(1))).toBeGreaterThanOrEqual(1n);
    expect(count(c.maps.hits!, key(2))).toBeGreaterThanOrEqual(1n);
    for (const slot of [3, 4, 5, 6]) expect(count(c.maps.hits!, key(slot))).toBe(0n);

    const shown = new Map((bpftool('link', 'show') as any[]).map((l) => [l.id, l]));
    // Before 5.15 only the raw_tp attachment is a BPF link (the tracepoint's and uprobe's are perf events alone).
    const linked = Object.entries(c.links).filter(([, l]) => l.fd >= 0);
    expect(linked.length).toBe(PERF_LINKS ? 3 : 1);
    for (const [name, link] of linked) {
      const i = link.info();
      expect(shown.get(i.id)?.prog_id).toBe(c.programs[name]!.info().id);
    }
    const ids = linked.map(([, l]) => l.info().id);
    c.close();
    const after = new Set(linkIds());
    for (const id of ids) expect(after.has(id)).toBe(false);
  });
});

describe('pinned links', () => {
  ktest(
    'pin a tracepoint link, close the handle: still counting; FdLink.fromPin reopens it; unpin + close detaches',
    (ctx) => {
      if (!PERF_LINKS) skipIfNotSupported(ctx, notSupported('perf_event links', 'a tracepoint attachment is a perf event alone, with no link to pin'));
      using c = load(['tp_sys_enter_getpid']);
      const path = join(BPFFS, `tsbpf-attach-${process.pid}-tp`);
      pins.push(path);
      const link = attachTracepoint(c.programs.tp_sys_enter_getpid!, 'syscalls', 'sys_enter_getpid');
      const id = link.info().id;
      link.pin(path);
      expect(existsSync(path)).toBe(true);
      link.close();
      getpids(2);
      expect(count(c.maps.tp_getpid!, TID)).toBe(2n);
      expect(bpftoolLink(id)?.pinned).toEqual([path]);

      const again = FdLink.fromPin(path);
      expect(again.info()).toMatchObject({ id, typeName: 'PERF_EVENT', progId: c.programs.tp_sys_enter_getpid!.info().id });
      const byId = FdLink.fromId(id);
      expect(byId.info().id).toBe(id);
      byId.close();
      again.unpin(path);
      expect(existsSync(path)).toBe(false);
      getpids(1);
      expect(count(c.maps.tp_getpid!, TID)).toBe(3n); // the reopened handle still holds it
      again.close();
      getpids(4);
      expect(count(c.maps.tp_getpid!, TID)).toBe(3n);
      expect(new Set(linkIds()).has(id)).toBe(false);
      expect(thrown(() => FdLink.fromId(id)).code).toBe('ENOENT');
    },
  );

  ktest('detach() leaves a defunct link fd: no more events, info still answers', () => {
    using c = load(['raw_sys_enter']);
    using link = attachRawTracepoint(c.programs.raw_sys_enter!, 'sys_enter');
    getpids(1);
    // raw_tp links cannot be detached before 6.x on some kernels; this one can or says EOPNOTSUPP.
    const e = (() => {
      try {
        link.detach();
        return undefined;
      } catch (x) {
        return x as TsbpfError;
      }
    })();
    if (e) {
      expect(e.code).toBe('EOPNOTSUPP');
      return;
    }
    getpids(5);
    expect(count(c.maps.raw_getpid!, TID)).toBe(1n);
  });
});

describe('resources', () => {
  ktest('every link is gone from the kernel and fds are back at the baseline', () => {
    const leftover = [...linkIds()].filter((id) => !linksBefore.has(id));
    // Other test files may own links concurrently: only ours matter, and ours point at our programs (all closed).
    for (const id of leftover) {
      const l = bpftoolLink(id);
      if (!l) continue;
      expect(l.pids?.some((p: { pid: number }) => p.pid === process.pid) ?? false).toBe(false);
    }
    expect(ownedFdCount()).toBe(ownedBefore);
    expect(fdCount()).toBe(fdsBefore);
  });
});
