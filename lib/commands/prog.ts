/** `tsbpf prog ...` and `tsbpf obj show`: load objects like bpftool, describe them. */
import { join } from 'node:path';
import { loadCollectionSpec, type CollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { VerifierError } from '../../bpf/programs/verifier.ts';
import { isBpffs, makePinDir } from '../../bpf/pin.ts';
import { mapTypeBpftoolName, resolveMapType } from '../../bpf/maps/types.ts';
import { progTypeName, attachTypeName, resolveProgType, resolveAttachType, type ProgTypeName } from '../../bpf/programs/types.ts';
import { INSN_SIZE } from '../../bpf/programs/insn.ts';
import { progIds, Program } from '../../bpf/programs/program.ts';
import { TsbpfError } from '../../errors.ts';
import { infosOf, parseArgs, type Command } from './types.ts';

const loadall: Command = {
  name: 'prog loadall',
  usage: 'prog loadall OBJ DIR [--autoattach] [--pinmaps DIR] [--type T]',
  summary: 'load every map and program of OBJ and pin each program (or its link, with --autoattach) at DIR/<name>',
  async run(args) {
    const { positional, flags } = parseArgs(args, ['autoattach']);
    const [obj, dir] = positional;
    if (!obj || !dir) throw new TsbpfError('USAGE', 'prog loadall needs OBJ and DIR');
    const type = flags.get('type');
    const spec = loadCollectionSpec(obj, type && type !== true ? { defaultProgramType: { type: type.toUpperCase() as ProgTypeName } } : {});
    makePinDir(dir);
    if (!isBpffs(dir)) throw new TsbpfError('BAD_PIN_PATH', `${dir} is not on a bpf filesystem`);
    let coll;
    try {
      coll = loadCollection(spec);
    } catch (e) {
      if (e instanceof VerifierError) {
        process.stderr.write(`tsbpf: program '${e.object}' rejected by the verifier${e.source ? ` at ${e.source.file}:${e.source.line}` : ''}\n`);
        if (e.source) process.stderr.write(`  ${e.source.line} | ${e.source.text.trim()}\n`);
        process.stderr.write(e.summary.split('\n').map((l) => `  ${l}`).join('\n') + '\n');
        return 1;
      }
      throw e;
    }
    try {
      for (const w of coll.warnings) process.stderr.write(`tsbpf: warning: ${w}\n`);
      // With --autoattach, programs whose section names their hook are attached and their
      // links pinned (they stay attached until the pin is removed); the rest are pinned as programs.
      const links = flags.has('autoattach') ? coll.attachAll() : {};
      for (const [name, p] of Object.entries(coll.programs)) {
        const link = links[name];
        if (link && link.fd >= 0) link.pin(join(dir, name));
        else p.pin(join(dir, name));
      }
      const pinmaps = flags.get('pinmaps');
      if (pinmaps && pinmaps !== true) {
        makePinDir(pinmaps);
        // bpffs takes no dots in names: '.data' is pinned as '_data', as libbpf does.
        for (const [name, m] of Object.entries(coll.maps)) m.pin(join(pinmaps, name.replace(/\./g, '_')));
      }
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
    const { positional, flags } = parseArgs(args, ['json']);
    const [obj] = positional;
    if (!obj) throw new TsbpfError('USAGE', 'obj show needs OBJ');
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
    for (const m of d.maps) out.push(`  ${m.name}: ${m.type}  key ${m.key_size}B  value ${m.value_size}B  max_entries ${m.max_entries}  flags 0x${Number(m.flags).toString(16)}${m.btf_value ? `  value ${m.btf_value}` : ''}${m.pinning !== 'none' ? `  pinning ${m.pinning}` : ''}`);
    out.push('programs:');
    for (const p of d.programs) out.push(`  ${p.name}: ${p.type}  section ${p.section}  ${p.insns} insns  relocations ${(p.relocations as string[]).join(' ') || '-'}${p.core_relocations ? `  core ${p.core_relocations}` : ''}`);
    if (d.variables.length) out.push('variables:', ...d.variables.map((v) => `  ${v.name}: ${v.section}+${v.offset} (${v.size}B${v.type ? ` ${v.type}` : ''})`));
    if (d.externs.length) out.push('externs:', ...d.externs.map((e) => `  ${e.name}: ${e.kind}${e.weak ? ' (weak)' : ''}`));
    if (d.core_relocations.length) out.push('CO-RE relocations:', ...d.core_relocations.map((r) => `  ${r.function}+${r.insn}: ${r.kind} ${r.type} ${r.access}`));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

const progList: Command = {
  name: 'prog list',
  usage: 'prog list [--json]',
  summary: 'list every BPF program on the system (like bpftool prog show)',
  async run(args) {
    const { flags } = parseArgs(args, ['json']);
    const rows = infosOf(progIds(), (id) => Program.fromId(id));
    if (flags.has('json')) process.stdout.write(JSON.stringify(rows.map((i) => ({ id: i.id, type: i.typeName.toLowerCase(), name: i.name, tag: i.tag, map_ids: i.mapIds })), null, 0) + '\n');
    else for (const i of rows) process.stdout.write(`${i.id}: ${i.typeName.toLowerCase()}  name ${i.name}  tag ${i.tag}${i.gplCompatible ? '  gpl' : ''}\n`);
    return 0;
  },
};

export const progCommands: Command[] = [loadall, objShow, progList];
