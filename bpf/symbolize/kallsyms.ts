/**
 * /proc/kallsyms -> a kernel address table: text symbols of vmlinux, of
 * modules (with the module's name) and of JITed BPF programs
 * (`bpf_prog_<tag>_<name>` in module "bpf"). Pure: takes the file's bytes.
 */
import { AddressSymbols, AddressSymbolsBuilder } from '../../elf/address-symbols.ts';
import { SymbolizeError } from './errors.ts';

const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const HEX = /^[0-9a-fA-F]+$/;

/**
 * Parses kallsyms text. Throws KALLSYMS_HIDDEN when every address reads 0
 * (kptr_restrict=2, or =1 without CAP_SYSLOG): such a table would name every
 * address wrongly rather than not at all.
 */
export function parseKallsyms(text: string): AddressSymbols {
  // First pass: the lowest text address, so every entry fits a double exactly relative to it.
  const entries: { hi: number; lo: number; name: string; module: string | undefined }[] = [];
  let sawAny = false;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    // Each search stays inside the line: a search for a tab from a line that has none would scan to the modules.
    const line = text.slice(pos, eol);
    pos = eol + 1;
    const sp1 = line.indexOf(' ');
    if (sp1 <= 0 || sp1 + 3 >= line.length) continue;
    // At most 16 hex digits: anything else (a lying or corrupt file) is no address, not NaN or a prefix of one.
    if (sp1 > 16 || !HEX.test(line.slice(0, sp1))) continue;
    sawAny = true;
    if (!TEXT_TYPES.has(line[sp1 + 1]!) || line[sp1 + 2] !== ' ') continue;
    // Two 32-bit halves: a BigInt per line costs more than the rest of the parse.
    const hi = sp1 > 8 ? parseInt(line.slice(0, sp1 - 8), 16) : 0;
    const lo = parseInt(line.slice(Math.max(0, sp1 - 8), sp1), 16);
    if (hi === 0 && lo === 0) continue;
    const tab = line.indexOf('\t', sp1 + 3);
    let module: string | undefined;
    if (tab >= 0) {
      const m = line.slice(tab + 1).trim();
      module = m.startsWith('[') && m.endsWith(']') ? m.slice(1, -1) : m;
    }
    entries.push({ hi, lo, name: line.slice(sp1 + 3, tab >= 0 ? tab : line.length), module });
  }
  if (entries.length === 0) {
    throw new SymbolizeError('KALLSYMS_HIDDEN', sawAny
      ? '/proc/kallsyms shows every address as 0: kernel.kptr_restrict hides them (set it to 0, or run with CAP_SYSLOG when it is 1)'
      : '/proc/kallsyms is empty');
  }
  let baseHi = entries[0]!.hi;
  let baseLo = entries[0]!.lo;
  for (const e of entries) {
    if (e.hi < baseHi || (e.hi === baseHi && e.lo < baseLo)) {
      baseHi = e.hi;
      baseLo = e.lo;
    }
  }
  const base = (BigInt(baseHi) << 32n) | BigInt(baseLo);
  const b = new AddressSymbolsBuilder(base);
  for (const e of entries) {
    const rel = (e.hi - baseHi) * 0x1_0000_0000 + (e.lo - baseLo);
    if (rel <= Number.MAX_SAFE_INTEGER) b.addRelative(rel, 0, e.name, e.module);
  }
  return b.build();
}
