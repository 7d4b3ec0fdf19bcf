/**
 * Symbolizer against real processes: a C target built here with gcc (PIE,
 * non-PIE, a shared library, a stripped copy with its debug file installed
 * under a temporary build-id root, a copy only visible in another mount
 * namespace), a Node process run with --perf-basic-prof, an exited process,
 * the kernel's own symbols and a BPF program's, and the pure parsers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Symbolizer, SymbolizeError, parseKallsyms, parsePerfMap, parseProcMaps } from '../bpf/symbolize/index.ts';
import { buildIdOf, parseElf } from '../elf/index.ts';
import { Program } from '../bpf/programs/program.ts';
import { asm, encodeInsns } from '../bpf/programs/insn.ts';
import { which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const FIXTURE = new URL('./fixtures/symbolize/', import.meta.url).pathname;
let work = '';
const bins: Record<string, string> = {};
let missing: string | undefined;

beforeAll(() => {
  if (!which('gcc')) {
    missing = 'gcc is not installed';
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'tsbpf-sym-'));
  const src = join(FIXTURE, 'target.c');
  const cc = (out: string, ...args: string[]) => {
    execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', ...args, '-o', join(work, out)]);
    bins[out] = join(work, out);
  };
  cc('pie', '-fPIE', '-pie', src);
  cc('nopie', '-fno-PIE', '-no-pie', src);
  cc('libwork.so', '-shared', '-fPIC', join(FIXTURE, 'lib.c'));
  cc('withlib', '-DWITH_LIB', src, `-L${work}`, '-lwork', `-Wl,-rpath,${work}`);
  // Stripped, with its symbols only in a separate debug file under a build-id root.
  cc('stripped', src);
  const id = buildIdOf(parseElf(readFileSync(bins['stripped']!)))!;
  const debugDir = join(work, 'debug', '.build-id', id.slice(0, 2));
  mkdirSync(debugDir, { recursive: true });
  execFileSync('objcopy', ['--only-keep-debug', bins['stripped']!, join(debugDir, `${id.slice(2)}.debug`)]);
  execFileSync('strip', ['--strip-all', bins['stripped']!]);
  // Line tables: DWARF 5 (gcc 11+'s default), DWARF 4, and each compressed (SHF_COMPRESSED, zlib).
  cc('lines-v5', '-gdwarf-5', src);
  cc('lines-v4', '-gdwarf-4', src);
  cc('lines-v5-gz', '-gdwarf-5', '-gz', src);
  cc('lines-v4-gz', '-gdwarf-4', '-gz', src);
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

const children: ChildProcess[] = [];

/** Starts `cmd args`, waits for its "ready" line, returns it with what it printed before (name -> address). */
function start(cmd: string, args: string[]): Promise<{ child: ChildProcess; addrs: Record<string, bigint> }> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${cmd} exited (${code}) before ready: ${out}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      if (!/^ready$/m.test(out)) return;
      const addrs: Record<string, bigint> = {};
      for (const m of out.matchAll(/^(\w+) 0x([0-9a-f]+)$/gm)) addrs[m[1]!] = BigInt('0x' + m[2]);
      child.removeAllListeners('exit');
      resolve({ child, addrs });
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin!.end();
  });
}

