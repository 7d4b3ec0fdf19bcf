/** `tsbpf prog ...` and `tsbpf obj show`: load objects like bpftool, describe them. */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadCollectionSpec, type CollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { VerifierError } from '../../bpf/programs/verifier.ts';
import { ensureBpffsFor, isBpffs, makePinDir } from '../../bpf/pin.ts';
import { mapTypeBpftoolName, resolveMapType } from '../../bpf/maps/types.ts';
import { progTypeName, attachTypeName, resolveProgType, resolveAttachType, type ProgTypeName } from '../../bpf/programs/types.ts';
import { INSN_SIZE } from '../../bpf/programs/insn.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, parseArgs } from './args.ts';
import { progDump } from './prog-dump.ts';
import { progVerbCommands } from './prog-verbs.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut, type OutputOpts } from './out.ts';
import { eachSelectedProgram, forEachProgram, progJson, progPlain, progRow, type ProgRow } from './prog-show.ts';

/** The nearest existing ancestor of `path` (itself when it exists). */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** A directory loadall may pin into: on bpffs already, or to be made under a bpffs directory. */
function checkPinDir(dir: string, what: string): void {
  ensureBpffsFor(resolve(dir));
  const at = existingAncestor(dir);
  if (!isBpffs(at)) throw new TsbpfError('BAD_PIN_PATH', `${what} ${dir}: ${at} is not on a bpf filesystem`);
}

/**
 * What a command made on bpffs, so that a failure can take it all back: the
 * first directory mkdir created (with everything under it) and each pin.
 */
