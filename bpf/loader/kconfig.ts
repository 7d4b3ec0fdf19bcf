/**
 * Values for `.kconfig` externs: LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE,
 * LINUX_HAS_SYSCALL_WRAPPER and CONFIG_* from /proc/config.gz or
 * /boot/config-$(uname -r), the way libbpf fills them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../../btf/btf.ts';
import { TsbpfError } from '../../errors.ts';
import { kernelVersion } from '../../syscall/uname.ts';

let cached: Map<string, string> | undefined;

/** CONFIG_* values of the running kernel ('y', 'm', '"string"', '123'); empty when no config is readable. */
export function kernelConfig(): Map<string, string> {
  if (cached) return cached;
  const m = new Map<string, string>();
  let text = '';
  try {
    if (existsSync('/proc/config.gz')) text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
    else if (existsSync(`/boot/config-${release()}`)) text = readFileSync(`/boot/config-${release()}`, 'utf8');
  } catch {
    text = '';
  }
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('CONFIG_') && eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  cached = m;
  return m;
}

/** LINUX_KERNEL_VERSION as libbpf computes it: KERNEL_VERSION(a, b, min(c, 255)). */
export function linuxKernelVersionCode(): number {
  const [a, b, c] = kernelVersion();
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/**
 * Write the value of kconfig extern `name` (of BTF type `typeId`) into `out`.
 * Returns false when the kernel has no value for it (a weak extern stays zero).
 */
export function fillKconfig(name: string, btf: Btf, typeId: number, out: Uint8Array, extra: Record<string, string> = {}): boolean {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let raw: string | undefined = extra[name];
  if (raw === undefined) {
    if (name === 'LINUX_KERNEL_VERSION') raw = String(linuxKernelVersionCode());
    else if (name === 'LINUX_HAS_BPF_COOKIE') raw = 'y';
    else if (name === 'LINUX_HAS_SYSCALL_WRAPPER') raw = 'y';
    else raw = kernelConfig().get(name);
  }
  if (raw === undefined) return false;
  const t = btf.resolve(typeId);
  const bad = (why: string) => new TsbpfError('BAD_KCONFIG', `kconfig extern '${name}' = ${raw}: ${why}`);
  if (t.kind === 'int' && t.encoding === 'bool') {
    if (raw !== 'y' && raw !== 'n') throw bad('not a bool');
    out[0] = raw === 'y' ? 1 : 0;
    return true;
  }
  if (t.kind === 'enum') {
    // libbpf's enum libbpf_tristate: TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2.
    const tri: Record<string, number> = { n: 0, y: 1, m: 2 };
    if (!(raw in tri)) throw bad('not a tristate');
    v.setUint32(0, tri[raw]!, true);
    return true;
  }
  if (t.kind === 'int' && t.size === 1 && t.encoding === 'char' && /^[ynm]$/.test(raw)) {
    out[0] = raw.charCodeAt(0);
    return true;
  }
  if (t.kind === 'array') {
    if (!raw.startsWith('"')) throw bad('not a string');
    const s = Buffer.from(raw.slice(1, -1));
    out.fill(0);
    out.set(s.subarray(0, out.byteLength - 1));
    return true;
  }
  if (t.kind === 'int') {
    let n: bigint;
    try {
      n = raw === 'y' ? 1n : raw === 'n' ? 0n : BigInt(raw);
    } catch {
      throw bad('not a number');
    }
    switch (t.size) {
      case 1:
        v.setUint8(0, Number(BigInt.asUintN(8, n)));
        break;
      case 2:
        v.setUint16(0, Number(BigInt.asUintN(16, n)), true);
        break;
      case 4:
        v.setUint32(0, Number(BigInt.asUintN(32, n)), true);
        break;
      case 8:
        v.setBigUint64(0, BigInt.asUintN(64, n), true);
        break;
      default:
        throw bad(`unsupported integer size ${t.size}`);
    }
    return true;
  }
  throw bad(`unsupported extern type ${t.kind}`);
}
