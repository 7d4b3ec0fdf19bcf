/** Typed errors of system calls: BpfError (errno name, command, object, hint) and NotSupportedError. */
import { TsbpfError, type ErrnoName } from '../errors.ts';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { hasCap, missingBpfCaps, type CapName } from './caps.ts';
import { Errno, errnoName } from './errno.ts';

export interface BpfErrorContext {
  /** Name of the map, program or link the call was about. */
  object?: string;
  /** Capabilities besides CAP_BPF the operation needs (CAP_PERFMON for tracing, CAP_NET_ADMIN for networking). */
  caps?: CapName[];
  /** The file the call was about (a pin path): EACCES/EPERM hints then name its mode and owner. */
  path?: string;
  /** A hint for this errno that only the caller knows (e.g. "the map is full"). */
  hints?: Partial<Record<ErrnoName, string>>;
}

/**
 * A failed system call. `code` is the errno name (`'ENOENT'`), `errno` its
 * number, `command` the bpf command or syscall (`'BPF_MAP_UPDATE_ELEM'`).
 */
export class BpfError extends TsbpfError {
  declare readonly code: ErrnoName;
  readonly errno: number;
  readonly command: string;
  readonly object: string | undefined;
  readonly hint: string | undefined;

  constructor(command: string, errno: number, ctx: BpfErrorContext = {}, detail?: string) {
    const code = errnoName(errno);
    const hint = ctx.hints?.[code] ?? defaultHint(command, errno, ctx);
    const what = ctx.object ? ` on '${ctx.object}'` : '';
    super(code, `${command}${what} failed: ${code}${detail ? ` (${detail})` : ''}${hint ? `: ${hint}` : ''}`);
    this.errno = errno;
    this.command = command;
    this.object = ctx.object;
    this.hint = hint;
  }
}

// Walking or opening objects by id is for the system's administrator: the kernel checks
// CAP_SYS_ADMIN itself for these, and CAP_BPF is not enough.
const SYS_ADMIN_COMMANDS = /^BPF_(PROG|MAP|BTF|LINK)_GET_(NEXT_ID|FD_BY_ID)$/;

function defaultHint(command: string, errno: number, ctx: BpfErrorContext): string | undefined {
  if ((errno === Errno.EACCES || errno === Errno.EPERM) && ctx.path) {
    const why = pathAccess(ctx.path);
    if (why) return why;
  }
  switch (errno) {
    case Errno.EPERM: {
      if (SYS_ADMIN_COMMANDS.test(command)) {
        return hasCap('SYS_ADMIN')
          ? `${command} needs CAP_SYS_ADMIN in the initial user namespace (a container's root may lack it); also check lockdown`
          : `${command} needs CAP_SYS_ADMIN (CAP_BPF is not enough to list or open objects by id)`;
      }
      const missing = missingBpfCaps(ctx.caps);
      if (missing.length) return `missing capability ${missing.map((c) => 'CAP_' + c).join(', ')} (or run as root with CAP_SYS_ADMIN)`;
      return 'permission denied although the capabilities are present: check lockdown, kernel.unprivileged_bpf_disabled, or RLIMIT_MEMLOCK on kernels before 5.11';
    }
    case Errno.ENOMEM:
      return 'out of memory for the kernel object; on kernels before 5.11 raise RLIMIT_MEMLOCK';
    case Errno.ENOSYS:
      return 'the kernel has no bpf(2) (CONFIG_BPF_SYSCALL is off)';
    case Errno.EAGAIN:
      // The verifier stops when a signal is pending; every load retries it, so this one was interrupted each time.
      return command === 'BPF_PROG_LOAD'
        ? 'the verifier was interrupted by a pending signal on every attempt (6 tries), before any verdict: ' +
            'something signals this thread very often (a sampling profiler such as node --cpu-prof with a short interval, an interval timer); load again, or signal less often'
        : undefined;
    default:
      return undefined;
  }
}

/** Why this process may be denied `path`: the file's (or the first closed directory's) mode and owner. */
function pathAccess(path: string): string | undefined {
  const who = `uid ${process.getuid?.() ?? '?'}`;
  const describe = (p: string, st: { mode: number; uid: number; gid: number }) =>
    `${p} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${st.uid} gid ${st.gid})`;
  try {
    return `permission denied on the pin file ${describe(path, statSync(path))} for ${who}`;
  } catch {
    // Not visible to us: name the innermost directory that we can see but not enter.
  }
  for (let dir = dirname(path), child = path; dir !== child; child = dir, dir = dirname(dir)) {
    try {
      const st = statSync(dir);
      return `permission denied on the pin file ${path}: its directory ${describe(dir, st)} is closed to ${who}`;
    } catch {
      // Keep walking up.
    }
  }
  return undefined;
}

/**
 * The kernel lacks a map type, program type, attach type or helper. Found by a cached feature probe.
 * `kernel` and `since` (the running release and the one that introduced the feature) are set where known.
 */
export class NotSupportedError extends TsbpfError {
  declare readonly code: 'NOT_SUPPORTED';
  readonly feature: string;
  readonly kernel: string | undefined;
  readonly since: string | undefined;
  constructor(feature: string, detail?: string, version: { kernel?: string; since?: string } = {}) {
    const running = version.kernel ? ` (${version.kernel})` : '';
    const needs = version.since ? `; needs ${version.since} or later` : '';
    super('NOT_SUPPORTED', `${feature} is not supported by this kernel${running}${needs}${detail ? ` (${detail})` : ''}`);
    this.feature = feature;
    this.kernel = version.kernel;
    this.since = version.since;
  }
}
