/**
 * `tsbpf btf dump FILE [--format raw|c|json] [--base FILE]`, apart from the
 * other btf verbs: it is pure (files and BTF only), so the CLI loads it
 * without the kernel-facing modules (koffi and the bpf/ layer) those need.
 *
 * FILE is raw BTF (/sys/kernel/btf/vmlinux, module BTF) or an ELF object
 * (its .BTF section). Split BTF (kernel modules) needs `--base` (the vmlinux
 * BTF), like bpftool's `-B`. Output formats follow `bpftool btf dump file`:
 * raw (default), json (`bpftool -j`), c (vmlinux.h style).
 */
import { setFlagsFromString } from 'node:v8';
import { readRegularFile } from '../../elf/read-file.ts';
import { loadBtf } from '../../btf/load.ts';
import type { Btf } from '../../btf/btf.ts';
import { dumpRaw, dumpJson } from '../../btf/dump-raw.ts';
import { dumpC, dumpCBytes } from '../../btf/dump-c.ts';
import { BtfError } from '../../btf/errors.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, parseArgs } from './args.ts';

export type BtfDumpFormat = 'raw' | 'json' | 'c';

/** Parse FILE (with an optional base file path) the way `btf dump` does. */
export function loadBtfForDump(file: string, basePath?: string): Btf {
  const read = (p: string) => {
    try {
      return readRegularFile(p, 'BTF file');
    } catch (e) {
      throw new BtfError('BTF_NOT_FOUND', `cannot read ${p}: ${(e as Error).message}`, { cause: e });
    }
  };
  const base = basePath ? loadBtf(read(basePath)).btf : undefined;
  return loadBtf(read(file), base ? { base } : {}).btf;
}

/** The text `tsbpf btf dump` prints. */
export function btfDump(file: string, opts: { format?: BtfDumpFormat; base?: string } = {}): string {
  return render(loadBtfForDump(file, opts.base), opts.format ?? 'raw');
}

function render(btf: Btf, format: BtfDumpFormat): string {
  switch (format) {
    case 'raw':
      return dumpRaw(btf);
    case 'json':
      return dumpJson(btf);
    case 'c':
      return dumpC(btf, {});
    default:
      throw new BtfError('BTF_INVALID_TYPE', `unknown format '${format as string}' (raw, c, json)`);
  }
}

export const btfDumpCommand: Command = {
  name: 'btf dump',
  usage: 'btf dump FILE [--format raw|c|json] [--base FILE]',
  summary: 'dump BTF types like bpftool btf dump file',
  async run(args: string[]): Promise<number> {
    const { positional, flags } = parseArgs(args, { values: ['format', 'base'], min: 1 });
    const format = flags.get('format') ?? 'raw';
    if (format !== 'raw' && format !== 'json' && format !== 'c') throw new UsageError(`--format must be raw, c or json, got '${String(format)}'`);
    const base = flagValue(flags, 'base');
    // A one-shot process: V8 optimises the dumper while it runs, and inlining makes those compile jobs
    // cost more CPU than one pass over vmlinux wins back (vmlinux.h: ~30% less CPU without it).
    setFlagsFromString('--no-turbo-inlining');
    const btf = loadBtfForDump(positional[0]!, base);
    // A vmlinux.h is megabytes: written as the bytes the dumper built, not decoded to a string and encoded back.
    const out = format === 'c' ? dumpCBytes(btf, {}) : render(btf, format);
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(out, (err) => (err ? reject(err) : resolve())),
    );
    return 0;
  },
};
