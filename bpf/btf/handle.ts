/**
 * BTF objects in the kernel (BPF_BTF_LOAD). The loader hands its marshalled
 * BTF here; probes and tests use tiny hand-made blobs.
 */
import { BpfError, Errno, btfLoadRaw } from '../../syscall/index.ts';
import { FdHandle } from '../handle.ts';
import { cString } from '../../elf/strings.ts';

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
