/** XDP through a BPF link on an interface: native (driver), generic (skb) or offloaded mode. */
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { FdLink, linkCreate } from './link.ts';
import { ifindexOf } from './netdev.ts';
import { requireProgType } from './prog-check.ts';

export const XdpMode = { auto: 0, generic: 1 << 1, native: 1 << 2, offload: 1 << 3 } as const;
export type XdpModeName = keyof typeof XdpMode;

export function attachXdp(prog: Program, iface: string | number, opts: { mode?: XdpModeName } = {}): FdLink {
  requireProgType(prog, [ProgType.XDP], 'XDP');
  const ifindex = ifindexOf(iface);
  const fd = linkCreate(
    { progFd: prog.fd, targetFd: ifindex, attachType: AttachType.XDP, flags: XdpMode[opts.mode ?? 'auto'] },
    {
      object: `xdp on ${iface}`,
      caps: ['NET_ADMIN'],
      hints: { EBUSY: 'another XDP program is attached to this interface', EOPNOTSUPP: 'the driver has no native XDP: use mode "generic"', EEXIST: 'an XDP program is already attached (not through a link)' },
    },
  );
  return new FdLink(fd, `xdp ${iface}${opts.mode && opts.mode !== 'auto' ? ` (${opts.mode})` : ''} -> ${prog.name}`);
}
