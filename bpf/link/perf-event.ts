/**
 * Programs on perf events (tracepoints, kprobes, uprobes, sampling events):
 * a BPF link on the perf event fd where the kernel has them (5.15+), the
 * PERF_EVENT_IOC_SET_BPF ioctl otherwise.
 */
import { Errno, PerfIoctl, PERF_FLAG_FD_CLOEXEC, closeFd, ioctl, onlineCpus, perfAttr, perfEventOpen, PerfAttrFlag, PerfType, PerfSwConfig } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { AttachType } from '../programs/types.ts';
import { FdLink, FdsLink, Link, MultiLink } from './link.ts';
import { linkCreateRaw } from '../../syscall/index.ts';
import { BpfError } from '../../syscall/errors.ts';

/** Attach `prog` to an open perf event; the link takes ownership of `perfFd`. */
export function attachToPerfEvent(prog: Program, perfFd: number, description: string, cookie?: bigint): Link {
  try {
    const r = linkCreateRaw({
      progFd: prog.fd,
      targetFd: perfFd,
      attachType: AttachType.PERF_EVENT,
      target: { kind: 'perf_event', cookie },
    });
    if (r >= 0) return new FdLink(r, description, [perfFd]);
    if (r !== -Errno.EINVAL && r !== -Errno.EOPNOTSUPP && r !== -Errno.ENOTSUPP) {
      throw new BpfError('BPF_LINK_CREATE', -r, { object: description, caps: ['PERFMON'] });
    }
    // Kernels without perf links: the ioctl attaches, closing the perf fd detaches.
    ioctl(perfFd, PerfIoctl.SET_BPF, prog.fd, 'PERF_EVENT_IOC_SET_BPF');
    ioctl(perfFd, PerfIoctl.ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
    return new FdsLink([perfFd], description);
  } catch (e) {
    closeFd(perfFd);
    throw e;
  }
}

export interface SamplingOptions {
  /** Samples per second per CPU (default 99), or give `period`. */
  frequency?: number;
  period?: bigint;
  /** Software event config (default CPU_CLOCK). */
  config?: number;
  type?: number;
}

/** A perf_event program sampling on every online CPU. */
export function attachPerfSampling(prog: Program, opts: SamplingOptions = {}): MultiLink {
  const links: Link[] = [];
  try {
    for (const cpu of onlineCpus()) {
      const attr = perfAttr({
        type: opts.type ?? PerfType.SOFTWARE,
        config: BigInt(opts.config ?? PerfSwConfig.CPU_CLOCK),
        sample: opts.period ?? BigInt(opts.frequency ?? 99),
        flags: opts.period ? 0n : PerfAttrFlag.FREQ,
      });
      let fd: number;
      try {
        fd = perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
      } finally {
        attr.free();
      }
      links.push(attachToPerfEvent(prog, fd, `perf_event cpu ${cpu}`));
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return new MultiLink(links, `perf_event sampling (${links.length} CPUs)`);
}
