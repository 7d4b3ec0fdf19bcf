/** sk_lookup and flow_dissector programs on a network namespace. */
import { openSync } from 'node:fs';
import { adoptFd, closeFd } from '../../syscall/index.ts';
import type { Program } from '../program.ts';
import { AttachType, ProgType } from '../prog-types.ts';
import { AttachError, FdLink, linkCreate } from './link.ts';

export function attachNetns(prog: Program, netnsPath = '/proc/self/ns/net'): FdLink {
  const at = prog.type === ProgType.SK_LOOKUP ? AttachType.SK_LOOKUP : prog.type === ProgType.FLOW_DISSECTOR ? AttachType.FLOW_DISSECTOR : -1;
  if (at < 0) throw new AttachError('WRONG_PROGRAM_TYPE', `program '${prog.name}' is neither SK_LOOKUP nor FLOW_DISSECTOR`);
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
