/**
 * kernelBtf() and readBtfFile() hand out ordinary memory: writing through
 * any view of it (strings, raw type words) is not a SIGSEGV on a read-only
 * mapping of /sys/kernel/btf/vmlinux. kernelBtf() reads the mapping in place
 * (Linux 6.16+): what it hands out are copies, so a write changes nothing it
 * reads. Run in a child: a SIGSEGV would end it.
 */
import { describe, expect, it } from 'vitest';
import { hasVmlinux } from './fixtures/btf/corpus.ts';
import { childJson, runSnippet } from './helpers/child-node.ts';

describe('kernel BTF bytes', () => {
  it.skipIf(!hasVmlinux)('writing into kernelBtf().strings, its raw words or readBtfFile bytes does not crash (child process)', () => {
    const r = runSnippet(`
      import { kernelBtf, readBtfFile } from './bpf/btf/kernel.ts';
      import { Btf } from './btf/btf.ts';
      import { copyMapped } from './syscall/mmap.ts';
      import { openSync } from 'node:fs';
      const k = kernelBtf();
      const id = k.findIdByName('task_struct', 'struct');
      const s = k.strings;
      s[s.length - 1] = s[s.length - 1]!; // same value: only the write itself could fault
      const at = s.indexOf('task_struct\\0');
      s[at] = 0x58; // 'X': a copy, so the kernel BTF's own names stay
      const w = k.rawTypes().words;
      w[0] = w[0]!;
      const t1 = k.typeById(1);
      w[k.rawTypes().offsets[0]! + 2] ^= 0xff; // type 1's size or type: the decode reads its own words
      const again = k.typeById(1);
      const raw = readBtfFile('/sys/kernel/btf/vmlinux');
      raw[0] = raw[0]!;
      raw[raw.length - 1] = raw[raw.length - 1]!;
      const fresh = Btf.parse(readBtfFile('/sys/kernel/btf/vmlinux'));
      console.log(JSON.stringify({ name: k.typeName(id), len: raw.length > 1000, same: JSON.stringify(t1) === JSON.stringify(again) && JSON.stringify(fresh.typeById(1)) === JSON.stringify(t1), found: k.findIdByName('task_struct', 'struct') === id,
        // Read in place exactly where the kernel maps its BTF (6.16+), else parsed from a copy.
        inPlace: (k as unknown as { readOnly: boolean }).readOnly === (copyMapped(openSync('/sys/kernel/btf/vmlinux', 'r'), 4096) !== undefined) }));
    `);
    expect(childJson(r)).toEqual({ name: 'struct task_struct', len: true, same: true, found: true, inPlace: true });
  });
});
