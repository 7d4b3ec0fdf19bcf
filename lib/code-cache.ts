/**
 * Loads a CommonJS bundle of tsbpf (the library, the CLI) through V8's code
 * cache, so that a fresh process does not compile again what the last one
 * compiled. A process's first object load is mostly cold JavaScript: with the
 * cache it skips parsing and bytecode generation for every function an earlier
 * process ran (measured: 20 -> 8 ms for a load against a small target BTF).
 *
 * The cache is written at exit, after the work, so it holds the functions that
 * were compiled lazily too; it is written again when a process reached work
 * (a tag, e.g. 'load') that the cached one had not. It lives in
 * $TSBPF_CODE_CACHE (a directory), else $XDG_CACHE_HOME/tsbpf, else
 * ~/.cache/tsbpf; TSBPF_CODE_CACHE=off disables it.
 *
 * V8 checks a cache's V8 version, flags and source length, not its contents:
 * bytes from anyone else, or a bundle edited in place, could run as code. So
 * the directory and files must be ours and writable by us alone, the file name
 * carries the bundle's build hash, size and mtime, and the payload carries a
 * checksum verified before V8 sees it. Anything wrong and the bundle compiles as
 * usual: the cache can make a start faster, never make it fail.
 *
 * Built on its own (dist/chunks/code-cache.cjs): no import of the library but
 * warm.ts's hook name.
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';
import { WARM_HOOK } from '../warm.ts';

const MAGIC = 'TSBPFCC2';
/** Far above any real cache (the library's is ~1-2 MB): a file larger than this is not read. */
const MAX_CACHE_BYTES = 64 << 20;
/** Cache files of other builds and Node versions kept beside the current ones, newest first. */
const KEEP_OTHERS = 8;

export interface LoadOptions {
  /** The bundle's build hash (the build writes it): part of the cache file's name. */
  readonly hash: string;
  /** Which cache of this bundle: the CLI keeps one per command, since each compiles different code. */
  readonly variant?: string;
  /**
   * V8 flags the bundle sets while it runs (`btf dump` turns inlining off): set before compiling too,
   * since V8 refuses a cache made under other flags.
   */
  readonly v8Flags?: string;
}

/** How a bundle's load went, for tests and diagnostics. */
export interface CacheState {
  /** The cache file of this bundle, build and Node, or undefined when caching is off or has no usable directory. */
  readonly path: string | undefined;
  /** A cache was read and V8 took it. */
  readonly used: boolean;
  /** A cache was read (ours, checksum intact) but V8 refused it (another V8 or flags). */
  readonly rejected: boolean;
}
const states = new Map<string, CacheState>();

/** How loadBundle(file) went in this process. */
export function cacheState(file: string): CacheState | undefined {
  return states.get(file);
}

/** What the hook registered on globalThis records: tags of the work this process did. */
const tags = new Set<string>(['import']);

/**
 * Where caches go, or undefined when disabled or when no directory we own can
 * hold them (a root process with a HOME of another user's writes nothing there).
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env.TSBPF_CODE_CACHE;
  if (set !== undefined && /^(0|off|false|no)$/i.test(set)) return undefined;
  if (set) return isAbsolute(set) ? set : undefined;
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && isAbsolute(env.HOME) ? join(env.HOME, '.cache') : undefined;
  if (!base) return undefined;
  // The base must be ours (or not exist yet under a parent that is ours).
  const owner = ownerOf(base) ?? ownerOf(dirname(base));
  if (owner !== euid()) return undefined;
  return join(base, 'tsbpf');
}

function euid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}

function ownerOf(path: string): number | undefined {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? st.uid : -2;
  } catch {
    return undefined;
  }
}

/** The cache directory, made if missing: a real directory, ours, writable by us alone. */
function usableDir(dir: string, create: boolean): boolean {
  try {
    if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === euid() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48);
}

/** The CLI's variant: its first two words that are not options (`btf dump`, `prog show`). */
export function cliVariant(argv: readonly string[]): string {
  const words = argv.filter((a) => !a.startsWith('-')).slice(0, 2);
  return words.length ? words.join('-') : 'main';
}

