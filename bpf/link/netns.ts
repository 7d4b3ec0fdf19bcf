/** sk_lookup and flow_dissector programs on a network namespace. */
import { openSync } from 'node:fs';
import { adoptFd, closeFd } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { AttachError, FdLink, linkCreate } from './link.ts';
import { requireProgType } from './prog-check.ts';

export function attachNetns(prog: Program, netnsPath = '/proc/self/ns/net'): FdLink {
  requireProgType(prog, [ProgType.SK_LOOKUP, ProgType.FLOW_DISSECTOR], `network namespace ${netnsPath}`);
  const at = prog.type === ProgType.SK_LOOKUP ? AttachType.SK_LOOKUP : AttachType.FLOW_DISSECTOR;
  let ns: number;
  try {
    ns = adoptFd(openSync(netnsPath, 'r'));
  } catch (e) {
    throw new AttachError('NO_NETNS', `cannot open network namespace ${netnsPath}: ${(e as Error).message}`);
  }
  try {
    const fd = linkCreate({ progFd: prog.fd, targetFd: ns, attachType: at }, { object: `${netnsPath}`, caps: ['NET_ADMIN'] });
    return new FdLink(fd, `netns ${netnsPath} ${at === AttachType.SK_LOOKUP ? 'sk_lookup' : 'flow_dissector'} -> ${prog.name}`);
  } finally {
    closeFd(ns);
  }
}
