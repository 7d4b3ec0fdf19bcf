/**
 * Source lines of BPF program frames: kallsyms names a JIT-compiled function
 * `bpf_prog_<tag>_<name>`; the loaded program holding it (found by that tag
 * and the function's start among its jited_ksyms) has line info and, per
 * record, the JIT address its code starts at. The address's line is the last
 * record at or before it within its function, resolved through the program's
 * BTF. Programs are indexed in one pass over their ids (at most once a
 * second), and each program's lines read once and cached by id.
 */
import { BpfCmd, closeFd } from '../../syscall/index.ts';
import { btfById } from '../btf/objects.ts';
import { openById } from '../handle.ts';
import { programImage, type ProgramImage } from '../programs/dump.ts';
import { JitedLines, type JitedLine } from '../programs/line-info.ts';
import { progIds } from '../programs/program.ts';

const BPF_PROG_SYMBOL = /^bpf_prog_([0-9a-f]{16})_/;
/** Programs indexed in one pass; a host with more is not indexed past it. */
const MAX_PROGRAMS = 65536;
const RESCAN_MS = 1000;
/** Programs whose lines could not be read (no BTF, no line info, gone): remembered by id, this many. */
const MAX_FAILED = 4096;

interface FuncAt {
  id: number;
  /** The function's tag; for the main function also the program's (kallsyms lists it under both). */
  tags: string[];
}

export interface LineStore {
  get(key: string): JitedLines | undefined;
  set(key: string, value: JitedLines): void;
}

export class BpfLines {
  /** JIT function start -> the program and the function's tag. */
  #index = new Map<bigint, FuncAt>();
  #indexedAt = -Infinity;
  readonly #failed = new Set<number>();
  readonly #store: LineStore;

  constructor(store: LineStore) {
    this.#store = store;
  }

  clear(): void {
    this.#index.clear();
    this.#indexedAt = -Infinity;
    this.#failed.clear();
  }

  /** The line of `address` in kallsyms symbol `symbol` starting at `start`; undefined when nothing says. */
  lookup(symbol: string, start: bigint, address: bigint): JitedLine | undefined {
    const m = BPF_PROG_SYMBOL.exec(symbol);
    if (!m) return undefined; // trampolines, dispatchers: no program's line info
    const tag = m[1]!;
    let at = this.#index.get(start);
    if (!at?.tags.includes(tag) && performance.now() - this.#indexedAt > RESCAN_MS) {
      this.#reindex();
      at = this.#index.get(start);
    }
    if (!at?.tags.includes(tag)) return undefined;
    const lines = this.#lines(at.id, start);
    return lines?.lookup(address, start);
  }

  #reindex(): void {
    this.#indexedAt = performance.now();
    const index = new Map<bigint, FuncAt>();
    try {
      let n = 0;
      for (const id of progIds()) {
        if (++n > MAX_PROGRAMS) break;
        const img = image(id, false);
        if (!img) continue;
        img.jitedKsyms.forEach((s, i) => index.set(s, { id, tags: i === 0 ? [img.tag, ...img.progTags.slice(0, 1)] : img.progTags.slice(i, i + 1) }));
      }
    } catch {
      // No CAP_SYS_ADMIN to walk program ids: no lines for BPF frames.
    }
    this.#index = index;
  }

  #lines(id: number, start: bigint): JitedLines | undefined {
    const key = `j:${id}`;
    const held = this.#store.get(key);
    if (held) return held;
    if (this.#failed.has(id)) return undefined;
    const img = image(id, true);
    let lines: JitedLines | undefined;
    if (img && img.btfId && img.jitedKsyms.includes(start) && img.jitedLineInfo.length) {
      try {
        lines = new JitedLines(img, btfById(img.btfId));
      } catch {
        lines = undefined; // its BTF went away or would not parse
      }
    }
    if (!lines || lines.size === 0) {
      if (this.#failed.size >= MAX_FAILED) this.#failed.delete(this.#failed.values().next().value!);
      this.#failed.add(id);
      return undefined;
    }
    this.#store.set(key, lines);
    return lines;
  }
}

/** Program `id`'s tables (no code), or undefined when it is gone or unreadable. */
function image(id: number, lines: boolean): ProgramImage | undefined {
  let fd: number;
  try {
    fd = openById(BpfCmd.PROG_GET_FD_BY_ID, id, 'program');
  } catch {
    return undefined;
  }
  try {
    return programImage(fd, { code: false, lines });
  } catch {
    return undefined;
  } finally {
    closeFd(fd);
  }
}
