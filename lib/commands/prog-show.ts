/**
 * What `prog show` prints of one program, field for field as bpftool 7.x
 * does (plain text and JSON keys), and the selectors every prog verb takes.
 */
import { progIds, Program, type ProgInfo } from '../../bpf/programs/program.ts';
import { programImage } from '../../bpf/programs/dump.ts';
import { btfById } from '../../bpf/btf/objects.ts';
import { fdInfo } from '../../bpf/fdinfo.ts';
import { Clock, clockNs } from '../../syscall/clock.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError } from './types.ts';
import { parseUint } from './args.ts';

/** A program's info plus what bpftool adds from its fd. */
export interface ProgRow {
  info: ProgInfo;
  /** The full name: BTF's function name when the kernel's 16-byte name cut it short. */
  name: string;
  /** memlock from /proc/self/fdinfo, as the kernel prints it. */
  memlock: string | undefined;
}

/** bpftool's get_prog_full_name: a 15-byte name may be the start of a longer BTF function name. */
function fullName(p: Program, info: ProgInfo): string {
  if (info.name.length < 15 || !info.btfId) return info.name;
  try {
    const img = programImage(p.fd);
    if (img.funcInfo.byteLength < 8) return info.name;
    const btf = btfById(img.btfId);
    const typeId = new DataView(img.funcInfo.buffer, img.funcInfo.byteOffset).getUint32(4, true);
    const name = btf.typeById(typeId).name;
    return name.startsWith(info.name) ? name : info.name;
  } catch {
    return info.name;
  }
}

export function progRow(p: Program): ProgRow {
  const info = p.info();
  return { info, name: fullName(p, info), memlock: fdInfo(p.fd).get('memlock') };
}

/** load_time (ns since boot) as bpftool turns it into wall-clock seconds. */
export function loadedAt(loadTimeNs: bigint): number {
  // Boot epoch to the nanosecond, so two runs print the same second (bpftool
  // truncates both clocks to seconds first and can be one second apart).
  const boot = clockNs(Clock.REALTIME) - clockNs(Clock.BOOTTIME);
  return Number((boot + loadTimeNs) / 1_000_000_000n);
}

/** strftime("%FT%T%z") in local time. */
function isoLocal(secs: number): string {
  const d = new Date(secs * 1000);
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const tz = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${tz < 0 ? '-' : '+'}${p(Math.trunc(tz / 60))}${p(tz % 60)}`;
}

const typeStr = (i: ProgInfo) => i.typeName.toLowerCase();

export function progPlain(r: ProgRow): string {
  const i = r.info;
  let s = `${i.id}: ${typeStr(i)}  ${i.name ? `name ${r.name}  ` : ''}tag ${i.tag}${i.gplCompatible ? '  gpl' : ''}`;
  if (i.runTimeNs) s += ` run_time_ns ${i.runTimeNs} run_cnt ${i.runCount}`;
  if (i.recursionMisses) s += ` recursion_misses ${i.recursionMisses}`;
  s += '\n';
  if (i.loadTime) s += `\tloaded_at ${isoLocal(loadedAt(i.loadTime))}  uid ${i.createdByUid}\n`;
  s += `\txlated ${i.xlatedLen}B`;
  s += i.jitedLen ? `  jited ${i.jitedLen}B` : '  not jited';
  if (r.memlock !== undefined) s += `  memlock ${r.memlock}B`;
  if (i.mapIds.length) s += `  map_ids ${i.mapIds.join(',')}`;
  if (i.btfId) s += `\n\tbtf_id ${i.btfId}`;
  return s;
}

export function progJson(r: ProgRow): Record<string, unknown> {
  const i = r.info;
  const o: Record<string, unknown> = { id: i.id, type: typeStr(i) };
  if (i.name) o.name = r.name;
  o.tag = i.tag;
  o.gpl_compatible = i.gplCompatible;
  if (i.runTimeNs) {
    o.run_time_ns = Number(i.runTimeNs);
    o.run_cnt = Number(i.runCount);
  }
  if (i.recursionMisses) o.recursion_misses = Number(i.recursionMisses);
  if (i.loadTime) {
    o.loaded_at = loadedAt(i.loadTime);
    o.uid = i.createdByUid;
  }
  o.bytes_xlated = i.xlatedLen;
  o.jited = i.jitedLen > 0;
  if (i.jitedLen) o.bytes_jited = i.jitedLen;
  if (r.memlock !== undefined) o.bytes_memlock = Number(r.memlock);
  if (i.mapIds.length) o.map_ids = i.mapIds;
  if (i.btfId) o.btf_id = i.btfId;
  // tsbpf's additions (bpftool has no such keys).
  o.verified_insns = i.verifiedInsns;
  return o;
}

/** Open every program on the system in turn (skipping ones gone since listing); `fn` sees each open. */
export function forEachProgram(fn: (p: Program) => void): void {
  for (const id of progIds()) {
    let p: Program;
    try {
      p = Program.fromId(id);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') continue;
      throw e;
    }
    try {
      fn(p);
    } finally {
      p.close();
    }
  }
}

/** `id N`, `pinned PATH`, `tag T` or `name N`: run `fn` with each program they name; how many there were. */
export function withSelectedPrograms(words: string[], fn: (p: Program) => void): number {
  const [how, what] = words as [string, string | undefined];
  if (what === undefined) throw new UsageError(`'${how}' needs a value`);
  switch (how) {
    case 'id': {
      using p = Program.fromId(parseUint('id', what, 0xffffffff, 1));
      fn(p);
      return 1;
    }
    case 'pinned': {
      using p = Program.fromPin(what);
      fn(p);
      return 1;
    }
    case 'tag': {
      if (!/^[0-9a-f]{16}$/i.test(what)) throw new UsageError(`a tag is 16 hex digits, got '${what}'`);
      let n = 0;
      forEachProgram((p) => {
        if (p.info().tag === what.toLowerCase()) (n++, fn(p));
      });
      return n;
    }
    case 'name': {
      let n = 0;
      forEachProgram((p) => {
        if (progRow(p).name === what) (n++, fn(p));
      });
      return n;
    }
    default:
      throw new UsageError(`expected 'id N', 'pinned PATH', 'tag T' or 'name N', got '${how}'`);
  }
}

/** The same as withSelectedPrograms, failing with ENOENT when nothing matched. */
export function eachSelectedProgram(words: string[], fn: (p: Program) => void): void {
  if (!withSelectedPrograms(words, fn)) throw new TsbpfError('ENOENT', `no program with ${words.join(' ')}`);
}
