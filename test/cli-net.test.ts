/**
 * `tsbpf net`, `cgroup`, `perf` and `iter pin` against bpftool on the same
 * attachments: net show inside a test network namespace (XDP set by `tsbpf net
 * attach`, a classic tc filter by `tc`, a flow dissector by bpftool, tcx by
 * `tsbpf net attach`), JSON key by key and plain text line by line where
 * Debian's bpftool 7.1 reports them (tcx and netfilter it predates: checked
 * against the kernel's ids); cgroup show/tree/attach/detach on a temporary
 * cgroup v2 directory; perf show with a tracepoint and a raw tracepoint this
 * process attached; iter pin of a task iterator; bad arguments exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { attachNetfilter } from '../bpf/link/netfilter.ts';
import { attachTcx } from '../bpf/link/tcx.ts';
import { attachTracepoint } from '../bpf/link/tracepoint.ts';
import { attachRawTracepoint } from '../bpf/link/raw-tracepoint.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { cgtest, createCgroup, removeCgroup } from './helpers/cgroup.ts';
import { pintest } from './helpers/kernel.ts';
import { createVethNetns, nettest, type VethNetns } from './helpers/netns.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const obj = (n: string) => resolve(root, `test/bpf/${n}.o`);
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const theirs = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8', timeout: 60_000 });
/** Both tools inside the test's network namespace. */
const inNs = (ns: string, ...cmd: string[]) => spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: 60_000 });
const ok = (r: { status: number | null; stderr: string; stdout: string }) => {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

let dir = '';
let v: VethNetns | undefined;
let ownedBefore = 0;

beforeAll(() => {
  ownedBefore = ownedFdCount();
  if (process.getuid?.() !== 0) return;
  // A bpffs of our own outside /sys: `ip netns exec` mounts a fresh /sys, which hides /sys/fs/bpf.
  dir = mkdtempSync('/tmp/tsbpf-clinet-');
  execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
  // Pinned programs both tools name with `pinned` (tsbpf loads attach_net.o: bpftool 7.1 knows no netfilter section).
  ok(run('prog', 'loadall', obj('attach_net'), `${dir}/net`));
  ok(run('prog', 'loadall', obj('attach_cgroup'), `${dir}/cg`));
});

afterAll(() => {
  v?.destroy();
  if (dir) {
    // Unmounting frees every pin on it (the mount's own maps.debug/progs.debug cannot be unlinked).
    for (const e of ['net', 'cg', 'tasks']) rmSync(join(dir, e), { recursive: true, force: true });
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  }
  expect(ownedFdCount()).toBe(ownedBefore);
});

/** Program id of a pin. */
const idOf = (pin: string) => JSON.parse(ok(run('prog', 'show', 'pinned', pin, '-j'))).id as number;

describe('tsbpf net against bpftool', () => {
  nettest('net show in a namespace: XDP, tc filter and flow dissector as bpftool reports them; tcx beside them', () => {
    v = createVethNetns('clinet', 13);
    const ns = v.ns;
    const dev = v.peerIf;
    const xdpId = idOf(`${dir}/net/xdp_count`);
    ok(inNs(ns, process.execPath, cli, 'net', 'attach', 'xdpgeneric', 'pinned', `${dir}/net/xdp_count`, 'dev', dev));
    // Without overwrite, a second program is refused; with it, it replaces the first.
    const busy = inNs(ns, process.execPath, cli, 'net', 'attach', 'xdpgeneric', 'pinned', `${dir}/net/xdp_count2`, 'dev', dev);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(/EBUSY.*overwrite/);
    ok(inNs(ns, process.execPath, cli, 'net', 'attach', 'xdpgeneric', 'pinned', `${dir}/net/xdp_count`, 'dev', dev, 'overwrite'));
    ok(inNs(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'clsact'));
    ok(inNs(ns, 'tc', 'filter', 'add', 'dev', dev, 'ingress', 'bpf', 'da', 'pinned', `${dir}/net/tc_ingress`));
    ok(inNs(ns, 'bpftool', 'prog', 'attach', 'pinned', `${dir}/net/dissect_count`, 'flow_dissector'));
    ok(inNs(ns, process.execPath, cli, 'net', 'attach', 'tcx_egress', 'pinned', `${dir}/net/tc_egress`, 'dev', dev));

    const a = JSON.parse(ok(inNs(ns, process.execPath, cli, 'net', 'show', '-j')))[0];
    // bpftool writes the flow dissector as `["id": N]` (no JSON): compare the rest, and the plain text.
    const bText = ok(inNs(ns, 'bpftool', '-j', 'net', 'show'));
    const b = JSON.parse(bText.replace(/"flow_dissector":\["id":(\d+)\]/, '"flow_dissector":[{"id":$1}]'))[0];
    expect(a.xdp).toEqual(b.xdp);
    expect(a.xdp).toEqual([{ devname: dev, ifindex: a.xdp[0].ifindex, mode: 'generic', id: xdpId }]);
    const classic = a.tc.filter((t: any) => !t.kind.startsWith('tcx/'));
    expect(classic).toEqual(b.tc);
    expect(classic.map((t: any) => [t.kind, t.id])).toEqual([['clsact/ingress', idOf(`${dir}/net/tc_ingress`)]]);
    expect(a.flow_dissector).toEqual(b.flow_dissector);
    expect(a.flow_dissector).toEqual([{ id: idOf(`${dir}/net/dissect_count`) }]);
    // tcx (bpftool 7.3+ keys): a program attached without a link.
    const tcx = a.tc.filter((t: any) => t.kind.startsWith('tcx/'));
    expect(tcx).toEqual([{ devname: dev, ifindex: a.xdp[0].ifindex, kind: 'tcx/egress', name: 'tc_egress', prog_id: idOf(`${dir}/net/tc_egress`), prog_flags: [], link_id: 0, link_flags: [] }]);

    // Plain: bpftool's lines, tcx lines and the netfilter section aside.
    const ours = ok(inNs(ns, process.execPath, cli, 'net', 'show', 'dev', dev));
    const theirsText = ok(inNs(ns, 'bpftool', 'net', 'show', 'dev', dev));
    const trimmed = ours.split('\nnetfilter:\n')[0]!.split('\n').filter((l) => !/ tcx\//.test(l)).join('\n');
    expect(trimmed.trimEnd()).toBe(theirsText.trimEnd());
    expect(ours).toContain(`${dev}(${a.xdp[0].ifindex}) tcx/egress tc_egress prog_id ${tcx[0].prog_id} \n`);

    // Detach: XDP and tcx gone for both tools.
    ok(inNs(ns, process.execPath, cli, 'net', 'detach', 'xdpgeneric', 'dev', dev));
    ok(inNs(ns, process.execPath, cli, 'net', 'detach', 'tcx_egress', 'dev', dev));
    ok(inNs(ns, 'bpftool', 'prog', 'detach', 'pinned', `${dir}/net/dissect_count`, 'flow_dissector'));
    const after = JSON.parse(ok(inNs(ns, process.execPath, cli, 'net', 'show', 'dev', dev, '-j')))[0];
    expect(after.xdp).toEqual([]);
    expect(after.tc.filter((t: any) => t.kind.startsWith('tcx/'))).toEqual([]);
    expect(after.flow_dissector).toEqual([]);
    expect(JSON.parse(ok(inNs(ns, 'bpftool', '-j', 'net', 'show', 'dev', dev)))[0].xdp).toEqual([]);
  }, 60_000);

  nettest('net show: a tcx link and a netfilter link of this process, with their link and program ids', () => {
    v ??= createVethNetns('clinet', 13);
    const c = loadCollection(loadCollectionSpec(obj('attach_net')), { programs: ['tc_ingress2', 'nf_count'] });
    try {
      using tcx = attachTcx(c.programs.tc_ingress2!, v.hostIf, 'ingress');
      using nf = attachNetfilter(c.programs.nf_count!, { family: 'ipv4', hook: 'input', priority: 1313 });
      const progId = c.programs.tc_ingress2!.info().id;
      const nfProg = c.programs.nf_count!.info().id;
      const a = JSON.parse(ok(run('net', 'show', 'dev', v.hostIf, '-j')))[0];
      expect(a.tc).toEqual([{ devname: v.hostIf, ifindex: v.hostIfindex, kind: 'tcx/ingress', name: 'tc_ingress2', prog_id: progId, prog_flags: [], link_id: tcx.info().id, link_flags: [] }]);
      expect(a.netfilter).toContainEqual({ pf: 2, hook: 1, prio: 1313, flags: 0, id: nfProg });
      const text = ok(run('net', 'list', 'dev', v.hostIf));
      expect(text).toContain(`${v.hostIf}(${v.hostIfindex}) tcx/ingress tc_ingress2 prog_id ${progId} link_id ${tcx.info().id} \n`);
      expect(text).toContain(`\n\tip input prio 1313 prog_id ${nfProg}`);
      void nf;
    } finally {
      c.close();
    }
  }, 60_000);

  nettest('net alone is net show, as in bpftool (in a namespace of its own)', () => {
    const w = createVethNetns('nalone', 14);
    try {
      const show = ok(inNs(w.ns, process.execPath, cli, 'net', 'show', '-j'));
      expect(ok(inNs(w.ns, process.execPath, cli, 'net', '-j'))).toBe(show);
      expect(ok(inNs(w.ns, process.execPath, cli, '-j', 'net'))).toBe(show);
      expect(ok(inNs(w.ns, process.execPath, cli, 'net'))).toBe(ok(inNs(w.ns, process.execPath, cli, 'net', 'show')));
      // Debian's bpftool 7.1 predates the netfilter key.
      const withoutNetfilter = (rows: Record<string, unknown>[]) => rows.map(({ netfilter: _nf, ...rest }) => rest);
      expect(withoutNetfilter(JSON.parse(ok(inNs(w.ns, 'bpftool', '-j', 'net'))))).toEqual(withoutNetfilter(JSON.parse(show)));
      // A verb that is not one is still refused, and help still lists the verbs.
      const bad = run('net', 'bogus');
      expect(bad.status).toBe(2);
      expect(run('net', '--help').stdout).toContain('net attach ');
    } finally {
      w.destroy();
    }
  }, 60_000);

  pintest('bad arguments exit 2 with the usage line', () => {
    const cases = [
      ['net', 'show', 'eth0'],
      ['net', 'show', 'dev'],
      ['net', 'attach', 'xdpfoo', 'id', '1', 'dev', 'lo'],
      ['net', 'attach', 'xdp', 'id', '1', 'dev'],
      ['net', 'attach', 'tcx_ingress', 'id', '1', 'dev', 'lo', 'overwrite'],
      ['net', 'attach', 'xdp', 'id', '1', 'dev', 'lo', 'prepend'],
      ['net', 'detach', 'xdp'],
      ['cgroup', 'show'],
      ['cgroup', 'show', '/sys/fs/cgroup', 'effective', 'effective'],
      ['cgroup', 'show', '/sys/fs/cgroup', 'bogus'],
      ['cgroup', 'attach', '/sys/fs/cgroup', 'nosuchtype', 'id', '1'],
      ['cgroup', 'attach', '/sys/fs/cgroup', 'egress', 'id', '1', 'sometimes'],
      ['cgroup', 'detach', '/sys/fs/cgroup', 'egress'],
      ['perf', 'show', 'extra'],
      ['iter', 'pin', obj('cli_iter')],
      ['iter', 'pin', obj('cli_iter'), '/sys/fs/bpf/x', 'map', 'id'],
    ];
    for (const c of cases) {
      const r = run(...c);
      expect({ c, status: r.status }).toEqual({ c, status: 2 });
      expect(r.stderr).toMatch(/usage: tsbpf /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // A device that does not exist: an error of its own, exit 1, as bpftool's "invalid devname".
    const r = run('net', 'show', 'dev', 'tsbpf-nosuch0');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid devname tsbpf-nosuch0');
  }, 60_000);
});

describe('tsbpf cgroup against bpftool', () => {
  cgtest('show, show effective, tree: JSON key by key and plain text; attach and detach', () => {
    const cg = createCgroup('clicg');
    const sub = join(cg, 'sub');
    mkdirSync(sub);
    try {
      ok(run('cgroup', 'attach', cg, 'cgroup_inet_egress', 'pinned', `${dir}/cg/egress_count`, 'multi'));
      ok(run('cgroup', 'attach', cg, 'egress', 'pinned', `${dir}/cg/egress_count2`, 'multi'));
      // One attached by bpftool, with its short name.
      ok(theirs('cgroup', 'attach', sub, 'connect4', 'pinned', `${dir}/cg/connect_block`));
      ok(run('cgroup', 'attach', sub, 'sock_create', 'pinned', `${dir}/cg/sock_create_count`, 'override'));
      for (const args of [[cg], [sub], [sub, 'effective']]) {
        const a = JSON.parse(ok(run('cgroup', 'show', ...args, '-j')));
        const b = JSON.parse(ok(theirs('-j', 'cgroup', 'show', ...args)));
        expect(a).toEqual(b);
        expect(ok(run('cgroup', 'show', ...args))).toBe(ok(theirs('cgroup', 'show', ...args)));
      }
      const eff = JSON.parse(ok(run('cgroup', 'show', sub, 'effective', '-j')));
      // Inherited from the parent and the sub's own; the full names (from BTF) past 15 characters.
      expect(eff.map((r: any) => r.name).sort()).toEqual(['connect_block', 'egress_count', 'egress_count2', 'sock_create_count']);
      const flags = JSON.parse(ok(run('cgroup', 'show', cg, '-j')));
      expect(flags.map((r: any) => [r.name, r.attach_type, r.attach_flags])).toEqual([
        ['egress_count', 'cgroup_inet_egress', 'multi'],
        ['egress_count2', 'cgroup_inet_egress', 'multi'],
      ]);
      // tree: a root with one child (nftw's and our order agree there).
      for (const extra of [[], ['effective']]) {
        expect(JSON.parse(ok(run('cgroup', 'tree', cg, ...extra, '-j')))).toEqual(JSON.parse(ok(theirs('-j', 'cgroup', 'tree', cg, ...extra))));
        expect(ok(run('cgroup', 'tree', cg, ...extra))).toBe(ok(theirs('cgroup', 'tree', cg, ...extra)));
      }
      // Detach (one by tsbpf, one by bpftool): gone for both tools; an empty cgroup prints nothing.
      ok(run('cgroup', 'detach', cg, 'cgroup_inet_egress', 'pinned', `${dir}/cg/egress_count`));
      ok(run('cgroup', 'detach', cg, 'egress', 'pinned', `${dir}/cg/egress_count2`));
      ok(theirs('cgroup', 'detach', sub, 'connect4', 'pinned', `${dir}/cg/connect_block`));
      ok(run('cgroup', 'detach', sub, 'sock_create', 'pinned', `${dir}/cg/sock_create_count`));
      expect(ok(run('cgroup', 'show', cg))).toBe('');
      expect(ok(theirs('cgroup', 'show', cg)).trim()).toBe('');
      // Detaching what is not attached: the kernel's ENOENT, exit 1.
      const again = run('cgroup', 'detach', cg, 'egress', 'pinned', `${dir}/cg/egress_count`);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('ENOENT');
    } finally {
      if (existsSync(sub)) rmdirSync(sub);
      removeCgroup(cg);
    }
  }, 60_000);
});

describe('tsbpf perf and iter against bpftool', () => {
  pintest('perf show: a tracepoint and a raw tracepoint of this process, as bpftool lists them', () => {
    const tp = loadCollection(loadCollectionSpec(obj('events_tp')));
    const rt = loadCollection(loadCollectionSpec(obj('attach_trace')), { programs: ['raw_sys_enter'] });
    try {
      const tpProg = Object.values(tp.programs)[0]!;
      using l1 = attachTracepoint(tpProg, 'syscalls', 'sys_enter_getpgid');
      const rawProg = Object.values(rt.programs)[0]!;
      using l2 = attachRawTracepoint(rawProg, 'sys_enter');
      void l1, void l2;
      const mine = (rows: any[]) => rows.filter((r) => r.pid === process.pid).sort((x, y) => x.fd - y.fd);
      const a = mine(JSON.parse(ok(run('perf', 'show', '-j'))));
      const b = mine(JSON.parse(ok(theirs('-j', 'perf', 'show'))));
      expect(a).toEqual(b);
      expect(a.map((r) => [r.prog_id, r.fd_type, r.tracepoint])).toEqual(
        expect.arrayContaining([
          [tpProg.info().id, 'tracepoint', 'sys_enter_getpgid'],
          [rawProg.info().id, 'raw_tracepoint', 'sys_enter'],
        ]),
      );
      const lines = (s: string) => s.split('\n').filter((l) => l.startsWith(`pid ${process.pid} `)).sort();
      expect(lines(ok(run('perf', 'list')))).toEqual(lines(ok(theirs('perf', 'list'))));
      // `perf` alone is `perf show`, in both tools.
      expect(mine(JSON.parse(ok(run('perf', '-j'))))).toEqual(a);
      expect(mine(JSON.parse(ok(run('-j', 'perf'))))).toEqual(a);
      expect(mine(JSON.parse(ok(theirs('-j', 'perf'))))).toEqual(a);
      expect(lines(ok(run('perf')))).toEqual(lines(ok(theirs('perf'))));
      expect(lines(ok(run('perf', 'list')))).toContain(`pid ${process.pid}  fd ${a.find((r) => r.fd_type === 'tracepoint').fd}: prog_id ${tpProg.info().id}  tracepoint  sys_enter_getpgid`);
    } finally {
      tp.close();
      rt.close();
    }
  }, 60_000);

  pintest('iter pin: a task iterator pinned as a link; reading the pin runs it', () => {
    const pin = join(dir, 'tasks');
    ok(run('iter', 'pin', obj('cli_iter'), pin));
    try {
      const lines = readFileSync(pin, 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(1);
      expect(lines[0]).toBe('task 0');
      const link = JSON.parse(ok(theirs('-j', 'link', 'show', 'pinned', pin)));
      expect(link.type).toBe('iter');
      expect(link.target_name).toBe('task');
      expect(JSON.parse(ok(run('link', 'show', 'pinned', pin, '-j'))).target_name).toBe('task');
    } finally {
      rmSync(pin, { force: true });
    }
    // An object whose first program is no iterator: a typed error, exit 1, nothing pinned.
    const r = run('iter', 'pin', obj('cli_maps'), pin);
    expect(r.status).toBe(1);
    expect(existsSync(pin)).toBe(false);
  }, 60_000);
});
