/**
 * USDT: SystemTap/DTrace static probes (STAP_PROBE, DTRACE_PROBE) in
 * executables and shared libraries, for programs written against libbpf's
 * <bpf/usdt.bpf.h> (BPF_USDT, bpf_usdt_arg, bpf_usdt_arg_cnt, bpf_usdt_cookie).
 *
 * How it works (libbpf's design, tsbpf's code):
 * - Every probe site is a `.note.stapsdt` note (owner "stapsdt", type 3):
 *   the site's address, the link-time address of `.stapsdt.base`, the
 *   semaphore's address (0: none), then "provider\0name\0args\0". A prelinked
 *   file moved its sections but not the notes, so both addresses are shifted
 *   by (address of .stapsdt.base now) - (note's base). The result goes through
 *   the PT_LOAD segments to a file offset, which is what a uprobe takes (PIE,
 *   non-PIE and shared objects alike).
 * - The argument string says where each argument lives at the site, in the
 *   x86-64 assembler syntax: `-4@%edi`, `8@$5`, `-8@-24(%rbp)`,
 *   `-8@sym(%rip)`. Each becomes a `struct __bpf_usdt_arg_spec`:
 *   a constant, a register (as its offset in the kernel's struct pt_regs,
 *   read from the kernel BTF), or memory at register + offset, plus the sign
 *   and the shift that narrows the u64 to the argument's size.
 * - One `struct __bpf_usdt_spec` per distinct argument layout goes into the
 *   object's `__bpf_usdt_specs` array; every site gets a uprobe whose BPF
 *   cookie is its spec's index, which is how bpf_usdt_arg() finds it.
 *
 * Not done: the path for kernels without BPF cookies (before 5.15), where
 * usdt.bpf.h looks the spec up by instruction pointer in
 * `__bpf_usdt_ip_to_spec_id`; tsbpf answers LINUX_HAS_BPF_COOKIE = y, so that
 * map stays empty and a kernel without cookies is refused at attach. Only
 * x86-64 argument syntax is parsed; SIB operands (`8@(%rax,%rdx,8)`) are
 * refused, as usdt.bpf.h has no spec type for them.
 *
 * Loader caveat: usdt.bpf.h's helpers (bpf_usdt_arg...) are `__weak __hidden`
 * global functions, which libbpf verifies as static ones. tsbpf's loader does
 * not apply that rule yet, so the verifier checks bpf_usdt_arg() on its own
 * and rejects it; test/bpf/usdt_probe.c shows the workaround (define __weak
 * empty and __hidden as static around the #include).
 *
 * Semaphores: when a probe has one, its file offset is given to the uprobe as
 * ref_ctr_offset, so the kernel increments it in every process the uprobe is
 * installed in (only the pid's, with a pid) and decrements it on detach.
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../../btf/btf.ts';
import { EM_X86_64, parseElf, type ElfFile } from '../../elf/index.ts';
import { cString } from '../../elf/strings.ts';
import { TsbpfError, type UsdtErrorCode } from '../../errors.ts';
import { kernelBtf } from '../btf/kernel.ts';
import type { BpfMap } from '../maps/map.ts';
import type { Program } from '../programs/program.ts';
import { ProgType } from '../programs/types.ts';
import { AttachError, CleanupLink, MultiLink, type Link } from './link.ts';
import { attachToPerfEvent } from './perf-event.ts';
import { openProbe } from './probe-pmu.ts';
import { resolveBinary } from './uprobe.ts';
import { requireProgType } from './prog-check.ts';

/** n_type of a SystemTap probe note. */
export const NT_STAPSDT = 3;
/** Arguments a spec can hold (BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;
/** sizeof(struct __bpf_usdt_arg_spec): val_off u64, arg_type u32, reg_off s16, arg_signed u8, arg_bitshift u8. */
const ARG_SPEC_SIZE = 16;
/** sizeof(struct __bpf_usdt_spec): args[12], usdt_cookie u64 at 192, arg_cnt s16 at 200, padded to 8. */
export const USDT_SPEC_SIZE = 208;
const COOKIE_OFF = USDT_MAX_ARGS * ARG_SPEC_SIZE;
const ARG_CNT_OFF = COOKIE_OFF + 8;

/** enum __bpf_usdt_arg_type */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

