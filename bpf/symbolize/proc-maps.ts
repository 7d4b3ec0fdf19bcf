/** /proc/PID/maps lines -> mappings (pure parser) and the lookup of the mapping holding an address. */

/** One line of /proc/PID/maps. */
export interface ProcMapping {
  readonly start: bigint;
  readonly end: bigint;
  /** "r-xp" etc. */
  readonly perms: string;
  /** File offset of `start`. */
  readonly offset: bigint;
  /** "major:minor" in hex, as printed. */
  readonly dev: string;
  readonly inode: bigint;
  /** The file, a pseudo name ("[vdso]", "[heap]", "[anon:...]"), or "" for anonymous memory; " (deleted)" removed. */
  readonly path: string;
  /** The file was deleted (or replaced) after it was mapped. */
  readonly deleted: boolean;
}

export function parseProcMaps(text: string): ProcMapping[] {
  const out: ProcMapping[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // start-end perms offset dev inode [path]; the path may contain spaces.
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    let path = m[7]!;
    const deleted = path.endsWith(' (deleted)');
    if (deleted) path = path.slice(0, -' (deleted)'.length);
    out.push({
      start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3]!, offset: BigInt('0x' + m[4]),
      dev: m[5]!, inode: BigInt(m[6]!), path, deleted,
    });
  }
  out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return out;
}

/** The mapping containing `address` in `maps` (sorted by start), or undefined. */
export function mappingAt(maps: readonly ProcMapping[], address: bigint): ProcMapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = maps[mid]!;
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}
