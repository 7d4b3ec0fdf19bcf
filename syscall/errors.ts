import { TsbpfError } from '../errors.ts';
import { missingBpfCaps, type CapName } from './caps.ts';
import { Errno, errnoName } from './errno.ts';

export interface BpfErrorContext {
  /** Name of the map, program or link the call was about. */
  object?: string;
  /** Capabilities besides CAP_BPF the operation needs (CAP_PERFMON for tracing, CAP_NET_ADMIN for networking). */
  caps?: CapName[];
  /** A hint for this errno that only the caller knows (e.g. "the map is full"). */
  hints?: Partial<Record<string, string>>;
}

/**
 * A failed system call. `code` is the errno name (`'ENOENT'`), `errno` its
 * number, `command` the bpf command or syscall (`'BPF_MAP_UPDATE_ELEM'`).
 */
export class BpfError extends TsbpfError {
  readonly errno: number;
  readonly command: string;
  readonly object: string | undefined;
  readonly hint: string | undefined;

  constructor(command: string, errno: number, ctx: BpfErrorContext = {}, detail?: string) {
    const code = errnoName(errno);
    const hint = ctx.hints?.[code] ?? defaultHint(errno, ctx);
    const what = ctx.object ? ` on '${ctx.object}'` : '';
    super(code, `${command}${what} failed: ${code}${detail ? ` (${detail})` : ''}${hint ? `: ${hint}` : ''}`);
    this.errno = errno;
    this.command = command;
    this.object = ctx.object;
    this.hint = hint;
  }
}

function defaultHint(errno: number, ctx: BpfErrorContext): string | undefined {
  switch (errno) {
    case Errno.EPERM: {
      const missing = missingBpfCaps(ctx.caps);
      if (missing.length) return `missing capability ${missing.map((c) => 'CAP_' + c).join(', ')} (or run as root with CAP_SYS_ADMIN)`;
      return 'permission denied although the capabilities are present: check lockdown, kernel.unprivileged_bpf_disabled, or RLIMIT_MEMLOCK on kernels before 5.11';
    }
    case Errno.ENOMEM:
      return 'out of memory for the kernel object; on kernels before 5.11 raise RLIMIT_MEMLOCK';
    case Errno.ENOSYS:
      return 'the kernel has no bpf(2) (CONFIG_BPF_SYSCALL is off)';
    default:
      return undefined;
  }
}

/** The kernel lacks a map type, program type, attach type or helper. Found by a cached feature probe. */
export class NotSupportedError extends TsbpfError {
  readonly feature: string;
  constructor(feature: string, detail?: string) {
    super('NOT_SUPPORTED', `${feature} is not supported by this kernel${detail ? ` (${detail})` : ''}`);
    this.feature = feature;
  }
}