export const USDT_SPECS_MAP = '__bpf_usdt_specs';
export const USDT_IP_MAP = '__bpf_usdt_ip_to_spec_id';

/** A malformed .note.stapsdt, or an argument string tsbpf cannot express as a spec. */
export class UsdtError extends TsbpfError {
  declare readonly code: UsdtErrorCode;
  constructor(code: UsdtErrorCode, message: string) {
    super(code, message);
  }
}

/** One `.note.stapsdt` entry, as recorded. */
export interface UsdtNote {
  provider: string;
  name: string;
  /** Address of the probe's nop, as in the note (link-time, before the prelink adjustment). */
  location: bigint;
  /** Link-time address of .stapsdt.base the note was written against. */
  base: bigint;
  /** Address of the probe's u16 semaphore, 0n when it has none. */
  semaphore: bigint;
  /** Argument string, e.g. "-4@%edi 8@-16(%rbp)". */
  args: string;
}

/** A probe site resolved against its file. */
export interface UsdtSite extends UsdtNote {
  /** `location` shifted by (address of .stapsdt.base) - base: the site's virtual address in this file. */
  address: bigint;
  /** File offset of `address`, for the uprobe. */
  fileOffset: bigint;
  /** The semaphore's address after the same adjustment, 0n when none. */
  semaphoreAddress: bigint;
  /** File offset of the semaphore (the uprobe's ref_ctr_offset), when there is one. */
  semaphoreOffset?: bigint;
}

/** pt_regs member names of the x86-64 registers an argument can name. */
export type X86Reg =
  | 'ip' | 'ax' | 'bx' | 'cx' | 'dx' | 'si' | 'di' | 'bp' | 'sp'
  | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15';

/** One parsed argument. `size` is in bytes (1, 2, 4, 8). */
export type UsdtArg =
  | { kind: 'const'; size: number; signed: boolean; value: bigint; text: string }
  | { kind: 'reg'; size: number; signed: boolean; register: X86Reg; text: string }
  /** Memory at register + offset (+ the address of `symbol`, for `sym(%rip)`). */
  | { kind: 'deref'; size: number; signed: boolean; register: X86Reg; offset: bigint; symbol?: string; text: string };

const X86_REGS = new Map<string, X86Reg>();
for (const [full, ...aliases] of [
  ['ip', 'rip', 'eip'],
  ['ax', 'rax', 'eax', 'al'],
  ['bx', 'rbx', 'ebx', 'bl'],
  ['cx', 'rcx', 'ecx', 'cl'],
  ['dx', 'rdx', 'edx', 'dl'],
  ['si', 'rsi', 'esi', 'sil'],
  ['di', 'rdi', 'edi', 'dil'],
  ['bp', 'rbp', 'ebp', 'bpl'],
  ['sp', 'rsp', 'esp', 'spl'],
] as const) {
  X86_REGS.set(full, full);
  for (const a of aliases) X86_REGS.set(a, full);
}
for (let n = 8; n <= 15; n++) {
  const full = `r${n}` as X86Reg;
  for (const suffix of ['', 'd', 'w', 'b', 'l']) X86_REGS.set(full + suffix, full);
}
const HIGH_BYTE_REGS = new Set(['ah', 'bh', 'ch', 'dh']);

const INT = String.raw`[-+]?(?:0x[0-9a-f]+|\d+)`;
const RE_CONST = new RegExp(`^\\$(${INT})$`, 'i');
const RE_DEREF = /^(.*)\(%([a-z0-9]+)\)$/i;
const RE_INT = new RegExp(`^${INT}$`, 'i');
// sym, sym+N, sym-N, N+sym
const RE_SYM = new RegExp(`^(?:([A-Za-z_.$][\\w.$@]*)([-+](?:0x[0-9a-f]+|\\d+))?|(${INT})\\+([A-Za-z_.$][\\w.$@]*))$`, 'i');

function parseInt64(s: string): bigint {
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '');
  const v = BigInt(body.toLowerCase().startsWith('0x') ? body : body.replace(/^0+(?=\d)/, ''));
  return neg ? -v : v;
}

/**
 * Parses an x86-64 USDT argument string ("-4@%edi 8@$5 -8@-24(%rbp)") into
 * argument locations. `where` names the site in errors.
 */