describe('Symbolizer.user: ELF symbols of a live process', () => {
  for (const kind of ['pie', 'nopie']) {
    ktest(`${kind}: function addresses and offsets inside them; main; the mapped file as module`, async (ctx) => {
      if (missing) return ctx.skip(missing);
      const { child, addrs } = await start(bins[kind]!, ['print']);
      try {
        const s = new Symbolizer();
        const frames = s.user(child.pid!, [addrs['hot_alpha']!, addrs['hot_beta']! + 5n, addrs['main']! + 1n]);
        expect(frames.map((f) => [f.symbol, f.offset, f.module, f.kind])).toEqual([
          ['hot_alpha', 0, bins[kind], 'user'],
          ['hot_beta', 5, bins[kind], 'user'],
          ['main', 1, bins[kind], 'user'],
        ]);
        expect(frames[0]!.address).toBe(addrs['hot_alpha']);
      } finally {
        await stop(child);
      }
    });
  }

  ktest('a shared library (its own .symtab) and libc (.dynsym, or its debug file when installed)', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child, addrs } = await start(bins['withlib']!, ['print']);
    try {
      const maps = parseProcMaps(readFileSync(`/proc/${child.pid}/maps`, 'utf8'));
      const libc = maps.find((m) => /\/libc\.so/.test(m.path) && m.perms.includes('x'))!;
      const s = new Symbolizer();
      const [lib, inLibc] = s.user(child.pid!, [addrs['lib_work']! + 3n, addrs['getpid']! + 1n]);
      expect(lib).toMatchObject({ symbol: 'lib_work', offset: 3, module: bins['libwork.so'] });
      expect(inLibc).toMatchObject({ module: libc.path, offset: 1 });
      expect(inLibc!.symbol).toMatch(/getpid/);
    } finally {
      await stop(child);
    }
  });

  ktest('a stripped binary named through its separate debug file (debug root configurable)', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child, addrs } = await start(bins['stripped']!, ['print']);
    try {
      const ips = [addrs['hot_beta']! + 2n, addrs['main']!];
      expect(new Symbolizer({ debugRoots: [] }).user(child.pid!, ips).map((f) => f.symbol)).toEqual([undefined, undefined]);
      const frames = new Symbolizer({ debugRoots: [join(work, 'debug')] }).user(child.pid!, ips);
      expect(frames.map((f) => [f.symbol, f.offset])).toEqual([['hot_beta', 2], ['main', 0]]);
    } finally {
      await stop(child);
    }
  });

  ktest('[vdso]: named from the process memory image', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child } = await start(bins['pie']!, ['print']);
    try {
      const vdso = parseProcMaps(readFileSync(`/proc/${child.pid}/maps`, 'utf8')).find((m) => m.path === '[vdso]');
      if (!vdso) return ctx.skip('no vdso mapping');
      const image = readVdso(child.pid!, vdso.start, Number(vdso.end - vdso.start));
      const elf = parseElf(image);
      const fn = elf.dynamicSymbols().find((sym) => sym.name.includes('clock_gettime') && sym.size > 0n)!;
      const frames = new Symbolizer().user(child.pid!, [vdso.start + fn.value + 1n]);
      expect(frames[0]).toMatchObject({ module: '[vdso]', offset: 1 });
      expect(frames[0]!.symbol).toContain('clock_gettime');
    } finally {
      await stop(child);
    }
  });

  ktest('a binary only visible in another mount namespace, through /proc/PID/root', async (ctx) => {
    if (missing) return ctx.skip(missing);
    if (!which('unshare')) return ctx.skip('unshare is not installed');
    const hidden = join(work, 'ns-mount');
    mkdirSync(hidden, { recursive: true });
    // A private tmpfs over `hidden`, the binary copied into it and run from there: the host sees an empty directory.
    const script = `mount -t tmpfs none ${hidden} && cp ${bins['pie']} ${hidden}/t && exec ${hidden}/t print`;
    const { child, addrs } = await start('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
    try {
      expect(existsSync(join(hidden, 't'))).toBe(false);
      const frames = new Symbolizer().user(child.pid!, [addrs['hot_alpha']! + 4n]);
      expect(frames[0]).toMatchObject({ symbol: 'hot_alpha', offset: 4, module: `${hidden}/t` });
    } finally {
      await stop(child);
    }
  });

  ktest('an exited process is reported as such (PROCESS_EXITED; "[exited]" frames from frames())', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child, addrs } = await start(bins['pie']!, ['print']);
    const pid = child.pid!;
    await stop(child);
    const s = new Symbolizer();
    const e = thrown(() => s.user(pid, [addrs['main']!]));
    expect(e).toBeInstanceOf(SymbolizeError);
    expect(e).toMatchObject({ code: 'PROCESS_EXITED', pid });
    expect(s.frames([addrs['main']!], pid)[0]).toMatchObject({ symbol: undefined, module: '[exited]' });
  });
});