/**
 * Two 32-bit lanes (FNV-1a and a multiply-add) over the payload: it catches a
 * damaged file, which V8 would deserialize as it is (it checks no checksum in
 * release builds). Not a defence against a writer: the ownership checks are.
 * Not node:crypto, whose first require costs ~5 ms of start-up, and not a JS
 * loop, which runs cold (~3 ms for a 450 KB cache): a 133-byte WebAssembly
 * function over the words in its memory (the same sum in JS where there is no
 * WebAssembly, as under --jitless). Hand-assembled:
 *   (func (export "sum") (param $p i32) (param $n i32) (result i64)
 *     end = p + 4n; h1 = 0x811c9dc5; h2 = n
 *     while p < end: x = i32.load(p); h1 = (h1 ^ x) * 0x01000193; h2 = h2 * 31 + x; p += 4
 *     return u64(h1) | u64(h2) << 32)   with (import "m" "mem" (memory 0))
 */
const SUM_WASM = 'AGFzbQEAAAABBwFgAn9/AX4CCgEBbQNtZW0CAAADAgEABwcBA3N1bQAAClkBVwEDfyAAIAFBAnRqIQRBxbvyiHghAiABIQMCQANAIAAgBE8NASACIAAoAgBzQZODgAhsIQIgA0EfbCAAKAIAaiEDIABBBGohAAwACwsgAq0gA61CIIaECw==';
const FNV_PRIME = 0x01000193;

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
interface Wasm {
  Memory: new (d: { initial: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { readonly exports: Record<string, unknown> };
}
interface WasmArea {
  readonly mem: { readonly buffer: ArrayBuffer };
  readonly sum: (p: number, n: number) => bigint;
}

/** The sum compiled once (a process reads and writes one cache per bundle). */
let sumModule: object | undefined;

/** WebAssembly memory of at least `bytes`, with the sum bound to it; undefined without WebAssembly. */
function wasmArea(bytes: number): WasmArea | undefined {
  try {
    const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
    if (!wasm) return undefined;
    const mem = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    sumModule ??= new wasm.Module(Buffer.from(SUM_WASM, 'base64'));
    const inst = new wasm.Instance(sumModule, { m: { mem } });
    return { mem, sum: inst.exports.sum as (p: number, n: number) => bigint };
  } catch {
    return undefined;
  }
}

function finish(h1: number, h2: number, b: Uint8Array, from: number): string {
  for (let i = from; i < b.length; i++) h1 = Math.imul(h1 ^ b[i]!, FNV_PRIME);
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** The sum in JS (no WebAssembly): the same lanes, the same result. */
export function checksumJs(b: Uint8Array): string {
  const n = b.length >>> 2;
  const w = b.byteOffset % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, n) : new Int32Array(Uint8Array.from(b.subarray(0, n * 4)).buffer);
  let h1 = 0x811c9dc5 | 0;
  let h2 = n | 0;
  for (let i = 0; i < n; i++) {
    const x = w[i]!;
    h1 = Math.imul(h1 ^ x, FNV_PRIME);
    h2 = (Math.imul(h2, 31) + x) | 0;
  }
  return finish(h1, h2, b, n * 4);
}

/**
 * The checksum of `b`. Where `area` is given, `b` lies in its memory at an
 * offset that is a multiple of 4 (read in place); else it is copied to one.
 */
export function checksum(b: Uint8Array, area = wasmArea(b.length)): string {
  if (!area) return checksumJs(b);
  let off = b.byteOffset;
  if (b.buffer !== area.mem.buffer || off % 4 !== 0) {
    new Uint8Array(area.mem.buffer, 0, b.length).set(b);
    off = 0;
  }
  const n = b.length >>> 2;
  const r = area.sum(off, n);
  return finish(Number(BigInt.asUintN(32, r)) | 0, Number(BigInt.asUintN(32, r >> 32n)) | 0, b, n * 4);
}

/** Read a cache file: ours, a regular file, not writable by others, bounded, checksum intact. */
function readCache(path: string): { tags: string[]; refused: boolean; data: Buffer } | undefined {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== euid() || (st.mode & 0o022) !== 0 || st.size > MAX_CACHE_BYTES || st.size < 16) return undefined;
    // Read into WebAssembly memory where there is some, so that the checksum reads the file in place.
    const area = wasmArea(st.size);
    const buf = area ? Buffer.from(area.mem.buffer, 0, st.size) : Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n <= 0) return undefined;
      got += n;
    }
    if (buf.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const hlen = buf.readUInt32LE(8);
    if (12 + hlen > buf.length) return undefined;
    const header = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as { tags?: unknown; refused?: unknown; sum?: unknown };
    // The payload starts 8-aligned, so that the checksum reads it in place.
    const start = (12 + hlen + 7) & ~7;
    const data = buf.subarray(start);
    if (typeof header.sum !== 'string' || checksum(data, area) !== header.sum) return undefined;
    const t = Array.isArray(header.tags) ? header.tags.filter((x): x is string => typeof x === 'string') : [];
    return { tags: t, refused: header.refused === true, data };
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function writeCache(dir: string, path: string, prefix: string, data: Buffer, refused: boolean): void {
  const header = Buffer.from(JSON.stringify({ tags: [...tags].sort(), refused, sum: checksum(data) }));
  const head = Buffer.alloc(12);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length, 8);
  const pad = Buffer.alloc(((12 + header.length + 7) & ~7) - 12 - header.length, 0x20);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([head, header, pad, data]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    return;
  }
  prune(dir, prefix, basename(path));
}

