/**
 * Symbolizer: kernel addresses through /proc/kallsyms, user addresses
 * through /proc/PID/maps -> mapped file + offset -> .symtab/.dynsym (or the
 * file's separate debug file), [vdso] read from the process's memory, and
 * JIT code through the process's perf map. Tables are parsed on first use
 * and cached by build-id under one memory bound.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { AddressSymbols } from '../../elf/address-symbols.ts';
import { LineTable } from '../../elf/dwarf-line.ts';
import type { BpfMap } from '../maps/map.ts';
import { FileReadError, readRegularFile } from '../../elf/read-file.ts';
import type { ErrnoName } from '../../errors.ts';
import { SymbolCache } from './cache.ts';
import { BpfLines } from './bpf-lines.ts';
import { JitedLines } from '../programs/line-info.ts';
import { fileIdentity, loadElf, loadLines, offsetToVaddr, type ElfFileInfo } from './elf-tables.ts';
import { SymbolizeError } from './errors.ts';
import { parseKallsyms } from './kallsyms.ts';
import { mappingAt, parseProcMaps, type ProcMapping } from './proc-maps.ts';
import { parsePerfMap } from './perf-map.ts';

/** Where a frame's code lives: colour it apart. */
export type FrameKind = 'kernel' | 'bpf' | 'user' | 'jit' | 'unknown';

/** One symbolized address. */
export interface Frame {
  readonly address: bigint;
  /** The function's name; undefined when no table names the address. */
  readonly symbol: string | undefined;
  /** Bytes past the symbol's start; without a symbol, the address within `module` (a file offset's virtual address). */
  readonly offset: number | undefined;
  /** "kernel", a kernel module's name, "bpf", the mapped file's path, "[vdso]", "[perf-map]", "[unknown]", "[exited]". */
  readonly module: string;
  readonly kind: FrameKind;
  /**
   * Source file and line, when known: perf map entries that carry them; with the `lines` option, ELF code's
   * .debug_line and BPF programs' line info (from their BTF, as `bpftool prog dump jited linum` shows it).
   */
  readonly file?: string;
  readonly line?: number;
}

export interface SymbolizerOptions {
  /** Bytes of symbol tables kept (least recently used evicted past it); default 256 MiB. */
  maxCacheBytes?: number;
  /** Roots holding separate debug files (.build-id/xx/yyyy.debug and debuglink paths); default ['/usr/lib/debug']. */
  debugRoots?: readonly string[];
  /** Default '/proc/kallsyms'. */
  kallsymsPath?: string;
  /**
   * Give user frames in ELF files `file` and `line` from DWARF .debug_line (the
   * file's own or its debug file's); default false. A file's line table is
   * parsed on the first address in it and cached beside its symbols, under
   * the same maxCacheBytes bound. BPF program frames get theirs from the
   * program's BTF line info (needs CAP_SYS_ADMIN to find the program by id),
   * read once per program and held under the same bound.
   */
  lines?: boolean;
}

export interface SymbolizerStats {
  /** Tables held and their bytes. */
  readonly tables: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/** Kernel addresses live in the upper half of the address space on every 64-bit architecture Linux runs BPF on. */
const KERNEL_HALF = 0x8000_0000_0000_0000n;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** The kernel table is re-read when it misses an address, at most this often (BPF programs come and go). */
const KALLSYMS_REFRESH_MS = 1000;
const MAX_FILE_INFOS = 4096;
/** kallsyms is ~20 MB with every module loaded; a perf map of a long-lived JIT tens of MB. Past these it is no such file. */
const MAX_KALLSYMS_BYTES = 256 * 1024 * 1024;
const MAX_PERF_MAP_BYTES = 256 * 1024 * 1024;
/**
 * kallsyms has no sizes: an entry reaches to the next one, and the last one to the top of memory. No kernel
 * function is this long; an address further past an unsized symbol is in a gap (or past the end), not in it.
 */
const MAX_UNSIZED_SPAN = 1 << 20;

export class Symbolizer {
  /** Symbol tables ("b:"/"f:" keys, kallsyms, perf maps) and line tables ("l:" + the file's key). */
  readonly #cache: SymbolCache<AddressSymbols | LineTable | JitedLines>;
  readonly #bpfLines: BpfLines;
  readonly #lines: boolean;
  readonly #debugRoots: readonly string[];
  readonly #kallsymsPath: string;
  /** file identity -> what was learnt about the file (small; bounded by count). */
  readonly #files = new Map<string, ElfFileInfo | null>();
  #kallsymsLoadedAt = -Infinity;

