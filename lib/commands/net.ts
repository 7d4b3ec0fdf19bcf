/**
 * `tsbpf net show|list [dev NAME]`, `net attach TYPE PROG dev NAME
 * [overwrite|prepend]`, `net detach TYPE dev NAME`: bpftool's net verbs (XDP,
 * tcx, netkit, classic tc filters, flow dissector, netfilter), its plain text
 * and JSON keys. XDP and tcx attach as bpftool does (netlink, BPF_PROG_ATTACH):
 * the attachment outlives the command.
 */
import { ifindexOf } from '../../bpf/link/netdev.ts';
import { MPROG_HOOKS, XdpFlags, flowDissectorId, netDevices, netfilterLinks, queryIfindex, setXdpProgram, tcFilters, type NetDevice } from '../../bpf/link/net-query.ts';
import type { LinkDetails } from '../../bpf/link/link-info.ts';
import { Program } from '../../bpf/programs/program.ts';
import { AttachType } from '../../bpf/programs/types.ts';
import { progAttach, progDetachRaw, BpfError } from '../../syscall/index.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { isKeyword, parseArgs } from './args.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut } from './out.ts';
import { progRow } from './prog-show.ts';
import { withOneProgram } from './prog-select.ts';

type Obj = Record<string, unknown>;

/** `dev NAME` at words[at] -> its ifindex (bpftool: "invalid devname"). */
function parseDev(words: string[], at: number): number {
  if (!isKeyword(words[at], 'dev')) throw new UsageError(`expected 'dev', got: '${words[at] ?? ''}'`);
  const name = words[at + 1];
  if (name === undefined) throw new UsageError("'dev' needs a device name");
  try {
    return ifindexOf(name);
  } catch {
    throw new TsbpfError('NO_INTERFACE', `invalid devname ${name}`);
  }
}

function progName(id: number): string | undefined {
  try {
    using p = Program.fromId(id);
    return progRow(p).name || undefined;
  } catch {
    return undefined;
  }
}

const bits = (v: number) => Array.from({ length: 32 }, (_, j) => 1 << j >>> 0).filter((b) => v & b);

const PF_NAMES: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
const INET_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
const ARP_HOOKS = ['input', 'output'];

/** netfilter_dump_plain: "\n\tip input prio 10" and flags when set. */
function netfilterPlain(d: LinkDetails): string {
  const pf = d.nfPf!;
  const hook = d.nfHook!;
  const pfName = PF_NAMES[pf];
  const hookName = [1, 2, 7, 10].includes(pf) ? INET_HOOKS[hook] : pf === 3 ? ARP_HOOKS[hook] : undefined;
  let s = pfName ? `\n\t${pfName}` : `\n\tpf: ${pf}`;
  s += hookName ? ` ${hookName}` : `, hook ${hook},`;
  s += ` prio ${d.nfPriority}`;
  if (d.nfFlags) s += ` flags 0x${d.nfFlags.toString(16)}`;
  return s;
}

interface NetReport {
  xdp: Obj[];
  tc: Obj[];
  flowDissector?: number;
  netfilter: LinkDetails[];
  /** The plain text, built alongside (bpftool's spacing quirks kept). */
  plainXdp: string;
  plainTc: string;
}

function collect(filter?: number): NetReport {
  const devs = netDevices().filter((d) => filter === undefined || d.ifindex === filter);
  const r: NetReport = { xdp: [], tc: [], netfilter: [], plainXdp: '', plainTc: '' };
  for (const d of devs) addXdp(r, d);
  for (const d of devs) {
    for (const [type, kind] of MPROG_HOOKS) {
      const q = queryIfindex(d.ifindex, type);
      if (!q) continue;
      q.progIds.forEach((id, i) => {
        const name = progName(id);
        const o: Obj = { devname: d.name, ifindex: d.ifindex, kind };
        if (name !== undefined) o.name = name;
        o.prog_id = id;
        o.prog_flags = bits(q.progAttachFlags[i] ?? 0);
        o.link_id = q.linkIds[i] ?? 0;
        o.link_flags = bits(q.linkAttachFlags[i] ?? 0);
        r.tc.push(o);
        let s = `${d.name}(${d.ifindex}) ${kind}${name !== undefined ? ` ${name}` : ''} prog_id ${id} `;
        if (q.progAttachFlags[i]) s += `prog_flags ${bits(q.progAttachFlags[i]!).map((b) => `${b} `).join('')}`;
        if (q.linkIds[i]) {
          s += `link_id ${q.linkIds[i]} `;
          if (q.linkAttachFlags[i]) s += `link_flags ${bits(q.linkAttachFlags[i]!).map((b) => `${b} `).join('')}`;
        }
        r.plainTc += s + '\n';
      });
    }
    for (const f of tcFilters(d.ifindex)) {
      const o: Obj = {};
      if (d.name) o.devname = d.name;
      o.ifindex = d.ifindex;
      o.kind = f.kind;
      let s = `${d.name}(${d.ifindex}) ${f.kind}`;
      if (f.name !== undefined) ((o.name = f.name), (s += ` ${f.name}`));
      if (f.id !== undefined) ((o.id = f.id), (s += ` id ${f.id}`));
      if (f.act) {
        o.act = f.act.map((a) => ({ ...(a.name !== undefined ? { name: a.name } : {}), ...(a.id !== undefined ? { id: a.id } : {}) }));
        s += ` act [${f.act.map((a) => `{${a.name ?? ''}${a.id !== undefined ? ` id ${a.id}` : ''}}`).join('')}] `;
      }
      r.tc.push(o);
      r.plainTc += s + '\n';
    }
  }
  r.flowDissector = flowDissectorId();
  r.netfilter = netfilterLinks();
  return r;
}

