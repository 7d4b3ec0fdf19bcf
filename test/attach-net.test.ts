/**
 * Attach, for real, on the running kernel: network hooks. A veth pair joins
 * this namespace to one the test creates (test/helpers/netns.ts); pings and
 * UDP datagrams cross it, and programs from test/bpf/attach_net.c count them
 * in `counts`. Checked against bpftool (`link show`, `net show dev`) and
 * `ip link`; after close() the attachments are gone. Also: socket filters
 * on a UDP socket, sk_msg/sk_skb verdict programs on a sockmap of real TCP
 * sockets, sk_lookup and flow_dissector on the test namespace, netfilter
 * local_in, and the BPF_PROG_TEST_RUN side of socket and XDP programs.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, type TestContext } from 'vitest';
import { loadCollectionSpec, type CollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { kernelBtf } from '../bpf/btf/kernel.ts';
import { AttachError, LinkType, linkIds } from '../bpf/link/link.ts';
import { XdpMode, attachXdp } from '../bpf/link/xdp.ts';
import { attachNetfilter } from '../bpf/link/netfilter.ts';
import { attachNetns } from '../bpf/link/netns.ts';
import { attachSocketFilter } from '../bpf/link/socket-filter.ts';
import { attachSockmap } from '../bpf/link/sockmap.ts';
import { attachTcx } from '../bpf/link/tcx.ts';
import { AttachType } from '../bpf/programs/types.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount } from './helpers/env.ts';
import { ifSupported, skipIfNotSupported } from './helpers/kernel-features.ts';
import { featureInfo, kernelAtLeast, notSupported, type KernelFeatureName } from '../bpf/features.ts';
import { kernelConfig } from '../bpf/loader/kconfig.ts';
import { UdpSocket, createVethNetns, linkExists, netnsExists, nettest, ping, sendUdp, type VethNetns } from './helpers/netns.ts';
import { thrown } from './helpers/thrown.ts';

const OBJ = new URL('./bpf/attach_net.o', import.meta.url).pathname;

// Slots of `counts` and `config` (enums in attach_net.c).
const C = { SOCK_SEEN: 0, SOCK_DROPPED: 1, XDP: 2, XDP2: 3, TC_IN: 4, TC_OUT: 5, NF: 6, LOOKUP: 7, DISSECT: 8, MSG_CALLS: 9, MSG_BYTES: 10, SKB_CALLS: 11, SKB_BYTES: 12, TC_IN2: 13 };
const K = { XDP_DROP: 0, LOOKUP_PORT: 1, NF_IFINDEX: 2, NF_IN_OFF: 3, NF_IFINDEX_OFF: 4 };

let spec: CollectionSpec;
let v: VethNetns | undefined;
let fdsBefore = 0;
let ownedBefore = 0;
const linksBefore = new Set<number>();

const load = (programs: string[]): Collection => loadCollection(spec, { programs });

function count(c: Collection, slot: number): bigint {
  return Buffer.from(c.maps.counts!.lookup(slot)!).readBigUInt64LE(0);
}

function bpftool(...args: string[]): any {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }).trim() || 'null');
}

const bpftoolLink = (id: number): any => (bpftool('link', 'show') as any[]).find((l) => l.id === id);

/** XDP programs on the interface, as bpftool (netlink) reports them. */
const bpftoolXdp = (dev: string): any[] => (bpftool('net', 'show', 'dev', dev) as any[])[0]?.xdp ?? [];

/** The XDP program id and mode `ip -d link` reports. */
function ipLinkXdp(dev: string): { mode?: number; prog?: { id: number } } | undefined {
  return JSON.parse(execFileSync('ip', ['-d', '-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' }))[0]?.xdp;
}

function veth(): VethNetns {
  if (!v) v = createVethNetns('net', 1);
  return v;
}

beforeAll(() => {
  spec = loadCollectionSpec(OBJ);
  fdsBefore = fdCount();
  ownedBefore = ownedFdCount();
  try {
    for (const id of linkIds()) linksBefore.add(id);
  } catch {
    // No privileges: the tests skip.
  }
});

afterAll(() => {
  v?.destroy();
});

/** Skip on a kernel older than the release that added `feature`, or built without its CONFIG_ option (bpf/features.ts); else the test runs. */
function needFeature(ctx: TestContext, feature: KernelFeatureName): void {
  const row = featureInfo(feature)!;
  const off = row.config !== undefined && !/^[ym]$/.test(kernelConfig().get(row.config) ?? 'y');
  if (!kernelAtLeast(row.since) || off) skipIfNotSupported(ctx, notSupported(feature));
}

