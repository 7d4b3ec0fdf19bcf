/**
 * One mapped ELF file -> what symbolizing its addresses needs: the build-id
 * (the cache key), its PT_LOAD segments (file offset -> virtual address) and
 * the function symbols, from the file itself or, when it is stripped of
 * .symtab, from its separate debug file (by build-id under each debug root,
 * then by .gnu_debuglink next to it, in .debug/, and under the debug roots).
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AddressSymbols, buildElfSymbolTable } from '../../elf/address-symbols.ts';
import { buildIdOf, crc32, debugLinkOf } from '../../elf/debug-info.ts';
import { parseDebugLine, readLineTable, type LineTable } from '../../elf/dwarf-line.ts';
import { PT_LOAD, SHT_SYMTAB } from '../../elf/constants.ts';
import { parseElf, type ElfFile } from '../../elf/file.ts';
import { readRegularFile } from '../../elf/read-file.ts';

/** A PT_LOAD segment's file range and load address. */
export interface LoadSegment {
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
}

/** What is kept of a file between lookups (small); the symbol table itself lives in the cache. */
export interface ElfFileInfo {
  /** The cache key of its symbol table: "b:<build-id>", or "f:<dev>:<ino>:<size>:<mtime>" without one. */
  readonly key: string;
  readonly buildId: string | undefined;
  readonly loads: readonly LoadSegment[];
  /** The separate debug file the symbols came from, if any. */
  readonly debugFile: string | undefined;
}

export interface LoadedElf {
  readonly info: ElfFileInfo;
  readonly symbols: AddressSymbols;
}

/** A stat-derived identity: the same file seen through two paths (or two containers) shares it. */
export function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}

/** Parses the ELF image `bytes` (read from `path`; `rootPrefix` is where debug files of its filesystem live). */
export function loadElf(bytes: Uint8Array, identity: string, path: string | undefined, rootPrefix: string, debugRoots: readonly string[]): LoadedElf {
  const elf = parseElf(bytes);
  const buildId = buildIdOf(elf);
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD)
    .map((p) => ({ offset: Number(p.offset), vaddr: Number(p.vaddr), filesz: Number(p.filesz) }));
  let symbols = buildElfSymbolTable(elf);
  let debugFile: string | undefined;
  if (!elf.sections.some((s) => s.type === SHT_SYMTAB && s.data.length > 0)) {
    const debug = findDebugFile(elf, buildId, path, rootPrefix, debugRoots);
    if (debug) {
      debugFile = debug.path;
      const extra = buildElfSymbolTable(debug.elf);
      if (extra.count > 0) symbols = extra;
    }
  }
  return { info: { key: buildId ? `b:${buildId}` : `f:${identity}`, buildId, loads, debugFile }, symbols };
}

/**
 * The line table of the ELF image `bytes`: its own .debug_line, else its
 * debug file's (by build-id, then debuglink). Never throws: a file with no
 * line program, or a malformed one, gives an empty table (cached as such,
 * so it is not parsed again); malformed units are skipped.
 */
export function loadLines(bytes: Uint8Array, buildId: string | undefined, path: string | undefined, rootPrefix: string, debugRoots: readonly string[]): LineTable {
  let elf: ElfFile;
  try {
    elf = parseElf(bytes);
  } catch {
    return emptyLines();
  }
  const own = tryLines(elf);
  if (own && own.rowCount > 0) return own;
  const debug = findDebugFile(elf, buildId, path, rootPrefix, debugRoots);
  return (debug && tryLines(debug.elf)) || own || emptyLines();
}

function tryLines(elf: ElfFile): LineTable | undefined {
  try {
    return readLineTable(elf, { lenient: true });
  } catch {
    return undefined; // a section that does not inflate, say
  }
}

function emptyLines(): LineTable {
  return parseDebugLine({ debugLine: new Uint8Array(0), littleEndian: true });
}

function findDebugFile(elf: ElfFile, buildId: string | undefined, path: string | undefined, rootPrefix: string, debugRoots: readonly string[]): { path: string; elf: ElfFile } | undefined {
  const prefixes = rootPrefix ? [rootPrefix, ''] : [''];
  if (buildId && buildId.length > 2) {
    for (const root of debugRoots) {
      for (const prefix of prefixes) {
        const candidate = `${prefix}${root}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;
        const debug = tryElf(candidate);
        if (debug && buildIdOf(debug) === buildId) return { path: candidate, elf: debug };
      }
    }
  }
  const link = debugLinkOf(elf);
  if (link && path) {
    const dir = dirname(path); // path as the process sees it (without rootPrefix)
    const candidates = [join(dir, link.file), join(dir, '.debug', link.file), ...debugRoots.map((r) => join(r, dir, link.file))];
    for (const c of candidates) {
      for (const prefix of prefixes) {
        const full = prefix + c;
        if (full === prefix + path) continue; // the binary itself
        let bytes: Uint8Array;
        try {
          bytes = readRegularFile(full, 'debug file');
        } catch {
          continue;
        }
        if (crc32(bytes) !== link.crc) continue;
        try {
          return { path: full, elf: parseElf(bytes) };
        } catch {
          continue;
        }
      }
    }
  }
  return undefined;
}

function tryElf(path: string): ElfFile | undefined {
  try {
    return parseElf(readRegularFile(path, 'debug file'));
  } catch {
    return undefined;
  }
}

/** The virtual address file offset `offset` is loaded at, through `loads`. */
export function offsetToVaddr(loads: readonly LoadSegment[], offset: number): number | undefined {
  for (const l of loads) if (offset >= l.offset && offset - l.offset < l.filesz) return l.vaddr + (offset - l.offset);
  return undefined;
}
