/**
 * BTF objects in the kernel (BPF_BTF_LOAD). The loader hands its marshalled
 * BTF here; probes and tests use tiny hand-made blobs.
 */
import { BpfCmd, BpfError, BtfLoadAttr, Errno, addressOf, adoptFd, bpfRaw, coldAttr, putPtr } from '../../syscall/index.ts';
import { FdHandle } from '../handle.ts';

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
  const attempt = (log?: Uint8Array): number => {
    const a = coldAttr(BtfLoadAttr.SIZE);
    putPtr(a.u32, BtfLoadAttr.btf, addressOf(blob));
    a.u32[BtfLoadAttr.btf_size >> 2] = blob.byteLength;
    if (log) {
      putPtr(a.u32, BtfLoadAttr.btf_log_buf, addressOf(log));
      a.u32[BtfLoadAttr.btf_log_size >> 2] = log.byteLength;
      a.u32[BtfLoadAttr.btf_log_level >> 2] = 1;
    }
    return bpfRaw(BpfCmd.BTF_LOAD, a, BtfLoadAttr.SIZE);
  };
  const r = attempt();
  if (r >= 0) return adoptFd(r);
  if (r === -Errno.EPERM) throw new BpfError('BPF_BTF_LOAD', Errno.EPERM, { object: 'btf' });
  const log = new Uint8Array(1 << 20);
  const r2 = attempt(log);
  if (r2 >= 0) return adoptFd(r2); // accepted the second time: keep it
  const end = log.indexOf(0);
  throw new BtfLoadError(-r2, new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)));
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
