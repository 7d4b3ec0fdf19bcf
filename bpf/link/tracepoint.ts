/** tracepoint/<category>/<name>: a perf event on the tracepoint's id, then a link on it. */
import { perfAttr, perfEventOpen, PerfType } from '../../syscall/index.ts';
import { TsbpfError } from '../../lib/errors.ts';
import type { Program } from '../program.ts';
import { ProgType, progTypeName } from '../prog-types.ts';
import { attachToPerfEvent } from './perf-event.ts';
import type { Link } from './link.ts';
import { tracepointId } from './tracefs.ts';

export function attachTracepoint(prog: Program, category: string, name: string, opts: { cookie?: bigint } = {}): Link {
  if (prog.type !== ProgType.TRACEPOINT && prog.type !== ProgType.PERF_EVENT && prog.type !== ProgType.KPROBE) {
    throw new TsbpfError('WRONG_PROGRAM_TYPE', `cannot attach ${progTypeName(prog.type)} program '${prog.name}' to tracepoint ${category}/${name}: it needs a TRACEPOINT program`);
  }
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
