/**
 * struct_ops: the loader (test/bpf/struct_ops.c, a minimal TCP congestion
 * control in a plain SEC(".struct_ops") map; struct_ops_link.c, the same in a
 * SEC(".struct_ops.link") map) and `tsbpf struct_ops`, against bpftool on the
 * same maps: registered by tsbpf and shown by bpftool, registered by bpftool
 * and shown by tsbpf, show and dump JSON key by key and text byte for byte;
 * the congestion control appears in tcp_available_congestion_control while
 * registered; typed errors; fd count back to baseline; bad arguments exit 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { planStructOps } from '../bpf/loader/struct-ops.ts';
import { kernelBtf } from '../bpf/btf/kernel.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { ktest, pintest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const obj = (n: string) => resolve(root, `test/bpf/${n}.o`);
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const theirs = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8', timeout: 60_000 });
const ok = (r: { status: number | null; stderr: string; stdout: string }) => {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

const CC = '/proc/sys/net/ipv4/tcp_available_congestion_control';
const available = () => readFileSync(CC, 'utf8').trim().split(/\s+/);

/** Poll a condition the kernel settles asynchronously (a link freed after its last fd closed). */
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Shown = { id: number; name: string; kernel_struct_ops: string };
const shown = (name: string): Shown[] => (JSON.parse(ok(theirs('-j', 'struct_ops', 'show'))) as Shown[]).filter((r) => r.name === name);
const mineShown = (name: string): Shown[] => (JSON.parse(ok(run('struct_ops', 'show', '-j'))) as Shown[]).filter((r) => r.name === name);

/** Unregister leftovers of an earlier, interrupted run (plain maps stay registered after a process exits). */
function cleanUp(): void {
  for (const r of shown('tsbpf_ca')) theirs('struct_ops', 'unregister', 'id', String(r.id));
}

let ownedBefore = 0;
let linkDir = '';

beforeAll(() => {
  ownedBefore = ownedFdCount();
  if (process.getuid?.() !== 0) return;
  cleanUp();
});

afterAll(() => {
  if (process.getuid?.() === 0) cleanUp();
  if (linkDir) rmSync(linkDir, { recursive: true, force: true });
  expect(ownedFdCount()).toBe(ownedBefore);
});

/** bpftool and tsbpf on one registered map: show, dump JSON key by key, dump text byte for byte. */
function compareWithBpftool(name: string, id: number): void {
  expect(mineShown(name)).toEqual(shown(name));
  const line = (s: string) => s.split('\n').find((l) => l.startsWith(`${id}: `));
  expect(line(ok(run('struct_ops', 'show')))).toBe(line(ok(theirs('struct_ops', 'show'))));
  expect(line(ok(run('struct_ops', 'list')))).toBe(`${id}: ${name.padEnd(15)} ${'tcp_congestion_ops'.padEnd(32)}`);
  const mine = ok(run('struct_ops', 'dump', 'name', name, '-j'));
  const their = ok(theirs('-j', 'struct_ops', 'dump', 'name', name));
  const a = JSON.parse(mine) as Record<string, any>[];
  const b = JSON.parse(their) as Record<string, any>[];
  expect(a.length).toBe(2);
  for (const k of ['bpf_map_info', 'bpf_struct_ops_tcp_congestion_ops']) {
    const x = a.find((e) => k in e)![k];
    const y = b.find((e) => k in e)![k];
    expect(Object.keys(x)).toEqual(Object.keys(y));
    for (const key of Object.keys(y)) expect({ key, v: x[key] }).toEqual({ key, v: y[key] });
  }
  expect(mine).toBe(their);
  const data = a[1]!.bpf_struct_ops_tcp_congestion_ops.data;
  expect(data.name).toBe(name);
  expect(data.ssthresh).toMatch(new RegExp(`^u32 \\(struct sock \\*\\) ${name}_ssthresh/prog_id:\\d+$`));
  expect(data.set_state).toBe('void (struct sock *, u8) 0');
  // Without -j, both print indented JSON.
  expect(ok(run('struct_ops', 'dump', 'name', name))).toBe(ok(theirs('struct_ops', 'dump', 'name', name)));
  expect(ok(run('struct_ops', 'dump', 'name', name, '-p'))).toBe(ok(theirs('-p', 'struct_ops', 'dump', 'name', name)));
  // By id: bpftool 7.1 prints the two objects bare; bpftool 7.3 on (and tsbpf) inside an array.
  expect(JSON.parse(ok(run('struct_ops', 'dump', 'id', String(id), '-j')))).toEqual(a);
  expect(JSON.parse(ok(run('struct_ops', 'show', 'id', String(id), '-j')))).toEqual(shown(name));
}

