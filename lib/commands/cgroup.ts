/**
 * `tsbpf cgroup show|list CGROUP [effective]`, `cgroup tree [ROOT]
 * [effective]`, `cgroup attach CGROUP ATTACH_TYPE PROG [multi|override]`,
 * `cgroup detach CGROUP ATTACH_TYPE PROG`: bpftool's cgroup verbs, its
 * columns and JSON keys.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ATTACH_TYPES, CgroupAttachFlags, cgroupAttachments, cgroupProgAttach, cgroupProgDetach, withCgroup, type CgroupAttachment } from '../../bpf/link/cgroup-query.ts';
import { Program } from '../../bpf/programs/program.ts';
import { AttachType, attachTypeName } from '../../bpf/programs/types.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { isKeyword, parseArgs } from './args.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut, type OutputOpts } from './out.ts';
import { progRow } from './prog-show.ts';
import { withOneProgram } from './prog-select.ts';

/** bpftool's bpf_attach_type_input_str: the traditional short names, accepted as prefixes. */
const INPUT_NAMES: [string, number][] = [
  ['ingress', AttachType.CGROUP_INET_INGRESS],
  ['egress', AttachType.CGROUP_INET_EGRESS],
  ['sock_create', AttachType.CGROUP_INET_SOCK_CREATE],
  ['sock_release', AttachType.CGROUP_INET_SOCK_RELEASE],
  ['sock_ops', AttachType.CGROUP_SOCK_OPS],
  ['device', AttachType.CGROUP_DEVICE],
  ['bind4', AttachType.CGROUP_INET4_BIND],
  ['bind6', AttachType.CGROUP_INET6_BIND],
  ['connect4', AttachType.CGROUP_INET4_CONNECT],
  ['connect6', AttachType.CGROUP_INET6_CONNECT],
  ['post_bind4', AttachType.CGROUP_INET4_POST_BIND],
  ['post_bind6', AttachType.CGROUP_INET6_POST_BIND],
  ['getpeername4', AttachType.CGROUP_INET4_GETPEERNAME],
  ['getpeername6', AttachType.CGROUP_INET6_GETPEERNAME],
  ['getsockname4', AttachType.CGROUP_INET4_GETSOCKNAME],
  ['getsockname6', AttachType.CGROUP_INET6_GETSOCKNAME],
  ['sendmsg4', AttachType.CGROUP_UDP4_SENDMSG],
  ['sendmsg6', AttachType.CGROUP_UDP6_SENDMSG],
  ['sysctl', AttachType.CGROUP_SYSCTL],
  ['recvmsg4', AttachType.CGROUP_UDP4_RECVMSG],
  ['recvmsg6', AttachType.CGROUP_UDP6_RECVMSG],
  ['getsockopt', AttachType.CGROUP_GETSOCKOPT],
  ['setsockopt', AttachType.CGROUP_SETSOCKOPT],
];

const atName = (t: number) => attachTypeName(t).toLowerCase();

/** bpftool's parse_attach_type: libbpf's name exactly, else a prefix of a traditional name. */
export function parseCgroupAttachType(w: string): number {
  const exact = CGROUP_ATTACH_TYPES.find((t) => atName(t) === w);
  if (exact !== undefined) return exact;
  const short = INPUT_NAMES.find(([n]) => isKeyword(w, n));
  if (short) return short[1];
  throw new UsageError(`invalid attach type '${w}'`);
}

function flagsStr(f: number): string {
  if (f === CgroupAttachFlags.multi) return 'multi';
  if (f === CgroupAttachFlags.override) return 'override';
  return f ? `unknown(${f.toString(16)})` : '';
}

interface Row {
  a: CgroupAttachment;
  name: string;
  attachBtfObjId: number;
  attachBtfId: number;
}

