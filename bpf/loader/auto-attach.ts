/**
 * Auto-attach, like a libbpf skeleton's attach: every program whose SEC()
 * names its hook completely (tracepoint/cat/name, raw_tp/name, kprobe/func,
 * ksyscall/name, uprobe/path:func, usdt/path:provider:name, tp_btf,
 * fentry/fexit/lsm, iter) is attached;
 * programs whose hook needs a target the section cannot name (xdp, tc,
 * cgroup, socket) are left alone.
 */
import type { ObjProgramSpec } from './collection-spec.ts';
import type { BpfMap } from '../maps/map.ts';
import type { Program } from '../programs/program.ts';
import { TsbpfError } from '../../errors.ts';
import { attachIter } from '../link/iter.ts';
import { attachKprobe, attachKprobeMulti, attachKsyscall } from '../link/kprobe.ts';
import type { Link } from '../link/link.ts';
import { attachRawTracepoint, attachTracing } from '../link/raw-tracepoint.ts';
import { attachTracepoint } from '../link/tracepoint.ts';
import { attachUprobe } from '../link/uprobe.ts';
import { attachUsdt } from '../link/usdt.ts';

/** Attach one program as its section says; undefined when the section names no complete hook. */
/** `coll`: the maps of the collection `prog` was loaded in (USDT programs write their specs there). */
export function autoAttach(prog: Program, spec: ObjProgramSpec, coll?: { readonly maps: Readonly<Record<string, BpfMap>> }): Link | undefined {
  const to = spec.attachTo;
  const sec = spec.sectionName;
  switch (spec.autoAttach) {
    case 'tracepoint': {
      const i = to.indexOf('/');
      if (i <= 0) return undefined;
      return attachTracepoint(prog, to.slice(0, i), to.slice(i + 1));
    }
    case 'raw_tracepoint':
      return to ? attachRawTracepoint(prog, to) : undefined;
    case 'tracing':
    case 'lsm':
    case 'freplace':
      return attachTracing(prog);
    case 'kprobe':
    case 'kretprobe': {
      if (!to) return undefined;
      const m = /^([^+]+)(?:\+(\d+|0x[0-9a-f]+))?$/i.exec(to);
      if (!m) throw new TsbpfError('BAD_SECTION', `section '${sec}': expected kprobe/<function>[+<offset>]`);
      return attachKprobe(prog, m[1]!, { retprobe: spec.autoAttach === 'kretprobe', offset: m[2] ? Number(m[2]) : 0 });
    }
    case 'ksyscall':
    case 'kretsyscall':
      return to ? attachKsyscall(prog, to, { retprobe: spec.autoAttach === 'kretsyscall' }) : undefined;
    case 'kprobe.multi':
    case 'kretprobe.multi':
      return to ? attachKprobeMulti(prog, to, { retprobe: spec.autoAttach === 'kretprobe.multi' }) : undefined;
    case 'uprobe':
    case 'uretprobe': {
      // uprobe/<path>:<function>[+<offset>]
      const m = /^(.+):([^:+]+)(?:\+(\d+|0x[0-9a-f]+))?$/i.exec(to);
      if (!m) return undefined;
      return attachUprobe(prog, m[1]!, m[2]!, { retprobe: spec.autoAttach === 'uretprobe', offset: m[3] ? Number(m[3]) : 0 });
    }
    case 'usdt': {
      // usdt/<path>:<provider>:<name>; the specs go into the collection's __bpf_usdt_specs map.
      const m = /^(.+):([^:]+):([^:]+)$/.exec(to);
      if (!m) return undefined;
      if (!coll) throw new TsbpfError('NO_COLLECTION', `section '${sec}': attaching a USDT program needs the Collection it was loaded in`);
      return attachUsdt(coll, prog, m[1]!, m[2]!, m[3]!);
    }
    case 'iter':
      return attachIter(prog);
    default:
      return undefined;
  }
}
