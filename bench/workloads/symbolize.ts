/**
 * symbolize: Symbolizer.user on 10,000-address batches of this process
 * (tsbpf only: libbpf has no symbolizer; blazesym is a separate Rust project).
 *
 *   <target>.cold_addr_per_s  a fresh Symbolizer: includes reading and parsing the table
 *   <target>.warm_addr_per_s  the table cached (median of runs)
 *   <target>.held_mb          bytes the cache holds for the table
 *   <target>.lines.*          the same with { lines: true }: file and line from
 *                             .debug_line too (the cold figure includes
 *                             inflating and running the line programs)
 * targets: libc (its .dynsym, or its debug file when installed: Debian's
 * libc6-dbg has DWARF 5 with compressed sections), node (the executable,
 * ~185k .symtab functions, some .debug_line), perfmap (a 20,000-entry perf
 * map of a child; no lines).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Symbolizer } from '../../bpf/symbolize/index.ts';
import { parseProcMaps } from '../../bpf/symbolize/proc-maps.ts';
import { median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const N = 10_000;

function addressesIn(pid: number, match: (path: string) => boolean): bigint[] {
  const maps = parseProcMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).filter((m) => match(m.path) && m.perms.includes('x'));
  const out: bigint[] = [];
  let seed = 12345;
  for (let i = 0; i < N; i++) {
    const m = maps[i % maps.length]!;
    seed = (seed * 1103515245 + 12345) >>> 0;
    out.push(m.start + BigInt(seed % Number(m.end - m.start)));
  }
  return out;
}

export const symbolize: Workload = {
  name: 'symbolize',
  description: 'Symbolizer.user: 10,000 addresses in libc, the node executable, a perf map',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const runs = ctx.quick ? 5 : 15;
    const out: Measurement[] = [];
    const m = (metric: string, value: number, unit: string) => out.push({ workload: 'symbolize', impl: 'tsbpf', metric, value, unit });
    const measure = (name: string, pid: number, ips: bigint[], lines = false) => {
      const s = new Symbolizer({ lines });
      if (lines) name += '.lines';
      let t = performance.now();
      s.user(pid, ips);
      m(`${name}.cold_addr_per_s`, N / ((performance.now() - t) / 1000), 'addr/s');
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        t = performance.now();
        s.user(pid, ips);
        times.push(performance.now() - t);
      }
      m(`${name}.warm_addr_per_s`, N / (median(times) / 1000), 'addr/s');
      m(`${name}.held_mb`, s.stats().bytes / (1 << 20), 'MB');
      if (lines) {
        const found = s.user(pid, ips).filter((f) => f.line !== undefined).length;
        m(`${name}.with_line_pct`, (100 * found) / ips.length, '%');
      }
    };
    const libc = addressesIn(process.pid, (p) => /\/libc\.so/.test(p));
    const node = addressesIn(process.pid, (p) => p === process.execPath || p.endsWith('/node'));
    for (const lines of [false, true]) {
      measure('libc', process.pid, libc, lines);
      measure('node', process.pid, node, lines);
    }
    // A perf map: a sleeping child whose pid names the file; the addresses are the entries'.
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const path = `/tmp/perf-${child.pid}.map`;
    try {
      const lines: string[] = [];
      const ips: bigint[] = [];
      for (let i = 0; i < 20_000; i++) {
        const start = 0x10000000 + i * 0x100;
        lines.push(`${start.toString(16)} 80 JS:*fn${i} /app/file${i % 50}.js:${i}`);
        if (ips.length < N) ips.push(BigInt(start + 0x10 + (i % 0x60)));
      }
      writeFileSync(path, lines.join('\n') + '\n');
      measure('perfmap', child.pid!, ips);
    } finally {
      child.kill('SIGKILL');
      rmSync(path, { force: true });
    }
    return out;
  },
};
