/**
 * Pinning maps in bpffs, and cross-checks with bpftool: what tsbpf creates,
 * fills and pins, bpftool sees; what bpftool creates and fills, tsbpf reads.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, type TestContext } from 'vitest';
import { BpfError, BpfMap, MapFlags, PinPathError, Program, asm, encodeInsns, isBpffs, possibleCpuCount, type MapSpec } from '../lib/index.ts';
import { BPFFS, bpffsSkipReason, which } from './helpers/env.ts';
import { pintest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';
import { countingSyscalls } from './helpers/syscalls.ts';

let dir = '';
beforeAll(() => {
  if (bpffsSkipReason()) return;
  dir = mkdtempSync(join(BPFFS, `tsbpf-pin-${process.pid}-`));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const spec: MapSpec = { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 16, name: 'pinned' };

describe('pinning', () => {
  pintest('the test directory is on bpffs', () => {
    expect(isBpffs(dir)).toBe(true);
  });

  pintest('pin, open the pin, unpin', () => {
    const path = join(dir, 'm1');
    const m = BpfMap.create(spec);
    try {
      m.update(1, 10n);
      m.pin(path);
      expect(existsSync(path)).toBe(true);
      const p = BpfMap.fromPin(path);
      try {
        expect(p.info().id).toBe(m.info().id);
        expect(p.name).toBe('pinned');
        expect(p.lookup(1)!.readBigUInt64LE()).toBe(10n);
        p.update(2, 20n);
        expect(m.lookup(2)!.readBigUInt64LE()).toBe(20n);
      } finally {
        p.close();
      }
      m.unpin(path);
      expect(existsSync(path)).toBe(false);
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(10n); // the fd still holds the map
      const e = thrown(() => BpfMap.fromPin(path));
      expect(e).toBeInstanceOf(PinPathError);
      expect(e.code).toBe('BAD_PIN_PATH');
      expect(e.message).toMatch(/nothing is pinned/);
    } finally {
      m.close();
    }
  });

  pintest('a pin keeps the map alive after every fd is closed', () => {
    const path = join(dir, 'm2');
    let id: number;
    {
      using m = BpfMap.create(spec);
      m.update(3, 33n);
      m.pin(path);
      id = m.info().id;
    }
    using again = BpfMap.fromPin(path);
    expect(again.info().id).toBe(id);
    expect(again.lookup(3)!.readBigUInt64LE()).toBe(33n);
    again.unpin(path);
  });

  pintest('pins in a subdirectory made with mkdir', () => {
    const sub = join(dir, 'sub', 'deeper');
    mkdirSync(sub, { recursive: true });
    using m = BpfMap.create(spec);
    m.pin(join(sub, 'm'));
    using p = BpfMap.fromPin(join(sub, 'm'));
    expect(p.info().id).toBe(m.info().id);
  });

  pintest('read-only and write-only opens of a pin', () => {
    const path = join(dir, 'm3');
    using m = BpfMap.create(spec);
    m.update(1, 5n);
    m.pin(path);
    using ro = BpfMap.fromPin(path, { readOnly: true });
    expect(ro.lookup(1)!.readBigUInt64LE()).toBe(5n);
    const e = thrown(() => ro.update(1, 6n));
    expect(e).toMatchObject({ code: 'EPERM', command: 'BPF_MAP_UPDATE_ELEM' });
    expect((e as BpfError).hint).toMatch(/read-only/);
    using wo = BpfMap.fromPin(path, { writeOnly: true });
    wo.update(1, 7n);
    expect(thrown(() => wo.lookup(1)).code).toBe('EPERM');
    expect(m.lookup(1)!.readBigUInt64LE()).toBe(7n);
  });

  pintest('bad pin paths are refused with PinPathError before any syscall', () => {
    using m = BpfMap.create(spec);
    const cases: Array<[string, RegExp]> = [
      ['/tmp/x', /not on a bpf filesystem/],
      ['x', /absolute/],
      ['./sys/fs/bpf/x', /absolute/],
      ['', /absolute/],
      [join(dir, 'no-such-dir', 'm'), /does not exist/],
      [join(dir, 'nul\0byte'), /NUL/],
    ];
    for (const [path, why] of cases) {
      const { result: e, cmds } = countingSyscalls(() => thrown(() => m.pin(path)));
      expect(cmds, path).toEqual([]);
      expect(e, path).toBeInstanceOf(PinPathError);
      expect(e.code).toBe('BAD_PIN_PATH');
      expect(e.message).toMatch(why);
      expect((e as PinPathError).path).toBe(path);
    }
    expect(thrown(() => BpfMap.fromPin('/tmp/x')).code).toBe('BAD_PIN_PATH');
    expect(thrown(() => m.unpin('/tmp/x')).code).toBe('BAD_PIN_PATH');
  });

  pintest('pinning twice at one path is EEXIST with a hint', () => {
    const path = join(dir, 'm4');
    using m = BpfMap.create(spec);
    m.pin(path);
    const e = thrown(() => m.pin(path));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code: 'EEXIST', errno: 17, command: 'BPF_OBJ_PIN' });
    expect((e as BpfError).hint).toMatch(/already pinned/);
    // Another map cannot take the path either.
    using other = BpfMap.create(spec);
    expect(thrown(() => other.pin(path)).code).toBe('EEXIST');
    // The same map may be pinned at a second path.
    m.pin(join(dir, 'm4b'));
    using p = BpfMap.fromPin(join(dir, 'm4b'));
    expect(p.info().id).toBe(m.info().id);
  });

  pintest('fromPin of a pinned program is refused with code NOT_A_MAP', () => {
    const path = join(dir, 'prog');
    using prog = Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });
    prog.pin(path);
    const e = thrown(() => BpfMap.fromPin(path));
    expect(e.code).toBe('NOT_A_MAP');
    expect(e.message).toContain(path);
    rmSync(path);
  });

  pintest('pin after close is CLOSED', () => {
    const m = BpfMap.create(spec);
    m.close();
    expect(thrown(() => m.pin(join(dir, 'm5'))).code).toBe('CLOSED');
    expect(existsSync(join(dir, 'm5'))).toBe(false);
  });
});

// ---- bpftool ---------------------------------------------------------------

const BPFTOOL = which('bpftool');

/** Skip without bpftool, except under CI where its absence is a failure. */
function needBpftool(ctx: TestContext): string {
  if (BPFTOOL) return BPFTOOL;
  if (process.env.CI) throw new Error('bpftool is not installed: the cross-checks cannot run under CI');
  ctx.skip('bpftool is not installed');
  return '';
}

