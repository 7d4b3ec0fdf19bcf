/**
 * The CLI as a user runs it (node dist/cli.js, built by `npm test`):
 * prog loadall with and without --autoattach (checked with bpftool), link
 * list, prog list, obj show, map verbs, btf dump, and the verifier failure
 * report of prog loadall.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import koffi from 'koffi';
import { BpfMap } from '../bpf/maps/map.ts';
import { ktest, pintest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const obj = (name: string) => resolve(root, 'test/bpf', name);
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const bpftool = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }) || 'null');
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pinDir(): string {
  const d = mkdtempSync('/sys/fs/bpf/tsbpf-cli-');
  dirs.push(d);
  return d;
}

describe('tsbpf CLI', () => {
  it('prints usage and fails on an unknown verb', () => {
    expect(run('--help').stdout).toContain('prog loadall OBJ DIR');
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('obj show --json describes maps, programs, variables, externs and CO-RE relocations', () => {
    const r = run('obj', 'show', resolve(root, 'examples/execsnoop.bpf.o'), '--json');
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.programs).toEqual([expect.objectContaining({ name: 'handle_exec', type: 'tracepoint', section: 'tracepoint/sched/sched_process_exec' })]);
    expect(d.maps.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(['events', '.rodata']));
    expect(d.variables).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'target_ppid', section: '.rodata' })]));
    expect(d.core_relocations.length).toBeGreaterThan(0);
  });

  it('btf dump prints what bpftool prints (raw)', () => {
    const r = run('btf', 'dump', obj('loader.o'));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(execFileSync('bpftool', ['btf', 'dump', 'file', obj('loader.o')], { encoding: 'utf8' }));
  });

  it("btf dump takes bpftool's own words: file F format c|raw, -j, -B", () => {
    const bt = (...a: string[]) => execFileSync('bpftool', a, { encoding: 'utf8', maxBuffer: 1 << 28 });
    for (const args of [['file', obj('loader.o'), 'format', 'c'], ['file', obj('loader.o'), 'format', 'raw'], ['-j', 'file', obj('loader.o')]]) {
      const json = args[0] === '-j';
      const rest = json ? args.slice(1) : args;
      const r = run(...(json ? ['-j'] : []), 'btf', 'dump', ...rest);
      expect(r.status, r.stderr).toBe(0);
      const want = bt(...(json ? ['-j'] : []), 'btf', 'dump', ...rest);
      if (json) expect(JSON.parse(r.stdout)).toEqual(JSON.parse(want));
      else expect(r.stdout).toBe(want);
    }
    expect(run('btf', 'dump', 'file', obj('loader.o'), 'format', 'yaml').status).toBe(2);
    expect(run('btf', 'dump', 'file', obj('loader.o'), 'format').status).toBe(2);
  });

  ktest('btf dump id N reads the kernel object, as bpftool btf dump id N', () => {
    // vmlinux: megabytes of output.
    const r = spawnSync(process.execPath, [cli, 'btf', 'dump', 'id', '1'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').slice(0, 50)).toEqual(execFileSync('bpftool', ['btf', 'dump', 'id', '1'], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n').slice(0, 50));
    const bad = run('btf', 'dump', 'id', 'zz');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage:');
  });

  pintest('prog loadall pins every program; bpftool sees the same tags', () => {
    const dir = pinDir();
    const r = run('prog', 'loadall', obj('loader.o'), dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['count_getpid', 'do_tail_call', 'emit_event', 'run_socket', 'tail_target', 'xdp_pass']);
    const shown = bpftool('prog', 'show', 'pinned', `${dir}/run_socket`);
    expect(shown.name).toBe('run_socket');
    expect(shown.type).toBe('socket_filter');
    const listed = JSON.parse(run('prog', 'list', '--json').stdout) as { id: number; tag: string }[];
    expect(listed.find((p) => p.id === shown.id)?.tag).toBe(shown.tag);
  });

  pintest('prog loadall --autoattach pins links that stay attached until the pins are removed', () => {
    const dir = pinDir();
    const mapDir = pinDir();
    const r = run('prog', 'loadall', obj('loader.o'), dir, '--autoattach', '--pinmaps', mapDir);
    expect(r.status, r.stderr).toBe(0);
    // The tracepoint program's pin is a link: bpftool shows it, and it counts getpid after the CLI exited.
    const link = bpftool('link', 'show', 'pinned', `${dir}/count_getpid`);
    expect(link.type).toBe('perf_event');
    const ids = (JSON.parse(run('link', 'list', '--json').stdout) as { id: number }[]).map((l) => l.id);
    expect(ids).toContain(link.id);
    const getpid = koffi.load('libc.so.6').func('long syscall(long)');
    for (let i = 0; i < 3; i++) getpid(39);
    using counts = BpfMap.fromPin(`${mapDir}/counts`);
    // At least our 3 calls: the counter is per process, and Node's own threads may call getpid too.
    expect(counts.lookup(process.pid)?.readBigUInt64LE()).toBeGreaterThanOrEqual(3n);
    rmSync(dir, { recursive: true });
    expect((bpftool('link', 'show') as { id: number }[]).some((l) => l.id === link.id)).toBe(false);
  });

  pintest('prog loadall reports a verifier rejection with the C source line and exits 1', () => {
    const r = run('prog', 'loadall', obj('loader_verifier.o'), pinDir());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/rejected by the verifier at .*loader_verifier\.c:\d+/);
    expect(r.stderr).toContain('invalid access to map value');
  });

  ktest('map create/show/dump/list round trip, checked with bpftool', () => {
    const dir = pinDir();
    const path = `${dir}/m`;
    expect(run('map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'climap').status).toBe(0);
    execFileSync('bpftool', ['map', 'update', 'pinned', path, 'key', '1', '0', '0', '0', 'value', '2', '0', '0', '0', '0', '0', '0', '0']);
    const show = JSON.parse(run('map', 'show', 'pinned', path, '--json').stdout);
    expect(show).toMatchObject({ type: 'hash', name: 'climap', bytes_key: 4, bytes_value: 8, max_entries: 16 });
    expect(JSON.parse(run('map', 'dump', 'pinned', path, '--json').stdout)).toEqual([{ key: ['0x01', '0x00', '0x00', '0x00'], value: ['0x02', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00'] }]);
    expect((JSON.parse(run('map', 'list', '--json').stdout) as { id: number }[]).some((m) => m.id === show.id)).toBe(true);
    expect(bpftool('map', 'show', 'pinned', path).id).toBe(show.id);
  });

  it('refuses a pin path outside bpffs with a typed error', () => {
    const r = run('map', 'create', '/tmp/not-bpffs', 'type', 'hash', 'key', '4', 'value', '4', 'entries', '1', 'name', 'x');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/BAD_PIN_PATH|EPERM/);
    expect(existsSync('/tmp/not-bpffs')).toBe(false);
  });
});