describe('Symbolizer lines: file and line from .debug_line', () => {
  const src = join(FIXTURE, 'target.c');
  /** 1-based line of the first source line containing `text`. */
  const lineOf = (text: string) => readFileSync(src, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
  const defs = { hot_alpha: lineOf('long hot_alpha('), hot_beta: lineOf('long hot_beta('), main: lineOf('int main(') };
  /** addr2line's answer for the link-time address of `fn` + `delta` (binutils: an oracle when installed). */
  const oracle = (bin: string, fn: string, delta: bigint): string | undefined => {
    if (!which('addr2line') || !which('nm')) return undefined;
    const sym = execFileSync('nm', [bin], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${fn}`))!;
    const at = BigInt('0x' + sym.split(' ')[0]) + delta;
    return execFileSync('addr2line', ['-e', bin, at.toString(16)], { encoding: 'utf8' }).trim().replace(/ \(discriminator \d+\)$/, '');
  };

  for (const kind of ['lines-v5', 'lines-v4', 'lines-v5-gz', 'lines-v4-gz']) {
    ktest(`${kind}: each function's definition line in target.c, as addr2line says`, async (ctx) => {
      if (missing) return ctx.skip(missing);
      const { child, addrs } = await start(bins[kind]!, ['print']);
      try {
        const s = new Symbolizer({ lines: true });
        const frames = s.user(child.pid!, [addrs['hot_alpha']!, addrs['hot_beta']!, addrs['main']!]);
        expect(frames.map((f) => [f.symbol, f.file, f.line])).toEqual([
          ['hot_alpha', src, defs.hot_alpha],
          ['hot_beta', src, defs.hot_beta],
          ['main', src, defs.main],
        ]);
        for (const [fn, f] of [['hot_alpha', frames[0]!], ['main', frames[2]!]] as const) {
          const theirs = oracle(bins[kind]!, fn, 0n);
          if (theirs !== undefined) expect(`${f.file}:${f.line}`).toBe(theirs);
        }
        // Inside a function's body: a later line of it, as the oracle places it.
        const [inside] = s.user(child.pid!, [addrs['hot_alpha']! + 12n]);
        expect(inside!.line).toBeGreaterThanOrEqual(defs.hot_alpha);
        expect(inside!.line).toBeLessThan(defs.hot_beta);
        const theirs = oracle(bins[kind]!, 'hot_alpha', 12n);
        if (theirs !== undefined) expect(`${inside!.file}:${inside!.line}`).toBe(theirs);
        // frames(): a stack walk's callers are return addresses, their line the call's (address - 1).
        const [leaf, caller] = s.frames([addrs['hot_alpha']!, addrs['hot_beta']!], child.pid!);
        expect(leaf!.line).toBe(defs.hot_alpha);
        expect(caller!.symbol).toBe('hot_beta');
        expect(caller!.line).toBe(s.user(child.pid!, [addrs['hot_beta']! - 1n])[0]!.line);
        // Without the option: no lines, and no line table held.
        const plain = new Symbolizer();
        expect(plain.user(child.pid!, [addrs['hot_alpha']!])[0]!.line).toBeUndefined();
        expect(plain.stats().tables).toBe(1);
        expect(s.stats().tables).toBe(2);
      } finally {
        await stop(child);
      }
    });
  }

  ktest('a stripped binary: lines from its debug file found by build-id; libc frames named either way', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child, addrs } = await start(bins['stripped']!, ['print']);
    try {
      const ips = [addrs['hot_beta']!, addrs['main']!];
      expect(new Symbolizer({ lines: true, debugRoots: [] }).user(child.pid!, ips).map((f) => f.line)).toEqual([undefined, undefined]);
      const frames = new Symbolizer({ lines: true, debugRoots: [join(work, 'debug')] }).user(child.pid!, ips);
      expect(frames.map((f) => [f.symbol, f.file, f.line])).toEqual([['hot_beta', src, defs.hot_beta], ['main', src, defs.main]]);
    } finally {
      await stop(child);
    }
  });

  ktest('a lying .debug_line (huge unit lengths, bad versions, endless LEB128s) costs the lines, never the symbols', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const bytes = readFileSync(bins['lines-v4']!);
    const line = parseElf(bytes).section('.debug_line')!;
    const corrupt = Buffer.from(bytes);
    const at = line.offset;
    corrupt.fill(0xff, at + 40, at + line.size); // the program: 0xff opcodes and unterminated LEB128s
    corrupt.writeUInt16LE(1, at + 4); // version 1
    const path = join(work, 'lying-lines');
    writeFileSync(path, corrupt, { mode: 0o755 });
    const { child, addrs } = await start(path, ['print']);
    try {
      const s = new Symbolizer({ lines: true });
      const [f] = s.user(child.pid!, [addrs['hot_alpha']!]);
      expect(f).toMatchObject({ symbol: 'hot_alpha', offset: 0 });
      expect(f!.line).toBeUndefined();
      s.user(child.pid!, [addrs['main']!]); // the empty table is cached, not parsed again
      expect(s.stats().tables).toBe(2);
    } finally {
      await stop(child);
    }
  });

  ktest('line tables count in maxCacheBytes: a bound below one table keeps only the newest', async (ctx) => {
    if (missing) return ctx.skip(missing);
    const { child, addrs } = await start(bins['lines-v5']!, ['print']);
    try {
      const s = new Symbolizer({ lines: true, maxCacheBytes: 1 });
      const [f] = s.user(child.pid!, [addrs['main']!]);
      expect(f).toMatchObject({ symbol: 'main', line: defs.main }); // answered from the tables just built
      expect(s.stats().tables).toBe(1);
      expect(s.stats().bytes).toBeGreaterThan(1);
      const roomy = new Symbolizer({ lines: true });
      roomy.user(child.pid!, [addrs['main']!]);
      const withLines = roomy.stats().bytes;
      const without = new Symbolizer();
      without.user(child.pid!, [addrs['main']!]);
      expect(withLines).toBeGreaterThan(without.stats().bytes);
    } finally {
      await stop(child);
    }
  });
});

