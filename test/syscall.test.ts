/**
 * The syscall shim without the kernel: the replaceable bpf(2) backend (a fake
 * records what would be issued and answers with an errno) and the formatting
 * of errno into BpfError.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfError, BpfMap, MapFlags, NotSupportedError, TsbpfError, mapInfoByFd } from '../lib/index.ts';
import { BpfCmd, setBpfBackend, type AttrRef, type BpfBackend } from '../lib/testing.ts';
import { MapCreateAttr, GetIdAttr } from '../syscall/attr.ts';
import { bpfCall, bpfCmdName } from '../syscall/bpf.ts';
import { missingBpfCaps } from '../syscall/caps.ts';
import { Errno, errnoName } from '../syscall/errno.ts';
import { which } from './helpers/env.ts';
import { thrown } from './helpers/thrown.ts';

interface Call {
  cmd: number;
  size: number;
  attr: Uint8Array;
}

/** A fake backend: records each call (with a copy of its attr) and answers from `answer`. */
function fake(answer: (cmd: number, n: number) => number): { calls: Call[]; backend: BpfBackend } {
  const calls: Call[] = [];
  const backend: BpfBackend = (cmd: number, attr: AttrRef, size: number) => {
    calls.push({ cmd, size, attr: Uint8Array.from(attr.bytes.subarray(0, size)) });
    return answer(cmd, calls.length);
  };
  return { calls, backend };
}

let restore: BpfBackend | undefined;
function install(b: BpfBackend): void {
  const prev = setBpfBackend(b);
  restore ??= prev;
}
afterEach(() => {
  if (restore) setBpfBackend(restore);
  restore = undefined;
});

const u32At = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);

describe('replaceable backend', () => {
  it('a fake answering -ENOENT turns into a typed BpfError naming the command and object', () => {
    const f = fake(() => -Errno.ENOENT);
    install(f.backend);
    const e = thrown(() => BpfMap.fromId(777));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toBeInstanceOf(TsbpfError);
    expect(e).toMatchObject({ code: 'ENOENT', errno: 2, command: 'BPF_MAP_GET_FD_BY_ID', object: 'map id 777', name: 'BpfError' });
    expect(e.message).toBe("BPF_MAP_GET_FD_BY_ID on 'map id 777' failed: ENOENT");
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]).toMatchObject({ cmd: BpfCmd.MAP_GET_FD_BY_ID, size: GetIdAttr.SIZE });
    expect(u32At(f.calls[0]!.attr, GetIdAttr.id)).toBe(777);
  });

  it('BPF_MAP_CREATE: the attr is laid out as the UAPI says; the error carries the spec', () => {
    const f = fake(() => -Errno.ENOMEM);
    install(f.backend);
    const e = thrown(() =>
      BpfMap.create({ type: 'LRU_HASH', keySize: 8, valueSize: 16, maxEntries: 1234, flags: MapFlags.NO_COMMON_LRU, numaNode: 0, name: 'fake_map_name_long' }),
    );
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code: 'ENOMEM', errno: 12, command: 'BPF_MAP_CREATE', object: 'fake_map_name_l' });
    expect(e.message).toContain('type LRU_HASH, key 8, value 16, max_entries 1234, flags 0x6');
    expect((e as BpfError).hint).toMatch(/RLIMIT_MEMLOCK/);
    expect(f.calls).toHaveLength(1);
    const { cmd, size, attr } = f.calls[0]!;
    expect(cmd).toBe(BpfCmd.MAP_CREATE);
    expect(size).toBe(MapCreateAttr.SIZE);
    expect(u32At(attr, MapCreateAttr.map_type)).toBe(9);
    expect(u32At(attr, MapCreateAttr.key_size)).toBe(8);
    expect(u32At(attr, MapCreateAttr.value_size)).toBe(16);
    expect(u32At(attr, MapCreateAttr.max_entries)).toBe(1234);
    expect(u32At(attr, MapCreateAttr.map_flags)).toBe(MapFlags.NO_COMMON_LRU | MapFlags.NUMA_NODE);
    expect(Buffer.from(attr.subarray(MapCreateAttr.map_name, MapCreateAttr.map_name + 16))).toEqual(Buffer.from('fake_map_name_l\0'));
    expect(u32At(attr, MapCreateAttr.btf_fd)).toBe(0);
  });

  it('a failed create of an unknown type probes through the backend and reports NotSupportedError', () => {
    const f = fake(() => -Errno.EINVAL);
    install(f.backend);
    const e = thrown(() => BpfMap.create({ type: 990, keySize: 4, valueSize: 4, maxEntries: 1 }));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e).toMatchObject({ code: 'NOT_SUPPORTED', feature: 'map type UNKNOWN(990)' });
    expect(f.calls.map((c) => c.cmd)).toEqual([BpfCmd.MAP_CREATE, BpfCmd.MAP_CREATE]); // the create, then the probe
  });

  it('EINTR is retried (up to five times), then reported', () => {
    const flaky = fake((_cmd, n) => (n <= 2 ? -Errno.EINTR : 0));
    install(flaky.backend);
    const info = mapInfoByFd(12345);
    expect(flaky.calls).toHaveLength(3);
    expect(flaky.calls.every((c) => c.cmd === BpfCmd.OBJ_GET_INFO_BY_FD)).toBe(true);
    expect(info.type).toBe(0); // the fake wrote nothing
    setBpfBackend(restore);
    const stuck = fake(() => -Errno.EINTR);
    install(stuck.backend);
    const e = thrown(() => mapInfoByFd(12345, 'stuck'));
    expect(e).toMatchObject({ code: 'EINTR', command: 'BPF_OBJ_GET_INFO_BY_FD', object: 'stuck' });
    expect(stuck.calls).toHaveLength(6);
  });

  it('setBpfBackend returns the previous backend; undefined restores the real one', () => {
    const a = fake(() => -Errno.EPERM);
    const b = fake(() => -Errno.EACCES);
    install(a.backend);
    expect(setBpfBackend(b.backend)).toBe(a.backend);
    expect(thrown(() => bpfCall(BpfCmd.MAP_FREEZE, { addr: 0, bytes: new Uint8Array(8) }, 4)).code).toBe('EACCES');
    expect(setBpfBackend(undefined)).toBe(b.backend);
    expect(a.calls).toHaveLength(0);
    expect(b.calls).toHaveLength(1);
  });
});

