/**
 * Programs: an inert ProgramSpec (instructions and metadata, what an object
 * file describes) and a live Program that owns the fd the kernel returned.
 */
import {
  BpfCmd,
  BpfError,
  Errno,
  ProgInfoLayout,
  addressOf,
  closeFd,
  dupFd,
  ensureMemlock,
  getName,
  progLoadRaw,
  progTestRun,
  putPtr,
  type ProgLoadFields,
} from '../../syscall/index.ts';
import { TsbpfError } from '../../errors.ts';
import { unpinPath } from '../pin.ts';
import { FdHandle, expectKind, objectIds, objectInfo, openById, openPinned, pinFd } from '../handle.ts';
import { cString } from '../../elf/strings.ts';
import { INSN_SIZE } from './insn.ts';
import { kernelPredates, notSupported } from '../features.ts';
import {
  ProgType,
  progTypeName,
  resolveAttachType,
  resolveProgType,
  type AttachTypeName,
  type ProgTypeName,
} from './types.ts';
import { VerifierError, type SourceLine } from './verifier.ts';

export interface ProgramSpec {
  name: string;
  type: number | ProgTypeName;
  /** Raw instructions, 8 bytes each, fully relocated. */
  instructions: Uint8Array;
  license: string;
  expectedAttachType?: number | AttachTypeName;
  /** BTF id of the attach target (fentry, lsm, tp_btf, freplace, struct_ops). */
  attachBtfId?: number;
  /** fd of the program an freplace program extends, or of the BTF object holding attachBtfId. */
  attachFd?: number;
  flags?: number;
  kernelVersion?: number;
  ifindex?: number;
  /** Section name the program came from, for errors and auto-attach. */
  sectionName?: string;
  /** Program BTF (fd of a loaded BTF object) with func_info/line_info records. */
  btf?: {
    fd: number;
    funcInfo?: Uint8Array;
    funcInfoRecSize?: number;
    lineInfo?: Uint8Array;
    lineInfoRecSize?: number;
  };
  /** fds referenced by index from BPF_PSEUDO_MAP_IDX / kfunc calls. */
  fdArray?: number[];
}

export interface LoadOptions {
  /** 1 or 2: verifier log level used when a load fails (1 by default; 2 is verbose). */
  logLevel?: 1 | 2;
  /** Always request a log, even when the load succeeds (kept in program.verifierLog). */
  alwaysLog?: boolean;
  /** Largest log buffer to try (bytes). */
  maxLogSize?: number;
  /** Map an instruction index to its C source line, for verifier errors. */
  sourceOf?: (insn: number) => SourceLine | undefined;
}

export interface ProgInfo {
  type: number;
  typeName: string;
  id: number;
  tag: string;
  name: string;
  jitedLen: number;
  xlatedLen: number;
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  btfId: number;
  runTimeNs: bigint;
  runCount: bigint;
  verifiedInsns: number;
  gplCompatible: boolean;
  /** Runs skipped because the program was already running on that CPU. */
  recursionMisses: bigint;
  /** The BTF object and type the program attaches to (lsm_cgroup, tracing), 0 otherwise. */
  attachBtfObjId: number;
  attachBtfId: number;
}

export interface TestRunOptions {
  /** Packet or input data (skb, xdp). */
  data?: Uint8Array;
  /** Room for output data (defaults to data's size + 256 for packet programs). */
  dataOutSize?: number;
  /** Context in (e.g. struct __sk_buff, or raw_tp args). */
  ctx?: Uint8Array;
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average ns per run, as reported by the kernel. */
  duration: number;
  data?: Buffer;
  ctx?: Buffer;
}

function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

export class Program extends FdHandle {
  readonly name: string;
  readonly type: number;
  /** The verifier's log, when LoadOptions.alwaysLog asked for it. */
  readonly verifierLog: string | undefined;

  /** Expected attach type given at load (0 when none); attach helpers use it. */
  readonly attachType: number;
  /** The SEC() name it was loaded from, when it came from an object. */
  readonly sectionName: string | undefined;

  constructor(fd: number, name: string, type: number, log?: string, meta: { attachType?: number; sectionName?: string } = {}) {
    super(fd);
    this.name = name;
    this.type = type;
    this.verifierLog = log;
    this.attachType = meta.attachType ?? 0;
    this.sectionName = meta.sectionName;
  }