  constructor(opts: SymbolizerOptions = {}) {
    const max = opts.maxCacheBytes ?? 256 * 1024 * 1024;
    if (!(max >= 0)) throw new SymbolizeError('BAD_ADDRESS', `maxCacheBytes must be a non-negative number, not ${max}`);
    this.#cache = new SymbolCache(max);
    this.#debugRoots = opts.debugRoots ?? ['/usr/lib/debug'];
    this.#kallsymsPath = opts.kallsymsPath ?? '/proc/kallsyms';
    this.#lines = opts.lines === true;
    this.#bpfLines = new BpfLines({
      get: (key) => {
        const t = this.#cache.get(key);
        return t instanceof JitedLines ? t : undefined;
      },
      set: (key, value) => this.#cache.set(key, value),
    });
  }

  #symbols(key: string): AddressSymbols | undefined {
    const t = this.#cache.get(key);
    return t instanceof AddressSymbols ? t : undefined;
  }

  /** Tables held now. */
  stats(): SymbolizerStats {
    return { tables: this.#cache.size, bytes: this.#cache.bytes, maxBytes: this.#cache.maxBytes };
  }

  /** Drops every cached table. */
  clear(): void {
    this.#cache.clear();
    this.#files.clear();
    this.#bpfLines.clear();
    this.#kallsymsLoadedAt = -Infinity;
  }

  /** Re-reads /proc/kallsyms on the next kernel lookup (after loading BPF programs or modules). */
  refreshKernel(): void {
    this.#cache.delete('kallsyms');
    this.#kallsymsLoadedAt = -Infinity;
  }

  /** Kernel addresses -> frames. Throws KALLSYMS_HIDDEN when kptr_restrict hides the addresses. */
  kernel(addresses: readonly bigint[]): Frame[] {
    checkAddresses(addresses);
    return this.#kernel(addresses, () => false);
  }

  /** `isReturn(i)`: address i is a return address; a BPF frame's line is then the call's, at address - 1. */
  #kernel(addresses: readonly bigint[], isReturn: (i: number) => boolean): Frame[] {
    let table = this.#kallsyms();
    const out: Frame[] = new Array(addresses.length);
    let missed = false;
    for (let i = 0; i < addresses.length; i++) {
      const f = kernelFrame(table, addresses[i]!);
      if (f.symbol === undefined) missed = true;
      out[i] = f;
    }
    if (missed && performance.now() - this.#kallsymsLoadedAt > KALLSYMS_REFRESH_MS) {
      this.refreshKernel();
      table = this.#kallsyms();
      for (let i = 0; i < out.length; i++) if (out[i]!.symbol === undefined) out[i] = kernelFrame(table, addresses[i]!);
    }
    if (this.#lines) {
      for (let i = 0; i < out.length; i++) {
        const f = out[i]!;
        if (f.kind !== 'bpf' || f.symbol === undefined || f.offset === undefined) continue;
        const start = f.address - BigInt(f.offset);
        const at = isReturn(i) && f.address > start ? f.address - 1n : f.address;
        const src = this.#bpfLines.lookup(f.symbol, start, at);
        if (!src) continue;
        const withLine: { -readonly [K in keyof Frame]: Frame[K] } = { ...f };
        if (src.file !== undefined) withLine.file = src.file;
        if (src.line !== 0) withLine.line = src.line;
        out[i] = withLine;
      }
    }
    return out;
  }

  /**
   * User addresses of process `pid` -> frames. Throws PROCESS_EXITED when the
   * process is gone (its mappings went with it; nothing is guessed).
   */
  user(pid: number, addresses: readonly bigint[]): Frame[] {
    checkPid(pid);
    checkAddresses(addresses);
    return this.#user(pid, addresses, false);
  }

  /** `callers`: addresses after the first are return addresses (a stack walk's), whose line is the call's, at address - 1. */
  #user(pid: number, addresses: readonly bigint[], callers: boolean): Frame[] {
    const maps = readMaps(pid);
    const root = `/proc/${pid}/root`;
    const perCall = new Map<ProcMapping, Resolver | null>();
    let perfMap: AddressSymbols | null | undefined;
    const out: Frame[] = new Array(addresses.length);
    for (let i = 0; i < addresses.length; i++) {
      const address = addresses[i]!;
      const m = mappingAt(maps, address);
      if (m === undefined || !isFileBacked(m)) {
        perfMap ??= this.#perfMap(pid, root) ?? null;
        const hit = perfMap?.lookupAbsolute(address);
        if (hit) {
          out[i] = { address, symbol: hit.name, offset: hit.offset, module: '[perf-map]', kind: 'jit', ...sourceOf(hit.name) };
        } else {
          out[i] = { address, symbol: undefined, offset: undefined, module: m?.path || '[unknown]', kind: m ? 'user' : 'unknown' };
        }
        continue;
      }
      let resolve = perCall.get(m);
      if (resolve === undefined) {
        resolve = this.#mappingResolver(pid, root, m);
        perCall.set(m, resolve);
      }
      const fileOffset = Number(address - m.start + m.offset);
      out[i] = resolve ? resolve(address, fileOffset, callers && i > 0) : { address, symbol: undefined, offset: fileOffset, module: m.path, kind: 'user' };
    }
    return out;
  }

  /**
   * The frames of stack `id` in a STACK_TRACE map, innermost first: kernel
   * addresses through kallsyms, the others as addresses of `pid` (unknown
   * without it). Throws NO_STACK when the map does not hold `id`.
   */
  stackTrace(map: BpfMap, id: number, pid?: number): Frame[] {
    const ips = map.stackTrace(id);
    if (ips === undefined) throw new SymbolizeError('NO_STACK', `stack ${id} is not in map '${map.name}'`);
    return this.frames(ips, pid);
  }

  /**
   * Mixed kernel and user addresses (as a stack walk gives them, innermost
   * first) -> frames; an exited `pid`'s frames say "[exited]". With `lines`,
   * user addresses after the first are taken as return addresses: their line
   * is the call's (looked up at address - 1), as perf and gdb report callers.
   */
  frames(ips: readonly bigint[], pid?: number): Frame[] {
    checkAddresses(ips);
    const kernelIdx: number[] = [];
    const userIdx: number[] = [];
    ips.forEach((ip, i) => (ip >= KERNEL_HALF ? kernelIdx : userIdx).push(i));
    const out: Frame[] = new Array(ips.length);
    if (kernelIdx.length) {
      // A stack walk's frames after the innermost are return addresses.
      const k = this.#kernel(kernelIdx.map((i) => ips[i]!), (j) => kernelIdx[j]! > 0);
      kernelIdx.forEach((i, j) => (out[i] = k[j]!));
    }
    if (userIdx.length) {
      let u: Frame[] | undefined;
      if (pid !== undefined) {
        try {
          u = this.#user(pid, userIdx.map((i) => ips[i]!), true);
        } catch (e) {
          if (!(e instanceof SymbolizeError && e.code === 'PROCESS_EXITED')) throw e;
        }
      }
      userIdx.forEach((i, j) => (out[i] = u?.[j] ?? {
        address: ips[i]!, symbol: undefined, offset: undefined,
        module: pid === undefined ? '[unknown]' : '[exited]', kind: 'unknown',
      }));
    }
    return out;
  }

  #kallsyms(): AddressSymbols {
    let t = this.#symbols('kallsyms');
    if (!t) {
      // A regular file only, and bounded: kallsymsPath may name a device or FIFO that never ends.
      t = parseKallsyms(readRegularFile(this.#kallsymsPath, 'kallsyms', MAX_KALLSYMS_BYTES).toString('latin1'));
      this.#cache.set('kallsyms', t);
      this.#kallsymsLoadedAt = performance.now();
    }
    return t;
  }

  /** A function from file offset to frame for mapping `m`, or null when its file cannot be read as ELF. */
  #mappingResolver(pid: number, root: string, m: ProcMapping): Resolver | null {
    let read: () => Uint8Array;
    let identity: string | undefined;
    let path: string | undefined;
    if (m.path === '[vdso]') {
      // The vdso is the kernel's: one image for every process of this kernel.
      identity = 'vdso';
      read = () => readMemory(pid, m.start, Number(m.end - m.start));
    } else {
      // Through the process's root (containers); a deleted file only through map_files.
      const candidates = m.deleted ? [] : [root + m.path];
      candidates.push(`/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`);
      for (const c of candidates) {
        identity = fileIdentity(c);
        if (identity) {
          path = c;
          break;
        }
      }
      if (!identity || !path) return null;
      const p = path;
      read = () => readRegularFile(p, 'mapped file');
    }
    let bytes: Uint8Array | undefined; // read at most once per resolver: symbols and lines may both need it
    const readOnce = () => (bytes ??= read());
    const known = this.#files.get(identity); // undefined: not seen yet; null: not readable as ELF
    if (known === null) return null;
    let info: ElfFileInfo | null | undefined = known;
    const isFile = m.path.startsWith('/');
    const sourcePath = isFile ? m.path : undefined;
    const rootPrefix = isFile ? root : '';
    let symbols = info ? this.#symbols(info.key) : undefined;
    if (!info || !symbols) {
      try {
        const loaded = loadElf(readOnce(), identity, sourcePath, rootPrefix, this.#debugRoots);
        info = loaded.info;
        symbols = this.#symbols(info.key) ?? loaded.symbols; // another file with this build-id may be cached
        this.#cache.set(info.key, symbols);
      } catch {
        info = null;
      }
      if (this.#files.size >= MAX_FILE_INFOS) this.#files.delete(this.#files.keys().next().value!);
      this.#files.set(identity, info);
      if (!info || !symbols) return null;
    }
    const { loads } = info;
    const table = symbols;
    const module = m.path;
    let lines: LineTable | undefined;
    if (this.#lines) {
      const key = `l:${info.key}`;
      const held = this.#cache.get(key);
      if (held instanceof LineTable) lines = held;
      else {
        try {
          lines = loadLines(readOnce(), info.buildId, sourcePath, rootPrefix, this.#debugRoots);
        } catch {
          lines = undefined; // the file went away between the two reads
        }
        if (lines) this.#cache.set(key, lines);
      }
    }
    const lineTable = lines && lines.rowCount > 0 ? lines : undefined;
    return (address, fileOffset, returnAddress) => {
      const vaddr = offsetToVaddr(loads, fileOffset);
      const hit = vaddr === undefined ? undefined : table.lookup(vaddr);
      const frame: { -readonly [K in keyof Frame]: Frame[K] } = hit
        ? { address, symbol: hit.name, offset: hit.offset, module, kind: 'user' }
        : { address, symbol: undefined, offset: vaddr ?? fileOffset, module, kind: 'user' };
      // A return address follows the call: the instruction before it is the call, and its line is the caller's.
      const src = lineTable && vaddr !== undefined ? lineTable.lookup(returnAddress && vaddr > 0 ? vaddr - 1 : vaddr) : undefined;
      if (src) {
        if (src.file !== undefined) frame.file = src.file;
        if (src.line !== 0) frame.line = src.line; // line 0: code of no source line (compiler-generated)
      }
      return frame;
    };
  }

  /** The process's perf map (/tmp/perf-<pid in its namespace>.map under its root), re-read when it changes. */
  #perfMap(pid: number, root: string): AddressSymbols | undefined {
    const nspid = namespacePid(pid) ?? pid;
    for (const path of [`${root}/tmp/perf-${nspid}.map`, ...(nspid !== pid ? [`/tmp/perf-${pid}.map`] : [])]) {
      let key: string;
      try {
        const st = statSync(path, { bigint: true });
        if (!st.isFile()) continue;
        key = `p:${pid}:${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        continue;
      }
      let t = this.#symbols(key);
      if (!t) {
        try {
          t = parsePerfMap(readRegularFile(path, 'perf map', MAX_PERF_MAP_BYTES).toString('utf8'));
        } catch {
          continue;
        }
        this.#cache.set(key, t);
      }
      return t;
    }
    return undefined;
  }
}

/** File offset -> frame in one mapping; `returnAddress` says the address is a caller's (its line is looked up just before it). */
type Resolver = (address: bigint, fileOffset: number, returnAddress: boolean) => Frame;

function kernelFrame(table: AddressSymbols, address: bigint): Frame {
  const hit = table.lookupAbsolute(address);
  if (!hit || (hit.size === 0 && hit.offset > MAX_UNSIZED_SPAN)) return { address, symbol: undefined, offset: undefined, module: '[unknown]', kind: 'unknown' };
  const module = hit.group ? table.groups[hit.group]! : 'kernel';
  return { address, symbol: hit.name, offset: hit.offset, module, kind: module === 'bpf' ? 'bpf' : 'kernel' };
}

function isFileBacked(m: ProcMapping): boolean {
  return m.path === '[vdso]' || (m.path.startsWith('/') && m.inode !== 0n && !m.path.startsWith('/memfd:'));
}

/** Node's perf map names end in " file:line[:column]" for JavaScript functions. */
function sourceOf(name: string): { file?: string; line?: number } {
  const m = / (\S+?):(\d+)(?::\d+)?$/.exec(name);
  if (!m) return {};
  return { file: m[1]!, line: Number(m[2]) };
}

function readMaps(pid: number): ProcMapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw new SymbolizeError('PROCESS_EXITED', `process ${pid} has exited`, pid, { cause: e });
    // EACCES (another user's process without CAP_SYS_PTRACE, or a Yama-protected one): typed, by its errno.
    const path = `/proc/${pid}/maps`;
    throw new FileReadError((code ?? 'EIO') as ErrnoName, path, `cannot read ${path}: ${code ?? String(e)}`, { cause: e });
  }
  if (text === '' && isZombie(pid)) throw new SymbolizeError('PROCESS_EXITED', `process ${pid} has exited (a zombie not yet reaped)`, pid);
  return parseProcMaps(text);
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** The pid inside the process's own pid namespace (the last NSpid field), which names its perf map. */
function namespacePid(pid: number): number | undefined {
  try {
    const m = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const last = m?.[1]!.trim().split(/\s+/).pop();
    return last ? Number(last) : undefined;
  } catch {
    return undefined;
  }
}

function readMemory(pid: number, at: bigint, length: number): Uint8Array {
  if (length <= 0 || length > 1 << 20) throw new SymbolizeError('BAD_ADDRESS', `a vdso of ${length} bytes`);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, at + BigInt(got));
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new SymbolizeError('BAD_ADDRESS', `pid must be a positive integer, not ${pid}`);
}

function checkAddresses(addresses: readonly bigint[]): void {
  if (!Array.isArray(addresses)) throw new SymbolizeError('BAD_ADDRESS', 'addresses must be an array of bigints');
  for (const a of addresses) {
    if (typeof a !== 'bigint' || a < 0n || a > U64_MAX) throw new SymbolizeError('BAD_ADDRESS', `not a u64 address: ${String(a)}`);
  }
}
