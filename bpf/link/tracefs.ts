/** Where tracefs is (mounting it where a fresh machine has not), and tracepoint ids from it. */
import { existsSync, readFileSync } from 'node:fs';
import { ensureMounted, FsMagic, MountError } from '../../syscall/mount.ts';
import { AttachError } from './link.ts';

const TRACING = '/sys/kernel/tracing';
const DEBUGFS = '/sys/kernel/debug';

/**
 * The tracefs root. Where none is mounted, mount tracefs at /sys/kernel/tracing
 * (or, on kernels without that mount point, debugfs at /sys/kernel/debug, whose
 * tracing/ is tracefs, automounted), as a root user would expect.
 */
export function tracefsRoot(): string {
  for (const d of [TRACING, `${DEBUGFS}/tracing`]) if (existsSync(`${d}/events`)) return d;
  try {
    if (existsSync(TRACING)) {
      ensureMounted('tracefs', TRACING, FsMagic.TRACEFS, 'NO_TRACEFS');
      if (existsSync(`${TRACING}/events`)) return TRACING;
    } else {
      ensureMounted('debugfs', DEBUGFS, FsMagic.DEBUGFS, 'NO_TRACEFS');
      if (existsSync(`${DEBUGFS}/tracing/events`)) return `${DEBUGFS}/tracing`;
    }
  } catch (e) {
    if (e instanceof MountError) throw new AttachError('NO_TRACEFS', e.message);
    throw e;
  }
  throw new AttachError('NO_TRACEFS', `tracefs has no events/ directory under ${TRACING} or ${DEBUGFS}/tracing (kernel built without CONFIG_TRACING?)`);
}

export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) throw new AttachError('NO_TRACEPOINT', `bad tracepoint name '${category}/${name}'`);
  const path = `${tracefsRoot()}/events/${category}/${name}/id`;
  if (!existsSync(path)) throw new AttachError('NO_TRACEPOINT', `tracepoint ${category}/${name} does not exist (no ${path})`);
  return Number(readFileSync(path, 'utf8').trim());
}