describe('socket filter on a UDP socket', () => {
  nettest('counts datagrams and drops those starting with "D"; close() detaches; not a BPF link', () => {
    using c = load(['sock_count']);
    using rx = new UdpSocket();
    using tx = new UdpSocket();
    const link = attachSocketFilter(c.programs.sock_count!, rx.fd);
    tx.send('127.0.0.1', rx.port, 'hello');
    tx.send('127.0.0.1', rx.port, 'Drop me');
    tx.send('127.0.0.1', rx.port, 'world');
    expect(rx.drain()).toEqual(['hello', 'world']);
    expect(count(c, C.SOCK_SEEN)).toBe(3n);
    expect(count(c, C.SOCK_DROPPED)).toBe(1n);
    // A socket option, not a BPF link: nothing to pin, update or query.
    expect(link.fd).toBe(-1);
    expect(thrown(() => link.info()).code).toBe('NOT_A_BPF_LINK');
    link.close();
    tx.send('127.0.0.1', rx.port, 'Dropped no more');
    expect(rx.drain()).toEqual(['Dropped no more']);
    expect(count(c, C.SOCK_SEEN)).toBe(3n);
  });

  nettest('BPF_PROG_TEST_RUN of the same filter: the verdict is skb->len, or 0 for a "D" payload', () => {
    using c = load(['sock_count']);
    // Test runs get an Ethernet frame; the kernel pulls the 14-byte header, so the filter's offset 8 is byte 22.
    const pkt = new Uint8Array(64);
    expect(c.programs.sock_count!.testRun({ data: pkt }).retval).toBe(50);
    pkt[22] = 'D'.charCodeAt(0);
    expect(c.programs.sock_count!.testRun({ data: pkt }).retval).toBe(0);
    expect(count(c, C.SOCK_SEEN)).toBe(2n);
    expect(count(c, C.SOCK_DROPPED)).toBe(1n);
  });

  nettest('a program of another type: WRONG_PROGRAM_TYPE', () => {
    using c = load(['xdp_count']);
    using rx = new UdpSocket();
    expect(thrown(() => attachSocketFilter(c.programs.xdp_count!, rx.fd)).code).toBe('WRONG_PROGRAM_TYPE');
  });
});

