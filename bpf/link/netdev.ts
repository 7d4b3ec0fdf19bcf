/** Network interfaces by name or index. */
import { existsSync, readFileSync } from 'node:fs';
import { AttachError } from './link.ts';

export function ifindexOf(iface: string | number): number {
  if (typeof iface === 'number') return iface;
  const p = `/sys/class/net/${iface}/ifindex`;
  if (!/^[\w.@-]+$/.test(iface) || !existsSync(p)) throw new AttachError('NO_INTERFACE', `no network interface '${iface}' in this network namespace`);
  return Number(readFileSync(p, 'utf8').trim());
}
