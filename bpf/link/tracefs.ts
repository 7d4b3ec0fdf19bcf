/** Where tracefs is, and tracepoint ids from it. */
import { existsSync, readFileSync } from 'node:fs';
import { AttachError } from './link.ts';

export function tracefsRoot(): string {
  for (const d of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (existsSync(`${d}/events`)) return d;
  throw new AttachError('NO_TRACEFS', 'tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)');
}

export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) throw new AttachError('NO_TRACEPOINT', `bad tracepoint name '${category}/${name}'`);
  const path = `${tracefsRoot()}/events/${category}/${name}/id`;
  if (!existsSync(path)) throw new AttachError('NO_TRACEPOINT', `tracepoint ${category}/${name} does not exist (no ${path})`);
  return Number(readFileSync(path, 'utf8').trim());
}