export function parseUsdtArgs(args: string, where = 'USDT probe'): UsdtArg[] {
  const out: UsdtArg[] = [];
  const tokens = args.trim() === '' ? [] : args.trim().split(/\s+/);
  if (tokens.length > USDT_MAX_ARGS) {
    throw new UsdtError('USDT_TOO_MANY_ARGS', `${where}: ${tokens.length} arguments ('${args}'); usdt.bpf.h holds at most ${USDT_MAX_ARGS}`);
  }
  tokens.forEach((text, i) => {
    const bad = (why: string): never => {
      throw new UsdtError('USDT_BAD_ARG', `${where}: argument #${i} '${text}' of '${args}': ${why}`);
    };
    const at = text.indexOf('@');
    if (at < 0) bad('no size (expected <size>@<location>, e.g. -4@%edi)');
    const sizeText = text.slice(0, at);
    if (!/^-?\d+$/.test(sizeText)) bad(`size '${sizeText}' is not a number`);
    const signed = sizeText.startsWith('-');
    const size = Math.abs(Number(sizeText));
    if (![1, 2, 4, 8].includes(size)) bad(`size ${size} is not 1, 2, 4 or 8 bytes`);
    const loc = text.slice(at + 1);
    const reg = (name: string): X86Reg => {
      const lower = name.toLowerCase();
      const r = X86_REGS.get(lower);
      if (r) return r;
      if (HIGH_BYTE_REGS.has(lower)) return bad(`high-byte register %${name} cannot be expressed as a spec`);
      return bad(`unknown x86-64 register %${name}`);
    };
    let m: RegExpExecArray | null;
    if (loc.startsWith('%')) {
      if (loc.includes(':')) bad('segment-relative operands are not supported');
      out.push({ kind: 'reg', size, signed, register: reg(loc.slice(1)), text });
    } else if ((m = RE_CONST.exec(loc))) {
      out.push({ kind: 'const', size, signed, value: parseInt64(m[1]!), text });
    } else if (loc.includes(',')) {
      bad('base + index * scale operands (SIB) are not supported by usdt.bpf.h');
    } else if ((m = RE_DEREF.exec(loc))) {
      const disp = m[1]!;
      const register = reg(m[2]!);
      if (disp.includes(':')) bad('segment-relative operands are not supported');
      if (disp === '' || RE_INT.test(disp)) {
        if (register === 'ip' && disp !== '') bad('a numeric %rip displacement is relative to the next instruction, which the note does not give');
        out.push({ kind: 'deref', size, signed, register, offset: disp === '' ? 0n : parseInt64(disp), text });
      } else {
        const s = RE_SYM.exec(disp);
        if (!s) bad(`cannot parse the displacement '${disp}'`);
        if (register !== 'ip') bad(`a symbol displacement ('${disp}') is only supported relative to %rip`);
        const symbol = s![1] ?? s![4]!;
        const offset = s![2] ? parseInt64(s![2]) : s![3] ? parseInt64(s![3]) : 0n;
        out.push({ kind: 'deref', size, signed, register, offset, symbol, text });
      }
    } else {
      bad('expected %reg, $constant or offset(%reg)');
    }
  });
  return out;
}

function cstringAt(b: Uint8Array, start: number, what: () => string): { s: string; next: number } {
  const end = b.indexOf(0, start);
  if (end < 0) throw new UsdtError('USDT_BAD_NOTE', `${what()}: unterminated string in .note.stapsdt descriptor`);
  return { s: cString(b, start, end), next: end + 1 };
}

/** The stapsdt notes of an ELF file, as recorded ([] when it has no .note.stapsdt). */
export function readUsdtNotes(elf: ElfFile, what = 'ELF file'): UsdtNote[] {
  const sec = elf.section('.note.stapsdt');
  if (!sec) return [];
  const out: UsdtNote[] = [];
  for (const note of elf.notes(sec)) {
    if (note.name !== 'stapsdt' || note.type !== NT_STAPSDT) continue;
    const d = note.desc;
    const where = () => `${what}: .note.stapsdt note at offset 0x${note.offset.toString(16)}`;
    if (d.length < 3 * 8 + 3) throw new UsdtError('USDT_BAD_NOTE', `${where()}: descriptor is ${d.length} bytes, too short for three addresses and three strings`);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const provider = cstringAt(d, 24, where);
    const name = cstringAt(d, provider.next, where);
    const args = cstringAt(d, name.next, where);
    out.push({
      provider: provider.s,
      name: name.s,
      location: v.getBigUint64(0, elf.littleEndian),
      base: v.getBigUint64(8, elf.littleEndian),
      semaphore: v.getBigUint64(16, elf.littleEndian),
      args: args.s,
    });
  }
  return out;
}

