/**
 * BTF objects in the kernel (BPF_BTF_LOAD). The loader hands its marshalled
 * BTF here; probes and tests use tiny hand-made blobs.
 */
import { BpfCmd, BpfError, BtfInfoLayout, Errno, addressOf, btfLoadRaw, putPtr } from '../../syscall/index.ts';
import { FdHandle, expectKind, objectInfo, openById } from '../handle.ts';
import { cString } from '../../elf/strings.ts';
import { TsbpfError } from '../../errors.ts';
import { btfBlob } from '../../btf/marshal.ts';

/** Thrown when the kernel rejects BTF; `log` holds what its checker said. */
export class BtfLoadError extends BpfError {
  readonly log: string;
  constructor(errno: number, log: string) {
    super('BPF_BTF_LOAD', errno, { object: 'btf' }, log.trim().split('\n').slice(-3).join(' | ') || undefined);
    this.log = log;
  }
}

/** BTF of at most this many bytes is read back (vmlinux is ~6 MiB). */
const MAX_BTF_BYTES = 1 << 28;

/** A BTF object loaded into the kernel; owns its fd. */
export class BtfHandle extends FdHandle {
  constructor(fd: number) {
    super(fd);
  }

  /** Load raw BTF bytes. On rejection, retries with a log and throws BtfLoadError carrying it. */
  static load(blob: Uint8Array): BtfHandle {
    return new BtfHandle(loadBtfBlob(blob));
  }

  /** Open a kernel BTF object by id (BPF_BTF_GET_FD_BY_ID). */
  static fromId(id: number): BtfHandle {
    const fd = openById(BpfCmd.BTF_GET_FD_BY_ID, id, 'BTF');
    try {
      expectKind(fd, 'btf', `BTF id ${id}`);
    } catch (e) {
      new BtfHandle(fd).close();
      throw e;
    }
    return new BtfHandle(fd);
  }

  /** What the kernel reports: id, name, size, whether it is vmlinux or module BTF. */
  info(): BtfInfo {
    const L = BtfInfoLayout;
    const info = new Uint8Array(L.SIZE);
    const name = new Uint8Array(64);
    const d = new DataView(info.buffer);
    d.setUint32(L.name_len, name.byteLength, true);
    putPtr(new Uint32Array(info.buffer), L.name, addressOf(name));
    objectInfo(this.fd, info, this.what);
    return { id: d.getUint32(L.id, true), name: cString(name), size: d.getUint32(L.btf_size, true), kernel: d.getUint32(L.kernel_btf, true) !== 0 };
  }

  /** The raw BTF bytes the kernel holds (two BPF_OBJ_GET_INFO_BY_FD calls: the size, then the data). */
  bytes(): Uint8Array {
    const L = BtfInfoLayout;
    const size = this.info().size;
    if (size > MAX_BTF_BYTES) throw new TsbpfError('BAD_ARGUMENT', `${this.what} holds ${size} bytes of BTF, more than the ${MAX_BTF_BYTES} read`);
    const data = new Uint8Array(size);
    const info = new Uint8Array(L.SIZE);
    const d = new DataView(info.buffer);
    d.setUint32(L.btf_size, size, true);
    if (size) putPtr(new Uint32Array(info.buffer), L.btf, addressOf(data));
    objectInfo(this.fd, info, this.what);
    return data.subarray(0, Math.min(size, d.getUint32(L.btf_size, true)));
  }

  protected get what(): string {
    return 'BTF handle';
  }
}

export interface BtfInfo {
  id: number;
  /** vmlinux, a module's name, or '' for BTF loaded by a program's object. */
  name: string;
  /** Bytes of raw BTF. */
  size: number;
  /** vmlinux or module BTF (not loaded from user space). */
  kernel: boolean;
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
  // name_off -> "int", kind INT, size 4, BTF_INT_SIGNED 32 bits
  const types = new Uint32Array([1, 1 << 24, 4, (1 << 24) | 32]);
  return btfBlob(new Uint8Array(types.buffer), Buffer.from('\0int\0'));
}
