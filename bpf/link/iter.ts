/**
 * BPF iterators: a link on the iterator target, then BPF_ITER_CREATE for an
 * fd whose read() runs the program and returns what it printed.
 */
import { readSync } from 'node:fs';
import { BpfCmd, IterCreateAttr, adoptFd, bpfCall, closeFd, coldAttr } from '../../syscall/index.ts';
import { TsbpfError } from '../../errors.ts';
import type { BpfMap } from '../maps/map.ts';
import type { Program } from '../programs/program.ts';
import { AttachType } from '../programs/types.ts';
import { FdLink, linkCreate } from './link.ts';
import { NativeBlock } from '../../syscall/memory.ts';

export interface IterOptions {
  /** For map element iterators (iter/bpf_map_elem, iter/bpf_sk_storage_map...). */
  map?: BpfMap;
  /** For task iterators: only this thread / process. */
  tid?: number;
  pid?: number;
}

export class IterLink extends FdLink {
  /** Run the iterator once and return everything it wrote. */
  read(): Buffer {
    const a = coldAttr(IterCreateAttr.SIZE);
    a.u32[IterCreateAttr.link_fd >> 2] = this.fd;
    const fd = adoptFd(bpfCall(BpfCmd.ITER_CREATE, a, IterCreateAttr.SIZE, { object: this.description }));
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
      }
    } finally {
      closeFd(fd);
    }
    return Buffer.concat(chunks);
  }

  /** The output as text. */
  text(): string {
    return this.read().toString('utf8');
  }
}

export function attachIter(prog: Program, opts: IterOptions = {}): IterLink {
  if (prog.attachType !== AttachType.TRACE_ITER) throw new TsbpfError('WRONG_PROGRAM_TYPE', `program '${prog.name}' is not an iterator (SEC("iter/..."))`);
  // union bpf_iter_link_info: map.map_fd at 0; task: tid at 4, pid at 8 (after the cgroup part's order/fd/id).
  let info: NativeBlock | undefined;
  if (opts.map || opts.tid || opts.pid) {
    info = new NativeBlock(16);
    if (opts.map) info.u32[0] = opts.map.fd;
    if (opts.tid) info.u32[0] = opts.tid;
    if (opts.pid) info.u32[1] = opts.pid;
  }
  try {
    const fd = linkCreate(
      {
        progFd: prog.fd,
        targetFd: 0,
        attachType: AttachType.TRACE_ITER,
        extra: info
          ? (u, v) => {
              v.setBigUint64(16, BigInt(info!.addr), true);
              u[24 >> 2] = info!.size;
            }
          : undefined,
      },
      { object: prog.name },
    );
    return new IterLink(fd, `iter ${prog.sectionName ?? prog.name}`);
  } finally {
    info?.free();
  }
}
