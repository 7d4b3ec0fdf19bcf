/**
 * BTF objects in the kernel (BPF_BTF_LOAD). The loader hands its marshalled
 * BTF here; probes and tests use tiny hand-made blobs. And back: the BTF of a
 * kernel BTF id (BTF_GET_FD_BY_ID + OBJ_GET_INFO_BY_FD), for maps opened by
 * pin or id.
 */
import { BpfCmd, BpfError, Errno, addressOf, btfLoadRaw, closeFd, putPtr } from '../../syscall/index.ts';
import { FdHandle, objectInfo, openById } from '../handle.ts';
import { cString } from '../../elf/strings.ts';
import { Btf } from '../../btf/btf.ts';
import { kernelBtf } from './kernel.ts';

/** Thrown when the kernel rejects BTF; `log` holds what its checker said. */
export class BtfLoadError extends BpfError {
  readonly log: string;
  constructor(errno: number, log: string) {
    super('BPF_BTF_LOAD', errno, { object: 'btf' }, log.trim().split('\n').slice(-3).join(' | ') || undefined);
    this.log = log;
  }
}

/** A BTF object loaded into the kernel; owns its fd. */
export class BtfHandle extends FdHandle {
  constructor(fd: number) {
    super(fd);
  }

  /** Load raw BTF bytes. On rejection, retries with a log and throws BtfLoadError carrying it. */
  static load(blob: Uint8Array): BtfHandle {
    return new BtfHandle(loadBtfBlob(blob));
  }

  protected get what(): string {
    return 'BTF handle';
  }
}

export function loadBtfBlob(blob: Uint8Array): number {
  const r = btfLoadRaw(blob);
  if (r >= 0) return r;
  if (r === -Errno.EPERM) throw new BpfError('BPF_BTF_LOAD', Errno.EPERM, { object: 'btf' });
  const log = new Uint8Array(1 << 20);
  const r2 = btfLoadRaw(blob, log);
  if (r2 >= 0) return r2; // accepted the second time: keep it
  throw new BtfLoadError(-r2, cString(log));
}

/** The smallest useful BTF: type 1 is `int` (4 bytes, signed). For probes and tests. */
export function tinyIntBtf(): Uint8Array {
  const strings = Buffer.from('\0int\0');
  const types = new Uint8Array(16);
  const tv = new DataView(types.buffer);
  tv.setUint32(0, 1, true); // name_off -> "int"
  tv.setUint32(4, 1 << 24, true); // kind INT
  tv.setUint32(8, 4, true); // size
  tv.setUint32(12, (1 << 24) | 32, true); // BTF_INT_SIGNED, 32 bits
  const hdr = new Uint8Array(24);
  const hv = new DataView(hdr.buffer);
  hv.setUint16(0, 0xeb9f, true);
  hv.setUint8(2, 1);
  hv.setUint32(4, 24, true);
  hv.setUint32(8, 0, true);
  hv.setUint32(12, types.length, true);
  hv.setUint32(16, types.length, true);
  hv.setUint32(20, strings.length, true);
  return Buffer.concat([hdr, types, strings]);
}

/** struct bpf_btf_info: u64 btf, u32 btf_size, u32 id, u64 name, u32 name_len, u32 kernel_btf. */
const BTF_INFO_SIZE = 32;
/** Larger than any BTF the kernel holds (vmlinux is ~6 MB): the size comes from the kernel, still bound the allocation. */
const MAX_BTF_BYTES = 1 << 28;

/** The raw bytes of kernel BTF object `id`, and whether it is the kernel's own (vmlinux or a module). */
export function btfBytesById(id: number): { bytes: Uint8Array; kernelBtf: boolean } {
  const fd = openById(BpfCmd.BTF_GET_FD_BY_ID, id, 'BTF');
  try {
    const info = new Uint8Array(BTF_INFO_SIZE);
    objectInfo(fd, info, `BTF id ${id}`);
    const dv = new DataView(info.buffer);
    const size = dv.getUint32(8, true);
    if (size > MAX_BTF_BYTES) throw new BpfError('BPF_OBJ_GET_INFO_BY_FD', Errno.E2BIG, { object: `BTF id ${id}` }, `${size} bytes of BTF`);
    // The kernel writes btf_size bytes at the pointer: the buffer is exactly that.
    const bytes = new Uint8Array(Math.max(1, size));
    info.fill(0);
    putPtr(new Uint32Array(info.buffer), 0, addressOf(bytes));
    dv.setUint32(8, size, true);
    objectInfo(fd, info, `BTF id ${id}`);
    return { bytes: bytes.subarray(0, Math.min(size, dv.getUint32(8, true))), kernelBtf: dv.getUint32(28, true) !== 0 };
  } finally {
    closeFd(fd);
  }
}

/** Parse kernel BTF object `id` (module BTF on top of vmlinux). */
export function btfById(id: number): Btf {
  const { bytes, kernelBtf: kern } = btfBytesById(id);
  // vmlinux itself is standalone; module BTF is split on vmlinux.
  if (kern) {
    try {
      return Btf.parse(bytes);
    } catch {
      return Btf.parse(bytes, { base: kernelBtf() });
    }
  }
  return Btf.parse(bytes);
}