describe('Symbolizer.user: JIT code through the perf map', () => {
  ktest('node --perf-basic-prof: a hot JavaScript function is named, with its file and line', async () => {
    const { child } = await start(process.execPath, ['--perf-basic-prof', join(FIXTURE, 'hot.js')]);
    try {
      const mapPath = `/tmp/perf-${child.pid}.map`;
      const line = readFileSync(mapPath, 'utf8').split('\n').find((l) => l.includes('hotJavaScriptFunction'))!;
      expect(line).toBeDefined();
      const [startHex] = line.split(' ');
      const frames = new Symbolizer().user(child.pid!, [BigInt('0x' + startHex) + 2n]);
      expect(frames[0]).toMatchObject({ kind: 'jit', module: '[perf-map]', offset: 2 });
      expect(frames[0]!.symbol).toContain('hotJavaScriptFunction');
      expect(frames[0]!.file).toContain('hot.js');
    } finally {
      await stop(child);
      rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
    }
  });
});

describe('Symbolizer.kernel', () => {
  ktest('vmlinux symbols with offsets; unknown addresses; bad input typed', () => {
    // A symbol alone at its address (aliases share one: either name would be right).
    const lines = readFileSync('/proc/kallsyms', 'utf8').split('\n').filter((l) => / [tT] /.test(l) && !l.includes('\t'));
    const at = new Map<string, number>();
    for (const l of lines) at.set(l.split(' ')[0]!, (at.get(l.split(' ')[0]!) ?? 0) + 1);
    const line = lines.find((l) => / T (schedule|vfs_read|ksys_read)$/.test(l) && at.get(l.split(' ')[0]!) === 1)!;
    const [hex, , name] = line.split(' ');
    const s = new Symbolizer();
    const [f] = s.kernel([BigInt('0x' + hex) + 3n]);
    expect(f).toMatchObject({ symbol: name, offset: 3, module: 'kernel', kind: 'kernel' });
    expect(s.kernel([1n])[0]).toMatchObject({ symbol: undefined, module: '[unknown]' });
    expect(thrown(() => s.kernel([-1n]))).toMatchObject({ code: 'BAD_ADDRESS' });
    expect(thrown(() => s.kernel([1 as unknown as bigint]))).toMatchObject({ code: 'BAD_ADDRESS' });
    expect(thrown(() => s.user(0, []))).toMatchObject({ code: 'BAD_ADDRESS' });
  });

  ktest('a BPF program loaded after the first read is named bpf_prog_<tag>_<name> in module bpf', () => {
    const s = new Symbolizer();
    s.kernel([1n]); // reads kallsyms before the program exists
    using prog = Program.load({ name: 'sym_probe', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });
    const tag = prog.info().tag;
    const line = readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => l.includes(`bpf_prog_${tag}_sym_probe`));
    expect(line).toBeDefined();
    s.refreshKernel();
    const [f] = s.kernel([BigInt('0x' + line!.split(' ')[0]) + 1n]);
    expect(f).toMatchObject({ symbol: `bpf_prog_${tag}_sym_probe`, offset: 1, module: 'bpf', kind: 'bpf' });
  });
});

