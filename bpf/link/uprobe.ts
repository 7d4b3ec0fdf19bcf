/**
 * uprobe / uretprobe on a binary and symbol, resolved to a file offset with
 * tsbpf's own ELF reader (static and dynamic symbols, PIE or not), and
 * uprobe_multi (one link for many offsets).
 */
import { readFileSync, realpathSync, existsSync } from 'node:fs';
import { parseElf, type ElfFile } from '../../elf/index.ts';
import { TsbpfError } from '../../errors.ts';
import { BpfError } from '../../syscall/errors.ts';
import { kernelPredates, notSupported } from '../features.ts';
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { CleanupLink, FdLink, Link, linkCreate } from './link.ts';
import { attachToPerfEvent } from './perf-event.ts';
import { openProbe } from './probe-pmu.ts';
import { requireProgType } from './prog-check.ts';

export interface UprobeOptions {
  retprobe?: boolean;
  /** Only this process (default: every process that runs the binary). */
  pid?: number;
  /** Added to the symbol's offset. */
  offset?: number;
  cookie?: bigint;
}

const elfCache = new Map<string, ElfFile>();

/** File offset of `symbol` in the ELF binary at `path` (what the uprobe PMU wants). */
export function symbolFileOffset(path: string, symbol: string): bigint {
  let elf = elfCache.get(path);
  if (!elf) {
    elf = parseElf(readFileSync(path));
    elfCache.set(path, elf);
  }
  const candidates = [...elf.symbols(), ...elf.dynamicSymbols()].filter(
    (s) => (s.name === symbol || s.name.startsWith(symbol + '@')) && s.type === 2 /* STT_FUNC */ && !s.isUndefined && s.value !== 0n,
  );
  const sym = candidates[0];
  if (!sym) throw new TsbpfError('NO_SYMBOL', `no function '${symbol}' in ${path}`);
  const off = elf.virtualAddressToFileOffset(sym.value);
  if (off === undefined) throw new TsbpfError('NO_SYMBOL', `function '${symbol}' in ${path} is at 0x${sym.value.toString(16)}, outside every loadable segment`);
  return off;
}

/** Find a library by name in the usual places ("libc.so.6" -> /lib/x86_64-linux-gnu/libc.so.6). */
export function resolveBinary(path: string): string {
  if (path.includes('/')) {
    if (!existsSync(path)) throw new TsbpfError('NO_BINARY', `no such file: ${path}`);
    return realpathSync(path);
  }
  const arch = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  for (const dir of [`/lib/${arch}`, `/usr/lib/${arch}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib', ...(process.env.PATH ?? '').split(':')]) {
    if (dir && existsSync(`${dir}/${path}`)) return realpathSync(`${dir}/${path}`);
  }
  throw new TsbpfError('NO_BINARY', `cannot find '${path}' in the library directories or PATH`);
}

export function attachUprobe(prog: Program, binary: string, symbol: string | number, opts: UprobeOptions = {}): Link {
  requireProgType(prog, [ProgType.KPROBE], 'a uprobe');
  const path = resolveBinary(binary);
  const offset = (typeof symbol === 'number' ? BigInt(symbol) : symbolFileOffset(path, symbol)) + BigInt(opts.offset ?? 0);
  const { fd, cleanup } = openProbe({ kind: 'uprobe', ret: !!opts.retprobe, target: path, offset, pid: opts.pid });
  const what = `${opts.retprobe ? 'uretprobe' : 'uprobe'} ${path}:${typeof symbol === 'number' ? `0x${symbol.toString(16)}` : symbol} -> ${prog.name}`;
  const link = attachToPerfEvent(prog, fd, what, opts.cookie);
  return cleanup ? new CleanupLink(link, cleanup) : link;
}

/** uprobe.multi: one link for several functions of a binary. */
export function attachUprobeMulti(prog: Program, binary: string, symbols: string[], opts: { retprobe?: boolean; pid?: number; cookies?: bigint[] } = {}): FdLink {
  requireProgType(prog, [ProgType.KPROBE], 'uprobe.multi');
  const path = resolveBinary(binary);
  const offsets = symbols.map((s) => symbolFileOffset(path, s));
  let fd: number;
  try {
    fd = linkCreate(
      { progFd: prog.fd, targetFd: 0, attachType: AttachType.TRACE_UPROBE_MULTI, target: { kind: 'uprobe_multi', path, offsets, cookies: opts.cookies, retprobe: !!opts.retprobe, pid: opts.pid ?? 0 } },
      { object: `uprobe.multi ${path}`, caps: ['PERFMON'] },
    );
  } catch (e) {
    // Before 6.6 the attach type is unknown: EINVAL, which says nothing of why.
    if (e instanceof BpfError && e.code === 'EINVAL' && kernelPredates('uprobe_multi links')) throw notSupported('uprobe_multi links', 'BPF_LINK_CREATE: EINVAL');
    throw e;
  }
  return new FdLink(fd, `uprobe.multi ${path} (${offsets.length} functions) -> ${prog.name}`);
}
