/**
 * BPF iterators: a link on the iterator target, then BPF_ITER_CREATE for an
 * fd whose read() runs the program and returns what it printed.
 */
import { readSync } from 'node:fs';
import { closeFd, iterCreate } from '../../syscall/index.ts';
import { TsbpfError } from '../../errors.ts';
import { BpfError } from '../../syscall/errors.ts';
import { kernelPredates, notSupported } from '../features.ts';
import type { BpfMap } from '../maps/map.ts';
import type { Program } from '../programs/program.ts';
import { AttachType } from '../programs/types.ts';
import { FdLink, linkCreate } from './link.ts';

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
    const fd = iterCreate(this.fd, { object: this.description });
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
  let fd: number;
  try {
    fd = linkCreate(
      { progFd: prog.fd, targetFd: 0, attachType: AttachType.TRACE_ITER, target: { kind: 'iter', mapFd: opts.map?.fd, tid: opts.tid, pid: opts.pid } },
      { object: prog.name },
    );
  } catch (e) {
    // Before 6.1 bpf_iter_link_info holds only a map fd: a tid or pid lands in its tail, which the kernel refuses with E2BIG.
    if (e instanceof BpfError && e.code === 'E2BIG' && (opts.tid || opts.pid) && kernelPredates('task iterator filters')) {
      throw notSupported('task iterator filters', `iterating only ${opts.tid ? `thread ${opts.tid}` : `process ${opts.pid}`}`);
    }
    throw e;
  }
  return new IterLink(fd, `iter ${prog.sectionName ?? prog.name}`);
}
