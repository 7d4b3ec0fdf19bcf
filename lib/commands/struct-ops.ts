/**
 * `tsbpf struct_ops show|list|dump [id N | name NAME]`, `struct_ops register
 * OBJ [LINK_DIR]`, `struct_ops unregister (id N | name NAME)`: bpftool's
 * struct_ops verbs, their text and JSON keys. `dump` prints JSON in both
 * modes (indented without -j), as bpftool: the kernel's `struct bpf_map_info`
 * and `struct bpf_struct_ops_<name>` of each map, formatted through vmlinux
 * BTF, function pointers as "signature prog_name/prog_id:N".
 */
import { join } from 'node:path';
import { kernelBtf } from '../../bpf/btf/kernel.ts';
import { btfById } from '../../bpf/btf/objects.ts';
import { objectInfo } from '../../bpf/handle.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { STRUCT_OPS_VALUE_PREFIX } from '../../bpf/loader/struct-ops.ts';
import { BpfMap, mapIds, type MapInfo } from '../../bpf/maps/map.ts';
import { MapFlags, MapType } from '../../bpf/maps/types.ts';
import { makePinDir } from '../../bpf/pin.ts';
import { programImage } from '../../bpf/programs/dump.ts';
import { Program } from '../../bpf/programs/program.ts';
import type { Btf } from '../../btf/btf.ts';
import { BpftoolJsonWriter, formatBtfValue } from '../../btf/format-bpftool.ts';
import { typeSignature } from '../../btf/signature.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { isKeyword, parseArgs } from './args.ts';
import { JSON_FLAGS, OUT_CHUNK, outputOpts, writeOut } from './out.ts';

/** One struct_ops map found: an open handle and what the kernel reports. */
interface Found {
  map: BpfMap;
  info: MapInfo;
}

type Selector = { by: 'id'; id: number } | { by: 'name'; name: string } | undefined;

/** `[id N | name NAME]` (bpftool's is_prefix keywords); `required` for unregister. */
function parseSelector(words: string[], required: boolean): Selector {
  if (!words.length) {
    if (required) throw new UsageError("expected 'id N' or 'name NAME'");
    return undefined;
  }
  if (words.length !== 2) throw new UsageError(words.length === 1 ? `'${words[0]}' needs a value` : `unexpected argument '${words[2]}'`);
  const [how, what] = words as [string, string];
  if (isKeyword(how, 'id')) {
    // strtoul(..., 0): decimal, 0x hex or 0 octal; 0 and anything past u32 are refused.
    const n = /^0x[0-9a-f]+$/i.test(what) ? Number.parseInt(what, 16) : /^0[0-7]*$/.test(what) ? Number.parseInt(what, 8) : /^[1-9][0-9]*$/.test(what) ? Number(what) : Number.NaN;
    if (!(n >= 1 && n <= 0xffffffff)) throw new TsbpfError('BAD_ARGUMENT', `invalid id ${what}`);
    return { by: 'id', id: n };
  }
  if (isKeyword(how, 'name')) return { by: 'name', name: what };
  throw new UsageError(`expected 'id' or 'name', got: '${how}'`);
}

/** The kernel struct a struct_ops map implements: its value type's name without bpf_struct_ops_. */
function kernStructName(info: MapInfo): string {
  try {
    const name = kernelBtf().typeById(info.btfVmlinuxValueTypeId).name;
    return name.startsWith(STRUCT_OPS_VALUE_PREFIX) ? name.slice(STRUCT_OPS_VALUE_PREFIX.length) : name;
  } catch {
    return '<btf_vmlinux_not_found>';
  }
}

/**
 * Visit the struct_ops maps `sel` names (all without one), each open only
 * while `fn` runs. An id that is no struct_ops map is an error; a name none
 * has is NO_MATCH after the visit (bpftool prints an empty JSON array first).
 */
