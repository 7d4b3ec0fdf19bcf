/**
 * Network fixtures for the attach tests: a network namespace joined to this
 * one by a veth pair, a real ping (ICMP echo over a raw socket) and UDP
 * sockets made with koffi, so tests own the fds they attach filters to.
 *
 * Layout: `<host>` stays in the test's namespace with .1, its peer `<peer>`
 * lives in namespace `tsbpf-test-<pid>-<tag>` with .2. A ping from here to
 * .2 leaves through <host> (egress: echo request) and the reply comes back
 * in through <host> (ingress: XDP, tcx ingress, netfilter local_in).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import koffi from 'koffi';
import { it, type TestContext } from 'vitest';
import { kernelSkipReason, which } from './env.ts';

/** Why network namespace tests cannot run here, or undefined. */
export function netnsSkipReason(): string | undefined {
  const k = kernelSkipReason();
  if (k) return k;
  if (!which('ip')) return 'iproute2 (ip) is not installed';
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m || (BigInt('0x' + m[1]) & (1n << 12n)) === 0n) return 'missing capability CAP_NET_ADMIN: run as root';
  return undefined;
}

/** A kernel test that needs network namespaces and veth (skips with the reason, fails under CI). */
export function nettest(name: string, fn: (ctx: TestContext) => unknown, timeout?: number): void {
  it(name, async (ctx) => {
    const reason = netnsSkipReason();
    if (reason) {
      if (process.env.CI) throw new Error(`network test cannot run under CI: ${reason}`);
      ctx.skip(`skipped: ${reason}`);
    }
    await fn(ctx);
  }, timeout);
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface VethNetns {
  /** Namespace name (`ip netns`), and its bind mount for setns/attachNetns. */
  ns: string;
  nsPath: string;
  hostIf: string;
  peerIf: string;
  hostIp: string;
  peerIp: string;
  hostIfindex: number;
  /** Run a command inside the namespace. */
  exec(cmd: string, ...args: string[]): string;
  destroy(): void;
}

/**
 * Create namespace + veth pair. `octet` (0-255) keeps concurrent test files
 * on different subnets; the pid keeps names unique between runs.
 */
export function createVethNetns(tag: string, octet: number): VethNetns {
  const pid = process.pid;
  const ns = `tsbpf-test-${pid}-${tag}`;
  const base = `tb${pid % 1_000_000}${tag.slice(0, 2)}`;
  const hostIf = `${base}h`;
  const peerIf = `${base}p`;
  const net = `10.${200 + (octet % 50)}.${pid % 256}`;
  const hostIp = `${net}.1`;
  const peerIp = `${net}.2`;
  const destroy = () => {
    try {
      ip('link', 'del', hostIf);
    } catch {
      // Already gone (deleting either end removes both).
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      // Already gone.
    }
  };
  destroy();
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf, 'netns', ns);
    ip('addr', 'add', `${hostIp}/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${peerIp}/24`, 'dev', peerIf);
    ip('-n', ns, 'link', 'set', peerIf, 'up');
  } catch (e) {
    destroy();
    throw e;
  }
  const hostIfindex = Number(readFileSync(`/sys/class/net/${hostIf}/ifindex`, 'utf8').trim());
  return {
    ns,
    nsPath: `/var/run/netns/${ns}`,
    hostIf,
    peerIf,
    hostIp,
    peerIp,
    hostIfindex,
    exec: (cmd, ...args) => execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    destroy,
  };
}

export function netnsExists(ns: string): boolean {
  return existsSync(`/var/run/netns/${ns}`);
}

export function linkExists(iface: string): boolean {
  return existsSync(`/sys/class/net/${iface}`);
}

// ---------------------------------------------------------------- sockets through libc

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const IPPROTO_ICMP = 1;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

interface Sock {
  socket(domain: number, type: number, proto: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, alen: number): number;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, alen: Buffer | null): number;
  getsockname(fd: number, addr: Buffer, alen: Buffer): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  close(fd: number): number;
}

let sock: Sock | undefined;
function libc(): Sock {
  if (sock) return sock;
  const lib = koffi.load('libc.so.6');
  sock = {
    socket: lib.func('int socket(int, int, int)'),
    bind: lib.func('int bind(int, void *, uint32_t)'),
    connect: lib.func('int connect(int, void *, uint32_t)'),
    sendto: lib.func('long sendto(int, void *, size_t, int, void *, uint32_t)'),
    recvfrom: lib.func('long recvfrom(int, void *, size_t, int, void *, void *)'),
    getsockname: lib.func('int getsockname(int, void *, void *)'),
    setsockopt: lib.func('int setsockopt(int, int, int, void *, uint32_t)'),
    close: lib.func('int close(int)'),
  };
  return sock;
}

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`${what} failed: errno ${koffi.errno()}`);
  return r;
}

