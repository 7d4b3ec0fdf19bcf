/**
 * BTF objects loaded in the kernel, by id (what `bpftool btf show` lists):
 * their ids, what BPF_OBJ_GET_INFO_BY_FD says about each (size, name, whether
 * the kernel's own), and their bytes parsed into a Btf (for formatting map
 * values with the types their map was created with).
 */
import { addressOf, BpfCmd, closeFd, putPtr, BtfInfoLayout as L } from '../../syscall/index.ts';
import { Btf } from '../../btf/btf.ts';
import { TsbpfError } from '../../errors.ts';
import { objectIds, objectInfo, openById } from '../handle.ts';
import { kernelBtf } from './kernel.ts';

/** What the kernel reports about one BTF object. */
export interface BtfObjectInfo {
  id: number;
  /** Bytes of raw BTF. */
  size: number;
  /** '' for BTF a program or map loaded; 'vmlinux' or the module's name for the kernel's own. */
  name: string;
  kernel: boolean;
}

/** BTF of at most this many bytes is read (vmlinux is ~6 MiB). */
const MAX_BTF_BYTES = 1 << 28;

/** Ids of every BTF object in the kernel (BPF_BTF_GET_NEXT_ID; needs CAP_SYS_ADMIN). */
export function btfIds(): Generator<number, void, undefined> {
  return objectIds(BpfCmd.BTF_GET_NEXT_ID);
}

/** Open a BTF object by id; returns an fd the caller closes. */
export function openBtfById(id: number): number {
  return openById(BpfCmd.BTF_GET_FD_BY_ID, id, 'BTF');
}

function infoInto(fd: number, btf?: Uint8Array): { info: Uint8Array; name: Uint8Array } {
  const info = new Uint8Array(L.SIZE);
  const name = new Uint8Array(64);
  const u32 = new Uint32Array(info.buffer);
  putPtr(u32, L.name, addressOf(name));
  u32[L.name_len >> 2] = name.byteLength;
  if (btf) {
    putPtr(u32, L.btf, addressOf(btf));
    u32[L.btf_size >> 2] = btf.byteLength;
  }
  objectInfo(fd, info, `BTF fd ${fd}`);
  return { info, name };
}

/** BPF_OBJ_GET_INFO_BY_FD on a BTF fd. */
export function btfInfoByFd(fd: number): BtfObjectInfo {
  const { info, name } = infoInto(fd);
  const d = new DataView(info.buffer);
  const end = name.indexOf(0);
  return {
    id: d.getUint32(L.id, true),
    size: d.getUint32(L.btf_size, true),
    name: new TextDecoder().decode(name.subarray(0, end < 0 ? name.length : end)),
    kernel: d.getUint32(L.kernel_btf, true) !== 0,
  };
}

/** The raw bytes of a BTF fd. */
export function btfBytesByFd(fd: number): Uint8Array {
  const { size } = btfInfoByFd(fd);
  if (size > MAX_BTF_BYTES) throw new TsbpfError('BAD_ARGUMENT', `BTF fd ${fd} holds ${size} bytes, more than the ${MAX_BTF_BYTES} read`);
  // The kernel writes at most btf_size bytes: exactly the buffer we give.
  const bytes = new Uint8Array(size);
  infoInto(fd, bytes);
  return bytes;
}

/** Parse the BTF object `id` (module BTF on top of vmlinux's). */
export function btfById(id: number): Btf {
  const fd = openBtfById(id);
  try {
    const info = btfInfoByFd(fd);
    const bytes = btfBytesByFd(fd);
    return info.kernel && info.name === 'vmlinux' ? kernelBtf() : Btf.parse(bytes, info.kernel ? { base: kernelBtf() } : {});
  } finally {
    closeFd(fd);
  }
}
