/** sk_msg and sk_skb programs on a SOCKMAP/SOCKHASH (BPF_PROG_ATTACH on the map). */
import { TsbpfError } from '../../errors.ts';
import { BpfError } from '../../syscall/errors.ts';
import { kernelPredates, notSupported } from '../features.ts';
import { closeFd, dupFd } from '../../syscall/index.ts';
import type { BpfMap } from '../maps/map.ts';
import { MapType } from '../maps/types.ts';
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType, attachTypeName, resolveAttachType, type AttachTypeName } from '../programs/types.ts';
import { ProgAttachLink } from './link.ts';
import { progAttach } from '../../syscall/index.ts';
import { requireProgType } from './prog-check.ts';

export function attachSockmap(prog: Program, map: BpfMap, attachType?: number | AttachTypeName): ProgAttachLink {
  if (map.type !== MapType.SOCKMAP && map.type !== MapType.SOCKHASH) throw new TsbpfError('WRONG_MAP_TYPE', `map '${map.name}' is not a SOCKMAP or SOCKHASH`);
  requireProgType(prog, [ProgType.SK_MSG, ProgType.SK_SKB], map.name);
  const at = attachType === undefined ? prog.attachType : resolveAttachType(attachType);
  const what = `${map.name} ${attachTypeName(at).toLowerCase()} -> ${prog.name}`;
  const mapFd = dupFd(map.fd);
  const progFd = dupFd(prog.fd);
  try {
    progAttach(mapFd, progFd, at, 0, { object: what });
  } catch (e) {
    closeFd(mapFd);
    closeFd(progFd);
    // BPF_SK_SKB_VERDICT (one program for both directions) came in 5.13; before, the attach type is unknown (EINVAL).
    if (e instanceof BpfError && e.code === 'EINVAL' && at === AttachType.SK_SKB_VERDICT && kernelPredates('sk_skb/verdict attach')) {
      throw notSupported('sk_skb/verdict attach', 'use sk_skb/stream_verdict');
    }
    throw e;
  }
  return new ProgAttachLink(mapFd, true, progFd, at, what);
}
