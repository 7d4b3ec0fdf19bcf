/**
 * What maps, programs, links and BTF objects share in the kernel: pinning in
 * bpffs, opening a pin, opening by id, walking ids, and BPF_OBJ_GET_INFO_BY_FD.
 */
import { closeFd, objGet, objGetFdById, objGetInfoByFd, objGetNextId, objPin, type GetFdByIdCmd, type GetNextIdCmd } from '../syscall/index.ts';
import { TsbpfError, type HandleErrorCode } from '../errors.ts';
import { readlinkSync } from 'node:fs';
import { checkPinPath } from './pin.ts';

export type BpfObjectKind = 'map' | 'program' | 'link' | 'btf';

// The anon-inode names the kernel gives its object files (bpf_map_new_fd, bpf_prog_new_fd,
// bpf_link_prime, btf_new_fd). OBJ_GET_INFO_BY_FD cannot tell them apart: it answers for
// every kind, each in its own layout.
const ANON_KINDS: Record<string, BpfObjectKind> = {
  'anon_inode:bpf-map': 'map',
  'anon_inode:bpf-prog': 'program',
  'anon_inode:bpf-link': 'link',
  'anon_inode:bpf_link': 'link', // before 6.x the link inode was named with an underscore
  'anon_inode:btf': 'btf',
};

/** What kind of BPF object `fd` is; 'other' for a non-BPF fd, undefined when /proc cannot tell. */
export function fdKind(fd: number): BpfObjectKind | 'other' | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  return ANON_KINDS[target] ?? 'other';
}

const NOT_A: Record<BpfObjectKind, HandleErrorCode> = { map: 'NOT_A_MAP', program: 'NOT_A_PROGRAM', link: 'NOT_A_LINK', btf: 'NOT_A_BTF' };

/**
 * Throw NOT_A_<KIND> unless `fd` is a `kind` object (a pin or fd of something else would
 * otherwise be read with the wrong info layout). When /proc cannot tell, the kernel decides.
 */
export function expectKind(fd: number, kind: BpfObjectKind, what: string): void {
  const k = fdKind(fd);
  if (k === undefined || k === kind) return;
  const is = k === 'other' ? 'not a BPF object' : `a BPF ${k}`;
  throw new TsbpfError(NOT_A[kind], `${what} is ${is}, not a BPF ${kind}`);
}

/** Pin `fd` at a bpffs path. */
export function pinFd(fd: number, path: string, what: string): void {
  checkPinPath(path, 'pin');
  objPin(fd, path, { object: `${what} -> ${path}`, path, hints: { EEXIST: 'something is already pinned at that path' } });
}

/** Open what is pinned at `path` (BPF_OBJ_GET); returns an owned fd. */
export function openPinned(path: string, fileFlags = 0): number {
  checkPinPath(path, 'open');
  return objGet(path, fileFlags, { object: path, path });
}

/** Open an object by id with one of the *_GET_FD_BY_ID commands; returns an owned fd. */
export function openById(cmd: GetFdByIdCmd, id: number, what: string): number {
  // Ids are u32: 2**32 + n would otherwise open object n.
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new TsbpfError('BAD_ARGUMENT', `${what} id must be an integer in [0, 2^32), got ${typeof id === 'number' || typeof id === 'bigint' ? String(id) : typeof id}`);
  }
  return objGetFdById(cmd, id, { object: `${what} id ${id}` });
}

/** Walk the ids of every object of a kind with one of the *_GET_NEXT_ID commands. */
export function* objectIds(cmd: GetNextIdCmd): Generator<number, void, undefined> {
  for (let id = objGetNextId(cmd, 0); id !== undefined; id = objGetNextId(cmd, id)) yield id;
}

/** BPF_OBJ_GET_INFO_BY_FD into `info`, whose size tells the kernel how much it may write. */
export function objectInfo(fd: number, info: Uint8Array, what: string): void {
  objGetInfoByFd(fd, info, { object: what });
}

/** A handle that was garbage-collected without close(): its fd was closed then. */
export interface FdLeak {
  /** The handle's class ('BpfMap', 'Program', ...). */
  kind: string;
  fd: number;
  /** Where the handle was created (captured only while tracing is on). */
  stack: string;
}

let tracing = process.env.TSBPF_TRACE_FDS === '1';
let leakListener: ((leak: FdLeak) => void) | undefined;

/**
 * Debugging fd leaks (like cilium/ebpf's fd tracer): while on, every new
 * handle records where it was created, and one collected without close() is
 * reported with that stack (a process warning, code TSBPF_FD_LEAK, or the
 * listener given). Also on with env TSBPF_TRACE_FDS=1. Costs a stack per handle.
 */
export function traceFds(on: boolean, listener?: (leak: FdLeak) => void): void {
  tracing = on;
  leakListener = listener;
}

/** What the finalizer needs: never the handle itself (that would keep it alive). */
interface Held {
  fd: number;
  kind: string;
  stack: string | undefined;
  /** Other resources to release with the fd (native memory); none may touch a view afterwards. */
  release: (() => void)[];
}

/** Close is explicit; this closes what was dropped without it, so a leak is bounded by the GC. */
const collected = new FinalizationRegistry<Held>((h) => {
  closeFd(h.fd);
  for (const r of h.release) r();
  if (h.stack === undefined) return;
  const leak: FdLeak = { kind: h.kind, fd: h.fd, stack: h.stack };
  if (leakListener) leakListener(leak);
  else process.emitWarning(`${h.kind} (fd ${h.fd}) was garbage-collected without close(); created ${h.stack}`, { code: 'TSBPF_FD_LEAK' });
});

/**
 * A kernel object held through one fd: maps, programs, BTF. The fd has one
 * owner, close() releases it exactly once, and use after close is a typed
 * error (code CLOSED) rather than a syscall on a recycled fd number. A handle
 * dropped without close() has its fd closed when it is garbage-collected
 * (reported, with where it was made, under traceFds).
 */
export abstract class FdHandle implements Disposable {
  #fd: number;
  readonly #held: Held;

  protected constructor(fd: number) {
    this.#fd = fd;
    // The stack's first line is 'Error'; keep the frames, from the caller of the constructor.
    const stack = tracing ? (new Error().stack ?? '').split('\n').slice(2).join('\n').trim() || '(no stack)' : undefined;
    this.#held = { fd, kind: new.target.name.replace(/^_+/, ''), stack: stack === undefined ? undefined : `at:\n${stack}`, release: [] };
    collected.register(this, this.#held, this);
  }

  /**
   * Also release `fn` if this handle is collected without close() (close()
   * uses released() instead). `fn` must not reference the handle.
   */
  protected releaseOnCollect(fn: () => void): void {
    this.#held.release.push(fn);
  }

  /** How errors name this object ("map 'counts'"). */
  protected abstract get what(): string;

  /** Anything else to release after the fd is closed. */
  protected released(): void {}

  /** The fd; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new TsbpfError('CLOSED', `${this.what} is closed`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Close the fd; safe to call more than once. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    collected.unregister(this);
    closeFd(fd);
    this.released();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
