/**
 * BTF tracing programs on a kernel with a function tracer and the BPF LSM:
 * fentry and fexit on the same function (fexit sees the return value),
 * fmod_ret replacing a security hook's return, lsm denying a syscall and
 * observing file opens, tp_btf. VM only (see helpers.ts); the programs are in
 * test/bpf/vm_tracing.c and count what this process's main thread does.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { ProgType } from '../../bpf/programs/types.ts';
import { attachTracing } from '../../bpf/link/raw-tracepoint.ts';
import { counter, loadWithTarget, resetCounters, sys, vmtest } from './helpers.ts';

const FENTRY = 0;
const FEXIT = 1;
const FMOD_RET = 2;
const LSM_DENY = 3;
const LSM_FILE_OPEN = 4;
const TP_BTF = 5;

const EPERM = 1;
const EXDEV = 18;

let seq = 0;
function scratchFile(): string {
  const path = `/tmp/tsbpf-vm-tracing-${process.pid}-${++seq}`;
  writeFileSync(path, 'x');
  return path;
}

/** calls[i] of vm_tracing.c: { char path[64]; s64 ret; } */
function call(b: Uint8Array | undefined): { path: string; ret: bigint } {
  const buf = Buffer.from(b ?? new Uint8Array(72));
  const end = buf.indexOf(0);
  return { path: buf.subarray(0, end < 0 || end > 64 ? 64 : end).toString(), ret: buf.readBigInt64LE(64) };
}

describe('BTF tracing on the 6.1 guest (vm_tracing.o)', () => {
  vmtest('fentry and fexit on do_sys_openat2: both see the path, fexit sees the returned fd', () => {
    using c = loadWithTarget('vm_tracing', ['fentry_openat2', 'fexit_openat2']);
    expect(c.programs.fentry_openat2!.type).toBe(ProgType.TRACING);
    using entry = attachTracing(c.programs.fentry_openat2!);
    using exit = attachTracing(c.programs.fexit_openat2!);
    expect(entry.info().typeName).toBe('TRACING');
    expect(exit.info().typeName).toBe('TRACING');
    resetCounters(c, 'hits');

    const path = scratchFile();
    const fd = openSync(path, 'r');
    closeSync(fd);
    expect(counter(c, 'hits', FENTRY)).toBeGreaterThanOrEqual(1n);
    expect(counter(c, 'hits', FEXIT)).toBe(counter(c, 'hits', FENTRY));
    expect(call(c.maps.calls!.lookup(0)).path).toBe(path);
    expect(call(c.maps.calls!.lookup(1))).toEqual({ path, ret: BigInt(fd) });

    // fexit sees failures too.
    expect(() => openSync('/tmp/tsbpf-vm-does-not-exist', 'r')).toThrow(/ENOENT/);
    expect(call(c.maps.calls!.lookup(1))).toEqual({ path: '/tmp/tsbpf-vm-does-not-exist', ret: -2n });
  });

  // getsid(pid) and getpgid(pid) call their security hook only for an explicit pid, not for 0.
  vmtest('fmod_ret on security_task_getsid: getsid(2) returns what the program says, and works again once detached', () => {
    const sid = sys('getsid', process.pid);
    expect(sid).toBeGreaterThanOrEqual(0);
    using c = loadWithTarget('vm_tracing', ['fmod_ret_getsid']);
    const link = attachTracing(c.programs.fmod_ret_getsid!);
    try {
      expect(sys('getsid', process.pid)).toBe(-EXDEV);
      expect(counter(c, 'hits', FMOD_RET)).toBe(1n);
    } finally {
      link.close();
    }
    expect(sys('getsid', process.pid)).toBe(sid);
    expect(counter(c, 'hits', FMOD_RET)).toBe(1n);
  });

  vmtest('lsm: the BPF LSM is active; lsm/task_getpgid denies getpgid(2), lsm/file_open observes opens', () => {
    expect(readFileSync('/sys/kernel/security/lsm', 'utf8').split(',')).toContain('bpf');
    const pgid = sys('getpgid', process.pid);
    expect(pgid).toBeGreaterThanOrEqual(0);
    using c = loadWithTarget('vm_tracing', ['lsm_getpgid', 'lsm_file_open']);
    expect(c.programs.lsm_getpgid!.type).toBe(ProgType.LSM);
    // attachAll attaches lsm programs from their section name.
    const links = c.attachAll();
    expect(Object.keys(links).sort()).toEqual(['lsm_file_open', 'lsm_getpgid']);
    expect(sys('getpgid', process.pid)).toBe(-EPERM);
    expect(counter(c, 'hits', LSM_DENY)).toBe(1n);
    const opensBefore = counter(c, 'hits', LSM_FILE_OPEN);
    closeSync(openSync(scratchFile(), 'r'));
    expect(counter(c, 'hits', LSM_FILE_OPEN)).toBeGreaterThan(opensBefore);

    for (const l of Object.values(links)) l.close();
    expect(sys('getpgid', process.pid)).toBe(pgid);
    expect(counter(c, 'hits', LSM_DENY)).toBe(1n);
  });

  vmtest('tp_btf/sys_enter counts getpid(2) calls', () => {
    using c = loadWithTarget('vm_tracing', ['tp_btf_sys_enter']);
    using link = attachTracing(c.programs.tp_btf_sys_enter!);
    for (let i = 0; i < 7; i++) sys('getpid');
    expect(counter(c, 'hits', TP_BTF)).toBeGreaterThanOrEqual(7n);
    link.close();
    const n = counter(c, 'hits', TP_BTF);
    sys('getpid');
    expect(counter(c, 'hits', TP_BTF)).toBe(n);
  });
});