/**
 * The USDT probe sites of a binary (path, library name as for uprobes, or a
 * parsed ELF file), optionally only those of `provider` and `name`, with
 * their addresses adjusted by .stapsdt.base and translated to file offsets.
 */
export function usdtSites(binary: string | ElfFile, provider?: string, name?: string): UsdtSite[] {
  const path = typeof binary === 'string' ? resolveBinary(binary) : 'ELF file';
  const elf = typeof binary === 'string' ? parseElf(readFileSync(path)) : binary;
  const baseSec = elf.section('.stapsdt.base');
  const sites: UsdtSite[] = [];
  for (const n of readUsdtNotes(elf, path)) {
    if ((provider !== undefined && n.provider !== provider) || (name !== undefined && n.name !== name)) continue;
    // prelink moved the sections but not the notes: shift by how far .stapsdt.base moved (libbpf's rule).
    const shift = baseSec && n.base ? baseSec.addr - n.base : 0n;
    const address = BigInt.asUintN(64, n.location + shift);
    const where = `${path}: USDT ${n.provider}:${n.name} at 0x${address.toString(16)}`;
    const fileOffset = elf.virtualAddressToFileOffset(address);
    if (fileOffset === undefined) throw new UsdtError('USDT_BAD_NOTE', `${where}: the address is outside every loadable segment`);
    const site: UsdtSite = { ...n, address, fileOffset, semaphoreAddress: 0n };
    if (n.semaphore) {
      site.semaphoreAddress = BigInt.asUintN(64, n.semaphore + shift);
      const off = elf.virtualAddressToFileOffset(site.semaphoreAddress);
      if (off === undefined) throw new UsdtError('USDT_BAD_NOTE', `${where}: semaphore at 0x${site.semaphoreAddress.toString(16)} is outside the file-backed part of every loadable segment`);
      site.semaphoreOffset = off;
    }
    sites.push(site);
  }
  return sites;
}

let ptRegs: { btf: Btf; offsets: Map<X86Reg, number> } | undefined;

/** offsetof(struct pt_regs, reg) from the kernel's BTF, for every register name an argument can use. */
export function ptRegsOffsets(btf: Btf = kernelBtf()): ReadonlyMap<X86Reg, number> {
  if (ptRegs?.btf === btf) return ptRegs.offsets;
  const id = btf.findIdByName('pt_regs', 'struct');
  if (!id) throw new UsdtError('USDT_NO_PT_REGS', 'the kernel BTF has no struct pt_regs');
  const offsets = new Map<X86Reg, number>();
  for (const r of new Set(X86_REGS.values())) {
    const m = btf.findMember(id, r);
    if (!m || m.bitOffset % 8 !== 0) throw new UsdtError('USDT_NO_PT_REGS', `the kernel's struct pt_regs has no member '${r}' (not x86-64?)`);
    offsets.set(r, m.bitOffset / 8);
  }
  ptRegs = { btf, offsets };
  return offsets;
}

/** The address of `symbol` in `elf` (symtab, then dynsym); it must be unambiguous. */
function symbolAddress(elf: ElfFile, symbol: string, where: string): bigint {
  const values = new Set<bigint>();
  for (const s of [...elf.symbols(), ...elf.dynamicSymbols()]) {
    if (s.name === symbol && !s.isUndefined && s.type !== 6 /* STT_TLS */) values.add(s.value);
  }
  if (values.size === 0) throw new UsdtError('USDT_BAD_ARG', `${where}: argument names symbol '${symbol}', which is not in the file's symbol tables (stripped?)`);
  if (values.size > 1) throw new UsdtError('USDT_BAD_ARG', `${where}: argument names symbol '${symbol}', defined at ${values.size} addresses`);
  return [...values][0]!;
}

