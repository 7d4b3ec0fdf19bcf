/** tracepoint/<category>/<name>: a perf event on the tracepoint's id, then a link on it. */
import { perfAttr, perfEventOpen, PerfType } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { ProgType } from '../programs/types.ts';
import { attachToPerfEvent } from './perf-event.ts';
import type { Link } from './link.ts';
import { tracepointId } from './tracefs.ts';
import { requireProgType } from './prog-check.ts';

export function attachTracepoint(prog: Program, category: string, name: string, opts: { cookie?: bigint } = {}): Link {
  requireProgType(prog, [ProgType.TRACEPOINT, ProgType.PERF_EVENT, ProgType.KPROBE], `tracepoint ${category}/${name}`, 'TRACEPOINT');
  const id = tracepointId(category, name);
  const attr = perfAttr({ type: PerfType.TRACEPOINT, config: BigInt(id), sample: 1n, wakeup: 1 });
  let fd: number;
  try {
    fd = perfEventOpen(attr, -1, 0);
  } finally {
    attr.free();
  }
  return attachToPerfEvent(prog, fd, `tracepoint ${category}/${name} -> ${prog.name}`, opts.cookie);
}