  /** Load a program. A verifier rejection throws VerifierError with the log. */
  static load(spec: ProgramSpec, opts: LoadOptions = {}): Program {
    ensureMemlock();
    const type = resolveProgType(spec.type);
    if (spec.instructions.byteLength % INSN_SIZE || spec.instructions.byteLength === 0) {
      throw new TsbpfError('BAD_PROGRAM', `program '${spec.name}': ${spec.instructions.byteLength} bytes of instructions is not a whole number of 8-byte instructions`);
    }
    const license = Buffer.from(spec.license + '\0');
    const meta = { attachType: resolveAttachType(spec.expectedAttachType), sectionName: spec.sectionName };
    const fdArray = spec.fdArray?.length ? Buffer.from(Int32Array.from(spec.fdArray).buffer) : undefined;
    const fields: ProgLoadFields = {
      type,
      insns: spec.instructions,
      license,
      name: sanitizeName(spec.name),
      kernVersion: spec.kernelVersion,
      flags: spec.flags,
      ifindex: spec.ifindex,
      expectedAttachType: meta.attachType,
      btfFd: spec.btf?.fd,
      funcInfo: spec.btf?.funcInfo ? { records: spec.btf.funcInfo, recSize: spec.btf.funcInfoRecSize ?? 8 } : undefined,
      lineInfo: spec.btf?.lineInfo ? { records: spec.btf.lineInfo, recSize: spec.btf.lineInfoRecSize ?? 16 } : undefined,
      attachBtfId: spec.attachBtfId,
      attachProgFd: spec.attachFd,
      fdArray,
    };
    const attempt = (log: Uint8Array | undefined, level: number): { r: number; trueSize: number } => {
      const { r, logTrueSize } = progLoadRaw(fields, log ? { buf: log, level } : undefined);
      return { r, trueSize: logTrueSize };
    };
    const retry = (fn: () => { r: number; trueSize: number }) => {
      let res = fn();
      for (let i = 0; (res.r === -Errno.EAGAIN || res.r === -Errno.EINTR) && i < 5; i++) res = fn();
      return res;
    };

    const level = opts.logLevel ?? 1;
    if (level !== 1 && level !== 2) throw new TsbpfError('BAD_OPTION', `logLevel must be 1 or 2, got ${String(level)}`);
    const maxLog = opts.maxLogSize ?? 64 << 20;
    // The kernel takes at most UINT_MAX >> 2 bytes of log.
    if (!Number.isInteger(maxLog) || maxLog < 1024 || maxLog > 0x3fffffff) {
      throw new TsbpfError('BAD_OPTION', `maxLogSize must be an integer from 1024 to ${0x3fffffff}, got ${String(maxLog)}`);
    }
    const fail = (errno: number, log: string, truncated = false): never => {
      if (errno === Errno.EPERM && !log) throw new BpfError('BPF_PROG_LOAD', errno, { object: spec.name, caps: capsFor(type) });
      // EAGAIN is no verdict: the verifier stops when a signal is pending (each retry was interrupted too).
      if (errno === Errno.EAGAIN) throw new BpfError('BPF_PROG_LOAD', errno, { object: spec.name });
      // Before 5.13 a callback (a subprogram passed to bpf_loop, bpf_for_each_map_elem, ...) is no subprogram to the
      // verifier: it refuses with a misleading "func_info doesn't match" or "unrecognized bpf_ld_imm64".
      if (errno === Errno.EINVAL && kernelPredates('callback functions') && passesCallback(spec.instructions)) {
        throw notSupported('callback functions', `program '${spec.name}' passes a subprogram to a helper such as bpf_loop`);
      }
      throw new VerifierError(spec.name, errno, log, opts.sourceOf, { truncated });
    };
    // The verdict of the run without a log: kept, since a run whose log overflows reports ENOSPC instead.
    let firstErrno: number | undefined;
    if (!opts.alwaysLog) {
      const { r } = retry(() => attempt(undefined, 0));
      if (r >= 0) return new Program(r, spec.name, type, undefined, meta);
      if (r === -Errno.ENOMEM) throw new BpfError('BPF_PROG_LOAD', -r, { object: spec.name });
      // Any failure is retried with a log: the verifier explains EACCES/EINVAL, but also ENOENT
      // (a missing ksym), E2BIG or EPERM (a pointer leak). A capability EPERM leaves the log empty.
      // An interrupted run (EAGAIN) decided nothing: the run with a log gives the verdict.
      if (r !== -Errno.EAGAIN) firstErrno = -r;
    }
    let size = Math.min(256 * 1024, maxLog);
    for (let runs = 1; ; runs++) {
      const log = new Uint8Array(size);
      const { r, trueSize } = retry(() => attempt(log, level));
      const text = cString(log);
      if (r >= 0) return new Program(r, spec.name, type, opts.alwaysLog ? text : undefined, meta);
      if (r !== -Errno.ENOSPC) fail(firstErrno ?? -r, text);
      // ENOSPC: the log overflowed. Since 6.4 the kernel keeps its tail (where the verdict is) and
      // says in log_true_size how much room the whole log needs; before, it kept the head and said nothing.
      if (trueSize > 0) {
        // The verdict is known from the first run and the tail explains it: no need to verify again.
        if (firstErrno !== undefined) fail(firstErrno, text, true);
        // alwaysLog wants the whole log: one more run with exactly the room it needs, or,
        // when that is more than maxLogSize, without a log for the verdict (keeping the tail).
        if (runs === 1 && trueSize <= maxLog) {
          size = trueSize;
          continue;
        }
        const { r: r2 } = retry(() => attempt(undefined, 0));
        if (r2 >= 0) return new Program(r2, spec.name, type, text, meta);
        fail(-r2, text, true);
      }
      if (size < maxLog) {
        size = Math.min(maxLog, size * 4);
        continue;
      }
      fail(firstErrno ?? -r, text, true);
    }
  }