async function eachStructOps(sel: Selector, fn: (f: Found) => Promise<void> | void): Promise<number> {
  if (sel?.by === 'id') {
    using map = BpfMap.fromId(sel.id);
    const info = map.info();
    if (info.type !== MapType.STRUCT_OPS) throw new TsbpfError('WRONG_MAP_TYPE', `${info.name} id ${info.id} is not a struct_ops map`);
    await fn({ map, info });
    return 1;
  }
  let n = 0;
  for (const id of mapIds()) {
    let map: BpfMap;
    try {
      map = BpfMap.fromId(id);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') continue; // gone between listing and opening
      throw e;
    }
    try {
      const info = map.info();
      if (info.type !== MapType.STRUCT_OPS || (sel && info.name !== sel.name)) continue;
      n++;
      await fn({ map, info });
    } finally {
      map.close();
    }
  }
  return n;
}

const noneFound = (name: string) => new TsbpfError('NO_MATCH', `no struct_ops found for ${name}`);

function showCommand(name: 'struct_ops show' | 'struct_ops list'): Command {
  return {
    name,
    usage: `${name} [id N | name NAME] [-j|-p]`,
    summary: 'struct_ops maps: id, name and the kernel struct they implement, like bpftool struct_ops show',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      const sel = parseSelector(positional, false);
      const o = outputOpts(flags);
      const rows: Record<string, unknown>[] = [];
      let text = '';
      const n = await eachStructOps(sel, ({ info }) => {
        const k = kernStructName(info);
        rows.push({ id: info.id, name: info.name, kernel_struct_ops: k });
        text += `${info.id}: ${info.name.padEnd(15)} ${k.padEnd(32)}\n`;
      });
      if (o.json) await writeOut(JSON.stringify(rows, null, o.pretty ? 4 : undefined) + '\n');
      else await writeOut(text);
      if (!n && sel?.by === 'name') throw noneFound(sel.name);
      return 0;
    },
  };
}

/** bpftool's dump_prog_id_as_func_ptr: "u32 (struct sock *) name/prog_id:N", " 0" for no program. */
function funcPtrText(kern: Btf, protoId: number, id: bigint): string | undefined {
  const sig = typeSignature(kern, protoId);
  if (!sig) return undefined;
  if (id === 0n) return `${sig} 0`;
  return `${sig} ${progFuncName(Number(id)) ?? '<unknown_prog_name>'}/prog_id:${id}`;
}

/** A program's name from its first func_info record (its full BTF name), as bpftool reads it. */
function progFuncName(id: number): string | undefined {
  try {
    using p = Program.fromId(id);
    const img = programImage(p.fd);
    if (!img.btfId || img.funcInfo.byteLength < 8) return undefined;
    const typeId = new DataView(img.funcInfo.buffer, img.funcInfo.byteOffset).getUint32(4, true);
    const t = btfById(img.btfId).typeById(typeId);
    return t.kind === 'func' ? t.name : undefined;
  } catch {
    return undefined;
  }
}

/** The kernel's own struct bpf_map_info of a map, as many bytes as vmlinux BTF says it has. */
function rawMapInfo(kern: Btf, fd: number): { typeId: number; bytes: Uint8Array } {
  const t = kern.findByName('bpf_map_info', 'struct');
  if (!t || t.kind !== 'struct') throw new TsbpfError('NO_BTF_TYPE', "can't find bpf_map_info from btf_vmlinux");
  const bytes = new Uint8Array(Math.max(t.size, 96));
  objectInfo(fd, bytes, `map fd ${fd}`);
  return { typeId: t.id, bytes: bytes.subarray(0, t.size) };
}

