/**
 * The kprobe and uprobe PMUs (/sys/bus/event_source/devices/{k,u}probe):
 * perf events created from a symbol or path plus offset, without tracefs.
 * Older kernels only have tracefs {k,u}probe_events; we fall back to them.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { NativeBlock, perfAttr, perfEventOpen, Errno, BpfError } from '../../syscall/index.ts';
import { NotSupportedError } from '../../syscall/errors.ts';
import { AttachError } from './link.ts';
import { tracefsRoot, tracepointId } from './tracefs.ts';

export type ProbeKind = 'kprobe' | 'uprobe';

function pmu(kind: ProbeKind): { type: number; retBit: number } | undefined {
  const dir = `/sys/bus/event_source/devices/${kind}`;
  if (!existsSync(`${dir}/type`)) return undefined;
  const type = Number(readFileSync(`${dir}/type`, 'utf8').trim());
  // format/retprobe reads "config:N".
  const m = /config:(\d+)/.exec(existsSync(`${dir}/format/retprobe`) ? readFileSync(`${dir}/format/retprobe`, 'utf8') : '');
  return { type, retBit: m ? Number(m[1]) : 0 };
}

export interface ProbeTarget {
  kind: ProbeKind;
  ret: boolean;
  /** kprobe: the kernel symbol; uprobe: the binary's path. */
  target: string;
  /** Byte offset: into the function (kprobe), into the file (uprobe). */
  offset: bigint;
  pid?: number;
  /** kretprobe maxactive (legacy tracefs path only). */
  maxactive?: number;
  /** uprobe: file offset of a u16 reference counter (USDT semaphore) the kernel increments while attached. */
  refCtrOffset?: bigint;
}

let legacySeq = 0;

/** Open a perf event for the probe; returns the fd and a cleanup for legacy tracefs events. */
export function openProbe(t: ProbeTarget): { fd: number; cleanup?: () => void } {
  const p = pmu(t.kind);
  if (p && !t.maxactive) {
    const str = Buffer.from(t.target + '\0');
    const strBlock = new NativeBlock(str.byteLength);
    strBlock.bytes.set(str);
    const attr = perfAttr({
      type: p.type,
      config: (t.ret ? 1n << BigInt(p.retBit) : 0n) | ((t.refCtrOffset ?? 0n) << 32n) /* PERF_UPROBE_REF_CTR_OFFSET_SHIFT */,
      sample: 1n,
      wakeup: 1,
      config1: BigInt(strBlock.addr),
      config2: t.offset,
    });
    try {
      const pid = t.pid ?? -1;
      return { fd: perfEventOpen(attr, pid, pid >= 0 ? -1 : 0) };
    } catch (e) {
      if (e instanceof BpfError && (e.errno === Errno.ENOENT || e.errno === Errno.EINVAL)) {
        throw new AttachError('NO_SYMBOL', `${t.kind} target '${t.target}'${t.offset ? `+0x${t.offset.toString(16)}` : ''} not found: ${e.code}`);
      }
      throw e;
    } finally {
      attr.free();
      strBlock.free();
    }
  }
  return openLegacyProbe(t);
}

/** tracefs kprobe_events / uprobe_events: create a named event, then open it as a tracepoint. */
function openLegacyProbe(t: ProbeTarget): { fd: number; cleanup: () => void } {
  let root: string;
  try {
    root = tracefsRoot();
  } catch {
    throw new NotSupportedError(`${t.kind}s`, `no ${t.kind} PMU and no tracefs`);
  }
  const file = `${root}/${t.kind}_events`;
  if (!existsSync(file)) throw new NotSupportedError(`${t.kind}s`, `this kernel has neither the ${t.kind} PMU nor ${file} (CONFIG_${t.kind.toUpperCase()}S is off)`);
  const event = `tsbpf_${process.pid}_${++legacySeq}`;
  const where = t.kind === 'kprobe' ? `${t.target}${t.offset ? `+${t.offset}` : ''}` : `${t.target}:0x${t.offset.toString(16)}${t.refCtrOffset ? `(0x${t.refCtrOffset.toString(16)})` : ''}`;
  const probe = `${t.ret ? 'r' : 'p'}${t.ret && t.maxactive ? t.maxactive : ''}:${t.kind}s/${event} ${where}`;
  try {
    appendFileSync(file, probe + '\n');
  } catch (e) {
    throw new AttachError('NO_SYMBOL', `cannot create ${t.kind} '${where}': ${(e as Error).message}`);
  }
  const cleanup = () => {
    try {
      appendFileSync(file, `-:${t.kind}s/${event}\n`);
    } catch {
      // Already gone.
    }
  };
  try {
    const id = tracepointId(`${t.kind}s`, event);
    const attr = perfAttr({ type: 2 /* TRACEPOINT */, config: BigInt(id), sample: 1n, wakeup: 1 });
    try {
      const pid = t.pid ?? -1;
      return { fd: perfEventOpen(attr, pid, pid >= 0 ? -1 : 0), cleanup };
    } finally {
      attr.free();
    }
  } catch (e) {
    cleanup();
    throw e;
  }
}
