/**
 * kprobe, kretprobe, ksyscall (kprobe PMU), the tracefs kprobe_events fallback
 * and kprobe.multi, on a kernel with CONFIG_KPROBES. VM only (see helpers.ts):
 * programs from test/bpf/vm_kprobe.c count the calls made by this process's
 * main thread and record what do_sys_openat2 was given and returned.
 */
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { attachKprobe, attachKprobeMulti, attachKsyscall, syscallPrefix } from '../../bpf/link/kprobe.ts';
import { AttachError } from '../../bpf/link/link.ts';
import { tracefsRoot } from '../../bpf/link/tracefs.ts';
import { kernelAtLeast, since } from '../../bpf/features.ts';
import { ifSupported } from '../helpers/kernel-features.ts';
import { counter, loadWithTarget, resetCounters, sys, vmtest } from './helpers.ts';

const KPROBE = 0;
const KRETPROBE = 1;
const KSYSCALL = 2;
const LEGACY_KPROBE = 3;
const LEGACY_KRETPROBE = 4;
const MULTI = 5;

let seq = 0;
/** A fresh file to open: its path is what the probes must see. */
function scratchFile(): string {
  const path = `/tmp/tsbpf-vm-${process.pid}-${++seq}`;
  writeFileSync(path, 'x');
  return path;
}

function cString(b: Uint8Array | undefined): string {
  const buf = Buffer.from(b ?? []);
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString();
}

const s64 = (b: Uint8Array | undefined): bigint => (b ? Buffer.from(b).readBigInt64LE(0) : -1n);

describe('kprobes in the guest (vm_kprobe.o)', () => {
  vmtest('kprobe and kretprobe on do_sys_openat2, ksyscall on getpid: attached by attachAll through the kprobe PMU', () => {
    expect(existsSync('/sys/bus/event_source/devices/kprobe/type')).toBe(true);
    using c = loadWithTarget('vm_kprobe');
    const links = c.attachAll();
    // Only the programs whose section names a hook; the bare kprobe/kretprobe/kprobe.multi sections are attached below.
    expect(Object.keys(links).sort()).toEqual(['kprobe_openat2', 'kretprobe_openat2', 'ksyscall_getpid']);
    expect(links.ksyscall_getpid!.description).toContain(`${syscallPrefix()}getpid`);
    resetCounters(c, 'hits');

    const path = scratchFile();
    const fd = openSync(path, 'r');
    closeSync(fd);
    for (let i = 0; i < 3; i++) expect(sys('getpid')).toBe(process.pid);

    expect(counter(c, 'hits', KPROBE)).toBeGreaterThanOrEqual(1n);
    expect(counter(c, 'hits', KRETPROBE)).toBe(counter(c, 'hits', KPROBE));
    expect(cString(c.maps.last_path!.lookup(0))).toBe(path);
    // The last open of this thread was ours; the kretprobe read its return value (the fd).
    expect(s64(c.maps.last_ret!.lookup(0))).toBe(BigInt(fd));
    expect(counter(c, 'hits', KSYSCALL)).toBeGreaterThanOrEqual(3n);

    // Detached: nothing counts any more.
    for (const l of Object.values(links)) l.close();
    const before = [KPROBE, KRETPROBE, KSYSCALL].map((i) => counter(c, 'hits', i));
    closeSync(openSync(path, 'r'));
    sys('getpid');
    expect([KPROBE, KRETPROBE, KSYSCALL].map((i) => counter(c, 'hits', i))).toEqual(before);
  });

  vmtest('attachKsyscall and attachKprobe by hand, with a retprobe on the same function', () => {
    using c = loadWithTarget('vm_kprobe', ['ksyscall_getpid', 'kretprobe_openat2']);
    using sysLink = attachKsyscall(c.programs.ksyscall_getpid!, 'getpid');
    using retLink = attachKprobe(c.programs.kretprobe_openat2!, 'do_sys_openat2', { retprobe: true });
    // A BPF link on the perf event since 5.15; before, the perf event alone holds the attachment (no link fd).
    for (const l of [sysLink, retLink]) {
      if (kernelAtLeast(since('perf_event links')!)) expect(l.fd).toBeGreaterThan(2);
      else expect(l.fd).toBe(-1);
    }
    for (let i = 0; i < 5; i++) sys('getpid');
    const fd = openSync(scratchFile(), 'r');
    closeSync(fd);
    expect(counter(c, 'hits', KSYSCALL)).toBeGreaterThanOrEqual(5n);
    expect(s64(c.maps.last_ret!.lookup(0))).toBe(BigInt(fd));
    // A failed open returns -ENOENT through the same kretprobe.
    expect(() => openSync('/tmp/tsbpf-vm-does-not-exist', 'r')).toThrow(/ENOENT/);
    expect(s64(c.maps.last_ret!.lookup(0))).toBe(-2n);
  });

  vmtest('kprobe and kretprobe through tracefs kprobe_events (maxactive forces the legacy path); closing removes the events', () => {
    using c = loadWithTarget('vm_kprobe', ['legacy_kprobe', 'legacy_kretprobe']);
    const events = `${tracefsRoot()}/kprobe_events`;
    const ours = () =>
      readFileSync(events, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`tsbpf_${process.pid}_`));
    expect(ours()).toEqual([]);
    const entry = attachKprobe(c.programs.legacy_kprobe!, 'do_sys_openat2', { maxactive: 4 });
    const ret = attachKprobe(c.programs.legacy_kretprobe!, 'do_sys_openat2', { retprobe: true, maxactive: 4 });
    try {
      const lines = ours();
      expect(lines).toHaveLength(2);
      expect(lines.some((l) => /^p:kprobes\/tsbpf_\d+_\d+ do_sys_openat2/.test(l))).toBe(true);
      // kprobe_events lists a kretprobe's maxactive: r4:kprobes/...
      expect(lines.some((l) => /^r4:kprobes\/tsbpf_\d+_\d+ do_sys_openat2/.test(l))).toBe(true);

      const fd = openSync(scratchFile(), 'r');
      closeSync(fd);
      expect(counter(c, 'hits', LEGACY_KPROBE)).toBeGreaterThanOrEqual(1n);
      expect(counter(c, 'hits', LEGACY_KRETPROBE)).toBeGreaterThanOrEqual(1n);
      expect(s64(c.maps.last_ret!.lookup(1))).toBe(BigInt(fd));
    } finally {
      entry.close();
      ret.close();
    }
    expect(ours()).toEqual([]);
  });

  vmtest('a kprobe on a function that does not exist is an AttachError NO_SYMBOL', () => {
    using c = loadWithTarget('vm_kprobe', ['legacy_kprobe']);
    const e = (() => {
      try {
        attachKprobe(c.programs.legacy_kprobe!, 'tsbpf_no_such_function');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(AttachError);
    expect((e as AttachError).code).toBe('NO_SYMBOL');
  });

  vmtest('kprobe.multi with a glob: attached where the kernel has fprobe (5.18, CONFIG_FPROBE), else NotSupportedError naming both', async (ctx) => {
    using c = loadWithTarget('vm_kprobe', ['multi']);
    // Debian's 6.1 is built without CONFIG_FPROBE, 5.10 predates kprobe_multi: the error must say which.
    using link = await ifSupported(ctx, () => attachKprobeMulti(c.programs.multi!, `${syscallPrefix()}getp*id`));
    expect(link.info().typeName).toBe('KPROBE_MULTI');
    for (let i = 0; i < 3; i++) sys('getpid');
    sys('getpgid');
    expect(counter(c, 'hits', MULTI)).toBeGreaterThanOrEqual(4n);
  });
});
