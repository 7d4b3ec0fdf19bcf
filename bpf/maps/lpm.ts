/** Keys of LPM_TRIE maps: a u32 prefix length (host order) followed by the address bytes (network order). */
import { isIPv4, isIPv6 } from 'node:net';
import { TsbpfError } from '../../errors.ts';

/** Build an LPM key from a prefix length and address bytes. */
export function lpmKey(prefixLen: number, data: Uint8Array): Buffer {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > data.byteLength * 8) {
    throw new TsbpfError('BAD_PREFIX', `prefix length ${prefixLen} is outside 0..${data.byteLength * 8}`);
  }
  const key = Buffer.alloc(4 + data.byteLength);
  key.writeUInt32LE(prefixLen, 0);
  key.set(data, 4);
  return key;
}

/** Parse '10.0.0.0/8', '192.168.1.1' (/32), '2001:db8::/32' into an LPM key (8 bytes for IPv4, 20 for IPv6). */
export function lpmKeyFromCidr(cidr: string): Buffer {
  const [addr, len] = cidr.split('/') as [string, string | undefined];
  if (isIPv4(addr)) return lpmKey(len === undefined ? 32 : Number(len), Uint8Array.from(addr.split('.').map(Number)));
  if (isIPv6(addr)) return lpmKey(len === undefined ? 128 : Number(len), ipv6Bytes(addr));
  throw new TsbpfError('BAD_PREFIX', `'${cidr}' is not an IPv4 or IPv6 prefix`);
}

function ipv6Bytes(addr: string): Uint8Array {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g || '0', 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
