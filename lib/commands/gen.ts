/**
 * `tsbpf gen skeleton OBJ|SRC.bpf.c [-o FILE] [--name NAME] [--type NAME]... [--btf FILE]`:
 * a typed TypeScript module for a BPF object (lib/gen/skeleton.ts), compiling
 * a C source first (lib/gen/compile.ts) as bpf2go does.
 *
 * `tsbpf gen min_core_btf INPUT OUTPUT OBJECT...`: the part of INPUT's BTF the
 * objects' CO-RE relocations need, as bpftool writes it (btf/min-core.ts).
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readRegularFile } from '../../elf/read-file.ts';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { generateSkeleton } from '../gen/skeleton.ts';
import { loadBtfFile, parseElfBtf } from '../../btf/load.ts';
import { minCoreBtf } from '../../btf/min-core.ts';
import { compileBpf } from '../gen/compile.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, parseArgs } from './args.ts';
import { writeOut } from './out.ts';

/** The module text for an object file or a C source (compiled first). */
export function genSkeleton(input: string, opts: { name?: string; types?: readonly string[]; btf?: string } = {}): string {
  const isC = input.endsWith('.c');
  if (!isC && opts.btf) throw new UsageError('--btf is for C sources (it gives the BTF vmlinux.h is written from)');
  const bytes = isC ? compileBpf(input, { btf: opts.btf }) : readRegularFile(input, 'BPF object');
  const file = basename(input);
  const objName = file.replace(/\.c$/, '').replace(/\.(bpf\.)?o$/, '').replace(/\.bpf$/, '').replace(/\.elf$/, '');
  const spec = loadCollectionSpec(bytes, { name: objName });
  return generateSkeleton(spec, bytes, { name: opts.name, types: opts.types, source: file });
}

export const genSkeletonCommand: Command = {
  name: 'gen skeleton',
  usage: 'gen skeleton OBJ|SRC.bpf.c [-o FILE] [--name NAME] [--type NAME]... [--btf FILE]',
  summary: 'write a typed TypeScript module (maps, variables, programs, event types) for a BPF object',
  async run(args) {
    const { positional, flags, lists } = parseArgs(args, { values: ['output', 'name', 'btf'], repeated: ['type'], aliases: { '-o': 'output' }, min: 1 });
    const name = flagValue(flags, 'name');
    if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), got '${name}'`);
    const src = genSkeleton(positional[0]!, { name, types: lists.get('type'), btf: flagValue(flags, 'btf') });
    const out = flagValue(flags, 'output');
    if (out === undefined) await writeOut(src);
    else writeFileSync(out, src);
    return 0;
  },
};

/** The minimal BTF bytes of `objects` (paths) out of the BTF file `input` (raw or ELF). */
export function genMinCoreBtf(input: string, objects: readonly string[]): Uint8Array {
  const target = naming(input, () => loadBtfFile(input).btf);
  const objs = objects.map((path) => ({ ...naming(path, () => parseElfBtf(readRegularFile(path, 'BPF object'))), name: path }));
  return minCoreBtf(target, objs);
}

/** Errors of reading or parsing `path` name it (the same error, code and class). */
function naming<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TsbpfError && !e.message.includes(path)) (e as { message: string }).message = `${path}: ${e.message}`;
    throw e;
  }
}

export const genMinCoreBtfCommand: Command = {
  name: 'gen min_core_btf',
  usage: 'gen min_core_btf INPUT OUTPUT OBJECT...',
  summary: 'write the BTF of INPUT (e.g. /sys/kernel/btf/vmlinux) that the CO-RE relocations of the objects need, as raw BTF',
  async run(args) {
    const { positional } = parseArgs(args, { min: 3, max: Infinity });
    const [input, output, ...objects] = positional as [string, string, ...string[]];
    writeFileSync(output, genMinCoreBtf(input, objects));
    return 0;
  },
};
