/**
 * `tsbpf link show|list [id N | pinned PATH]`, `link pin LINK FILE`,
 * `link detach LINK`: bpftool's link verbs, with the fields bpftool prints per
 * link type (tracepoint names, attach types, cgroup ids, iterator targets...).
 */
import { FdLink, linkIds } from '../../bpf/link/link.ts';
import { linkDetails, type LinkDetails } from '../../bpf/link/link-info.ts';
import { progTypeName } from '../../bpf/programs/types.ts';
import { UsageError, type Command } from './types.ts';
import { parseArgs, parseUint } from './args.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut } from './out.ts';


/** `id N | pinned PATH` at words[at] -> the open link. */
function openLink(words: string[], at = 0): FdLink {
  const [how, what] = [words[at], words[at + 1]];
  if (how === 'id' && what !== undefined) return FdLink.fromId(parseUint('id', what, 0xffffffff, 1));
  if (how === 'pinned' && what !== undefined) return FdLink.fromPin(what);
  throw new UsageError(how === undefined ? "expected 'id N' or 'pinned PATH'" : `expected 'id' or 'pinned', got: '${how}'${what === undefined ? ' (and a value)' : ''}`);
}

/** show_link_close_json: the header and what bpftool adds for the link's type. */
export function linkJson(d: LinkDetails): Record<string, unknown> {
  const o: Record<string, unknown> = { id: d.id, type: d.typeName, prog_id: d.progId };
  if (d.tpName !== undefined) o.tp_name = d.tpName;
  if (d.progType !== undefined) o.prog_type = progTypeName(d.progType).toLowerCase();
  if (d.cgroupId !== undefined && d.targetName === undefined) o.cgroup_id = Number(d.cgroupId);
  if (d.targetName !== undefined) {
    o.target_name = d.targetName;
    if (d.mapId !== undefined) o.map_id = d.mapId;
    if (d.tid) o.tid = d.tid;
    else if (d.pid) o.pid = d.pid;
    if (d.cgroupId !== undefined) {
      o.cgroup_id = Number(d.cgroupId);
      o.order = d.order;
    }
  }
  if (d.netnsIno !== undefined) o.netns_ino = d.netnsIno;
  if (d.attachType !== undefined) o.attach_type = d.attachType;
  return o;
}

export function linkPlain(d: LinkDetails): string {
  let s = `${d.id}: ${d.typeName}  prog ${d.progId}  `;
  if (d.tpName !== undefined) s += `\n\ttp '${d.tpName}'  `;
  if (d.progType !== undefined) s += `\n\tprog_type ${progTypeName(d.progType).toLowerCase()}  `;
  if (d.cgroupId !== undefined && d.targetName === undefined) s += `\n\tcgroup_id ${d.cgroupId}  `;
  if (d.netnsIno !== undefined) s += `\n\tnetns_ino ${d.netnsIno}  `;
  if (d.attachType !== undefined) s += `attach_type ${d.attachType}  `;
  if (d.targetName !== undefined) {
    s += `target_name ${d.targetName}  `;
    if (d.mapId !== undefined) s += `map_id ${d.mapId}  `;
    if (d.tid) s += `tid ${d.tid} `;
    else if (d.pid) s += `pid ${d.pid} `;
    if (d.cgroupId !== undefined) s += `cgroup_id ${d.cgroupId}  order ${d.order}  `;
  }
  return s + '\n';
}

function showCommand(name: 'link show' | 'link list'): Command {
  return {
    name,
    usage: `${name} [id N | pinned PATH] [-j|-p]`,
    summary: 'what the kernel reports about links (every link without a selector), like bpftool link show',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      const rows: LinkDetails[] = [];
      if (positional.length) {
        using l = openLink(positional);
        rows.push(linkDetails(l.fd));
      } else {
        for (const id of linkIds()) {
          try {
            using l = FdLink.fromId(id);
            rows.push(linkDetails(l.fd));
          } catch (e) {
            if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
          }
        }
      }
      if (flags.has('json')) {
        const v = positional.length ? linkJson(rows[0]!) : rows.map(linkJson);
        await printJson(outputOpts(flags), v);
      } else await writeOut(rows.map(linkPlain).join(''));
      return 0;
    },
  };
}

const pin: Command = {
  name: 'link pin',
  usage: 'link pin (id N | pinned PATH) FILE [-j|-p]',
  summary: 'pin a link at FILE on bpffs (it then outlives its creator)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 3 });
    using l = openLink(positional);
    l.pin(positional[2]!);
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

const detach: Command = {
  name: 'link detach',
  usage: 'link detach (id N | pinned PATH) [-j|-p]',
  summary: 'detach the program of a link (BPF_LINK_DETACH); a pinned link stays, defunct',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2 });
    using l = openLink(positional);
    l.detach();
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

export const linkCommands: Command[] = [showCommand('link show'), showCommand('link list'), pin, detach];