  /** Open a program pinned in bpffs; a pinned map or link is refused (NOT_A_PROGRAM). */
  static fromPin(path: string): Program {
    return Program.#adopt(openPinned(path), `pin ${path}`);
  }

  static fromId(id: number): Program {
    return Program.#adopt(openById(BpfCmd.PROG_GET_FD_BY_ID, id, 'program'), `program id ${id}`);
  }

  /** Open a program from an fd the caller keeps; tsbpf owns a duplicate. */
  static fromFd(fd: number): Program {
    return Program.#adopt(dupFd(fd), `fd ${fd}`);
  }

  static #adopt(fd: number, what: string): Program {
    try {
      expectKind(fd, 'program', what);
      const info = progInfoByFd(fd);
      return new Program(fd, info.name, info.type);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  protected get what(): string {
    return `program '${this.name}'`;
  }

  info(): ProgInfo {
    return progInfoByFd(this.fd);
  }

  pin(path: string): void {
    pinFd(this.fd, path, this.name);
  }

  unpin(path: string): void {
    unpinPath(path);
  }

  /** Run the program once or `repeat` times in the kernel (BPF_PROG_TEST_RUN). */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    const data = testRunBytes(opts.data, 'data');
    const ctx = testRunBytes(opts.ctx, 'ctx');
    const dataOutSize = testRunU32(opts.dataOutSize, 'dataOutSize', MAX_TEST_RUN_OUT);
    const ctxOutSize = testRunU32(opts.ctxOutSize, 'ctxOutSize', MAX_TEST_RUN_OUT);
    const repeat = testRunU32(opts.repeat, 'repeat');
    const flags = testRunU32(opts.flags, 'flags');
    const cpu = testRunU32(opts.cpu, 'cpu');
    // Each out buffer is exactly the size the kernel is told (it writes at most that much).
    const outLen = dataOutSize ?? (data ? Math.min(data.byteLength + 256, MAX_TEST_RUN_OUT) : 0);
    const dataOut = outLen ? new Uint8Array(outLen) : undefined;
    const ctxOut = ctxOutSize ? new Uint8Array(ctxOutSize) : undefined;
    const out = progTestRun(
      {
        progFd: this.fd,
        dataIn: data,
        dataOut,
        ctxIn: ctx,
        ctxOut,
        // The kernel refuses any repeat count for SYSCALL programs (they run exactly once).
        repeat: repeat ?? (this.type === ProgType.SYSCALL ? 0 : 1),
        flags: flags ?? 0,
        cpu: cpu ?? 0,
      },
      {
        object: this.name,
        hints: { ENOTSUPP: `${progTypeName(this.type)} programs cannot be test-run`, EOPNOTSUPP: `${progTypeName(this.type)} programs cannot be test-run` },
      },
    );
    const res: TestRunResult = { retval: out.retval, duration: out.duration };
    if (dataOut) res.data = Buffer.from(dataOut.subarray(0, Math.min(dataOut.byteLength, out.dataSizeOut)));
    if (ctxOut) res.ctx = Buffer.from(ctxOut.subarray(0, Math.min(ctxOut.byteLength, out.ctxSizeOut)));
    return res;
  }
}