describe('parsers (pure)', () => {
  it('kallsyms: modules named, hidden addresses refused with KALLSYMS_HIDDEN', () => {
    const t = parseKallsyms('ffffffff81000000 T _stext\nffffffff81000100 t helper\nffffffffc0001000 t mod_fn\t[mymod]\nffffffff82000000 D data\n');
    expect(t.lookupAbsolute(0xffffffff81000104n)).toMatchObject({ name: 'helper', offset: 4 });
    const m = t.lookupAbsolute(0xffffffffc0001010n)!;
    expect([m.name, t.groups[m.group]]).toEqual(['mod_fn', 'mymod']);
    const e = thrown(() => parseKallsyms('0000000000000000 T _stext\n0000000000000000 t helper\n'));
    expect(e).toMatchObject({ code: 'KALLSYMS_HIDDEN' });
    expect(e.message).toContain('kptr_restrict');
  });

  it('perf map: sized entries, the last line for a start wins, a partial last line ignored', () => {
    const t = parsePerfMap('1000 10 JS:*old\n2000 20 JS:*b /x.js:3\n1000 8 JS:*new\n3000 10 JS:*partial');
    expect(t.lookup(0x1004)!.name).toBe('JS:*new');
    expect(t.lookup(0x1009)).toBeUndefined();
    expect(t.lookup(0x2010)).toMatchObject({ name: 'JS:*b /x.js:3', offset: 0x10 });
    expect(t.lookup(0x3001)).toBeUndefined();
  });

  it('proc maps: paths with spaces, deleted files, anonymous memory', () => {
    const maps = parseProcMaps('7f0000000000-7f0000001000 r-xp 00001000 08:01 1234 /a b/lib.so (deleted)\n7f0000002000-7f0000003000 rw-p 00000000 00:00 0 \n');
    expect(maps[0]).toMatchObject({ start: 0x7f0000000000n, offset: 0x1000n, path: '/a b/lib.so', deleted: true, inode: 1234n });
    expect(maps[1]!.path).toBe('');
  });
});

describe('hostile input', () => {
  it('kallsyms: addresses that are not 1 to 16 hex digits are skipped, not NaN (a RangeError) or a prefix read as hex', () => {
    const t = parseKallsyms('zzzzzzzzzzzz T nan\n12zz T prefix\nffffffffffffffffff T long\nffffffff81000000 T real\n');
    expect(t.count).toBe(1);
    expect(t.lookupAbsolute(0xffffffff81000010n)).toMatchObject({ name: 'real', offset: 16 });
    expect(thrown(() => parseKallsyms('zzzz T a\n'))).toMatchObject({ code: 'KALLSYMS_HIDDEN' });
  });

  it('perf map: negative, partly hex or over-long fields are garbage lines, skipped', () => {
    const t = parsePerfMap('-10 20 negative\n12zz 4 prefix\n10 -4 negsize\n1ffffffffffffffff 4 long\n0x40 8 prefixed\n');
    expect(t.count).toBe(1);
    expect(t.lookup(0x44)).toMatchObject({ name: 'prefixed', offset: 4 });
    expect(t.lookup(0x12)).toBeUndefined();
  });

  it('a kallsyms path that is no regular file or is missing: a typed error, never an endless read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-sym-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      for (const [path, code] of [['/dev/zero', 'FILE_NOT_REGULAR'], [fifo, 'FILE_NOT_REGULAR'], [dir, 'FILE_NOT_REGULAR'], [join(dir, 'missing'), 'ENOENT']] as const) {
        expect(thrown(() => new Symbolizer({ kallsymsPath: path }).kernel([0xffffffff81000000n])), path).toMatchObject({ code });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an address far past the last unsized kernel symbol (2^64-1) is unknown, not that symbol + a gigabyte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-sym-'));
    try {
      const path = join(dir, 'kallsyms');
      writeFileSync(path, 'ffffffff81000000 T first\nffffffffc0000000 t last\t[mod]\n');
      const s = new Symbolizer({ kallsymsPath: path });
      const [near, top, zero] = s.kernel([0xffffffffc0000010n, 0xffffffffffffffffn, 0n]);
      expect(near).toMatchObject({ symbol: 'last', offset: 16, module: 'mod' });
      expect(top).toMatchObject({ symbol: undefined, module: '[unknown]', kind: 'unknown' });
      expect(zero).toMatchObject({ symbol: undefined, module: '[unknown]' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function readVdso(pid: number, at: bigint, length: number): Buffer {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, at);
    return buf;
  } finally {
    closeSync(fd);
  }
}