/**
 * struct __bpf_usdt_spec for one site: its arguments, resolved against the
 * pt_regs layout (and, for `sym(%rip)`, the file's symbols), and the cookie.
 */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint, regs: ReadonlyMap<X86Reg, number>, resolve?: { elf: ElfFile; site: UsdtSite; where: string }): Uint8Array {
  if (args.length > USDT_MAX_ARGS) throw new UsdtError('USDT_TOO_MANY_ARGS', `${resolve?.where ?? 'USDT probe'}: ${args.length} arguments; at most ${USDT_MAX_ARGS}`);
  const b = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(b.buffer);
  args.forEach((a, i) => {
    const o = i * ARG_SPEC_SIZE;
    let valOff = 0n;
    let type: number;
    let regOff = 0;
    if (a.kind === 'const') {
      type = UsdtArgType.CONST;
      valOff = a.value;
    } else {
      regOff = regs.get(a.register)!;
      type = a.kind === 'reg' ? UsdtArgType.REG : UsdtArgType.REG_DEREF;
      if (a.kind === 'deref') {
        valOff = a.offset;
        if (a.symbol !== undefined) {
          // sym(%rip) is the address of sym. At a uprobe pt_regs->ip is the site itself, so the
          // runtime address of sym is ip + (sym - site) in link-time addresses.
          if (!resolve) throw new UsdtError('USDT_BAD_ARG', `argument '${a.text}' names a symbol: give the ELF file and site`);
          valOff += symbolAddress(resolve.elf, a.symbol, resolve.where) - resolve.site.address;
        }
      }
    }
    v.setBigUint64(o, BigInt.asUintN(64, valOff), true);
    v.setUint32(o + 8, type, true);
    v.setInt16(o + 12, regOff, true);
    v.setUint8(o + 14, a.signed ? 1 : 0);
    v.setUint8(o + 15, 64 - a.size * 8);
  });
  v.setBigUint64(COOKIE_OFF, BigInt.asUintN(64, cookie), true);
  v.setInt16(ARG_CNT_OFF, args.length, true);
  return b;
}

// Spec ids in use, per __bpf_usdt_specs map (several attachments share an object's map).
const usedSpecIds = new WeakMap<BpfMap, Set<number>>();

function allocSpecIds(map: BpfMap, n: number, what: string): number[] {
  let used = usedSpecIds.get(map);
  if (!used) usedSpecIds.set(map, (used = new Set()));
  const ids: number[] = [];
  for (let id = 0; id < map.maxEntries && ids.length < n; id++) if (!used.has(id)) ids.push(id);
  if (ids.length < n) {
    throw new UsdtError(
      'USDT_TOO_MANY_SPECS',
      `${what}: needs ${n} argument specs but ${USDT_SPECS_MAP} has ${map.maxEntries - used.size} of ${map.maxEntries} free (define BPF_USDT_MAX_SPEC_CNT larger)`,
    );
  }
  for (const id of ids) used.add(id);
  return ids;
}

function freeSpecIds(map: BpfMap, ids: readonly number[]): void {
  const used = usedSpecIds.get(map);
  for (const id of ids) used?.delete(id);
}

/** One uprobe of a USDT attachment. */
export interface UsdtAttachedSite {
  site: UsdtSite;
  args: UsdtArg[];
  /** Index in __bpf_usdt_specs, the uprobe's BPF cookie. */
  specId: number;
}

/** The uprobes of one USDT attachment; close() detaches them all and frees their spec ids. */
export class UsdtLink extends MultiLink {
  readonly sites: readonly UsdtAttachedSite[];
  /** Spec ids this attachment holds in __bpf_usdt_specs (one per distinct argument layout). */
  readonly specIds: readonly number[];
  readonly #map: BpfMap;

  constructor(links: Link[], description: string, sites: UsdtAttachedSite[], specIds: number[], map: BpfMap) {
    super(links, description);
    this.sites = sites;
    this.specIds = specIds;
    this.#map = map;
  }