function dumpCommand(): Command {
  return {
    name: 'struct_ops dump',
    usage: 'struct_ops dump [id N | name NAME] [-j|-p]',
    summary: "each struct_ops map's bpf_map_info and kernel value, as JSON (indented without -j), like bpftool struct_ops dump",
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      const sel = parseSelector(positional, false);
      const o = outputOpts(flags);
      const kern = kernelBtf();
      // Without -j bpftool still prints JSON, through an indented writer of its own.
      const w = new BpftoolJsonWriter(!o.json || o.pretty);
      const fmt = { plain: !o.json, funcPtr: (protoId: number, v: bigint) => funcPtrText(kern, protoId, v) };
      w.begin('[');
      const n = await eachStructOps(sel, async ({ map, info }) => {
        const mi = rawMapInfo(kern, map.fd);
        const value = map.lookup(0);
        if (!value) throw new TsbpfError('ENOENT', `can't lookup struct_ops map ${info.name} id ${info.id}`);
        w.begin('{');
        w.name('bpf_map_info');
        formatBtfValue(w, kern, mi.typeId, mi.bytes, 0, fmt);
        w.end('}');
        w.begin('{');
        w.name(kern.typeById(info.btfVmlinuxValueTypeId).name);
        formatBtfValue(w, kern, info.btfVmlinuxValueTypeId, value, 0, fmt);
        w.end('}');
        if (w.pending >= OUT_CHUNK) await writeOut(w.take());
      });
      w.end(']');
      await writeOut(w.take() + '\n');
      if (!n && sel?.by === 'name') throw noneFound(sel.name);
      return 0;
    },
  };
}

/** bpftool's p_info: a note on stderr, left out under -j. */
const note = (json: boolean, s: string) => {
  if (!json) process.stderr.write(s + '\n');
};

const register: Command = {
  name: 'struct_ops register',
  usage: 'struct_ops register OBJ [LINK_DIR] [-j|-p]',
  summary: 'load OBJ and register each of its struct_ops maps; links of .struct_ops.link maps are pinned in LINK_DIR (else they end with the command)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 1, max: 2 });
    const [file, linkDir] = positional as [string, string | undefined];
    const json = outputOpts(flags).json;
    if (linkDir !== undefined) makePinDir(linkDir);
    using coll = loadCollection(loadCollectionSpec(file));
    const names = coll.structOpsMaps;
    if (!names.length) throw new TsbpfError('NO_MATCH', `no struct_ops found in ${file}`);
    for (const name of names) {
      using link = coll.registerStructOps(name);
      const info = coll.maps[name]!.info();
      const k = kernStructName(info);
      // Registered stays registered: a plain map until unregister, a link while pinned.
      link.disconnect();
      if (!(info.flags & MapFlags.LINK)) {
        note(json, `Registered ${k} ${info.name} id ${info.id}`);
        continue;
      }
      const linkId = link.info().id;
      if (linkDir !== undefined) link.pin(join(linkDir, info.name));
      note(json, `Registered ${k} ${info.name} map id ${info.id} link id ${linkId}`);
    }
    if (json) await writeOut('null\n');
    return 0;
  },
};

const unregister: Command = {
  name: 'struct_ops unregister',
  usage: 'struct_ops unregister (id N | name NAME) [-j|-p]',
  summary: 'unregister struct_ops maps from their kernel subsystem (BPF_MAP_DELETE_ELEM of key 0)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2, max: 2 });
    const sel = parseSelector(positional, true);
    const json = outputOpts(flags).json;
    // bpftool goes on with the other maps of the name, then fails naming each it could not unload.
    const failed: { code: TsbpfError['code']; text: string }[] = [];
    const n = await eachStructOps(sel, ({ map, info }) => {
      const k = kernStructName(info);
      try {
        // ENOENT: the map exists but is not registered (never was, or already unregistered).
        if (!map.delete(0)) throw new TsbpfError('ENOENT', 'it is not registered');
        note(json, `Unregistered ${k} ${info.name} id ${info.id}`);
      } catch (e) {
        const hint = (info.flags & MapFlags.LINK) !== 0 ? ' (a .struct_ops.link map: detach or unpin its link instead)' : '';
        failed.push({ code: e instanceof TsbpfError ? e.code : 'EINVAL', text: `can't unload ${k} ${info.name} id ${info.id}: ${(e as Error).message}${hint}` });
      }
    });
    if (failed.length) throw new TsbpfError(failed[0]!.code, failed.map((f) => f.text).join('; '));
    if (!n && sel?.by === 'name') throw noneFound(sel.name);
    if (json) await writeOut('null\n');
    return 0;
  },
};

export const structOpsCommands: Command[] = [showCommand('struct_ops show'), showCommand('struct_ops list'), dumpCommand(), register, unregister];
