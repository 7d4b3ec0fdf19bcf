/**
 * Links: what keeps an attached program attached. A Link owns the fds that
 * hold the attachment (a BPF link fd, a perf event fd, or both) and detaches
 * on close(). Kinds without BPF links (prog-attach, socket options, perf
 * ioctls) are Links too, so every attach returns the same shape.
 */
import {
  BpfCmd,
  BpfError,
  closeFd,
  dupFd,
  linkCreateRaw,
  linkDetach,
  linkUpdate,
  progDetachRaw,
  type BpfErrorContext,
  type LinkCreateFields,
} from '../../syscall/index.ts';
import { TsbpfError, type AttachErrorCode } from '../../errors.ts';
import { unpinPath } from '../pin.ts';
import { expectKind, objectIds, objectInfo, openById, openPinned, pinFd } from '../handle.ts';
import type { Program } from '../programs/program.ts';
import { attachTypeName } from '../programs/types.ts';

export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;

const LINK_NAMES: string[] = [];
for (const [n, v] of Object.entries(LinkType)) LINK_NAMES[v] = n;
export function linkTypeName(t: number): string {
  return LINK_NAMES[t] ?? `UNKNOWN(${t})`;
}

export interface LinkInfo {
  type: number;
  typeName: string;
  id: number;
  progId: number;
  /** The raw union that follows (type specific), for tools. */
  raw: Uint8Array;
}

/** A hook is missing (no such tracepoint, symbol, interface), or the kernel lacks the attach kind. */
export class AttachError extends TsbpfError {
  declare readonly code: AttachErrorCode;
  constructor(code: AttachErrorCode, message: string) {
    super(code, message);
  }
}

export abstract class Link implements Disposable {
  /** What was attached where, for messages and `link list`. */
  readonly description: string;
  #closed = false;

