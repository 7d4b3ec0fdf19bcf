/**
 * `tsbpf prog pin|run|attach|detach|tracelog|profile` on the programs of
 * test/bpf/cli_prog.o, loaded and pinned by bpftool: `run` output (plain, JSON,
 * data_out and ctx_out, to files and to stdout) equal to bpftool's but for
 * the measured duration; pins bpftool opens; sockmap and flow dissector
 * attachments bpftool undoes and the other way round; trace_pipe lines;
 * run counts while BPF_ENABLE_STATS is on; bad arguments exit 2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ktest, pintest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const theirs = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8', timeout: 60_000 });

let dir = '';
let tmp = '';
const prog = (name: string) => `${dir}/progs/${name}`;
/** An IPv4 Ethernet frame: destination aa:bb:.., source 11:22:.., then `payload` bytes 0, 1, 2... */
const frame = (payload: number) => Buffer.concat([Buffer.from('aabbccddeeff1122334455660800', 'hex'), Buffer.from(Array.from({ length: payload }, (_, i) => i & 0xff))]);
let pkt = '';

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  dir = mkdtempSync('/sys/fs/bpf/tsbpf-progverbs-');
  tmp = mkdtempSync(join(tmpdir(), 'tsbpf-progverbs-'));
  const r = theirs('prog', 'loadall', resolve(root, 'test/bpf/cli_prog.o'), `${dir}/progs`);
  expect(r.status, r.stderr).toBe(0);
  expect(readdirSync(`${dir}/progs`).sort()).toEqual(['dissect', 'msg_pass', 'skb_verdict', 'sock_printk', 'xdp_swap']);
  pkt = join(tmp, 'pkt.bin');
  writeFileSync(pkt, frame(50));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const noDuration = (s: string) => s.replace(/duration( \(average\))?: \d+ns/, 'duration$1: Nns');
const idOf = (pin: string) => (JSON.parse(theirs('-j', 'prog', 'show', 'pinned', pin).stdout) as { id: number }).id;

