/** Netfilter hooks (6.4+): a BPF link on a protocol family and hook, at a priority. */
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { FdLink, linkCreate } from './link.ts';
import { requireProgType } from './prog-check.ts';

export const NfProto = { ipv4: 2, ipv6: 10 } as const;
const BPF_F_NETFILTER_IP_DEFRAG = 1;

export const NfHook = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;

export function attachNetfilter(prog: Program, opts: { family: keyof typeof NfProto; hook: keyof typeof NfHook; priority: number; defrag?: boolean }): FdLink {
  requireProgType(prog, [ProgType.NETFILTER], 'netfilter');
  const fd = linkCreate(
    {
      progFd: prog.fd,
      targetFd: 0,
      attachType: AttachType.NETFILTER,
      target: { kind: 'netfilter', pf: NfProto[opts.family], hooknum: NfHook[opts.hook], priority: opts.priority, flags: opts.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0 },
    },
    { object: `netfilter ${opts.family} ${opts.hook}`, caps: ['NET_ADMIN'], hints: { EINVAL: 'bad family/hook/priority, or this kernel has no BPF netfilter links' } },
  );
  return new FdLink(fd, `netfilter ${opts.family}/${opts.hook} prio ${opts.priority} -> ${prog.name}`);
}
