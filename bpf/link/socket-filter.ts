/** Socket filters (and reuseport programs) through setsockopt on a socket the caller owns. */
import { SOL_SOCKET, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_BPF, setsockoptInt } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { ProgType } from '../programs/types.ts';
import { FdsLink } from './link.ts';
import { requireProgType } from './prog-check.ts';

/** Attach to socket `socketFd` (which stays the caller's); close() detaches. */
export function attachSocketFilter(prog: Program, socketFd: number): FdsLink {
  requireProgType(prog, [ProgType.SOCKET_FILTER], 'a socket');
  setsockoptInt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, prog.fd);
  return new FdsLink([], `socket filter fd ${socketFd} -> ${prog.name}`, () => {
    try {
      setsockoptInt(socketFd, SOL_SOCKET, SO_DETACH_BPF, 0);
    } catch {
      // The socket may be closed already, which detaches too.
    }
  });
}

export function attachReuseport(prog: Program, socketFd: number): FdsLink {
  setsockoptInt(socketFd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, prog.fd);
  return new FdsLink([], `reuseport fd ${socketFd} -> ${prog.name}`);
}