describe('errno -> BpfError', () => {
  it('code, errno, command, object and hint; the message puts them together', () => {
    const e = new BpfError('BPF_MAP_UPDATE_ELEM', Errno.EEXIST, { object: 'counters', hints: { EEXIST: 'the key already exists' } });
    expect(e).toMatchObject({ code: 'EEXIST', errno: 17, command: 'BPF_MAP_UPDATE_ELEM', object: 'counters', hint: 'the key already exists' });
    expect(e.message).toBe("BPF_MAP_UPDATE_ELEM on 'counters' failed: EEXIST: the key already exists");
    const bare = new BpfError('BPF_MAP_LOOKUP_ELEM', Errno.EFAULT);
    expect(bare).toMatchObject({ code: 'EFAULT', object: undefined, hint: undefined });
    expect(bare.message).toBe('BPF_MAP_LOOKUP_ELEM failed: EFAULT');
    const detailed = new BpfError('BPF_PROG_LOAD', Errno.EACCES, { object: 'xdp_prog' }, 'R1 invalid mem access');
    expect(detailed.message).toBe("BPF_PROG_LOAD on 'xdp_prog' failed: EACCES (R1 invalid mem access)");
    // A hint for another errno does not apply.
    expect(new BpfError('x', Errno.ENOENT, { hints: { EEXIST: 'no' } }).hint).toBeUndefined();
  });

  it('errno names: libc names, kernel-only ones, aliases resolved to the canonical name, unknown numbers', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(7)).toBe('E2BIG');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(35)).toBe('EDEADLK');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(524)).toBe('ENOTSUPP');
    expect(errnoName(512)).toBe('ERESTARTSYS');
    expect(errnoName(4242)).toBe('E4242');
    expect(new BpfError('x', 524).code).toBe('ENOTSUPP');
    for (const [name, value] of Object.entries(Errno)) expect(errnoName(value)).toBe(name);
  });

  it('default hints: ENOMEM (memlock), ENOSYS (no bpf syscall), EPERM (capabilities)', () => {
    expect(new BpfError('BPF_MAP_CREATE', Errno.ENOMEM).hint).toMatch(/RLIMIT_MEMLOCK/);
    expect(new BpfError('BPF_MAP_CREATE', Errno.ENOSYS).hint).toMatch(/CONFIG_BPF_SYSCALL/);
    const eperm = new BpfError('BPF_PROG_LOAD', Errno.EPERM, { caps: ['PERFMON'] });
    const missing = missingBpfCaps(['PERFMON']);
    if (missing.length) {
      for (const c of missing) expect(eperm.hint).toContain(`CAP_${c}`);
    } else {
      expect(eperm.hint).toMatch(/capabilities are present/);
    }
  });

  it('EPERM without the capabilities names the missing ones (in a child process with no capabilities)', (ctx) => {
    const setpriv = which('setpriv');
    if (process.getuid?.() !== 0 || !setpriv) {
      // Unprivileged, the test above already sees the missing-capability hint.
      return ctx.skip('needs root and setpriv to drop capabilities in a child');
    }
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-caps-'));
    try {
      const script = join(dir, 'eperm.cjs');
      // Bundle the error module for plain Node (koffi stays external, found through NODE_PATH).
      const out = buildSync({
        stdin: {
          contents: `import { BpfError } from './syscall/errors.ts';
            const e = new BpfError('BPF_PROG_LOAD', 1, { object: 'p', caps: ['PERFMON'] });
            process.stdout.write(JSON.stringify({ code: e.code, hint: e.hint, message: e.message }));`,
          resolveDir: process.cwd(),
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format: 'cjs',
        external: ['koffi'],
        write: false,
      });
      writeFileSync(script, out.outputFiles[0]!.text);
      chmodSync(dir, 0o755);
      const stdout = execFileSync(
        setpriv,
        ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--', process.execPath, script],
        { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(process.cwd(), 'node_modules') } },
      );
      const r = JSON.parse(stdout) as { code: string; hint: string; message: string };
      expect(r.code).toBe('EPERM');
      expect(r.hint).toMatch(/missing capability CAP_BPF, CAP_PERFMON/);
      expect(r.message).toBe(`BPF_PROG_LOAD on 'p' failed: EPERM: ${r.hint}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('command names', () => {
    expect(bpfCmdName(BpfCmd.MAP_CREATE)).toBe('BPF_MAP_CREATE');
    expect(bpfCmdName(BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH)).toBe('BPF_MAP_LOOKUP_AND_DELETE_BATCH');
    expect(bpfCmdName(99)).toBe('BPF_CMD_99');
  });

  it('NotSupportedError', () => {
    const e = new NotSupportedError('map type ARENA', 'needs Linux 6.9');
    expect(e).toBeInstanceOf(TsbpfError);
    expect(e).toMatchObject({ code: 'NOT_SUPPORTED', feature: 'map type ARENA', name: 'NotSupportedError' });
    expect(e.message).toBe('map type ARENA is not supported by this kernel (needs Linux 6.9)');
  });
});