describe('XDP on a veth pair', () => {
  for (const mode of ['native', 'generic'] as const) {
    nettest(`${mode} mode: counts the echo replies of a real ping; bpftool and ip link show it; XDP_DROP makes ping fail`, () => {
      const n = veth();
      using c = load(['xdp_count']);
      const link = attachXdp(c.programs.xdp_count!, n.hostIf, { mode });
      const progId = c.programs.xdp_count!.info().id;
      let id = -1;
      try {
        expect(ping(n.peerIp, 3)).toBe(3);
        expect(count(c, C.XDP)).toBe(3n);

        const info = link.info();
        id = info.id;
        expect(info).toMatchObject({ type: LinkType.XDP, typeName: 'XDP', progId });
        expect(bpftoolLink(id)).toMatchObject({ type: 'xdp', prog_id: progId });
        expect(new DataView(info.raw.buffer, info.raw.byteOffset).getUint32(0, true)).toBe(n.hostIfindex); // bpf_link_info.xdp.ifindex
        expect(bpftoolXdp(n.hostIf)).toEqual([{ devname: n.hostIf, ifindex: n.hostIfindex, mode: mode === 'native' ? 'driver' : 'generic', id: progId }]);
        expect(ipLinkXdp(n.hostIf)?.prog?.id).toBe(progId);
        expect(ipLinkXdp(n.hostIf)?.mode).toBe(mode === 'native' ? 1 : 2); // XDP_ATTACHED_DRV / _SKB

        c.maps.config!.update(K.XDP_DROP, 1);
        expect(ping(n.peerIp, 2, 200)).toBe(0);
        expect(count(c, C.XDP)).toBe(5n);
        c.maps.config!.update(K.XDP_DROP, 0);
        expect(ping(n.peerIp, 1)).toBe(1);
      } finally {
        link.close();
      }
      expect(bpftoolXdp(n.hostIf)).toEqual([]);
      expect(bpftoolLink(id)).toBeUndefined();
      expect(ping(n.peerIp, 1)).toBe(1);
      expect(count(c, C.XDP)).toBe(6n);
    });
  }

  nettest('Link.update swaps the XDP program (the new one counts); a second attach is EBUSY', () => {
    const n = veth();
    using c = load(['xdp_count', 'xdp_count2']);
    using link = attachXdp(c.programs.xdp_count!, n.hostIf, { mode: 'generic' });
    expect(ping(n.peerIp, 2)).toBe(2);
    const e = thrown(() => attachXdp(c.programs.xdp_count2!, n.hostIf, { mode: 'generic' }));
    expect(e.code).toBe('EBUSY');
    expect(e.message).toContain('another XDP program');

    link.update(c.programs.xdp_count2!, { expected: c.programs.xdp_count! });
    const id2 = c.programs.xdp_count2!.info().id;
    expect(link.info().progId).toBe(id2);
    expect(bpftoolXdp(n.hostIf)[0]?.id).toBe(id2);
    expect(ping(n.peerIp, 3)).toBe(3);
    expect(count(c, C.XDP)).toBe(2n);
    expect(count(c, C.XDP2)).toBe(3n);
    // BPF_F_REPLACE with a stale expected program: EPERM, nothing changes.
    expect(thrown(() => link.update(c.programs.xdp_count!, { expected: c.programs.xdp_count! })).code).toBe('EPERM');
    expect(link.info().progId).toBe(id2);
  });

  nettest('BPF_PROG_TEST_RUN of an XDP program: data out carries its rewrite, retval its action', () => {
    using c = load(['xdp_rewrite', 'xdp_count']);
    const frame = new Uint8Array(60).fill(7);
    const r = c.programs.xdp_rewrite!.testRun({ data: frame });
    expect(r.retval).toBe(3); // XDP_TX
    expect(r.data!.length).toBe(60);
    expect(r.data![0]).toBe(0xab);
    expect([...r.data!.subarray(1)]).toEqual(new Array(59).fill(7));
    // An ICMP frame through xdp_count: XDP_PASS, counted, unchanged.
    const icmp = new Uint8Array(60);
    icmp[12] = 0x08; // ETH_P_IP
    icmp[14] = 0x45;
    icmp[14 + 9] = 1; // IPPROTO_ICMP
    const p = c.programs.xdp_count!.testRun({ data: icmp });
    expect(p.retval).toBe(2); // XDP_PASS
    expect(Buffer.from(p.data!).equals(Buffer.from(icmp))).toBe(true);
    expect(count(c, C.XDP)).toBe(1n);
  });

  nettest('errors: an interface that does not exist is NO_INTERFACE; a tc program is WRONG_PROGRAM_TYPE', () => {
    using c = load(['xdp_count', 'tc_ingress']);
    const e = thrown(() => attachXdp(c.programs.xdp_count!, 'tsbpf-no-such0'));
    expect(e).toBeInstanceOf(AttachError);
    expect(e.code).toBe('NO_INTERFACE');
    expect(e.message).toContain('tsbpf-no-such0');
    expect(thrown(() => attachXdp(c.programs.xdp_count!, '../lo')).code).toBe('NO_INTERFACE');
    expect(thrown(() => attachTcx(c.programs.tc_ingress!, 'tsbpf-no-such0', 'ingress')).code).toBe('NO_INTERFACE');
    expect(thrown(() => attachXdp(c.programs.tc_ingress!, 'lo')).code).toBe('WRONG_PROGRAM_TYPE');
    expect(thrown(() => attachTcx(c.programs.xdp_count!, 'lo', 'ingress')).code).toBe('WRONG_PROGRAM_TYPE');
    expect(XdpMode.generic).toBe(2);
  });
});

describe('tcx on a veth pair', () => {
  nettest('ingress counts echo replies, egress echo requests; bpftool lists both links; update swaps ingress', (ctx) => {
    // Before 6.6 attachTcx falls back to clsact + bpf filter (attach-tc.test.ts): no links to show here.
    needFeature(ctx, 'tcx links');
    const n = veth();
    using c = load(['tc_ingress', 'tc_ingress2', 'tc_egress']);
    const ing = attachTcx(c.programs.tc_ingress!, n.hostIf, 'ingress');
    const egr = attachTcx(c.programs.tc_egress!, n.hostIf, 'egress');
    const ids: number[] = [];
    try {
      expect(ping(n.peerIp, 4)).toBe(4);
      expect(count(c, C.TC_IN)).toBe(4n);
      expect(count(c, C.TC_OUT)).toBe(4n);
      for (const [l, p] of [
        [ing, c.programs.tc_ingress!],
        [egr, c.programs.tc_egress!],
      ] as const) {
        const i = l.info();
        ids.push(i.id);
        expect(i).toMatchObject({ type: LinkType.TCX, typeName: 'TCX', progId: p.info().id });
        // bpftool 7.1 predates tcx: it prints the link type as a number, and `net show` lists only netlink tc filters.
        expect(bpftoolLink(i.id)).toMatchObject({ prog_id: i.progId });
        expect([11, 'tcx']).toContain(bpftoolLink(i.id).type);
      }
      ing.update(c.programs.tc_ingress2!);
      expect(ping(n.peerIp, 2)).toBe(2);
      expect(count(c, C.TC_IN)).toBe(4n);
      expect(count(c, C.TC_IN2)).toBe(2n);
      expect(count(c, C.TC_OUT)).toBe(6n);
    } finally {
      ing.close();
      egr.close();
    }
    for (const id of ids) expect(bpftoolLink(id)).toBeUndefined();
    expect(ping(n.peerIp, 1)).toBe(1);
    expect(count(c, C.TC_OUT)).toBe(6n);
  });
});