  constructor(description: string) {
    this.description = description;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The BPF link fd, or -1 for attachments that have none (prog-attach, socket filters, legacy perf). */
  abstract get fd(): number;

  /** Detach and release every fd; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
  }

  protected abstract release(): void;

  [Symbol.dispose](): void {
    this.close();
  }

  /** Pin the link in bpffs: the program stays attached after this process exits, until the pin is removed. */
  pin(path: string): void {
    pinFd(this.#linkFd('pin'), path, this.description);
  }

  unpin(path: string): void {
    unpinPath(path);
  }

  /** Replace the attached program atomically (BPF_LINK_UPDATE). */
  update(prog: Program, opts: { expected?: Program } = {}): void {
    linkUpdate(this.#linkFd('update'), prog.fd, opts.expected?.fd, {
      object: this.description,
      hints: {
        EOPNOTSUPP: 'this kind of link cannot be updated',
        // link_update() answers EINVAL both for a link kind without update_prog (raw_tp, tp_btf, tracing,
        // perf_event, kprobe_multi, uprobe_multi) and for a program that does not fit the hook.
        EINVAL: 'this kind of link cannot be updated (raw_tp, tp_btf, perf_event, kprobe/uprobe_multi links), or the new program does not fit this hook (type or attach type)',
      },
    });
  }

  /** Detach the program but keep the link fd (BPF_LINK_DETACH); pinned links become defunct. */
  detach(): void {
    linkDetach(this.#linkFd('detach'), { object: this.description });
  }

  info(): LinkInfo {
    return linkInfoByFd(this.#linkFd('info'));
  }

  #linkFd(what: string): number {
    if (this.#closed) throw new TsbpfError('CLOSED', `link ${this.description} is closed`);
    const fd = this.fd;
    if (fd < 0) throw new TsbpfError('NOT_A_BPF_LINK', `cannot ${what} ${this.description}: it is attached without a BPF link (old kernel or prog-attach API)`);
    return fd;
  }
}

/** A BPF link fd (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN, BPF_OBJ_GET). */
export class FdLink extends Link {
  #fd: number;
  /** Extra fds that must live as long as the link (e.g. its perf event). */
  #extra: number[];

  constructor(fd: number, description: string, extra: number[] = []) {
    super(description);
    this.#fd = fd;
    this.#extra = extra;
  }

  get fd(): number {
    return this.closed ? -1 : this.#fd;
  }

  protected release(): void {
    closeFd(this.#fd);
    for (const fd of this.#extra) closeFd(fd);
    this.#extra = [];
  }

  /** Open a pinned link; a pinned map or program is refused (NOT_A_LINK). */
  static fromPin(path: string): FdLink {
    return FdLink.#adopt(openPinned(path), `pinned link ${path}`, `pin ${path}`);
  }

  static fromId(id: number): FdLink {
    return FdLink.#adopt(openById(BpfCmd.LINK_GET_FD_BY_ID, id, 'link'), `link id ${id}`, `link id ${id}`);
  }

  /** Open a link from an fd the caller keeps; tsbpf owns a duplicate. */
  static fromFd(fd: number): FdLink {
    return FdLink.#adopt(dupFd(fd), `link fd ${fd}`, `fd ${fd}`);
  }

  static #adopt(fd: number, description: string, what: string): FdLink {
    try {
      expectKind(fd, 'link', what);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new FdLink(fd, description);
  }
}

/** An attachment through BPF_PROG_ATTACH: close() issues BPF_PROG_DETACH. */
export class ProgAttachLink extends Link {
  #target: number;
  #ownsTarget: boolean;
  #progFd: number;
  #attachType: number;

  constructor(targetFd: number, ownsTarget: boolean, progFd: number, attachType: number, description: string) {
    super(description);
    this.#target = targetFd;
    this.#ownsTarget = ownsTarget;
    this.#progFd = progFd;
    this.#attachType = attachType;
  }

  get fd(): number {
    return -1;
  }

  protected release(): void {
    progDetachRaw(this.#target, this.#progFd, this.#attachType); // best effort: the target may be gone
    closeFd(this.#progFd);
    if (this.#ownsTarget) closeFd(this.#target);
  }
}

/** An attachment that lives as long as some fds (a legacy perf event, a socket option): closing them detaches. */
export class FdsLink extends Link {
  #fds: number[];
  #onClose: (() => void) | undefined;
  constructor(fds: number[], description: string, onClose?: () => void) {
    super(description);
    this.#fds = fds;
    this.#onClose = onClose;
  }
  get fd(): number {
    return -1;
  }
  protected release(): void {
    this.#onClose?.();
    for (const fd of this.#fds) closeFd(fd);
    this.#fds = [];
  }
}

/** A set of links closed together (e.g. one perf event per CPU). */
export class MultiLink extends Link {
  readonly links: Link[];
  constructor(links: Link[], description: string) {
    super(description);
    this.links = links;
  }
  get fd(): number {
    return -1;
  }
  protected release(): void {
    for (const l of this.links) l.close();
  }
}

/** BPF_LINK_CREATE; returns an owned fd or throws, naming the attach type. */
export function linkCreate(req: LinkCreateFields, ctx: BpfErrorContext): number {
  const r = linkCreateRaw(req);
  if (r < 0) throw new BpfError('BPF_LINK_CREATE', -r, ctx, `attach type ${attachTypeName(req.attachType)}`);
  return r;
}

const LINK_INFO_SIZE = 256;

export function linkInfoByFd(fd: number): LinkInfo {
  const info = new Uint8Array(LINK_INFO_SIZE);
  objectInfo(fd, info, `link fd ${fd}`);
  const d = new DataView(info.buffer);
  const type = d.getUint32(0, true);
  return { type, typeName: linkTypeName(type), id: d.getUint32(4, true), progId: d.getUint32(8, true), raw: info.slice(16) };
}

/** Ids of every BPF link on the system. */
export function linkIds(): Generator<number, void, undefined> {
  return objectIds(BpfCmd.LINK_GET_NEXT_ID);
}

/** A link with something to undo after it is closed (e.g. a tracefs probe event to remove). */
export class CleanupLink extends Link {
  readonly #inner: Link;
  readonly #after: () => void;
  constructor(inner: Link, after: () => void) {
    super(inner.description);
    this.#inner = inner;
    this.#after = after;
  }
  get fd(): number {
    return this.closed ? -1 : this.#inner.fd;
  }
  protected release(): void {
    this.#inner.close();
    this.#after();
  }
}
