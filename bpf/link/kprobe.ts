/** kprobe / kretprobe / ksyscall, and kprobe_multi (one link, many functions). */
import { TsbpfError } from '../../errors.ts';
import { BpfError } from '../../syscall/errors.ts';
import { kernelPredates, notSupported } from '../features.ts';
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { CleanupLink, FdLink, Link, linkCreate } from './link.ts';
import { attachToPerfEvent } from './perf-event.ts';
import { openProbe } from './probe-pmu.ts';
import { readFileSync } from 'node:fs';
import { requireProgType } from './prog-check.ts';

export interface KprobeOptions {
  retprobe?: boolean;
  offset?: number;
  /** Concurrent kretprobe instances (uses the tracefs path). */
  maxactive?: number;
  cookie?: bigint;
}

function needKprobe(prog: Program, what: string): void {
  requireProgType(prog, [ProgType.KPROBE], what);
}

export function attachKprobe(prog: Program, symbol: string, opts: KprobeOptions = {}): Link {
  needKprobe(prog, `kprobe ${symbol}`);
  const { fd, cleanup } = openProbe({ kind: 'kprobe', ret: !!opts.retprobe, target: symbol, offset: BigInt(opts.offset ?? 0), maxactive: opts.maxactive });
  const link = attachToPerfEvent(prog, fd, `${opts.retprobe ? 'kretprobe' : 'kprobe'} ${symbol} -> ${prog.name}`, opts.cookie);
  return cleanup ? new CleanupLink(link, cleanup) : link;
}

/** The arch's syscall wrapper prefix (__x64_sys_, __arm64_sys_), found in kallsyms. */
let prefix: string | undefined;
export function syscallPrefix(): string {
  if (prefix !== undefined) return prefix;
  const syms = readFileSync('/proc/kallsyms', 'utf8');
  for (const p of ['__x64_sys_', '__arm64_sys_', '__s390x_sys_', '__riscv_sys_', '__se_sys_', 'sys_']) {
    if (syms.includes(` ${p}getpid\n`)) return (prefix = p);
  }
  return (prefix = 'sys_');
}

export function attachKsyscall(prog: Program, syscall: string, opts: Omit<KprobeOptions, 'offset'> = {}): Link {
  return attachKprobe(prog, syscallPrefix() + syscall, opts);
}

/** kprobe.multi: many functions, given as names or a glob over available_filter_functions/kallsyms. */
export function attachKprobeMulti(prog: Program, symbols: string[] | string, opts: { retprobe?: boolean; cookies?: bigint[] } = {}): FdLink {
  needKprobe(prog, 'kprobe.multi');
  const names = typeof symbols === 'string' ? globKallsyms(symbols) : symbols;
  if (!names.length) throw new TsbpfError('NO_SYMBOL', `no kernel function matches '${String(symbols)}'`);
  let fd: number;
  try {
    fd = linkCreate(
      { progFd: prog.fd, targetFd: 0, attachType: AttachType.TRACE_KPROBE_MULTI, target: { kind: 'kprobe_multi', symbols: names, cookies: opts.cookies, retprobe: !!opts.retprobe } },
      { object: `kprobe.multi ${String(symbols)}`, caps: ['PERFMON'], hints: { ESRCH: 'a symbol was not found' } },
    );
  } catch (e) {
    // Before 5.18 the attach type is unknown (EINVAL); a kernel built without CONFIG_FPROBE answers EOPNOTSUPP.
    if (e instanceof BpfError && (e.code === 'EOPNOTSUPP' || (e.code === 'EINVAL' && kernelPredates('kprobe_multi links')))) {
      throw notSupported('kprobe_multi links', e.code === 'EOPNOTSUPP' ? 'this kernel is built without fprobe (CONFIG_FPROBE)' : 'BPF_LINK_CREATE: EINVAL');
    }
    throw e;
  }
  return new FdLink(fd, `kprobe.multi ${typeof symbols === 'string' ? symbols : `${names.length} functions`} -> ${prog.name}`);
}

function globKallsyms(glob: string): string[] {
  const re = new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  const out = new Set<string>();
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [, t, name] = line.split(' ');
    if (name && (t === 't' || t === 'T') && !name.includes('.') && re.test(name)) out.add(name);
  }
  return [...out];
}