/** Drop caches of this bundle's older builds and other Node versions beyond the newest few. */
function prune(dir: string, prefix: string, keep: string): void {
  try {
    const others = readdirSync(dir)
      .filter((n) => n.startsWith(prefix) && n !== keep && n.endsWith('.v8cache'))
      .map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of others.slice(KEEP_OTHERS)) unlinkSync(join(dir, n));
  } catch {
    // another process pruned first
  }
}

/**
 * Compile and run a CommonJS bundle as require() would, through the code
 * cache when there is one; returns its module.exports.
 */
export function loadBundle(file: string, opts: LoadOptions): unknown {
  // A hashbang is not JavaScript inside the wrapper: a comment of the same length keeps positions.
  const text = readFileSync(file, 'utf8');
  const source = text.startsWith('#!') ? `//${text.slice(2)}` : text;
  const st = statSync(file);
  const dir = cacheDir();
  const prefix = `${sanitize(basename(file))}${opts.variant ? `-${sanitize(opts.variant)}` : ''}-`;
  // Node's own flags (argv and NODE_OPTIONS) change V8's: one cache per set of them, rather than one that every other set refuses.
  const flags = checksumJs(Buffer.from([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join('\0'))).slice(0, 8);
  const name = `${prefix}${sanitize(opts.hash)}-${st.size}-${Math.floor(st.mtimeMs)}-${process.version}-${process.arch}-${flags}.v8cache`;
  // A directory not made yet is made at exit; one that exists must pass the checks now.
  const path = dir && (!existsSync(dir) || usableDir(dir, false)) ? join(dir, name) : undefined;
  if (opts.v8Flags) setFlagsFromString(opts.v8Flags);
  const cached = path ? readCache(path) : undefined;
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
  const script = new Script(wrapper, { filename: file, cachedData: cached?.data });
  const used = cached !== undefined && !script.cachedDataRejected;
  states.set(file, { path, used, rejected: cached !== undefined && script.cachedDataRejected === true });
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: { exports: unknown }, f: string, d: string) => void;
  (globalThis as Record<symbol, unknown>)[WARM_HOOK] ??= (tag: string) => tags.add(tag);
  if (path) {
    process.once('exit', (code) => {
      // Only a process that did its work: a failed command may have stopped before the code worth caching.
      if (code !== 0) return;
      if (used && [...tags].every((t) => cached.tags.includes(t))) return;
      // Refused twice: flags differ between start and exit (the program set some): writing again would not help.
      const refused = cached !== undefined && !used;
      if (refused && cached.refused) return;
      try {
        if (!usableDir(dir!, true)) return;
        writeCache(dir!, path, prefix, script.createCachedData(), refused);
      } catch {
        // A cache is an optimisation: never fail the exit for it.
      }
    });
  }
  const module: { exports: unknown } = { exports: {} };
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}