  protected override release(): void {
    super.release();
    freeSpecIds(this.#map, this.specIds);
  }
}

export interface UsdtOptions {
  /** Only this process (default: every process that maps the binary). */
  pid?: number;
  /** What bpf_usdt_cookie() returns for this attachment. */
  cookie?: bigint;
}

/**
 * Attach `prog` (a KPROBE program built with <bpf/usdt.bpf.h>, SEC("usdt"))
 * to every site of USDT probe `provider`:`name` in `binary` (a path, or a
 * library or program name looked up like attachUprobe's). `coll` is the
 * collection `prog` came from (anything with its maps): its __bpf_usdt_specs
 * map receives the argument specs.
 */
export function attachUsdt(coll: { readonly maps: Readonly<Record<string, BpfMap>> }, prog: Program, binary: string, provider: string, name: string, opts: UsdtOptions = {}): UsdtLink {
  requireProgType(prog, [ProgType.KPROBE], 'a USDT probe', 'KPROBE (SEC("usdt"))');
  const specs = coll.maps[USDT_SPECS_MAP];
  if (!specs) {
    throw new AttachError('NO_USDT_MAPS', `program '${prog.name}': its object has no ${USDT_SPECS_MAP} map; USDT programs must include <bpf/usdt.bpf.h>`);
  }
  if (specs.keySize !== 4 || specs.valueSize !== USDT_SPEC_SIZE) {
    throw new UsdtError('USDT_BAD_MAP', `${USDT_SPECS_MAP} has key size ${specs.keySize} and value size ${specs.valueSize}; tsbpf writes struct __bpf_usdt_spec of usdt.bpf.h (4 and ${USDT_SPEC_SIZE})`);
  }
  const path = resolveBinary(binary);
  const elf = parseElf(readFileSync(path));
  const what = `usdt ${path}:${provider}:${name}`;
  const found = usdtSites(elf, provider, name).map((s) => ({ ...s }));
  if (found.length === 0) {
    const all = readUsdtNotes(elf, path);
    const names = [...new Set(all.map((n) => `${n.provider}:${n.name}`))];
    throw new AttachError(
      'NO_USDT',
      `no USDT probe ${provider}:${name} in ${path}; ${names.length ? `it has ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}` : 'it has no .note.stapsdt probes'}`,
    );
  }
  if (elf.machine !== EM_X86_64) throw new AttachError('NOT_SUPPORTED', `${what}: USDT argument specs are parsed for x86-64 only (e_machine ${elf.machine})`);
  const regs = ptRegsOffsets();
  const cookie = opts.cookie ?? 0n;

  // One spec per distinct layout: sites that keep their arguments in the same places share it.
  const layouts = new Map<string, number>();
  const specBytes: Uint8Array[] = [];
  const plan = found.map((site) => {
    const where = `${path}: USDT ${provider}:${name} at 0x${site.address.toString(16)}`;
    const args = parseUsdtArgs(site.args, where);
    const bytes = encodeUsdtSpec(args, cookie, regs, { elf, site, where });
    const key = Buffer.from(bytes).toString('hex');
    let idx = layouts.get(key);
    if (idx === undefined) {
      layouts.set(key, (idx = specBytes.length));
      specBytes.push(bytes);
    }
    return { site, args, idx };
  });

  const ids = allocSpecIds(specs, specBytes.length, what);
  const links: Link[] = [];
  try {
    specBytes.forEach((b, i) => specs.update(ids[i]!, b));
    for (const p of plan) {
      const specId = ids[p.idx]!;
      const { fd, cleanup } = openProbe({ kind: 'uprobe', ret: false, target: path, offset: p.site.fileOffset, pid: opts.pid, refCtrOffset: p.site.semaphoreOffset });
      let link: Link;
      try {
        link = attachToPerfEvent(prog, fd, `${what} @0x${p.site.fileOffset.toString(16)} -> ${prog.name}`, BigInt(specId));
      } catch (e) {
        cleanup?.();
        throw e;
      }
      if (cleanup) link = new CleanupLink(link, cleanup);
      links.push(link);
      if (link.fd < 0) {
        // Attached through PERF_EVENT_IOC_SET_BPF: a kernel without perf links has no BPF cookies either.
        throw new AttachError('NOT_SUPPORTED', `${what}: this kernel has no BPF cookies (5.15+), which tsbpf's USDT support needs`);
      }
    }
  } catch (e) {
    for (const l of links) l.close();
    freeSpecIds(specs, ids);
    throw e;
  }
  return new UsdtLink(
    links,
    `${what} (${plan.length} site${plan.length === 1 ? '' : 's'}, ${ids.length} spec${ids.length === 1 ? '' : 's'}) -> ${prog.name}`,
    plan.map((p) => ({ site: p.site, args: p.args, specId: ids[p.idx]! })),
    ids,
    specs,
  );
}
