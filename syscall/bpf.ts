/**
 * The single entry point for bpf(2). Every command goes through `bpfCall`,
 * whose backend a unit test can replace with a fake (`setBpfBackend`).
 */
import { libc, lastErrno, nr } from './libc.ts';
import { BpfError, type BpfErrorContext } from './errors.ts';

export const BpfCmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
} as const;
export type BpfCmdName = keyof typeof BpfCmd;

const CMD_NAMES: string[] = [];
for (const [name, value] of Object.entries(BpfCmd)) CMD_NAMES[value] ??= `BPF_${name}`;

export function bpfCmdName(cmd: number): string {
  return CMD_NAMES[cmd] ?? `BPF_CMD_${cmd}`;
}

/** An attr in memory: its address (for the kernel) and a view (for a fake backend). */
export interface AttrRef {
  readonly addr: number;
  readonly bytes: Uint8Array;
}

/**
 * A bpf(2) implementation: returns the syscall's result, or -errno on failure.
 * The real one calls into libc; tests may install a fake.
 */
export type BpfBackend = (cmd: number, attr: AttrRef, size: number) => number;

function realBackend(cmd: number, attr: AttrRef, size: number): number {
  const r = sys(nr.bpf, cmd, attr.addr, size);
  return r < 0 ? -lastErrno() : r;
}

let sys: (n: number, a: number, b: number, c: number) => number = (n, a, b, c) => {
  // Bind on first use, then call the bound function directly.
  sys = libc().syscall3;
  return sys(n, a, b, c);
};

let backend: BpfBackend = realBackend;

/** Replace the bpf(2) backend (unit tests); returns the previous one. */
export function setBpfBackend(next: BpfBackend | undefined): BpfBackend {
  const prev = backend;
  backend = next ?? realBackend;
  return prev;
}

/**
 * Issue a bpf command. Returns the result (an fd for commands that create
 * objects, 0 otherwise) or the negative errno; never throws.
 */
export function bpfRaw(cmd: number, attr: AttrRef, size: number): number {
  return backend(cmd, attr, size);
}

/** Issue a bpf command and throw a typed BpfError on failure. EINTR/EAGAIN on object creation is retried. */
export function bpfCall(cmd: number, attr: AttrRef, size: number, ctx?: BpfErrorContext): number {
  let r = backend(cmd, attr, size);
  // The kernel may return EAGAIN from BPF_PROG_LOAD when interrupted; libbpf retries a few times too.
  for (let tries = 0; (r === -4 || (r === -11 && cmd === BpfCmd.PROG_LOAD)) && tries < 5; tries++) {
    r = backend(cmd, attr, size);
  }
  if (r < 0) throw new BpfError(bpfCmdName(cmd), -r, ctx);
  return r;
}