function addXdp(r: NetReport, d: NetDevice): void {
  if (!d.xdp.length) return;
  const o: Obj = { devname: d.name, ifindex: d.ifindex };
  let s = `${d.name}(${d.ifindex})`;
  if (d.xdpMulti) o.multi_attachments = d.xdp.map((x) => ({ mode: x.mode, id: x.id }));
  else ((o.mode = d.xdp[0]!.mode), (o.id = d.xdp[0]!.id));
  for (const x of d.xdp) s += ` ${x.mode} id ${x.id}`;
  r.xdp.push(o);
  r.plainXdp += s + '\n';
}

function showCommand(name: 'net show' | 'net list'): Command {
  return {
    name,
    usage: `${name} [dev NAME] [-j|-p]`,
    summary: 'programs on the network stack: XDP, tcx, netkit, tc filters, flow dissector, netfilter (bpftool net show)',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      if (positional.length === 1) throw new UsageError(`expected 'dev NAME', got: '${positional[0]}'`);
      const filter = positional.length ? parseDev(positional, 0) : undefined;
      const r = collect(filter);
      if (flags.has('json')) {
        // bpftool writes the flow dissector as `["id": N]`, which is no JSON; an object in the array here.
        const nf = r.netfilter.map((d) => ({ pf: d.nfPf, hook: d.nfHook, prio: d.nfPriority, flags: d.nfFlags, id: d.progId }));
        await printJson(outputOpts(flags), [{ xdp: r.xdp, tc: r.tc, flow_dissector: r.flowDissector ? [{ id: r.flowDissector }] : [], netfilter: nf }]);
        return 0;
      }
      let s = `xdp:\n${r.plainXdp}\ntc:\n${r.plainTc}\nflow_dissector:\n`;
      s += r.flowDissector ? `id ${r.flowDissector}\n` : '\n';
      s += `netfilter:\n${r.netfilter.map((d) => `${netfilterPlain(d)} prog_id ${d.progId}`).join('')}\n`;
      await writeOut(s);
      return 0;
    },
  };
}

const NET_TYPES = ['xdp', 'xdpgeneric', 'xdpdrv', 'xdpoffload', 'tcx_ingress', 'tcx_egress'] as const;
type NetType = (typeof NET_TYPES)[number];

/** bpftool's parse_attach_type: the first type the word is a prefix of. */
function parseNetType(w: string | undefined): NetType {
  const t = NET_TYPES.find((n) => isKeyword(w, n));
  if (!t) throw new UsageError(`invalid net attach/detach type: ${w ?? ''}`);
  return t;
}

function xdpFlags(t: NetType, overwrite: boolean): number {
  let f = overwrite ? 0 : XdpFlags.UPDATE_IF_NOEXIST;
  if (t === 'xdpgeneric') f |= XdpFlags.SKB_MODE;
  if (t === 'xdpdrv') f |= XdpFlags.DRV_MODE;
  if (t === 'xdpoffload') f |= XdpFlags.HW_MODE;
  return f;
}

const BPF_F_BEFORE = 1 << 3;

const attach: Command = {
  name: 'net attach',
  usage: 'net attach ATTACH_TYPE PROG dev NAME [overwrite | prepend] [-j|-p]',
  summary: 'attach a program to an interface (xdp, xdpgeneric, xdpdrv, xdpoffload, tcx_ingress, tcx_egress); it stays after exit',
  async run(args) {
    const { positional: w, flags } = parseArgs(args, { ...JSON_FLAGS, min: 5, max: 6 });
    const type = parseNetType(w[0]);
    const ifindex = parseDev(w, 3);
    let overwrite = false;
    let prepend = false;
    if (w[5] !== undefined) {
      if (isKeyword(w[5], 'overwrite')) {
        if (type.startsWith('tcx')) throw new UsageError("'overwrite' is only supported for xdp types");
        overwrite = true;
      } else if (isKeyword(w[5], 'prepend')) {
        if (!type.startsWith('tcx')) throw new UsageError("'prepend' is only supported for tcx_ingress/tcx_egress");
        prepend = true;
      } else throw new UsageError(`expected 'overwrite' or 'prepend', got: '${w[5]}'`);
    }
    withOneProgram(w.slice(1, 3), (p) => {
      if (type.startsWith('tcx')) {
        progAttach(ifindex, p.fd, type === 'tcx_ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS, prepend ? BPF_F_BEFORE : 0, { object: `${type} on ${w[4]}`, caps: ['NET_ADMIN'] });
      } else setXdpProgram(ifindex, p.fd, xdpFlags(type, overwrite));
    });
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

const detach: Command = {
  name: 'net detach',
  usage: 'net detach ATTACH_TYPE dev NAME [-j|-p]',
  summary: 'detach what `net attach` put on an interface (XDP by netlink, tcx by BPF_PROG_DETACH)',
  async run(args) {
    const { positional: w, flags } = parseArgs(args, { ...JSON_FLAGS, min: 3 });
    const type = parseNetType(w[0]);
    const ifindex = parseDev(w, 1);
    if (type.startsWith('tcx')) {
      const r = progDetachRaw(ifindex, 0, type === 'tcx_ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS);
      if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, { object: `${type} on ${w[2]}` });
    } else setXdpProgram(ifindex, -1, xdpFlags(type, false));
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

export const netCommands: Command[] = [showCommand('net show'), showCommand('net list'), attach, detach];
