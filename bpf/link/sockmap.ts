/** sk_msg and sk_skb programs on a SOCKMAP/SOCKHASH (BPF_PROG_ATTACH on the map). */
import { TsbpfError } from '../../lib/errors.ts';
import { closeFd, dupFd } from '../../syscall/index.ts';
import type { BpfMap } from '../map.ts';
import { MapType } from '../map-types.ts';
import type { Program } from '../program.ts';
import { ProgType, attachTypeName, progTypeName, resolveAttachType, type AttachTypeName } from '../prog-types.ts';
import { ProgAttachLink, progAttach } from './link.ts';

export function attachSockmap(prog: Program, map: BpfMap, attachType?: number | AttachTypeName): ProgAttachLink {
  if (map.type !== MapType.SOCKMAP && map.type !== MapType.SOCKHASH) throw new TsbpfError('WRONG_MAP_TYPE', `map '${map.name}' is not a SOCKMAP or SOCKHASH`);
  if (prog.type !== ProgType.SK_MSG && prog.type !== ProgType.SK_SKB) {
    throw new TsbpfError('WRONG_PROGRAM_TYPE', `cannot attach ${progTypeName(prog.type)} program '${prog.name}' to ${map.name}: it needs an SK_MSG or SK_SKB program`);
  }
  const at = attachType === undefined ? prog.attachType : resolveAttachType(attachType);
  const what = `${map.name} ${attachTypeName(at).toLowerCase()} -> ${prog.name}`;
  const mapFd = dupFd(map.fd);
  const progFd = dupFd(prog.fd);
  try {
    progAttach(mapFd, progFd, at, 0, { object: what });
  } catch (e) {
    closeFd(mapFd);
    closeFd(progFd);
    throw e;
  }
  return new ProgAttachLink(mapFd, true, progFd, at, what);
}
