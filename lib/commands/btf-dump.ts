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
import { flagValue, isKeyword, parseArgs, parseUint } from './args.ts';

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

/**
 * The source and format of a `btf dump` command line: tsbpf's `FILE [--format F]`, or bpftool's
 * `file FILE | id N` with `format raw|c` (and `-j` for JSON, `-B FILE` as `--base`).
 */
function dumpArgs(args: string[]): { file?: string; id?: number; format: BtfDumpFormat; base?: string } {
  const argv = args.map((a) => (a === '-B' ? '--base' : a));
  const { positional, flags } = parseArgs(argv, { values: ['format', 'base'], booleans: ['json', 'pretty'], min: 1, max: 4 });
  let format: string = flagValue(flags, 'format') ?? (flags.has('json') ? 'json' : 'raw');
  const words = [...positional];
  let file: string | undefined;
  let id: number | undefined;
  if (isKeyword(words[0], 'file') && words.length >= 2 && words[0] !== words[1]) {
    file = words[1];
    words.splice(0, 2);
  } else if (words[0] === 'id') {
    if (words[1] === undefined) throw new UsageError('id needs a BTF object id');
    id = parseUint('id', words[1], 0x7fffffff, 1);
    words.splice(0, 2);
  } else {
    file = words.shift();
  }
  if (words[0] === 'format') {
    if (words[1] === undefined) throw new UsageError('format needs raw or c');
    format = words[1];
    words.splice(0, 2);
  }
  if (words.length) throw new UsageError(`unexpected argument '${words[0]}'`);
  if (format !== 'raw' && format !== 'json' && format !== 'c') throw new UsageError(`format must be raw, c or json, got '${format}'`);
  return { file, id, format, base: flagValue(flags, 'base') };
}

export const btfDumpCommand: Command = {
  name: 'btf dump',
  usage: 'btf dump FILE | file FILE | id N [--format raw|c|json | format raw|c] [--base FILE | -B FILE]',
  summary: 'dump BTF types like bpftool btf dump file|id',
  async run(args: string[]): Promise<number> {
    const { file, id, format, base } = dumpArgs(args);
    // A one-shot process: V8 optimises the dumper while it runs, and inlining makes those compile jobs
    // cost more CPU than one pass over vmlinux wins back (vmlinux.h: ~30% less CPU without it).
    setFlagsFromString('--no-turbo-inlining');
    // `id N` reads the kernel's object: only then the kernel-facing layer (and koffi) is loaded.
    const btf = id !== undefined ? (await import('../../bpf/btf/objects.ts')).btfById(id) : loadBtfForDump(file!, base);
    // A vmlinux.h is megabytes: written as the bytes the dumper built, not decoded to a string and encoded back.
    const out = format === 'c' ? dumpCBytes(btf, {}) : render(btf, format);
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(out, (err) => (err ? reject(err) : resolve())),
    );
    return 0;
  },
};
