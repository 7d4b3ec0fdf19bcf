/**
 * /proc/self/fdinfo/<fd> of a BPF object: what OBJ_GET_INFO_BY_FD leaves out
 * (a map's memlock, frozen, owner_prog_type and owner_jited), as key -> value.
 */
import { readFileSync } from 'node:fs';

/** The `key:\tvalue` lines of an fd's fdinfo; empty when /proc cannot be read. */
export function fdInfo(fd: number): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}