describe('tsbpf prog run against bpftool', () => {
  pintest('xdp: plain output with data_out to stdout, hex dump and return value as bpftool', () => {
    const a = run('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', '-');
    const b = theirs('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', '-');
    expect(a.status, a.stderr).toBe(0);
    expect(noDuration(a.stdout)).toBe(noDuration(b.stdout));
    // The frame comes back with its addresses swapped: XDP_TX (3).
    expect(a.stdout).toMatch(/^0000000\t1122 3344 5566 aabb ccdd eeff 0800 0001 \| \."3DUf\.\. \.\.\.\.\.\.\.\.\n/);
    expect(a.stdout).toMatch(/Return value: 3, duration: \d+ns\n$/);
  });

  pintest('xdp: JSON with repeat, data_out to a file, data_size_out', () => {
    for (const extra of [['repeat', '5'], ['repeat', '1'], []]) {
      const a = JSON.parse(run('-j', 'prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', '-', ...extra).stdout);
      const b = JSON.parse(theirs('-j', 'prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', '-', ...extra).stdout);
      expect(Object.keys(a)).toEqual(Object.keys(b));
      expect({ ...a, duration: 0 }).toEqual({ ...b, duration: 0 });
      expect(typeof a.duration).toBe('number');
    }
    const avg = run('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'repeat', '3');
    expect(avg.stdout).toMatch(/^Return value: 3, duration \(average\): \d+ns\n$/);
    const fa = join(tmp, 'out-a.bin');
    const fb = join(tmp, 'out-b.bin');
    expect(run('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', fa).status).toBe(0);
    expect(theirs('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', fb).status).toBe(0);
    expect(readFileSync(fa)).toEqual(readFileSync(fb));
    expect(readFileSync(fa).subarray(0, 12).toString('hex')).toBe('112233445566aabbccddeeff');
    // Room for less than the frame: the kernel refuses (ENOSPC), exit 1 with its code.
    const small = run('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'data_out', fa, 'data_size_out', '8');
    expect(small.status).toBe(1);
    expect(small.stderr).toContain('ENOSPC');
  });

  pintest('socket filter: data from stdin, ctx_in and ctx_out as bpftool', () => {
    const ctx = join(tmp, 'ctx.bin');
    writeFileSync(ctx, Buffer.alloc(192));
    const args = ['-j', 'prog', 'run', 'pinned', prog('sock_printk'), 'data_in', pkt, 'ctx_in', ctx, 'ctx_out', '-'];
    const a = JSON.parse(run(...args).stdout);
    const b = JSON.parse(theirs(...args).stdout);
    expect({ ...a, duration: 0 }).toEqual({ ...b, duration: 0 });
    expect(a.retval).toBe(50); // skb->len: the frame after its Ethernet header
    const stdin = spawnSync(process.execPath, [cli, 'prog', 'run', 'pinned', prog('sock_printk'), 'data_in', '-'], { input: frame(77), encoding: 'utf8' });
    expect(stdin.stdout).toMatch(/^Return value: 77, duration: \d+ns\n$/);
  });
});

describe('tsbpf prog pin, attach, detach', () => {
  pintest('prog pin: bpftool opens the pin as the same program', () => {
    const id = idOf(prog('xdp_swap'));
    for (const sel of [['id', String(id)], ['pinned', prog('xdp_swap')], ['name', 'xdp_swap']]) {
      const at = `${dir}/pin-${sel[0]}`;
      const r = run('prog', 'pin', ...sel, at);
      expect(r.status, r.stderr).toBe(0);
      expect(idOf(at)).toBe(id);
    }
    expect(run('-j', 'prog', 'pin', 'id', String(id), `${dir}/pin-json`).stdout).toBe('null\n');
    // Outside bpffs: refused with the library's code, exit 1.
    const bad = run('prog', 'pin', 'id', String(id), join(tmp, 'nope'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/\[[A-Z_]+\]/);
  });

  pintest('sockmap: what tsbpf attaches bpftool detaches, and the other way round', () => {
    const map = `${dir}/sockmap`;
    expect(theirs('map', 'create', map, 'type', 'sockmap', 'key', '4', 'value', '4', 'entries', '4', 'name', 'smap').status).toBe(0);
    const cases = [
      ['msg_pass', 'msg_verdict', 'sk_msg_verdict'],
      ['skb_verdict', 'stream_verdict', 'sk_skb_stream_verdict'],
      ['skb_verdict', 'stream_parser', 'sk_skb_stream_parser'],
    ] as const;
    for (const [p, word, long] of cases) {
      let r = run('prog', 'attach', 'pinned', prog(p), word, 'pinned', map);
      expect(r.status, r.stderr).toBe(0);
      expect(theirs('prog', 'detach', 'pinned', prog(p), word, 'pinned', map).status, `${p} ${word}`).toBe(0);
      // Nothing left to detach: ENOENT, exit 1.
      r = run('prog', 'detach', 'pinned', prog(p), long, 'pinned', map);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('[ENOENT]');
      expect(theirs('prog', 'attach', 'pinned', prog(p), word, 'pinned', map).status).toBe(0);
      r = run('-j', 'prog', 'detach', 'pinned', prog(p), long, 'pinned', map);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('null\n');
    }
    const wrong = run('prog', 'attach', 'pinned', prog('xdp_swap'), 'msg_verdict', 'pinned', map);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('WRONG_PROGRAM_TYPE');
    const notSock = run('prog', 'attach', 'pinned', prog('msg_pass'), 'msg_verdict', 'pinned', prog('xdp_swap'));
    expect(notSock.status).toBe(1);
  });

  pintest('flow_dissector: attached to this network namespace as bpftool net show sees it', () => {
    // A namespace of its own: the host's packets never see the test program.
    const id = idOf(prog('dissect'));
    const script = [
      `${process.execPath} ${cli} prog attach pinned ${prog('dissect')} flow_dissector`,
      'bpftool net show',
      `${process.execPath} ${cli} prog detach pinned ${prog('dissect')} flow_dissector`,
      'bpftool net show',
    ].join(' && ');
    const r = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const shows = r.stdout.split('xdp:\n').slice(1);
    expect(shows[0]).toMatch(new RegExp(`flow_dissector:\\n\\s*id ${id}\\n`));
    expect(shows[1]).not.toContain(`id ${id}`);
  });
});

/** Collect a child's stdout and stderr; `until` resolves when `pred` holds for what came so far. */
function watch(child: ChildProcess) {
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  child.stderr!.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  const until = async (pred: () => boolean, tick?: () => void) => {
    while (!pred()) {
      tick?.();
      await new Promise<void>((r) => {
        waiters.push(r);
        // A tick re-triggers the event in case another reader of trace_pipe took the line.
        if (tick) setTimeout(r, 200).unref();
      });
    }
  };
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { out: () => out, err: () => err, until, exit };
}

describe('tsbpf prog tracelog and profile', () => {
  ktest('tracelog: bpf_printk lines from trace_pipe until SIGINT, plain and JSON', async () => {
    // A length no other test prints.
    const mine = join(tmp, 'pkt-613.bin');
    writeFileSync(mine, frame(613));
    for (const json of [false, true]) {
      const child = spawn(process.execPath, [cli, 'prog', 'tracelog', ...(json ? ['-j'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      const w = watch(child);
      await w.until(() => w.out().includes('tsbpf-tracelog len=613'), () => run('prog', 'run', 'pinned', prog('sock_printk'), 'data_in', mine));
      child.kill('SIGINT');
      expect(await w.exit).toBe(0);
      if (json) {
        const lines = JSON.parse(w.out()) as string[];
        expect(lines.some((l) => /bpf_trace_printk: tsbpf-tracelog len=613\n$/.test(l))).toBe(true);
      } else expect(w.out()).toMatch(/\[\d+\] .* \d+\.\d+: bpf_trace_printk: tsbpf-tracelog len=613\n/);
    }
  }, { needs: 'tracefs', timeout: 60_000 });

  pintest('profile: run_cnt and run_time_ns of the runs made while it profiles', async () => {
    const child = spawn(process.execPath, [cli, '-j', 'prog', 'profile', 'pinned', prog('xdp_swap')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const w = watch(child);
    await w.until(() => w.err().includes('profiling program'));
    expect(run('prog', 'run', 'pinned', prog('xdp_swap'), 'data_in', pkt, 'repeat', '25').status).toBe(0);
    child.kill('SIGINT');
    expect(await w.exit).toBe(0);
    const [m] = JSON.parse(w.out()) as { metric: string; run_cnt: number; value: number }[];
    expect(m!.metric).toBe('run_time_ns');
    expect(m!.run_cnt).toBe(25);
    expect(m!.value).toBeGreaterThan(0);
    // With a duration it ends by itself; plain text in bpftool's columns.
    const d = run('prog', 'profile', 'pinned', prog('xdp_swap'), 'duration', '1');
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^\n {17}0 run_cnt {13}\n {17}0 run_time_ns {9}\n$/);
    // bpftool's perf counter metrics need fentry on the target: refused, exit 1.
    const c = run('prog', 'profile', 'pinned', prog('xdp_swap'), 'cycles');
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('[NOT_SUPPORTED]');
  }, 60_000);
});

describe('bad arguments', () => {
  pintest('exit 2 with the verb usage line', () => {
    const p = prog('xdp_swap');
    const cases: [string, string[]][] = [
      ['prog run', []],
      ['prog run', ['id', 'x']],
      ['prog run', ['pinned', p, 'bogus', '1']],
      ['prog run', ['pinned', p, 'data', pkt]],
      ['prog run', ['pinned', p, 'data_in']],
      ['prog run', ['pinned', p, 'repeat', '-1']],
      ['prog run', ['pinned', p, 'data_in', '-', 'ctx_in', '-']],
      ['prog pin', ['id', '1']],
      ['prog pin', ['bogus', '1', '/sys/fs/bpf/x']],
      ['prog attach', ['pinned', p, 'bogus', 'pinned', p]],
      ['prog attach', ['pinned', prog('msg_pass'), 'msg_verdict']],
      ['prog detach', ['pinned', prog('dissect'), 'flow_dissector', 'id', '1']],
      ['prog profile', ['pinned', p, 'duration', 'abc']],
      ['prog profile', ['pinned', p, 'bogus']],
      ['prog tracelog', ['extra']],
    ];
    for (const [verb, args] of cases) {
      const r = run(...verb.split(' '), ...args);
      expect(r.status, `${verb} ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`usage: tsbpf ${verb}`);
    }
    expect(run('prog', 'run', '--help').status).toBe(0);
  });
});