describe('netns hooks on the test namespace', () => {
  nettest('sk_lookup counts UDP lookups for one port in the namespace; bpftool shows a netns link on its inode', () => {
    const n = veth();
    using c = load(['lookup_count']);
    const port = 40000 + (process.pid % 20000);
    c.maps.config!.update(K.LOOKUP_PORT, port);
    const link = attachNetns(c.programs.lookup_count!, n.nsPath);
    let id = -1;
    try {
      for (let i = 0; i < 3; i++) sendUdp(n.peerIp, port, `lookup ${i}`);
      sendUdp(n.peerIp, port + 1, 'other port');
      // Delivery to the namespace is synchronous through veth, but give softirq a moment.
      for (let i = 0; i < 20 && count(c, C.LOOKUP) < 3n; i++) ping(n.peerIp, 1, 50);
      expect(count(c, C.LOOKUP)).toBe(3n);
      const info = link.info();
      id = info.id;
      expect(info.typeName).toBe('NETNS');
      expect(bpftoolLink(id)).toMatchObject({ type: 'netns', attach_type: 'sk_lookup', netns_ino: statSync(n.nsPath).ino, prog_id: info.progId });
    } finally {
      link.close();
    }
    expect(bpftoolLink(id)).toBeUndefined();
    sendUdp(n.peerIp, port, 'after');
    ping(n.peerIp, 1);
    expect(count(c, C.LOOKUP)).toBe(3n);
  });

  nettest('flow_dissector runs for UDP arriving in the namespace; bpftool shows it', () => {
    const n = veth();
    using c = load(['dissect_count']);
    // RPS on the peer's queue hashes every packet it receives, so the dissector runs on any
    // kernel (6.x dissects these packets anyway; 5.10 only when something asks for a hash).
    n.exec('sh', '-c', `echo 1 > /sys/class/net/${n.peerIf}/queues/rx-0/rps_cpus`);
    const link = attachNetns(c.programs.dissect_count!, n.nsPath);
    let id = -1;
    try {
      for (let i = 0; i < 3; i++) sendUdp(n.peerIp, 9, 'dissect me');
      ping(n.peerIp, 1);
      expect(count(c, C.DISSECT)).toBeGreaterThanOrEqual(3n);
      id = link.info().id;
      expect(bpftoolLink(id)).toMatchObject({ type: 'netns', attach_type: 'flow_dissector', netns_ino: statSync(n.nsPath).ino });
    } finally {
      link.close();
    }
    expect(bpftoolLink(id)).toBeUndefined();
    const before = count(c, C.DISSECT);
    sendUdp(n.peerIp, 9, 'not any more');
    ping(n.peerIp, 1);
    expect(count(c, C.DISSECT)).toBe(before);
  });

  nettest('errors: a missing namespace is NO_NETNS, a program of another type WRONG_PROGRAM_TYPE', () => {
    using c = load(['lookup_count', 'xdp_count']);
    expect(thrown(() => attachNetns(c.programs.lookup_count!, '/var/run/netns/tsbpf-no-such-ns')).code).toBe('NO_NETNS');
    expect(thrown(() => attachNetns(c.programs.xdp_count!)).code).toBe('WRONG_PROGRAM_TYPE');
  });
});

