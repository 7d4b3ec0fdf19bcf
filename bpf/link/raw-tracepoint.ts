/**
 * raw_tracepoint/<name> (BPF_RAW_TRACEPOINT_OPEN with a name), and the BTF
 * tracing kinds whose target is fixed at load time: tp_btf, fentry, fexit,
 * fmod_ret, lsm, freplace (the same command with no name).
 */
import { rawTracepointOpen } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { ProgType } from '../programs/types.ts';
import { FdLink } from './link.ts';
import { requireProgType } from './prog-check.ts';

export function attachRawTracepoint(prog: Program, name: string): FdLink {
  requireProgType(prog, [ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE], `raw tracepoint ${name}`);
  const fd = rawTracepointOpen(prog.fd, name, { object: `raw_tracepoint ${name}`, caps: ['PERFMON'], hints: { ENOENT: `there is no raw tracepoint '${name}'` } });
  return new FdLink(fd, `raw_tracepoint ${name} -> ${prog.name}`);
}

/** tp_btf, fentry, fexit, fmod_ret, lsm, freplace: the target was chosen at load (attach_btf_id). */
export function attachTracing(prog: Program): FdLink {
  requireProgType(prog, [ProgType.TRACING, ProgType.LSM, ProgType.EXT], 'its BTF target', 'BTF tracing (TRACING, LSM or EXT)');
  const fd = rawTracepointOpen(prog.fd, undefined, { object: prog.name, caps: ['PERFMON'] });
  return new FdLink(fd, `${prog.sectionName ?? 'tracing'} -> ${prog.name}`);
}
