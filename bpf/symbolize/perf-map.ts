/**
 * JIT symbol maps, /tmp/perf-PID.map (Node's --perf-basic-prof, the JVM's
 * perf-map-agent, LuaJIT, ...): one "START SIZE name" line per code object,
 * hex without 0x. Pure parser.
 */
import { AddressSymbols, AddressSymbolsBuilder } from '../../elf/address-symbols.ts';

/** Parses a perf map; malformed lines are skipped (the file may be written while read). Later entries for one start win. */
export function parsePerfMap(text: string): AddressSymbols {
  const b = new AddressSymbolsBuilder(0n);
  let pos = 0;
  const n = text.length;
  const latest = new Map<number, number>();
  const lines: [number, number, string][] = [];
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) break; // an unterminated last line may still be being written
    const sp1 = text.indexOf(' ', pos);
    const sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
    if (sp1 > pos && sp2 > sp1 && sp2 < eol) {
      const start = hex(text.slice(pos, sp1));
      const size = hex(text.slice(sp1 + 1, sp2));
      if (Number.isSafeInteger(start) && Number.isSafeInteger(size) && size > 0) {
        latest.set(start, lines.length);
        lines.push([start, size, text.slice(sp2 + 1, eol)]);
      }
    }
    pos = eol + 1;
  }
  // V8 reuses code space: the last line for an address describes what is there now.
  for (const i of latest.values()) {
    const [start, size, name] = lines[i]!;
    b.addRelative(start, size, name);
  }
  return b.build();
}

/** A hex field (perf's strtoull accepts a 0x prefix); NaN for anything else: parseInt would read "-10" as -16 and "12zz" as 0x12. */
function hex(s: string): number {
  const digits = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  return /^[0-9a-fA-F]{1,16}$/.test(digits) ? parseInt(digits, 16) : Number.NaN;
}
