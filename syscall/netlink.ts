/**
 * rtnetlink requests (NETLINK_ROUTE), for the attach paths that predate BPF
 * links (tc clsact qdiscs and bpf filters, XDP by IFLA_XDP) and the dumps that
 * list them. One request, its replies, and the kernel's ack turned into a
 * typed error; attributes of a reply parsed by type.
 */
import { BpfError } from './errors.ts';
import { lastErrno, libc, koffi } from './libc.ts';
import { NativeBlock } from './memory.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

export const NlFlags = { REQUEST: 1, MULTI: 2, ACK: 4, ECHO: 8, DUMP: 0x300, EXCL: 0x200, CREATE: 0x400 } as const;

/** The attributes of a message from byte `from` on (after its fixed struct), by type (nested flag cleared); a malformed tail is ignored. */
export function nlAttrs(buf: Uint8Array, from = 0): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let o = from; o + 4 <= buf.byteLength; ) {
    const len = v.getUint16(o, true);
    const type = v.getUint16(o + 2, true) & 0x3fff;
    if (len < 4 || o + len > buf.byteLength) break;
    if (!out.has(type)) out.set(type, buf.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}

/** A u32 attribute, or undefined when absent or short. */
export function nlU32(a: Uint8Array | undefined): number | undefined {
  return a && a.byteLength >= 4 ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true) : undefined;
}

/** A NUL-terminated string attribute. */
export function nlStr(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const end = a.indexOf(0);
  return new TextDecoder().decode(a.subarray(0, end < 0 ? a.byteLength : end));
}

interface NetSock {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: number, len: number, flags: number): number;
  recv(fd: number, buf: number, len: number, flags: number): number;
}

let sock: NetSock | undefined;
function net(): NetSock {
  if (!sock) {
    const lib = koffi.load('libc.so.6');
    sock = {
      socket: lib.func('socket', 'int', ['int', 'int', 'int']),
      send: lib.func('send', 'long', ['int', 'uintptr_t', 'size_t', 'int']),
      recv: lib.func('recv', 'long', ['int', 'uintptr_t', 'size_t', 'int']),
    };
  }
  return sock;
}

/** Builds a netlink message: header, a fixed family struct, then attributes (nested allowed). */
export class NlMessage {
  #parts: number[] = [];
  #nests: number[] = [];

  constructor(type: number, flags: number, fixed: Uint8Array) {
    this.#u32(0); // length, patched in bytes()
    this.#u16(type);
    this.#u16(flags);
    this.#u32(1); // seq
    this.#u32(0); // pid: the kernel
    for (const b of fixed) this.#parts.push(b);
    this.#pad();
  }

  #u16(v: number): void {
    this.#parts.push(v & 0xff, (v >> 8) & 0xff);
  }
  #u32(v: number): void {
    this.#parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  #pad(): void {
    while (this.#parts.length % 4) this.#parts.push(0);
  }

  attr(type: number, data: Uint8Array): this {
    this.#u16(4 + data.byteLength);
    this.#u16(type);
    for (const b of data) this.#parts.push(b);
    this.#pad();
    return this;
  }
  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }
  str(type: number, s: string): this {
    return this.attr(type, Buffer.from(s + '\0'));
  }
  nest(type: number): this {
    this.#nests.push(this.#parts.length);
    this.#u16(0);
    this.#u16(type | 0x8000); // NLA_F_NESTED
    return this;
  }
  end(): this {
    const at = this.#nests.pop()!;
    const len = this.#parts.length - at;
    this.#parts[at] = len & 0xff;
    this.#parts[at + 1] = (len >> 8) & 0xff;
    return this;
  }

  bytes(): Uint8Array {
    const b = Uint8Array.from(this.#parts);
    new DataView(b.buffer).setUint32(0, b.byteLength, true);
    return b;
  }
}

/** A reply message: type, flags and payload (after the 16-byte header). */
export interface NlReply {
  type: number;
  flags: number;
  payload: Uint8Array;
}

/** Send one request on a fresh NETLINK_ROUTE socket; return the replies before the ack. Throws BpfError on a negative ack. */
export function netlinkRequest(msg: NlMessage, what: string): NlReply[] {
  const n = net();
  const fd = n.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new BpfError('socket(AF_NETLINK)', lastErrno());
  const out = msg.bytes();
  const tx = new NativeBlock(out.byteLength);
  const rx = new NativeBlock(64 * 1024);
  try {
    tx.bytes.set(out);
    if (n.send(fd, tx.addr, out.byteLength, 0) < 0) throw new BpfError(`netlink ${what}`, lastErrno());
    const replies: NlReply[] = [];
    for (;;) {
      const len = n.recv(fd, rx.addr, rx.size, 0);
      if (len < 0) throw new BpfError(`netlink ${what}`, lastErrno());
      for (let o = 0; o + 16 <= len; ) {
        const mlen = rx.view.getUint32(o, true);
        const type = rx.view.getUint16(o + 4, true);
        const flags = rx.view.getUint16(o + 6, true);
        if (mlen < 16 || o + mlen > len) throw new BpfError(`netlink ${what}`, 74 /* EBADMSG */);
        if (type === NLMSG_ERROR) {
          const err = -rx.view.getInt32(o + 16, true);
          if (err) throw new BpfError(`netlink ${what}`, err);
          return replies; // the ack
        }
        if (type === NLMSG_DONE) return replies;
        replies.push({ type, flags, payload: rx.bytes.slice(o + 16, o + mlen) });
        o += (mlen + 3) & ~3;
      }
    }
  } finally {
    tx.free();
    rx.free();
    libc().close(fd);
  }
}
