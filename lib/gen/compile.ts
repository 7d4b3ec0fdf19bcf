/**
 * Compiling a BPF C source for `tsbpf gen skeleton SRC.bpf.c`, as bpf2go
 * does: clang 16 or newer from PATH, `-target bpf -O2 -g`, the libbpf
 * headers (libbpf-dev), and a vmlinux.h that tsbpf writes itself from the
 * running kernel's BTF (or a BTF file given), so no bpftool is needed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Btf } from '../../btf/btf.ts';
import { dumpC } from '../../btf/dump-c.ts';
import { kernelBtf, readBtfFile } from '../../bpf/btf/kernel.ts';
import { TsbpfError } from '../../errors.ts';

/** No usable clang, or clang refused the source. */
export class ToolchainError extends TsbpfError {
  declare readonly code: 'NO_CLANG' | 'CLANG_FAILED';
  constructor(code: 'NO_CLANG' | 'CLANG_FAILED', message: string) {
    super(code, message);
  }
}

const MIN_CLANG = 16;
const INSTALL = 'install it with `apt-get install clang` (Debian and Ubuntu; or a versioned package such as clang-16), and libbpf-dev for the bpf/*.h headers';

/** The major version `clang --version` reports, or undefined when the command does not run. */
function clangMajor(cmd: string): number | undefined {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const m = /clang version (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

/** A clang of at least version 16 on PATH (`clang`, then `clang-NN` newest first), or NO_CLANG naming the package. */
export function findClang(): string {
  const seen: string[] = [];
  for (const cmd of ['clang', ...Array.from({ length: 30 - MIN_CLANG + 1 }, (_, i) => `clang-${30 - i}`)]) {
    const v = clangMajor(cmd);
    if (v === undefined) continue;
    if (v >= MIN_CLANG) return cmd;
    seen.push(`${cmd} is version ${v}`);
  }
  throw new ToolchainError('NO_CLANG', `compiling BPF C needs clang ${MIN_CLANG} or newer on PATH${seen.length ? ` (${seen.join(', ')})` : ', found none'}: ${INSTALL}`);
}

/** The __TARGET_ARCH_ of libbpf's bpf_tracing.h and the multiarch include directory, for this machine. */
function archOf(): { target: string; triple: string } {
  switch (process.arch) {
    case 'x64':
      return { target: 'x86', triple: 'x86_64-linux-gnu' };
    case 'arm64':
      return { target: 'arm64', triple: 'aarch64-linux-gnu' };
    case 's390x':
      return { target: 's390', triple: 's390x-linux-gnu' };
    case 'ppc64':
      return { target: 'powerpc', triple: 'powerpc64le-linux-gnu' };
    case 'riscv64':
      return { target: 'riscv', triple: 'riscv64-linux-gnu' };
    case 'loong64':
      return { target: 'loongarch', triple: 'loongarch64-linux-gnu' };
    default:
      return { target: process.arch, triple: `${process.arch}-linux-gnu` };
  }
}

export interface CompileOptions {
  /** BTF (raw file, e.g. /sys/kernel/btf/vmlinux of another machine) for vmlinux.h; default the running kernel's. */
  btf?: string;
  /** Extra clang arguments (-I, -D). */
  cflags?: readonly string[];
}

/** Compile `src` to a BPF object; its bytes. vmlinux.h is written next to nothing of the user's: in a temporary include directory. */
export function compileBpf(src: string, opts: CompileOptions = {}): Uint8Array {
  const clang = findClang();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-gen-'));
  try {
    const btf = opts.btf ? Btf.parse(readBtfFile(opts.btf)) : kernelBtf();
    writeFileSync(join(dir, 'vmlinux.h'), dumpC(btf, {}));
    const out = join(dir, basename(src).replace(/\.c$/, '') + '.o');
    const { target, triple } = archOf();
    const args = ['-target', 'bpf', '-O2', '-g', '-Wall', `-D__TARGET_ARCH_${target}`, '-I', dir, '-I', dirname(resolve(src)), '-I', `/usr/include/${triple}`, ...(opts.cflags ?? []), '-c', src, '-o', out];
    const r = spawnSync(clang, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.error) throw new ToolchainError('NO_CLANG', `cannot run ${clang}: ${r.error.message}: ${INSTALL}`);
    if (r.status !== 0) {
      const log = r.stderr.split('\n').slice(0, 40).join('\n').trimEnd();
      const hint = /bpf\/bpf_\w+\.h' file not found/.test(r.stderr) ? '\n(the libbpf headers are missing: apt-get install libbpf-dev)' : '';
      throw new ToolchainError('CLANG_FAILED', `${clang} could not compile ${src}:\n${log}${hint}`);
    }
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