function bpftool(bin: string, ...args: string[]): string {
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface BpftoolMap {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen?: number;
}

type DumpEntry = { key: string[]; value?: string[]; values?: Array<{ cpu: number; value: string[] }> };

const hexBytes = (a: string[]) => Buffer.from(a.map((h) => parseInt(h, 16)));

describe('bpftool cross-checks', () => {
  const cases: Array<{ spec: MapSpec; bpftoolType: string; fill: (m: BpfMap) => void }> = [
    {
      spec: { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 32, name: 'tsbpf_hash' },
      bpftoolType: 'hash',
      fill: (m) => {
        for (let i = 1; i <= 5; i++) m.update(i * 1000, BigInt(i) * 0x0102_0304_0506n);
      },
    },
    {
      spec: { type: 'ARRAY', keySize: 4, valueSize: 12, maxEntries: 4, name: 'tsbpf_array' },
      bpftoolType: 'array',
      fill: (m) => m.update(2, Buffer.from('hello bpftoo')),
    },
    {
      spec: { type: 'LRU_HASH', keySize: 8, valueSize: 4, maxEntries: 64, flags: MapFlags.NO_COMMON_LRU, name: 'tsbpf_lru' },
      bpftoolType: 'lru_hash',
      fill: (m) => {
        m.update(0x1122_3344_5566_7788n, 1);
        m.update(0xffff_ffff_ffff_ffffn, 2);
      },
    },
    {
      spec: { type: 'PERCPU_HASH', keySize: 4, valueSize: 4, maxEntries: 8, name: 'tsbpf_percpu' },
      bpftoolType: 'percpu_hash',
      fill: (m) => m.updatePerCpu(9, Array.from({ length: possibleCpuCount() }, (_, c) => 0xa0 + c)),
    },
  ];

  for (const { spec: s, bpftoolType, fill } of cases) {
    pintest(`a ${s.type} map made by tsbpf is shown and dumped by bpftool the same`, (ctx) => {
      const bin = needBpftool(ctx);
      const path = join(dir, `bt_${bpftoolType}`);
      using m = BpfMap.create(s);
      fill(m);
      m.pin(path);
      const shown = JSON.parse(bpftool(bin, '-j', 'map', 'show', 'pinned', path)) as BpftoolMap;
      expect(shown).toMatchObject({
        id: m.info().id,
        type: bpftoolType,
        name: s.name,
        flags: s.flags ?? 0,
        bytes_key: s.keySize,
        bytes_value: s.valueSize,
        max_entries: s.maxEntries,
      });
      const dump = JSON.parse(bpftool(bin, '-j', 'map', 'dump', 'pinned', path)) as DumpEntry[];
      const theirs = new Map<string, string>();
      for (const e of dump) {
        const key = hexBytes(e.key).toString('hex');
        if (e.values) {
          // Per-CPU: one value per possible CPU; compare with lookupPerCpu.
          theirs.set(key, e.values.map((v) => hexBytes(v.value).toString('hex')).join('|'));
        } else theirs.set(key, hexBytes(e.value!).toString('hex'));
      }
      const ours = new Map<string, string>();
      for (const [k, v] of m.entries()) {
        ours.set(k.toString('hex'), m.perCpu ? m.lookupPerCpu(k)!.map((b) => b.toString('hex')).join('|') : v.toString('hex'));
      }
      expect(theirs).toEqual(ours);
      expect(ours.size).toBeGreaterThan(0);
      m.unpin(path);
    });
  }

  pintest('a map created and filled by bpftool is read correctly by tsbpf', (ctx) => {
    const bin = needBpftool(ctx);
    const path = join(dir, 'bt_made');
    bpftool(bin, 'map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'bt');
    bpftool(bin, 'map', 'update', 'pinned', path, 'key', '1', '0', '0', '0', 'value', '2', '0', '0', '0', '0', '0', '0', '0');
    bpftool(bin, 'map', 'update', 'pinned', path, 'key', '0x10', '0x20', '0', '0', 'value', '0xff', '0', '0', '0', '0', '0', '0', '0x80');
    using m = BpfMap.fromPin(path);
    expect(m.info()).toMatchObject({ typeName: 'HASH', keySize: 4, valueSize: 8, maxEntries: 16, name: 'bt' });
    expect(m).toMatchObject({ keySize: 4, valueSize: 8, maxEntries: 16, name: 'bt' });
    expect(m.lookup(1)!.readBigUInt64LE()).toBe(2n);
    expect(m.lookup(0x2010)!.readBigUInt64LE()).toBe(0x8000_0000_0000_00ffn);
    expect([...m.keys()].map((k) => k.readUInt32LE()).sort((a, b) => a - b)).toEqual([1, 0x2010]);
    // And back: what tsbpf writes, bpftool reads.
    m.update(3, 0x0807_0605_0403_0201n);
    const got = JSON.parse(bpftool(bin, '-j', 'map', 'lookup', 'pinned', path, 'key', '3', '0', '0', '0')) as DumpEntry;
    expect(hexBytes(got.value!)).toEqual(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    // Freezing is visible to bpftool.
    m.freeze();
    expect((JSON.parse(bpftool(bin, '-j', 'map', 'show', 'pinned', path)) as BpftoolMap).frozen).toBe(1);
    m.unpin(path);
  });
});