describe('struct_ops registered by tsbpf', () => {
  ktest('register a .struct_ops map: bpftool lists it, dumps agree, the congestion control exists until unregister', async () => {
    expect(available()).not.toContain('tsbpf_ca');
    const r = run('struct_ops', 'register', obj('struct_ops'));
    expect(r.status, r.stderr).toBe(0);
    const [row] = shown('tsbpf_ca');
    expect(row).toMatchObject({ name: 'tsbpf_ca', kernel_struct_ops: 'tcp_congestion_ops' });
    expect(r.stderr).toBe(`Registered tcp_congestion_ops tsbpf_ca id ${row!.id}\n`);
    // Still registered after tsbpf exited: a plain struct_ops map holds itself.
    expect(available()).toContain('tsbpf_ca');
    compareWithBpftool('tsbpf_ca', row!.id);
    const u = run('struct_ops', 'unregister', 'name', 'tsbpf_ca');
    expect(u.status, u.stderr).toBe(0);
    expect(u.stderr).toBe(`Unregistered tcp_congestion_ops tsbpf_ca id ${row!.id}\n`);
    expect(available()).not.toContain('tsbpf_ca');
    await until('the map to go', () => shown('tsbpf_ca').length === 0);
    // A name nothing has: an error (exit 1), after an empty list under -j, as bpftool.
    const none = run('struct_ops', 'show', 'name', 'tsbpf_ca', '-j');
    expect([none.status, none.stdout]).toEqual([1, '[]\n']);
    expect(none.stderr).toContain('no struct_ops found for tsbpf_ca');
  }, { timeout: 120_000 });

  pintest('register a .struct_ops.link map with LINK_DIR: a pinned BPF link holds it; unpinning unregisters', async () => {
    linkDir = mkdtempSync('/sys/fs/bpf/tsbpf-sops-');
    const r = run('struct_ops', 'register', obj('struct_ops_link'), linkDir, '-j');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('null\n');
    expect(r.stderr).toBe('');
    const pin = `${linkDir}/tsbpf_cal`;
    expect(existsSync(pin)).toBe(true);
    expect(available()).toContain('tsbpf_cal');
    const [row] = shown('tsbpf_cal');
    expect(row).toMatchObject({ kernel_struct_ops: 'tcp_congestion_ops' });
    const link = JSON.parse(ok(theirs('-j', 'link', 'show', 'pinned', pin))) as { type: string };
    expect(link.type).toBe('struct_ops');
    compareWithBpftool('tsbpf_cal', row!.id);
    expect(JSON.parse(ok(run('struct_ops', 'dump', 'name', 'tsbpf_cal', '-j')))[0].bpf_map_info.map_flags).toBe(1 << 13); // BPF_F_LINK
    // A link-held map is not unregistered by deleting its key: the kernel refuses, tsbpf says what to do.
    const u = run('struct_ops', 'unregister', 'name', 'tsbpf_cal');
    expect(u.status).toBe(1);
    expect(u.stderr).toMatch(/can't unload tcp_congestion_ops tsbpf_cal id \d+: .*EOPNOTSUPP.*link/);
    rmSync(pin);
    await until('tsbpf_cal to leave tcp_available_congestion_control', () => !available().includes('tsbpf_cal'));
    await until('the map to go', () => shown('tsbpf_cal').length === 0);
  }, 120_000);

  ktest('without LINK_DIR a .struct_ops.link map ends with the command, as with bpftool', async () => {
    const r = run('struct_ops', 'register', obj('struct_ops_link'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Registered tcp_congestion_ops tsbpf_cal map id \d+ link id \d+\n$/);
    await until('tsbpf_cal to go', () => !available().includes('tsbpf_cal') && shown('tsbpf_cal').length === 0);
  }, { timeout: 60_000 });

  ktest('an object without struct_ops: an error naming the file', () => {
    const r = run('struct_ops', 'register', obj('loader'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`no struct_ops found in ${obj('loader')}`);
  }, { timeout: 60_000 });
});

describe('struct_ops registered by bpftool, read by tsbpf', () => {
  ktest('bpftool struct_ops register; tsbpf show and dump agree with bpftool; tsbpf unregisters it', async () => {
    const r = theirs('struct_ops', 'register', obj('struct_ops'));
    expect(r.status, r.stderr).toBe(0);
    const [row] = shown('tsbpf_ca');
    expect(row).toBeDefined();
    expect(available()).toContain('tsbpf_ca');
    compareWithBpftool('tsbpf_ca', row!.id);
    const u = run('struct_ops', 'unregister', 'id', String(row!.id), '-j');
    expect([u.status, u.stdout, u.stderr]).toEqual([0, 'null\n', '']);
    expect(available()).not.toContain('tsbpf_ca');
    // Unregistered already: the map may linger a moment, but deleting again is refused.
    await until('the map to go', () => shown('tsbpf_ca').length === 0);
  }, { timeout: 120_000 });
});

describe('struct_ops in the library', () => {
  ktest('loadCollection + registerStructOps: registered while the link is open, gone after close, fds back to baseline', async () => {
    const before = ownedFdCount();
    const spec = loadCollectionSpec(obj('struct_ops'));
    const so = spec.maps.tsbpf_ca!.structOps!;
    expect(so).toMatchObject({ typeName: 'tcp_congestion_ops', link: false, funcs: { ssthresh: 'tsbpf_ca_ssthresh', cong_avoid: 'tsbpf_ca_cong_avoid', undo_cwnd: 'tsbpf_ca_undo_cwnd' } });
    const coll = loadCollection(spec);
    try {
      expect(coll.structOpsMaps).toEqual(['tsbpf_ca']);
      const info = coll.maps.tsbpf_ca!.info();
      const kern = kernelBtf();
      expect(kern.typeById(info.btfVmlinuxValueTypeId).name).toBe('bpf_struct_ops_tcp_congestion_ops');
      expect(info.valueSize).toBe(kern.sizeOf(info.btfVmlinuxValueTypeId));
      // Each program attaches to the kernel struct at its member's index.
      expect(coll.programs.tsbpf_ca_undo_cwnd!.info().type).toBe(27); // BPF_PROG_TYPE_STRUCT_OPS
      const link = coll.registerStructOps('tsbpf_ca');
      expect(link.fd).toBe(-1);
      expect(link.mapId).toBe(info.id);
      expect(available()).toContain('tsbpf_ca');
      link.close();
      expect(available()).not.toContain('tsbpf_ca');
      expect(thrown(() => coll.registerStructOps('nope'))).toMatchObject({ code: 'NO_STRUCT_OPS' });
    } finally {
      coll.close();
    }
    const spec2 = loadCollectionSpec(obj('struct_ops_link'));
    const coll2 = loadCollection(spec2);
    try {
      const link = coll2.registerStructOps('tsbpf_cal');
      expect(link.fd).toBeGreaterThan(0);
      expect(link.info().typeName).toBe('STRUCT_OPS');
      expect(available()).toContain('tsbpf_cal');
      link.close();
      await until('tsbpf_cal to go', () => !available().includes('tsbpf_cal'));
    } finally {
      coll2.close();
    }
    expect(ownedFdCount()).toBe(before);
  }, { timeout: 60_000 });

  ktest('typed errors: a struct the kernel lacks, a member it lacks; nothing is left open', () => {
    const before = ownedFdCount();
    const spec = loadCollectionSpec(obj('struct_ops'));
    spec.maps.tsbpf_ca!.structOps!.typeName = 'tsbpf_no_such_ops';
    const e = thrown(() => loadCollection(spec));
    expect(e).toMatchObject({ code: 'STRUCT_OPS_UNKNOWN', name: 'StructOpsError' });
    expect(String((e as Error).message)).toContain('struct tsbpf_no_such_ops');
    expect(ownedFdCount()).toBe(before);
    // struct tcp_sock of the object, offered as a tcp_congestion_ops with its first member set: no such kernel member.
    const fresh = loadCollectionSpec(obj('struct_ops'));
    const so = fresh.maps.tsbpf_ca!.structOps!;
    const local = fresh.btf!;
    const sock = local.findIdByName('tcp_sock', 'struct');
    const data = new Uint8Array(8).fill(1);
    expect(thrown(() => planStructOps('m', { ...so, localTypeId: sock, data, funcs: {} }, local, kernelBtf()))).toMatchObject({
      code: 'STRUCT_OPS_MISMATCH',
      message: "struct_ops map 'm': the kernel's struct tcp_congestion_ops has no member 'snd_cwnd'",
    });
    // Left zero, a member the kernel lacks is accepted (libbpf: an optional callback of a newer kernel).
    expect(planStructOps('m', { ...so, localTypeId: sock, data: new Uint8Array(8), funcs: {} }, local, kernelBtf()).copies).toEqual([]);
  });
});

describe('tsbpf struct_ops arguments', () => {
  it('obj show names the kernel struct of a struct_ops map (its value is sized at load)', () => {
    const d = JSON.parse(ok(run('obj', 'show', obj('struct_ops_link'), '--json')));
    expect(d.maps).toEqual([expect.objectContaining({ name: 'tsbpf_cal', type: 'struct_ops', key_size: 4, max_entries: 1, flags: 1 << 13, struct_ops: 'tcp_congestion_ops' })]);
    expect(d.programs.map((p: { name: string }) => p.name).sort()).toEqual(['tsbpf_cal_cong_avoid', 'tsbpf_cal_ssthresh', 'tsbpf_cal_undo_cwnd']);
  });

  ktest('--help and help print the usage; bad arguments exit 2 with the usage line', () => {
    const h = run('struct_ops', 'dump', '--help');
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('usage: tsbpf struct_ops dump [id N | name NAME]');
    const g = run('struct_ops', 'help');
    expect(g.status).toBe(0);
    for (const v of ['show', 'list', 'dump', 'register', 'unregister']) expect(g.stdout).toContain(`struct_ops ${v} `);
    const cases = [
      ['struct_ops', 'show', 'id'],
      ['struct_ops', 'show', 'foo', '1'],
      ['struct_ops', 'list', 'name', 'x', 'y'],
      ['struct_ops', 'dump', 'id', '1', 'x'],
      ['struct_ops', 'dump', 'bogus', '1'],
      ['struct_ops', 'register'],
      ['struct_ops', 'register', 'a.o', '/sys/fs/bpf/x', 'extra'],
      ['struct_ops', 'unregister'],
      ['struct_ops', 'unregister', 'id'],
      ['struct_ops', 'show', '--bogus'],
    ];
    for (const c of cases) {
      const r = run(...c);
      expect({ c, status: r.status }).toEqual({ c, status: 2 });
      expect(r.stderr + r.stdout).toMatch(/usage: tsbpf struct_ops/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // An id of 0 or past u32: bpftool's "invalid id", exit 1.
    for (const id of ['0', '4294967296', 'x1']) {
      const r = run('struct_ops', 'show', 'id', id);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`invalid id ${id}`);
    }
  }, { timeout: 60_000 });
});
