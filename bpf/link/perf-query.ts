/**
 * Programs behind perf events and raw tracepoints held open by any process,
 * found as bpftool's `perf show` finds them: BPF_TASK_FD_QUERY on every fd
 * under /proc/PID/fd (fds that hold no program answer an error and are skipped).
 */
import { readdirSync } from 'node:fs';
import { Errno, taskFdQueryRaw, BpfError, type TaskFdInfo } from '../../syscall/index.ts';

/** BPF_FD_TYPE_* names, as bpftool prints them. */
export const FD_TYPE_NAMES = ['raw_tracepoint', 'tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe'] as const;

export interface PerfAttachment extends TaskFdInfo {
  pid: number;
  fd: number;
}

const digits = (s: string) => /^[0-9]+$/.test(s);

/**
 * Whether this kernel and this process may query task fds: a query on a plain
 * directory fd answers ENOTSUPP where it can (bpftool's probe); EPERM etc. otherwise.
 */
function checkSupport(): void {
  const r = taskFdQueryRaw(process.pid, 0);
  if (typeof r === 'number' && r !== -Errno.ENOTSUPP && r !== -Errno.EBADF && r !== -Errno.ENOENT) {
    throw new BpfError('BPF_TASK_FD_QUERY', -r, { object: 'perf events', hints: { EPERM: 'needs root (CAP_SYS_ADMIN)', EINVAL: 'this kernel has no BPF_TASK_FD_QUERY (4.18+)' } });
  }
}

/** Every (pid, fd) with a BPF program behind it, in /proc's order. */
export function perfAttachments(): PerfAttachment[] {
  checkSupport();
  const out: PerfAttachment[] = [];
  for (const p of readdirSync('/proc')) {
    if (!digits(p)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // exited, or a kernel thread
    }
    const pid = Number(p);
    for (const f of fds) {
      if (!digits(f)) continue;
      const r = taskFdQueryRaw(pid, Number(f));
      if (typeof r === 'number') continue;
      out.push({ pid, fd: Number(f), ...r });
    }
  }
  return out;
}