function sockaddrIn(ipv4: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  ipv4.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
  return b;
}

function setRcvTimeout(fd: number, ms: number): void {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  check(libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), 'setsockopt(SO_RCVTIMEO)');
}

/** A UDP socket bound to 127.0.0.1 (or `ip`) on an ephemeral port; the fd is a real socket fd. */
export class UdpSocket implements Disposable {
  readonly fd: number;
  readonly port: number;
  constructor(bindIp = '127.0.0.1') {
    const s = libc();
    this.fd = check(s.socket(AF_INET, SOCK_DGRAM, 0), 'socket(AF_INET, SOCK_DGRAM)');
    try {
      check(s.bind(this.fd, sockaddrIn(bindIp, 0), 16), 'bind');
      const addr = Buffer.alloc(16);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(16);
      check(s.getsockname(this.fd, addr, len), 'getsockname');
      this.port = addr.readUInt16BE(2);
    } catch (e) {
      s.close(this.fd);
      throw e;
    }
  }
  send(ip: string, port: number, payload: string | Buffer): void {
    const b = Buffer.from(payload);
    check(libc().sendto(this.fd, b, b.length, 0, sockaddrIn(ip, port), 16), 'sendto');
  }
  /** Every datagram already queued (does not wait). */
  drain(): string[] {
    const out: string[] = [];
    const buf = Buffer.alloc(2048);
    for (;;) {
      const n = libc().recvfrom(this.fd, buf, buf.length, MSG_DONTWAIT, null, null);
      if (n < 0) {
        if (koffi.errno() === EAGAIN) return out;
        throw new Error(`recvfrom failed: errno ${koffi.errno()}`);
      }
      out.push(buf.subarray(0, n).toString('latin1'));
    }
  }
  close(): void {
    libc().close(this.fd);
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/** One UDP datagram from a throwaway socket. */
export function sendUdp(ip: string, port: number, payload: string): void {
  using s = new UdpSocket('0.0.0.0');
  s.send(ip, port, payload);
}

/** A TCP connect from a throwaway socket; resolves to the errno (0 on success). */
export function tcpConnectErrno(ip: string, port: number): number {
  const s = libc();
  const fd = check(s.socket(AF_INET, SOCK_STREAM, 0), 'socket(AF_INET, SOCK_STREAM)');
  try {
    return s.connect(fd, sockaddrIn(ip, port), 16) < 0 ? koffi.errno() : 0;
  } finally {
    s.close(fd);
  }
}

function icmpChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

let pingSeq = 0;

/**
 * Send `count` ICMP echo requests to `ip` (raw socket), one at a time, each
 * waiting up to `timeoutMs` for its reply. Returns how many were answered.
 */
export function ping(ip: string, count = 1, timeoutMs = 500): number {
  const s = libc();
  const fd = check(s.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), 'socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)');
  const id = process.pid & 0xffff;
  let answered = 0;
  try {
    const dst = sockaddrIn(ip, 0);
    const buf = Buffer.alloc(1500);
    for (let i = 0; i < count; i++) {
      const seq = ++pingSeq & 0xffff;
      const pkt = Buffer.alloc(16);
      pkt.writeUInt8(8, 0); // echo request
      pkt.writeUInt16BE(id, 4);
      pkt.writeUInt16BE(seq, 6);
      pkt.write('tsbpfpng', 8, 'latin1');
      pkt.writeUInt16BE(icmpChecksum(pkt), 2);
      check(s.sendto(fd, pkt, pkt.length, 0, dst, 16), 'sendto(ICMP)');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        setRcvTimeout(fd, left);
        const n = s.recvfrom(fd, buf, buf.length, 0, null, null);
        if (n < 0) break; // timeout
        const ihl = (buf[0]! & 0x0f) * 4;
        const src = [...buf.subarray(12, 16)].join('.');
        if (n >= ihl + 8 && src === ip && buf[ihl] === 0 && buf.readUInt16BE(ihl + 4) === id && buf.readUInt16BE(ihl + 6) === seq) {
          answered++;
          break;
        }
      }
    }
  } finally {
    s.close(fd);
  }
  return answered;
}
