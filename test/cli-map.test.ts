/**
 * `tsbpf map|btf|link` against bpftool on the same objects: show and dump
 * output (JSON key by key, plain text byte for byte, BTF-formatted values),
 * element round trips, queues, create+pin+freeze, bad arguments.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { pintest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const bpftoolText = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8' });
const bpftool = (...args: string[]) => JSON.parse(bpftoolText('-j', ...args) || 'null');
const json = (...args: string[]) => {
  const r = run(...args, '-j');
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
let dir = '';
const MAPS = ['rich_hash', 'pcpu', 'fifo', 'progs', 'perf', 'cli_maps_data', 'cli_maps_bss', 'cli_maps_rodata'];

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  dir = mkdtempSync('/sys/fs/bpf/tsbpf-climap-');
  execFileSync('bpftool', ['prog', 'loadall', resolve(root, 'test/bpf/cli_maps.o'), `${dir}/progs_dir`, 'pinmaps', dir]);
  const size = bpftool('map', 'show', 'pinned', `${dir}/rich_hash`).bytes_value as number;
  const value = Array.from({ length: size }, (_, i) => ((i * 37 + 11) & 0xff).toString(16));
  execFileSync('bpftool', ['map', 'update', 'pinned', `${dir}/rich_hash`, 'key', '1', '0', '0', '0', '2', '0', '0', '0', 'value', 'hex', ...value]);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tsbpf map against bpftool', () => {
  pintest('map show: every key bpftool prints, for each map', () => {
    for (const m of MAPS) expect(json('map', 'show', 'pinned', `${dir}/${m}`)).toEqual(bpftool('map', 'show', 'pinned', `${dir}/${m}`));
    const id = bpftool('map', 'show', 'pinned', `${dir}/progs`).id as number;
    expect(run('map', 'show', 'id', String(id)).stdout).toBe(bpftoolText('map', 'show', 'id', String(id)));
  });

  pintest('map dump: JSON (formatted values included) and plain text identical to bpftool', () => {
    for (const m of MAPS) {
      const p = `${dir}/${m}`;
      // bpftool exits non-zero after dumping a queue (no keys to walk): compare what it printed.
      const theirs = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' }).stdout;
      expect(run('map', 'dump', 'pinned', p, '-j').stdout, m).toBe(theirs('-j', 'map', 'dump', 'pinned', p));
      expect(run('map', 'dump', 'pinned', p).stdout, m).toBe(theirs('map', 'dump', 'pinned', p));
    }
  });

  pintest('lookup/update/delete/getnext round trip, with flags', () => {
    const p = `${dir}/rich_hash`;
    const key = ['key', '9', '0', '0', '0', '0', '0', '0', '0'];
    const size = bpftool('map', 'show', 'pinned', p).bytes_value as number;
    const value = ['value', 'hex', ...Array.from({ length: size }, () => '2a')];
    expect(run('map', 'update', 'pinned', p, ...key, ...value, 'noexist').status).toBe(0);
    expect(run('map', 'update', 'pinned', p, ...key, ...value, 'noexist').status).toBe(1);
    expect(json('map', 'lookup', 'pinned', p, ...key)).toEqual(bpftool('map', 'lookup', 'pinned', p, ...key));
    expect(json('map', 'getnext', 'pinned', p)).toEqual(bpftool('map', 'getnext', 'pinned', p));
    expect(run('map', 'delete', 'pinned', p, ...key).status).toBe(0);
    const r = run('map', 'lookup', 'pinned', p, ...key);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Not found');
  });

  pintest('queue: push, peek, pop, empty', () => {
    const p = `${dir}/fifo`;
    expect(run('map', 'push', 'pinned', p, 'value', '7', '0', '0', '0').status).toBe(0);
    expect(run('map', 'enqueue', 'pinned', p, 'value', 'hex', '08', '00', '00', '00').status).toBe(0);
    expect(json('map', 'peek', 'pinned', p)).toEqual(bpftool('map', 'peek', 'pinned', p));
    expect(json('map', 'pop', 'pinned', p).value).toEqual(['0x07', '0x00', '0x00', '0x00']);
    expect(json('map', 'dequeue', 'pinned', p).value).toEqual(['0x08', '0x00', '0x00', '0x00']);
    const r = run('map', 'pop', 'pinned', p);
    expect([r.status, r.stdout]).toEqual([1, 'Error: empty map\n']);
  });

  pintest('create, pin, freeze: bpftool sees the map, frozen', () => {
    const p = `${dir}/made`;
    expect(run('map', 'create', p, 'type', 'array', 'key', '4', 'value', '8', 'entries', '4', 'name', 'made', 'flags', '0x400').status).toBe(0);
    expect(run('map', 'pin', 'pinned', p, `${dir}/made2`).status).toBe(0);
    expect(run('map', 'freeze', 'pinned', `${dir}/made2`).status).toBe(0);
    const shown = bpftool('map', 'show', 'pinned', p);
    expect(shown).toMatchObject({ type: 'array', name: 'made', flags: 0x400, bytes_key: 4, bytes_value: 8, max_entries: 4, frozen: 1 });
    expect(json('map', 'show', 'pinned', `${dir}/made2`)).toEqual(shown);
    expect(run('map', 'update', 'pinned', p, 'key', '0', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0').status).toBe(1);
  });

  pintest('bad arguments exit 2 with the usage line, no stack', () => {
    const p = `${dir}/rich_hash`;
    for (const args of [
      ['map', 'lookup', 'pinned', p, 'key', '1'],
      ['map', 'lookup', 'pinned', p, 'key', '1', '0', '0', '0', '2', '0', '0', '0', 'extra'],
      ['map', 'update', 'pinned', p, 'key', 'zz', '0', '0', '0', '0', '0', '0', '0'],
      ['map', 'dump', 'colour', 'red'],
      ['map', 'create', `${dir}/x`, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '1'],
      ['map', 'create', `${dir}/x`, 'type', 'nonsense', 'key', '4', 'value', '4', 'entries', '1', 'name', 'x'],
      ['map', 'event_pipe', 'pinned', `${dir}/perf`, 'cpu', '0'],
      ['btf', 'show', 'id'],
      ['link', 'show', 'nonsense', '1'],
    ]) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`usage: tsbpf ${args[0]} ${args[1]}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  pintest('btf show: the same objects, programs and maps as bpftool', () => {
    const id = bpftool('map', 'show', 'pinned', `${dir}/rich_hash`).btf_id as number;
    const ours = json('btf', 'show', 'id', String(id));
    const theirs = bpftool('btf', 'show', 'id', String(id));
    expect({ ...ours, map_ids: ours.map_ids.sort(), prog_ids: ours.prog_ids.sort() }).toEqual({ ...theirs, map_ids: theirs.map_ids.sort(), prog_ids: theirs.prog_ids.sort() });
    expect((json('btf', 'show') as { id: number }[]).map((b) => b.id)).toContain(id);
  });
});
