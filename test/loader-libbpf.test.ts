/**
 * Program tags agree with libbpf. For every object of test/bpf and every
 * little-endian object of the cilium/ebpf corpus, libbpf (`bpftool prog
 * loadall`) and tsbpf (loadCollection) load it; where libbpf loads, tsbpf must
 * load too and the kernel must report the same multiset of program tags (the
 * tag is a hash of the final instructions, so equal tags mean tsbpf linked,
 * ordered and relocated exactly as libbpf did). Where libbpf fails, tsbpf must
 * either load or fail with a TsbpfError, never a raw exception. The test prints
 * the comparison table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec, type SpecOptions } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { TsbpfError } from '../errors.ts';
import { BPFFS, which } from './helpers/env.ts';
import { pintest } from './helpers/kernel.ts';

const BPF_DIR = new URL('./bpf/', import.meta.url).pathname;
const CILIUM = '/usr/share/gocode/src/github.com/cilium/ebpf';
const BPFTOOL = which('bpftool');

const listDir = (dir: string, suffix: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(suffix))
        .sort()
        .map((f) => join(dir, f))
    : [];

const OBJECTS = [...listDir(BPF_DIR, '.o'), ...listDir(join(CILIUM, 'testdata'), '-el.elf'), ...listDir(join(CILIUM, 'btf/testdata'), '-el.elf')];

/**
 * Sections that follow no libbpf convention (cilium's "socket/N", "socket_filter/x", "other", ...):
 * tsbpf loads them only when told their program type. libbpf 1.x has no such option and fails.
 */
const SOCKET = { type: 'SOCKET_FILTER' } as const;
const CILIUM_LOADER: SpecOptions['programTypes'] = { 'socket/2': SOCKET, 'socket/3': SOCKET, 'socket/4': SOCKET, other: SOCKET };
const PROGRAM_TYPES: Record<string, SpecOptions['programTypes']> = {
  'loader_unknown_section.o': { 'mystery/thing': SOCKET },
  'btf_map_init-el.elf': { 'socket/tail': SOCKET, 'socket/main': SOCKET },
  'loader-el.elf': CILIUM_LOADER,
  'loader-clang-14-el.elf': CILIUM_LOADER,
  'loader-clang-9-el.elf': CILIUM_LOADER,
  'loader-clang-7-el.elf': CILIUM_LOADER,
  'relocs-el.elf': Object.fromEntries(['type_ids', 'types', 'enums', 'fields', 'err_ambiguous', 'err_ambiguous_flavour'].map((n) => [`socket_filter/${n}`, SOCKET])),
};

type Outcome = 'same tags' | 'libbpf fails, tsbpf loads' | 'both fail' | 'libbpf loads, tsbpf NO_CORE (pending)' | 'libbpf loads, tsbpf fails' | 'TAGS DIFFER';

/** What the objects written for these tests are there to show (the C files say why). */
const EXPECTED: Record<string, Outcome> = {
  'loader.o': 'same tags',
  'loader_callbacks.o': 'same tags',
  'loader_kfuncs.o': 'same tags',
  'loader_ksyms.o': 'same tags',
  'loader_pinning.o': 'same tags',
  'loader_strings.o': 'same tags',
  'loader_static.o': 'libbpf fails, tsbpf loads', // static functions in program sections
  'loader_legacy_maps.o': 'libbpf fails, tsbpf loads', // SEC("maps")
  'loader_unknown_section.o': 'libbpf fails, tsbpf loads', // with programTypes
  'loader_verifier.o': 'both fail', // the verifier refuses it
  'subprog_reloc-el.elf': 'libbpf fails, tsbpf loads', // legacy maps
  'invalid_map_static-el.elf': 'libbpf fails, tsbpf loads', // legacy maps
  'raw_tracepoint-el.elf': 'same tags',
};

interface Prog {
  name: string;
  tag: string;
}
type Result = { ok: true; progs: Prog[]; note?: string } | { ok: false; error: string; code?: string };

interface Row {
  object: string;
  libbpf: string;
  tsbpf: string;
  outcome: Outcome;
}
const rows: Row[] = [];

let seq = 0;
let pinRoot = '';

/** libbpf's one or two lines that say why the object failed. */
function libbpfReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^libbpf: /, '').trim())
    .filter((l) => l && !/^(Warning: bpftool is now running|If it used to work|Error: failed to (open|load) object file|failed to load object)/.test(l));
  const telling = lines.filter((l) =>
    /not supported|failed to guess|incompatible|failed to find|failed to resolve|load failed|invalid|cannot|refused|unknown|failed to prepare|-\d+$/i.test(l),
  );
  return (telling.length ? telling : lines).slice(0, 2).join(' / ') || 'failed';
}

