/**
 * `tsbpf feature probe` against `bpftool feature probe kernel` on this
 * machine: system config, syscall and misc sections equal key by key, every
 * program type and map type both report equal, the plain text equal line by
 * line outside the helper lists, and the helper lists checked against the
 * verifier itself (see the documented difference below); bad arguments.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect } from 'vitest';
import { Program } from '../bpf/programs/program.ts';
import { VerifierError } from '../bpf/programs/verifier.ts';
import { asm, encodeInsns } from '../bpf/programs/insn.ts';
import { helperName, MAX_HELPER_ID } from '../bpf/programs/helpers.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
const theirs = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8', timeout: 120_000 });

type Probe = Record<'system_config' | 'syscall_config' | 'program_types' | 'map_types' | 'misc', Record<string, unknown>> & { helpers: Record<string, string[]> };
let ours: Probe;
let bpftool: Probe;

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  const a = run('feature', 'probe', 'kernel', '-j');
  expect(a.status, a.stderr).toBe(0);
  // Not a terminal: no progress lines on stderr.
  expect(a.stderr).toBe('');
  ours = JSON.parse(a.stdout);
  bpftool = JSON.parse(theirs('-j', 'feature', 'probe', 'kernel').stdout);
}, 120_000);

/** The helper-list program types where bpftool's answer is every helper it knows (see below). */
const saysAll = (p: Probe) => {
  const lists = Object.values(p.helpers).filter((l) => l.length);
  return lists.length > 1 && lists.every((l) => l.length === lists[0]!.length);
};

