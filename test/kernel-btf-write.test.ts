/**
 * kernelBtf() and readBtfFile() hand out ordinary memory: writing through
 * any view of it (strings, raw type words) is not a SIGSEGV on a read-only
 * mapping of /sys/kernel/btf/vmlinux. Run in a child: before, it crashed.
 */
import { describe, expect, it } from 'vitest';
import { hasVmlinux } from './fixtures/btf/corpus.ts';
import { childJson, runSnippet } from './helpers/child-node.ts';

describe('kernel BTF bytes', () => {
  it.skipIf(!hasVmlinux)('writing into kernelBtf().strings, its raw words or readBtfFile bytes does not crash (child process)', () => {
    const r = runSnippet(`
      import { kernelBtf, readBtfFile } from './bpf/btf/kernel.ts';
      const k = kernelBtf();
      const id = k.findIdByName('task_struct', 'struct');
      const s = k.strings;
      s[s.length - 1] = s[s.length - 1]!; // same value: only the write itself could fault
      const w = k.rawTypes().words;
      w[0] = w[0]!;
      const raw = readBtfFile('/sys/kernel/btf/vmlinux');
      raw[0] = raw[0]!;
      raw[raw.length - 1] = raw[raw.length - 1]!;
      console.log(JSON.stringify({ name: k.typeName(id), len: raw.length > 1000 }));
    `);
    expect(childJson(r)).toEqual({ name: 'struct task_struct', len: true });
  });
});