describe('netfilter (6.4+)', () => {
  nettest('ipv4 local_in counts the echo replies arriving on the veth; close() unhooks', (ctx) => {
    needFeature(ctx, 'netfilter links');
    const n = veth();
    using c = load(['nf_count']);
    const btf = kernelBtf();
    const off = (s: string, m: string) => btf.findMember(btf.getByName(s, 'struct').id, m)!.bitOffset / 8;
    c.maps.config!.update(K.NF_IFINDEX, n.hostIfindex);
    c.maps.config!.update(K.NF_IN_OFF, off('nf_hook_state', 'in'));
    c.maps.config!.update(K.NF_IFINDEX_OFF, off('net_device', 'ifindex'));
    const link = attachNetfilter(c.programs.nf_count!, { family: 'ipv4', hook: 'input', priority: 100 });
    let id = -1;
    try {
      expect(ping(n.peerIp, 3)).toBe(3);
      expect(count(c, C.NF)).toBe(3n);
      const info = link.info();
      id = info.id;
      expect(info).toMatchObject({ type: LinkType.NETFILTER, typeName: 'NETFILTER' });
      expect(bpftoolLink(id)?.prog_id).toBe(info.progId);
      // union bpf_link_info.netfilter: pf, hooknum, priority, flags.
      const d = new DataView(info.raw.buffer, info.raw.byteOffset);
      expect([d.getUint32(0, true), d.getUint32(4, true), d.getInt32(8, true)]).toEqual([2, 1, 100]);
    } finally {
      link.close();
    }
    expect(bpftoolLink(id)).toBeUndefined();
    expect(ping(n.peerIp, 2)).toBe(2);
    expect(count(c, C.NF)).toBe(3n);
  });
});

describe('sockmap with real TCP sockets', () => {
  nettest('sk_msg counts what is sent, sk_skb/verdict what is received; data still flows both ways', async (ctx) => {
    using c = load(['msg_count', 'skb_verdict']);
    const socks = c.maps.socks!;
    const msg = attachSockmap(c.programs.msg_count!, socks);
    // sk_skb/verdict needs 5.13.
    const verdict = await ifSupported(ctx, () => attachSockmap(c.programs.skb_verdict!, socks)).catch((e: unknown) => {
      msg.close();
      throw e;
    });
    expect(c.programs.msg_count!.attachType).toBe(AttachType.SK_MSG_VERDICT);
    expect(c.programs.skb_verdict!.attachType).toBe(AttachType.SK_SKB_VERDICT);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    const peer = await accepted;
    try {
      socks.update(0, (client as any)._handle.fd);
      socks.update(1, (peer as any)._handle.fd);
      const got = (s: net.Socket, n: number) =>
        new Promise<string>((resolve) => {
          let buf = '';
          s.on('data', (d) => {
            buf += d;
            if (buf.length >= n) resolve(buf);
          });
        });
      const atPeer = got(peer, 11);
      client.write('hello world');
      expect(await atPeer).toBe('hello world');
      const atClient = got(client, 4);
      peer.write('pong');
      expect(await atClient).toBe('pong');
      expect(count(c, C.MSG_CALLS)).toBe(2n);
      expect(count(c, C.MSG_BYTES)).toBe(15n);
      expect(count(c, C.SKB_BYTES)).toBe(15n);
      expect(count(c, C.SKB_CALLS)).toBeGreaterThanOrEqual(2n);
      // Prog-attach, not a BPF link.
      expect(thrown(() => msg.info()).code).toBe('NOT_A_BPF_LINK');
    } finally {
      msg.close();
      verdict.close();
      client.destroy();
      peer.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  nettest('a map that is not a sockmap: WRONG_MAP_TYPE; a program of another type: WRONG_PROGRAM_TYPE', () => {
    using c = load(['msg_count', 'xdp_count']);
    expect(thrown(() => attachSockmap(c.programs.msg_count!, c.maps.counts!)).code).toBe('WRONG_MAP_TYPE');
    expect(thrown(() => attachSockmap(c.programs.xdp_count!, c.maps.socks!)).code).toBe('WRONG_PROGRAM_TYPE');
  });
});

describe('resources', () => {
  nettest('links are gone, fds back at the baseline, and the namespace and veth are removed', () => {
    const leftover = [...linkIds()].filter((id) => !linksBefore.has(id));
    for (const id of leftover) {
      const l = bpftoolLink(id);
      // Links of concurrent test files may exist; none may be on our veth or namespace.
      if (l && v) expect(l.ifindex === v.hostIfindex || l.netns_ino === statSync(v.nsPath).ino).toBe(false);
    }
    expect(ownedFdCount()).toBe(ownedBefore);
    expect(fdCount()).toBe(fdsBefore);
    if (v) {
      v.destroy();
      expect(netnsExists(v.ns)).toBe(false);
      expect(linkExists(v.hostIf)).toBe(false);
    }
  });
});