class Undo {
  #dirs: string[] = [];
  #pins: string[] = [];
  mkdir(dir: string): void {
    const abs = resolve(dir);
    const at = existingAncestor(abs);
    // The first directory makePinDir will create: the one below the deepest existing ancestor.
    const first = at === abs ? undefined : join(at, abs.slice(at.length).split('/').find(Boolean)!);
    try {
      makePinDir(abs);
    } finally {
      if (first && existsSync(first)) this.#dirs.push(first);
    }
  }
  pinned(path: string): void {
    this.#pins.push(path);
  }
  rollback(): void {
    for (const p of this.#pins.reverse()) rmSync(p, { force: true });
    for (const d of this.#dirs.reverse()) rmSync(d, { recursive: true, force: true });
  }
}

const loadall: Command = {
  name: 'prog loadall',
  usage: 'prog loadall OBJ DIR [--autoattach] [--pinmaps DIR] [--type T]',
  summary: 'load every map and program of OBJ and pin each program (or its link, with --autoattach) at DIR/<name>',
  async run(args) {
    const { positional, flags } = parseArgs(args, { booleans: ['autoattach'], values: ['pinmaps', 'type'], min: 2 });
    const [obj, dir] = positional as [string, string];
    const type = flagValue(flags, 'type');
    let progType: ProgTypeName | undefined;
    if (type !== undefined) {
      progType = type.toUpperCase() as ProgTypeName;
      try {
        resolveProgType(progType);
      } catch {
        throw new UsageError(`unknown program type '${type}' (e.g. socket_filter, xdp, tracepoint, kprobe)`);
      }
    }
    const pinmaps = flagValue(flags, 'pinmaps');
    checkPinDir(dir, 'DIR');
    if (pinmaps !== undefined) checkPinDir(pinmaps, '--pinmaps');
    const spec = loadCollectionSpec(obj, progType ? { defaultProgramType: { type: progType } } : {});
    let coll;
    try {
      coll = loadCollection(spec);
    } catch (e) {
      if (e instanceof VerifierError) {
        const what = e.code === 'E2BIG' ? 'is too large or too complex to verify (E2BIG)' : 'rejected by the verifier';
        process.stderr.write(`tsbpf: program '${e.object}' ${what}${e.source ? ` at ${e.source.file}:${e.source.line}` : ''}\n`);
        if (e.source) process.stderr.write(`  ${e.source.line} | ${e.source.text.trim()}\n`);
        process.stderr.write(e.summary.split('\n').map((l) => `  ${l}`).join('\n') + '\n');
        if (e.code === 'E2BIG' && e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
        return 1;
      }
      throw e;
    }
    // Only now, with everything loaded, is anything made on bpffs; a later failure takes it back.
    const undo = new Undo();
    try {
      for (const w of coll.warnings) process.stderr.write(`tsbpf: warning: ${w}\n`);
      // With --autoattach, programs whose section names their hook are attached and their
      // links pinned (they stay attached until the pin is removed); the rest are pinned as programs.
      const links = flags.has('autoattach') ? coll.attachAll() : {};
      undo.mkdir(dir);
      for (const [name, p] of Object.entries(coll.programs)) {
        const link = links[name];
        const at = join(dir, name);
        if (link && link.fd >= 0) link.pin(at);
        else p.pin(at);
        undo.pinned(at);
      }
      if (pinmaps !== undefined) {
        undo.mkdir(pinmaps);
        // bpffs takes no dots in names: '.data' is pinned as '_data', as libbpf does.
        for (const [name, m] of Object.entries(coll.maps)) {
          const at = join(pinmaps, name.replace(/\./g, '_'));
          m.pin(at);
          undo.pinned(at);
        }
      }
    } catch (e) {
      undo.rollback();
      throw e;
    } finally {
      coll.close();
    }
    return 0;
  },
};

function describeSpec(spec: CollectionSpec): Record<string, unknown> {
  return {
    name: spec.name,
    license: spec.license,
    maps: Object.values(spec.maps).map((m) => ({
      name: m.name,
      origin: m.origin,
      type: mapTypeBpftoolName(resolveMapType(m.type)),
      key_size: m.keySize,
      value_size: m.valueSize,
      max_entries: m.maxEntries,
      flags: m.flags ?? 0,
      pinning: m.pinning,
      ...(m.btfKeyType && spec.btf ? { btf_key: spec.btf.typeName(m.btfKeyType) } : {}),
      ...(m.btfValueType && spec.btf ? { btf_value: spec.btf.typeName(m.btfValueType) } : {}),
      // Its value is the kernel's bpf_struct_ops_<name>, sized from vmlinux BTF at load (0 here).
      ...(m.structOps ? { struct_ops: m.structOps.typeName } : {}),
      ...(m.innerMap ? { inner: mapTypeBpftoolName(resolveMapType(m.innerMap.type)) } : {}),
      ...(m.initial?.length ? { initial: m.initial } : {}),
    })),
    programs: Object.values(spec.programs).map((p) => {
      const f = spec.functions[p.func]!;
      return {
        name: p.name,
        section: p.sectionName,
        type: progTypeName(resolveProgType(p.type)).toLowerCase(),
        ...(p.expectedAttachType !== undefined ? { attach_type: attachTypeName(resolveAttachType(p.expectedAttachType)).toLowerCase() } : {}),
        ...(p.attachTo ? { attach_to: p.attachTo } : {}),
        insns: f.insns.byteLength / INSN_SIZE,
        relocations: f.relocs.map((r) => `${r.kind}@${r.insn}${'map' in r ? `:${r.map}` : 'name' in r ? `:${r.name}` : ''}`),
        core_relocations: f.coreRelos.length,
      };
    }),
    functions: Object.values(spec.functions).map((f) => ({ name: f.name, section: f.section, offset: f.offset, insns: f.insns.byteLength / INSN_SIZE, global: f.global })),
    variables: Object.values(spec.variables).map((v) => ({ name: v.name, section: v.map, offset: v.offset, size: v.size, ...(v.type && spec.btf ? { type: spec.btf.typeName(v.type) } : {}) })),
    externs: Object.values(spec.externs).map((e) => ({ name: e.name, kind: e.kind, weak: e.weak })),
    core_relocations: Object.values(spec.functions).flatMap((f) =>
      f.coreRelos.map((r) => ({ function: f.name, insn: r.insnOff, kind: r.kindName, type: spec.btf?.typeName(r.typeId), access: r.accessStr })),
    ),
  };
}

const objShow: Command = {
  name: 'obj show',
  usage: 'obj show OBJ [--json]',
  summary: 'sections, maps, programs, variables, externs and CO-RE relocations of an object',
  async run(args) {
    const { positional, flags } = parseArgs(args, { booleans: ['json'], min: 1 });
    const obj = positional[0]!;
    const d = describeSpec(loadCollectionSpec(obj)) as ReturnType<typeof describeSpec> & {
      maps: Record<string, unknown>[];
      programs: Record<string, unknown>[];
      variables: Record<string, unknown>[];
      externs: Record<string, unknown>[];
      core_relocations: Record<string, unknown>[];
    };
    if (flags.has('json')) {
      process.stdout.write(JSON.stringify(d, null, 2) + '\n');
      return 0;
    }
    const out: string[] = [`object ${d.name}  license ${d.license}`, 'maps:'];
    for (const m of d.maps) out.push(`  ${m.name}: ${m.type}  key ${m.key_size}B  value ${m.value_size}B  max_entries ${m.max_entries}  flags 0x${Number(m.flags).toString(16)}${m.btf_value ? `  value ${m.btf_value}` : ''}${m.struct_ops ? `  struct_ops ${m.struct_ops} (value sized at load)` : ''}${m.pinning !== 'none' ? `  pinning ${m.pinning}` : ''}`);
    out.push('programs:');
    for (const p of d.programs) out.push(`  ${p.name}: ${p.type}  section ${p.section}  ${p.insns} insns  relocations ${(p.relocations as string[]).join(' ') || '-'}${p.core_relocations ? `  core ${p.core_relocations}` : ''}`);
    if (d.variables.length) out.push('variables:', ...d.variables.map((v) => `  ${v.name}: ${v.section}+${v.offset} (${v.size}B${v.type ? ` ${v.type}` : ''})`));
    if (d.externs.length) out.push('externs:', ...d.externs.map((e) => `  ${e.name}: ${e.kind}${e.weak ? ' (weak)' : ''}`));
    if (d.core_relocations.length) out.push('CO-RE relocations:', ...d.core_relocations.map((r) => `  ${r.function}+${r.insn}: ${r.kind} ${r.type} ${r.access}`));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

async function showRows(rows: ProgRow[], o: OutputOpts, single: boolean): Promise<void> {
  if (o.json) return printJson(o, single && rows.length === 1 ? progJson(rows[0]!) : rows.map(progJson));
  return writeOut(rows.map((r) => progPlain(r) + '\n').join(''));
}

/** `prog show` and its alias `prog list`, as bpftool has them. */
function progShowCommand(name: 'prog show' | 'prog list'): Command {
  return {
    name,
    usage: `${name} [id N | pinned PATH | tag T | name N] [-j|-p]`,
    summary: 'what the kernel reports about programs (every program without a selector), like bpftool prog show',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      if (positional.length === 1) throw new UsageError(`'${positional[0]}' needs a value`);
      const rows: ProgRow[] = [];
      if (positional.length) eachSelectedProgram(positional, (p) => rows.push(progRow(p)));
      else forEachProgram((p) => rows.push(progRow(p)));
      await showRows(rows, outputOpts(flags), positional.length > 0);
      return 0;
    },
  };
}

export const progCommands: Command[] = [loadall, objShow, progShowCommand('prog show'), progShowCommand('prog list'), progDump, ...progVerbCommands];
