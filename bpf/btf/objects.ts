/**
 * BTF objects loaded in the kernel, by id (what `bpftool btf show` lists):
 * their ids and their bytes parsed into a Btf (for formatting map values and
 * program line info with the types they were loaded with). One object by fd
 * is a BtfHandle (handle.ts).
 */
import { BpfCmd } from '../../syscall/index.ts';
import { Btf } from '../../btf/btf.ts';
import { objectIds } from '../handle.ts';
import { BtfHandle } from './handle.ts';
import { kernelBtf } from './kernel.ts';

/** Ids of every BTF object in the kernel (BPF_BTF_GET_NEXT_ID; needs CAP_SYS_ADMIN). */
export function btfIds(): Generator<number, void, undefined> {
  return objectIds(BpfCmd.BTF_GET_NEXT_ID);
}

/** Parse the BTF object `id` (module BTF on top of vmlinux's; vmlinux itself is the cached kernelBtf()). */
export function btfById(id: number): Btf {
  using h = BtfHandle.fromId(id);
  const info = h.info();
  if (info.kernel && info.name === 'vmlinux') return kernelBtf();
  return Btf.parse(h.bytes(), info.kernel ? { base: kernelBtf() } : {});
}