function rowsOf(list: CgroupAttachment[]): Row[] {
  const out: Row[] = [];
  for (const a of list) {
    try {
      using p = Program.fromId(a.progId);
      const r = progRow(p);
      out.push({ a, name: r.name, attachBtfObjId: r.info.attachBtfObjId, attachBtfId: r.info.attachBtfId });
    } catch (e) {
      // Detached and freed since the query: bpftool skips it too.
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
  }
  return out;
}

function rowJson(r: Row, effective: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { id: r.a.progId, attach_type: atName(r.a.attachType) };
  if (!effective) o.attach_flags = flagsStr(r.a.attachFlags);
  o.name = r.name;
  // bpftool 7.1 always writes attach_btf_name (empty unless the program attaches to a vmlinux BTF type); newer ones only when set.
  o.attach_btf_name = '';
  o.attach_btf_obj_id = r.attachBtfObjId;
  o.attach_btf_id = r.attachBtfId;
  return o;
}

function rowPlain(r: Row, effective: boolean, level: number): string {
  let s = `${level ? '    ' : ''}${String(r.a.progId).padEnd(8)} ${atName(r.a.attachType).padEnd(15)}`;
  s += effective ? ` ${r.name.padEnd(15)}` : ` ${flagsStr(r.a.attachFlags).padEnd(15)} ${r.name.padEnd(15)}`;
  // bpftool 7.1's attach_btf_name column, empty here (lsm_cgroup programs: the ids instead).
  s += r.attachBtfId ? ` attach_btf_obj_id=${r.attachBtfObjId} attach_btf_id=${r.attachBtfId}` : ` ${''.padEnd(15)}`;
  return s + '\n';
}

const header = (effective: boolean) => (effective ? `${'ID'.padEnd(8)} ${'AttachType'.padEnd(15)} ${'Name'.padEnd(15)}\n` : `${'ID'.padEnd(8)} ${'AttachType'.padEnd(15)} ${'AttachFlags'.padEnd(15)} ${'Name'.padEnd(15)}\n`);

/** `[effective]` after the path (bpftool: a prefix of the word, once). */
function parseEffective(rest: string[]): boolean {
  let eff = false;
  for (const w of rest) {
    if (!isKeyword(w, 'effective')) throw new UsageError(`expected no more arguments, 'effective', got: '${w}'`);
    if (eff) throw new UsageError(`duplicated argument: ${w}`);
    eff = true;
  }
  return eff;
}

function showCommand(name: 'cgroup show' | 'cgroup list'): Command {
  return {
    name,
    usage: `${name} CGROUP [effective] [-j|-p]`,
    summary: 'programs attached to a cgroup v2 directory (with effective: those that run there, inherited too)',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 1, max: 2 });
      const effective = parseEffective(positional.slice(1));
      const path = positional[0]!;
      const rows = rowsOf(withCgroup(path, (fd) => cgroupAttachments(fd, { effective, path })));
      // bpftool prints nothing at all (no header, no JSON) for a cgroup without programs.
      if (!rows.length) return 0;
      if (flags.has('json')) await printJson(outputOpts(flags), rows.map((r) => rowJson(r, effective)));
      else await writeOut(header(effective) + rows.map((r) => rowPlain(r, effective, 0)).join(''));
      return 0;
    },
  };
}

/** The cgroup v2 mount point, from /proc/mounts (bpftool's find_cgroup_root). */
function cgroupRoot(): string {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1].replace(/\\040/g, ' ');
  }
  throw new TsbpfError('NO_CGROUP', "cgroup v2 isn't mounted");
}

/** Directories under `root`, parents first, on root's file system only (nftw with FTW_MOUNT), with their depth. */
function* walk(root: string): Generator<[string, number]> {
  const dev = lstatSync(root).dev;
  const stack: [string, number][] = [[root, 0]];
  while (stack.length) {
    const [dir, level] = stack.pop()!;
    yield [dir, level];
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const subs: [string, number][] = [];
    for (const n of names) {
      const p = join(dir, n);
      try {
        const st = lstatSync(p);
        if (st.isDirectory() && st.dev === dev) subs.push([p, level + 1]);
      } catch {
        // Removed while we walk.
      }
    }
    stack.push(...subs.reverse());
  }
}

const tree: Command = {
  name: 'cgroup tree',
  usage: 'cgroup tree [CGROUP_ROOT] [effective] [-j|-p]',
  summary: 'programs attached anywhere under a cgroup v2 root (default: the cgroup2 mount)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
    const effective = parseEffective(positional.slice(1));
    const root = positional[0] ?? cgroupRoot();
    const o: OutputOpts = outputOpts(flags);
    const json: Record<string, unknown>[] = [];
    let s = o.json ? '' : `CgroupPath\n${header(effective)}`;
    for (const [dir, level] of walk(root)) {
      const rows = rowsOf(withCgroup(dir, (fd) => cgroupAttachments(fd, { effective, path: dir })));
      if (!rows.length) continue;
      if (o.json) json.push({ cgroup: dir, programs: rows.map((r) => rowJson(r, effective)) });
      else s += `${dir}\n${rows.map((r) => rowPlain(r, effective, level)).join('')}`;
    }
    if (o.json) await printJson(o, json);
    else await writeOut(s);
    return 0;
  },
};

const attach: Command = {
  name: 'cgroup attach',
  usage: 'cgroup attach CGROUP ATTACH_TYPE PROG [multi] [override] [-j|-p]',
  summary: 'attach a program to a cgroup (BPF_PROG_ATTACH: stays after exit); PROG is id N, pinned P, tag T or name N',
  async run(args) {
    const { positional: w, flags } = parseArgs(args, { ...JSON_FLAGS, min: 4, max: 6 });
    const at = parseCgroupAttachType(w[1]!);
    let f = 0;
    for (const x of w.slice(4)) {
      if (isKeyword(x, 'multi')) f |= CgroupAttachFlags.multi;
      else if (isKeyword(x, 'override')) f |= CgroupAttachFlags.override;
      else throw new UsageError(`unknown option: ${x}`);
    }
    withOneProgram(w.slice(2, 4), (p) => cgroupProgAttach(w[0]!, at, p.fd, f));
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

const detach: Command = {
  name: 'cgroup detach',
  usage: 'cgroup detach CGROUP ATTACH_TYPE PROG [-j|-p]',
  summary: 'detach a program from a cgroup hook (BPF_PROG_DETACH)',
  async run(args) {
    const { positional: w, flags } = parseArgs(args, { ...JSON_FLAGS, min: 4 });
    const at = parseCgroupAttachType(w[1]!);
    withOneProgram(w.slice(2, 4), (p) => cgroupProgDetach(w[0]!, at, p.fd));
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

export const cgroupCommands: Command[] = [showCommand('cgroup show'), showCommand('cgroup list'), tree, attach, detach];