describe('tsbpf feature probe against bpftool', () => {
  ktest('same sections in the same order; system_config, syscall_config and misc equal key by key', () => {
    expect(Object.keys(ours)).toEqual(Object.keys(bpftool));
    expect(ours.system_config).toEqual(bpftool.system_config);
    expect(ours.syscall_config).toEqual(bpftool.syscall_config);
    expect(ours.misc).toEqual(bpftool.misc);
  });

  ktest('every program type and map type bpftool reports, with the same answer', () => {
    for (const sec of ['program_types', 'map_types'] as const) {
      const keys = Object.keys(bpftool[sec]);
      expect(keys.length).toBeGreaterThan(20);
      for (const k of keys) expect(ours[sec][k], `${sec}.${k}`).toBe(bpftool[sec][k]);
      // tsbpf also reports the types newer than this bpftool (netfilter, cgrp_storage, arena), in bpftool's key shape.
      for (const k of Object.keys(ours[sec])) expect(k).toMatch(sec === 'map_types' ? /^have_[a-z0-9_]+_map_type$/ : /^have_[a-z0-9_]+_prog_type$/);
    }
    expect(Object.keys(ours.helpers)).toEqual(expect.arrayContaining(Object.keys(bpftool.helpers)));
  });

  ktest('helpers: known facts per program type, and agreement with the verifier', () => {
    const h = ours.helpers;
    expect(h.xdp_available_helpers).toEqual(expect.arrayContaining(['bpf_xdp_adjust_head', 'bpf_redirect_map', 'bpf_map_lookup_elem']));
    expect(h.xdp_available_helpers).not.toContain('bpf_skb_store_bytes');
    expect(h.sched_cls_available_helpers).toEqual(expect.arrayContaining(['bpf_skb_store_bytes', 'bpf_redirect', 'bpf_l3_csum_replace']));
    expect(h.sched_cls_available_helpers).not.toContain('bpf_xdp_adjust_head');
    expect(h.socket_filter_available_helpers).toContain('bpf_skb_load_bytes');
    expect(h.socket_filter_available_helpers).not.toContain('bpf_redirect');
    expect(h.kprobe_available_helpers).toEqual(expect.arrayContaining(['bpf_probe_read_kernel', 'bpf_get_current_task', 'bpf_get_stackid']));
    expect(h.kprobe_available_helpers).not.toContain('bpf_skb_load_bytes');
    // Types a two-instruction program cannot probe, or that this kernel lacks: empty, as in bpftool.
    for (const t of ['tracing', 'struct_ops', 'ext', 'lsm', 'lirc_mode2']) if (bpftool.helpers[`${t}_available_helpers`]) expect(h[`${t}_available_helpers`], t).toEqual(bpftool.helpers[`${t}_available_helpers`]);
    // trace_printk, trace_vprintk and probe_write_user are left out without `full`, as bpftool does.
    for (const l of Object.values(h)) expect(l).not.toContain('bpf_trace_printk');
  });

  ktest('helpers against bpftool: equal lists, or the documented difference of bpftool 7.1', () => {
    const bothTypes = Object.keys(bpftool.helpers);
    if (!saysAll(bpftool)) {
      // A bpftool whose libbpf reads today's verifier message: the lists are equal.
      for (const k of bothTypes) expect(new Set(ours.helpers[k]), k).toEqual(new Set(bpftool.helpers[k]));
      return;
    }
    // Documented difference: libbpf 1.1 (under Debian's bpftool 7.1) takes a helper as missing only
    // when the verifier says 'invalid func' or 'unknown func'; since 5.x the verifier says 'program of
    // this type cannot use helper', so that bpftool lists every helper it knows for every type. tsbpf's
    // lists are then a subset of it (plus the helpers newer than that bpftool), and each helper it
    // leaves out is one the verifier refuses with exactly that message.
    const known = new Set(bpftool.helpers.socket_filter_available_helpers);
    const newest = Math.max(...[...known].map(idOf));
    for (const k of bothTypes) {
      const extra = ours.helpers[k]!.filter((n) => !bpftool.helpers[k]!.includes(n));
      for (const n of extra) expect(idOf(n), `${k}: ${n}`).toBeGreaterThan(newest);
    }
    const before = ownedFdCount();
    for (const [type, key] of [['XDP', 'xdp'], ['SOCKET_FILTER', 'socket_filter'], ['KPROBE', 'kprobe'], ['SCHED_CLS', 'sched_cls'], ['CGROUP_SKB', 'cgroup_skb']] as const) {
      const mine = new Set(ours.helpers[`${key}_available_helpers`]);
      for (const name of bpftool.helpers[`${key}_available_helpers`]!) {
        const verdict = refusal(type, idOf(name), type === 'KPROBE');
        expect(verdict, `${key}: ${name}`).toBe(!mine.has(name));
      }
    }
    expect(ownedFdCount()).toBe(before);
  }, { timeout: 60_000 });

  ktest('plain text: line for line as bpftool outside the helper lists', () => {
    const a = run('feature', 'probe', 'kernel');
    expect(a.status, a.stderr).toBe(0);
    const b = theirs('feature', 'probe', 'kernel').stdout;
    const newer = Object.keys(ours.program_types).filter((k) => !(k in bpftool.program_types)).map((k) => k.replace(/^have_|_prog_type$/g, ''));
    const newerMaps = Object.keys(ours.map_types).filter((k) => !(k in bpftool.map_types)).map((k) => k.replace(/^have_|_map_type$/g, ''));
    const helperLines = (s: string) => s.startsWith('\t- ') || s.startsWith('\tCould not determine') || s.startsWith('\tProgram type not supported');
    const clean = (s: string, dropNewer: boolean) =>
      s.split('\n').filter((l) => !helperLines(l) && !(dropNewer && (newer.some((t) => l.endsWith(` ${t} is available`) || l.endsWith(` ${t} is NOT available`) || l.endsWith(`program type ${t}:`)) || newerMaps.some((t) => l.includes(`map_type ${t} is`)))));
    expect(clean(a.stdout, true)).toEqual(clean(b, false));
    // Each helper line is one of the JSON list's names, in id order.
    const xdp = a.stdout.split('eBPF helpers supported for program type xdp:\n')[1]!.split('\neBPF helpers')[0]!;
    expect(xdp.split('\n').filter((l) => l.startsWith('\t- ')).map((l) => l.slice(3))).toEqual(ours.helpers.xdp_available_helpers);
  }, { timeout: 120_000 });

  ktest('macros [prefix P]: the defines bpftool prints, helper values as the JSON lists', () => {
    for (const extra of [[], ['prefix', 'TSBPF_']]) {
      const p = extra.length ? 'TSBPF_' : '';
      const a = run('feature', 'probe', 'kernel', 'macros', ...extra);
      expect(a.status, a.stderr).toBe(0);
      const b = theirs('feature', 'probe', 'kernel', 'macros', ...extra).stdout.split('\n');
      // Outside the helper lines: bpftool's lines, plus the types and helpers newer than it.
      const newer = /NETFILTER_PROG_TYPE|CGRP_STORAGE_MAP_TYPE|ARENA_MAP_TYPE|PROG_TYPE_netfilter__|HELPER_bpf_cgrp_storage_(get|delete) /;
      const lines = a.stdout.split('\n');
      expect(lines.filter((l) => !l.includes('__HELPER_') && !newer.test(l))).toEqual(b.filter((l) => !l.includes('__HELPER_')));
      // Every helper define bpftool prints, tsbpf prints (its 0/1 may differ: see the documented difference).
      const names = (ls: string[]) => ls.filter((l) => l.startsWith(`#define ${p}BPF__PROG_TYPE_`)).map((l) => l.replace(/ [01]$/, ''));
      expect(names(lines).filter((l) => !newer.test(l + ' '))).toEqual(names(b));
      for (const [k, list] of Object.entries(ours.helpers)) {
        const type = k.replace(/_available_helpers$/, '');
        const on = lines.filter((l) => l.startsWith(`#define ${p}BPF__PROG_TYPE_${type}__HELPER_`) && l.endsWith(' 1')).map((l) => l.split('__HELPER_')[1]!.slice(0, -2));
        expect(on, type).toEqual(list);
      }
    }
  }, { timeout: 120_000 });

  ktest('progress on stderr only when stdout is a terminal', () => {
    // script(1) gives the command a terminal.
    const r = spawnSync('script', ['-qec', `${process.execPath} ${cli} feature probe kernel`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) return; // no script(1): the non-terminal half is checked in beforeAll
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('probing helpers of xdp programs...');
    expect(r.stdout).toContain('Scanning eBPF helper functions...');
  }, { timeout: 120_000 });

  ktest('bad arguments exit 2 with the usage line', () => {
    for (const args of [['bogus'], ['kernel', 'kernel'], ['dev', 'eth0'], ['prefix', 'X'], ['macros', 'prefix'], ['macros', 'prefix', 'A', 'prefix', 'B'], ['--nope']]) {
      const r = run('feature', 'probe', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: tsbpf feature probe');
    }
    // `feature` alone is `feature probe` (bpftool's first verb; test/cli-args.test.ts); an unknown verb is a usage error.
    expect(run('feature', 'frob').status).toBe(2);
    expect(run('feature', 'probe', '--help').status).toBe(0);
  });
});

function idOf(name: string): number {
  for (let id = 1; id <= MAX_HELPER_ID; id++) if (helperName(id) === name) return id;
  return Number.POSITIVE_INFINITY;
}

/** Whether the verifier refuses helper `id` for `type` as not for this program type. */
function refusal(type: 'XDP' | 'SOCKET_FILTER' | 'KPROBE' | 'SCHED_CLS' | 'CGROUP_SKB', id: number, kprobe: boolean): boolean {
  try {
    const p = Program.load({ name: 'probe', type, license: 'GPL', instructions: encodeInsns([asm.call(id), asm.exit()]), ...(kprobe ? { kernelVersion: 0 } : {}) });
    p.close();
    return false;
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    return e.log.includes('program of this type cannot use helper');
  }
}