/** Largest out buffer testRun allocates: well above any packet or context the kernel accepts (XDP frags included). */
const MAX_TEST_RUN_OUT = 16 << 20;

function testRunU32(v: number | undefined, name: string, max = 0xffffffff): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new TsbpfError('BAD_OPTION', `testRun: ${name} must be an integer from 0 to ${max}, got ${String(v)}`);
  }
  return v;
}

function testRunBytes(v: Uint8Array | undefined, name: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw new TsbpfError('BAD_OPTION', `testRun: ${name} must be a Uint8Array`);
  if (v.byteLength > 0xffffffff) throw new TsbpfError('BAD_OPTION', `testRun: ${name} is larger than the kernel's u32 size`);
  return v;
}

/** Tracing programs need CAP_PERFMON besides CAP_BPF; network programs CAP_NET_ADMIN. */
const TRACING_TYPES: readonly number[] = [
  ProgType.KPROBE,
  ProgType.TRACEPOINT,
  ProgType.PERF_EVENT,
  ProgType.RAW_TRACEPOINT,
  ProgType.RAW_TRACEPOINT_WRITABLE,
  ProgType.TRACING,
  ProgType.LSM,
  ProgType.EXT,
];
const NETWORK_TYPES: readonly number[] = [
  ProgType.SCHED_CLS,
  ProgType.SCHED_ACT,
  ProgType.XDP,
  ProgType.SK_SKB,
  ProgType.SK_MSG,
  ProgType.SK_LOOKUP,
  ProgType.FLOW_DISSECTOR,
];
function capsFor(type: number): ('PERFMON' | 'NET_ADMIN')[] {
  return TRACING_TYPES.includes(type) ? ['PERFMON'] : NETWORK_TYPES.includes(type) ? ['NET_ADMIN'] : [];
}

export function progInfoByFd(fd: number): ProgInfo {
  const L = ProgInfoLayout;
  const mapIds = new Uint32Array(64);
  const info = new Uint8Array(L.SIZE);
  const d = new DataView(info.buffer);
  d.setUint32(L.nr_map_ids, mapIds.length, true); // the room we give
  putPtr(new Uint32Array(info.buffer), L.map_ids, addressOf(new Uint8Array(mapIds.buffer)));
  objectInfo(fd, info, `program fd ${fd}`);
  const type = d.getUint32(L.type, true);
  const nMaps = Math.min(d.getUint32(L.nr_map_ids, true), mapIds.length);
  return {
    type,
    typeName: progTypeName(type),
    id: d.getUint32(L.id, true),
    tag: Buffer.from(info.subarray(L.tag, L.tag + 8)).toString('hex'),
    jitedLen: d.getUint32(L.jited_prog_len, true),
    xlatedLen: d.getUint32(L.xlated_prog_len, true),
    loadTime: d.getBigUint64(L.load_time, true),
    createdByUid: d.getUint32(L.created_by_uid, true),
    mapIds: [...mapIds.subarray(0, nMaps)],
    name: getName(info, L.name),
    gplCompatible: (d.getUint32(L.gpl_compatible, true) & 1) === 1,
    btfId: d.getUint32(L.btf_id, true),
    runTimeNs: d.getBigUint64(L.run_time_ns, true),
    runCount: d.getBigUint64(L.run_cnt, true),
    verifiedInsns: d.getUint32(L.verified_insns, true),
    recursionMisses: d.getBigUint64(L.recursion_misses, true),
    attachBtfObjId: d.getUint32(L.attach_btf_obj_id, true),
    attachBtfId: d.getUint32(L.attach_btf_id, true),
  };
}

/** Ids of every program on the system. */
export function progIds(): Generator<number, void, undefined> {
  return objectIds(BpfCmd.PROG_GET_NEXT_ID);
}

/** BPF_LD | BPF_IMM | BPF_DW with src_reg BPF_PSEUDO_FUNC: the address of a subprogram, handed to a helper as a callback. */
function passesCallback(insns: Uint8Array): boolean {
  for (let off = 0; off + INSN_SIZE <= insns.byteLength; off += INSN_SIZE) {
    if (insns[off] === 0x18 && insns[off + 1]! >> 4 === 4) return true;
  }
  return false;
}