function libbpfLoad(file: string): Result {
  const dir = join(BPFFS, `tsbpf-libbpf-${process.pid}-${seq++}`);
  const before = new Set(readdirSync(BPFFS));
  const bytes = readFileSync(file);
  try {
    const r = spawnSync(BPFTOOL!, ['prog', 'loadall', file, dir], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) return { ok: false, error: libbpfReason(r.stderr ?? String(r.error)) };
    const progs = (existsSync(dir) ? readdirSync(dir) : []).map((pin) => {
      const j = JSON.parse(execFileSync(BPFTOOL!, ['-j', 'prog', 'show', 'pinned', join(dir, pin)], { encoding: 'utf8' })) as Prog;
      return { name: j.name, tag: j.tag };
    });
    return { ok: true, progs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // Maps pinned by name (LIBBPF_PIN_BY_NAME) go to libbpf's default root, /sys/fs/bpf: remove
    // the ones this load created (new, and named in the object's string table).
    for (const n of readdirSync(BPFFS)) {
      const p = join(BPFFS, n);
      if (!before.has(n) && bytes.includes(Buffer.from(`\0${n}\0`)) && statSync(p).isFile()) rmSync(p);
    }
  }
}

function tsbpfLoad(file: string): Result {
  const programTypes = PROGRAM_TYPES[basename(file)];
  try {
    const spec = loadCollectionSpec(file, { programTypes });
    const pinPath = mkdtempSync(join(pinRoot, 'c-'));
    try {
      const c = loadCollection(spec, { pinPath });
      try {
        const progs = Object.values(c.programs).map((p) => {
          const i = p.info();
          return { name: i.name, tag: i.tag };
        });
        return { ok: true, progs, note: programTypes ? 'with programTypes' : undefined };
      } finally {
        c.close();
      }
    } finally {
      rmSync(pinPath, { recursive: true, force: true });
    }
  } catch (e) {
    // Anything but a TsbpfError is a bug: fail the test with it.
    if (!(e instanceof TsbpfError)) throw e;
    const first = e.message.split('\n')[0]!;
    return { ok: false, code: e.code, error: `${e.constructor.name} ${e.code}: ${first.length > 110 ? first.slice(0, 107) + '...' : first}` };
  }
}

/** name (the kernel keeps 15 chars; bpftool shows the BTF name) and tag, sorted: a multiset. */
const key = (progs: Prog[]) => progs.map((p) => `${p.name.slice(0, 15)} ${p.tag}`).sort();
const describeProgs = (progs: Prog[]) => (progs.length ? `${progs.length} program${progs.length > 1 ? 's' : ''}` : 'no programs');

describe('program tags agree with libbpf (bpftool prog loadall)', () => {
  beforeAll(() => {
    if (BPFTOOL && existsSync(BPFFS) && process.getuid?.() === 0) {
      try {
        pinRoot = mkdtempSync(join(BPFFS, `tsbpf-loader-libbpf-${process.pid}-`));
      } catch {
        pinRoot = '';
      }
    }
  });

  afterAll(() => {
    if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
    if (!rows.length) return;
    const w = [Math.max(...rows.map((r) => r.object.length)), Math.max(...rows.map((r) => r.outcome.length))];
    const lines = rows.map((r) => `${r.object.padEnd(w[0]!)}  ${r.outcome.padEnd(w[1]!)}  libbpf: ${r.libbpf}\n${' '.repeat(w[0]! + w[1]! + 4)}tsbpf:  ${r.tsbpf}`);
    console.log(`\n[loader-libbpf] ${rows.length} objects:\n${lines.join('\n')}\n`);
  });

  for (const file of OBJECTS) {
    const name = file.startsWith(CILIUM) ? `cilium/${file.slice(CILIUM.length + 1)}` : `test/bpf/${basename(file)}`;
    pintest(`${name}`, (ctx) => {
      if (!BPFTOOL) ctx.skip('skipped: bpftool is not installed (apt-get install bpftool)');
      expect(pinRoot).not.toBe('');
      const lib = libbpfLoad(file);
      const ts = tsbpfLoad(file);
      let outcome: Outcome;
      if (lib.ok && ts.ok) outcome = JSON.stringify(key(lib.progs)) === JSON.stringify(key(ts.progs)) ? 'same tags' : 'TAGS DIFFER';
      else if (lib.ok) outcome = !ts.ok && ts.code === 'NO_CORE' ? 'libbpf loads, tsbpf NO_CORE (pending)' : 'libbpf loads, tsbpf fails';
      else outcome = ts.ok ? 'libbpf fails, tsbpf loads' : 'both fail';
      rows.push({
        object: name,
        outcome,
        libbpf: lib.ok ? `${describeProgs(lib.progs)}: ${key(lib.progs).join(', ') || '-'}` : lib.error,
        tsbpf: ts.ok ? `${describeProgs(ts.progs)}${ts.note ? ` (${ts.note})` : ''}` : ts.error,
      });
      if (lib.ok) {
        // Objects needing CO-RE may still fail with NO_CORE while the engine is wired in; once they load, tags must match.
        if (!ts.ok && ts.code === 'NO_CORE') return;
        expect(ts.ok ? '' : ts.error, `libbpf loads ${name}, tsbpf must too`).toBe('');
        expect(key((ts as { progs: Prog[] }).progs), `tags of ${name}`).toEqual(key(lib.progs));
      }
      const expected = EXPECTED[basename(file)];
      if (expected) expect(outcome, `${name}: ${ts.ok ? 'tsbpf loads' : ts.error}`).toBe(expected);
    });
  }
});
