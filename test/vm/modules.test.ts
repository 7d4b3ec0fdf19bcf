/**
 * Kernel module BTF (/sys/kernel/btf/<module>, split BTF on vmlinux), which
 * only the guest has (5.11+): the initramfs loads virtio_pci (built in from
 * 6.12), 9pnet_virtio, 9p, overlay and their dependencies, all with BTF. VM only (see helpers.ts).
 * - every module's BTF parses on vmlinux and dumps (dumpRaw, `tsbpf btf dump
 *   --format raw --base`, dumpC) byte for byte as bpftool does with -B;
 * - CO-RE relocations of test/bpf/vm_modules.c name structs and enums that
 *   exist only in module BTF: loadCollection resolves them through the
 *   modules (loaded lazily, vmlinux having no candidate), a syscall program
 *   returns the relocated values, which equal what the module BTF says, and a
 *   kprobe on p9_virtio_request reads the live p9_client with them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { dropKernelBtfCache, kernelBtf, kernelModuleBtfs } from '../../bpf/btf/kernel.ts';
import { attachKprobe } from '../../bpf/link/kprobe.ts';
import { Btf } from '../../btf/btf.ts';
import { CoreCache, resolveCoreRelo } from '../../btf/core.ts';
import { dumpC } from '../../btf/dump-c.ts';
import { dumpRaw } from '../../btf/dump-raw.ts';
import { btfDump } from '../../lib/commands/btf.ts';
import { notSupported } from '../../bpf/features.ts';
import { skipIfNotSupported } from '../helpers/kernel-features.ts';
import { obj, vmtest } from './helpers.ts';

const SYS_BTF = '/sys/kernel/btf';
const VMLINUX = `${SYS_BTF}/vmlinux`;
const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');

/** Names of the modules with BTF in the running kernel. */
function moduleNames(): string[] {
  try {
    return readdirSync(SYS_BTF)
      .filter((n) => n !== 'vmlinux')
      .sort();
  } catch {
    return [];
  }
}

let parsed: Map<string, Btf> | undefined;
/** Each module's BTF parsed as split BTF on the (cached) vmlinux BTF, by module name. */
function modules(): Map<string, Btf> {
  if (!parsed) {
    const base = kernelBtf();
    parsed = new Map(moduleNames().map((n) => [n, Btf.parse(readFileSync(`${SYS_BTF}/${n}`), { base })]));
  }
  return parsed;
}

/** Every module whose own types (not vmlinux's) include `kind name`, with its type id there. */
function ownedBy(kind: 'struct' | 'enum', name: string): { module: string; btf: Btf; id: number }[] {
  const out: { module: string; btf: Btf; id: number }[] = [];
  for (const [module, btf] of modules()) {
    for (const id of btf.findIdsByEssentialName(name, [kind], true)) out.push({ module, btf, id });
  }
  return out;
}

function bpftoolWorks(): boolean {
  try {
    return /bpftool v/.test(execFileSync('bpftool', ['version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

const bpftool = (...args: string[]): string => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 30 });

/** The modules the initramfs of scripts/vm/boot.sh loads where they are modules (6.12 builds virtio_pci in; built-in code has no module BTF). */
const ALWAYS = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
/** Loaded as a module (built-in ones have /sys/module/<name> too, for their parameters, but no initstate). */
const isModule = (m: string): boolean => existsSync(`/sys/module/${m}/initstate`);

/** Skips on a kernel before module BTF (5.11) or built without it; fails on one that should have it. */
function needModuleBtf(ctx: { skip(note?: string): never }): void {
  if (!moduleNames().length) skipIfNotSupported(ctx, notSupported('module BTF', 'no /sys/kernel/btf/<module>'));
}

describe('module BTF in the guest', () => {
  vmtest('every /sys/kernel/btf/<module> parses as split BTF on vmlinux and dumps as bpftool -B does (dumpRaw, tsbpf btf dump --base)', (ctx) => {
    needModuleBtf(ctx);
    const names = moduleNames();
    console.log(`[modules] module BTF in the guest: ${names.join(', ')}`);
    for (const m of ALWAYS) if (isModule(m)) expect(names).toContain(m);

    const base = kernelBtf();
    const withBpftool = bpftoolWorks();
    for (const [name, btf] of modules()) {
      // Split BTF: ids go on from the base's, strings too.
      expect(btf.base).toBe(base);
      expect(btf.firstTypeId).toBe(base.length);
      expect(btf.count).toBeGreaterThan(0);
      expect(btf.length).toBe(base.length + btf.count);
      expect(btf.stringOffset).toBe(base.header.strLen);
      const raw = dumpRaw(btf);
      // The CLI's code path (readFileSync of both files, loadBtf with a base) prints the same.
      expect(btfDump(`${SYS_BTF}/${name}`, { format: 'raw', base: VMLINUX })).toBe(raw);
      if (withBpftool) {
        expect(raw, name).toBe(bpftool('btf', 'dump', 'file', `${SYS_BTF}/${name}`, '-B', VMLINUX));
      } else {
        // No bpftool: the dump has one line per own type, the first at firstTypeId, with the module's own struct names.
        const heads = raw.split('\n').filter((l) => l.startsWith('['));
        expect(heads.length).toBe(btf.count);
        expect(heads[0]).toMatch(new RegExp(`^\\[${btf.firstTypeId}\\] `));
        for (const t of btf.types()) if (t.kind === 'struct' && t.name) expect(raw).toContain(`[${t.id}] STRUCT '${t.name}' size=${t.size} `);
      }
    }
    // The loader's list (what CO-RE falls back to) is the same set of modules.
    dropKernelBtfCache();
    parsed = undefined;
    const loaderMods = kernelModuleBtfs();
    expect(loaderMods.map((b) => b.count).sort((a, b) => a - b)).toEqual([...modules().values()].map((b) => b.count).sort((a, b) => a - b));
    if (!withBpftool) ctx.annotate('bpftool does not run in the guest: compared with the module BTF itself only');
  });

  vmtest('the CLI as a user runs it: tsbpf btf dump /sys/kernel/btf/<module> --format raw --base vmlinux, and --format c, equal bpftool -B', (ctx) => {
    needModuleBtf(ctx);
    if (!bpftoolWorks()) ctx.skip('bpftool does not run in the guest');
    if (!existsSync(CLI)) ctx.skip('dist/cli.js is not built (npm run build)');
    // virtio_pci where it is a module (6.1), else overlay (a module on every kernel of the matrix).
    const [mod, struct] = isModule('virtio_pci') ? ['virtio_pci', 'virtio_pci_device'] : ['overlay', 'ovl_fs'];
    const file = `${SYS_BTF}/${mod}`;
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, 'btf', 'dump', file, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout;
    };
    expect(cli('--format', 'raw', '--base', VMLINUX)).toBe(bpftool('btf', 'dump', 'file', file, '-B', VMLINUX));
    // C: the whole of vmlinux, then the module's types, as bpftool 7.1 does.
    const c = bpftool('btf', 'dump', 'file', file, '-B', VMLINUX, 'format', 'c');
    expect(c).toContain(`struct ${struct} {`);
    expect(dumpC(modules().get(mod)!)).toBe(c);
    expect(cli('--format', 'c', '--base', VMLINUX)).toBe(c);
  });

  vmtest('CO-RE through module BTF: vm_modules.o resolves against the module that has each type; a syscall program returns the values', (ctx) => {
    needModuleBtf(ctx);
    // virtio_pci is a module on 6.1 and built in from 6.12 (its types then are vmlinux's).
    const vpModule = isModule('virtio_pci');
    const vmlinux = kernelBtf();
    const virtioPci = vpModule ? ownedBy('struct', 'virtio_pci_device') : vmlinux.findIdsByEssentialName('virtio_pci_device', ['struct']).map((id) => ({ module: 'vmlinux', btf: vmlinux, id }));
    const ovl = ownedBy('struct', 'ovl_fs');
    const p9client = ownedBy('struct', 'p9_client');
    for (const n of [...(vpModule ? ['virtio_pci_device'] : []), 'ovl_fs', 'ovl_config', 'p9_client', 'p9_trans_module']) expect(vmlinux.findIdsByEssentialName(n, ['struct']).length, n).toBe(0);
    expect(virtioPci.map((c) => c.module)).toEqual([vpModule ? 'virtio_pci' : 'vmlinux']);
    expect(ovl.map((c) => c.module)).toEqual(['overlay']);
    // p9_client is in each 9p module's BTF (9pnet, 9pnet_virtio, 9p): one candidate per module, all alike.
    expect(p9client.length).toBeGreaterThan(1);

    const spec = loadCollectionSpec(obj('vm_modules'));
    // What each relocation resolves to against vmlinux + modules, and against vmlinux alone.
    const func = spec.functions[spec.programs.core_values!.func]!;
    const cache = new CoreCache();
    const mods = [...modules().values()];
    const targets = [vmlinux, ...mods];
    const nameOf = (b: Btf | undefined) => (b === undefined ? '-' : b === vmlinux ? 'vmlinux' : [...modules()].find(([, m]) => m === b)![0]);
    const resolved = func.coreRelos.map((r) => {
      const relo = { ...r, insnOff: r.insnOff * 8 };
      const res = resolveCoreRelo(spec.btf!, relo, targets, cache);
      const alone = resolveCoreRelo(spec.btf!, relo, vmlinux);
      return { desc: res.description, module: nameOf(res.target?.btf), matches: res.matches, poison: res.poison, vmlinuxOnly: alone.description };
    });
    console.log(`[modules] core_values relocations:\n${resolved.map((r) => `  ${r.desc} (${r.module}, ${r.matches} match${r.matches === 1 ? '' : 'es'}; vmlinux alone: ${r.vmlinuxOnly})`).join('\n')}`);
    const byDesc = (s: string) => resolved.filter((r) => r.desc.includes(s));
    for (const r of byDesc('struct virtio_pci_device')) if (!r.desc.includes('tsbpf_no_such_field')) expect(r).toMatchObject({ module: vpModule ? 'virtio_pci' : 'vmlinux', matches: 1 });
    for (const r of byDesc('struct ovl_fs')) expect(r).toMatchObject({ module: 'overlay', matches: 1 });
    for (const r of byDesc('struct p9_client')) expect(r).toMatchObject({ matches: p9client.length });
    // vmlinux alone has none of these types: field offsets and sizes would not resolve.
    for (const r of byDesc('field_byte_offset')) if (vpModule || !r.desc.includes('virtio_pci_device')) expect(r.vmlinuxOnly).toMatch(/-> poison$/);

    // Loaded the normal way: vmlinux first, module BTF loaded only for the types it lacks.
    dropKernelBtfCache();
    parsed = undefined;
    using c = loadCollection(spec, { programs: ['core_values'] });
    expect(c.warnings.filter((w) => !/program BTF/.test(w))).toEqual([]);
    // BPF_PROG_TYPE_SYSCALL refuses a repeat count (EINVAL): run once with repeat 0.
    expect(c.programs.core_values!.testRun({ repeat: 0 }).retval).toBe(0);
    const buf = c.variables.out!.bytes();
    const out = Array.from({ length: 16 }, (_, i) => Number(buf.readBigUInt64LE(i * 8)));

    // Expected values, from the module BTF itself.
    const { btf: vp, id: vpId } = virtioPci[0]!;
    const member = (btf: Btf, id: number, name: string) => {
      const m = btf.findMember(id, name);
      expect(m, name).toBeDefined();
      return m!;
    };
    const msixVectors = member(vp, vpId, 'msix_vectors');
    const { btf: ob, id: ovlId } = ovl[0]!;
    const config = member(ob, ovlId, 'config');
    const xino = member(ob, config.member.type, 'xino');
    const { btf: pb, id: pcId } = p9client[0]!;
    const transMod = ownedBy('struct', 'p9_trans_module')[0]!;
    const msgT = ownedBy('enum', 'p9_msg_t')[0]!;
    const protoVersions = ownedBy('enum', 'p9_proto_versions');
    const enumVal = (e: { btf: Btf; id: number }, name: string) => {
      const t = e.btf.typeById(e.id);
      if (t.kind !== 'enum' && t.kind !== 'enum64') throw new Error(`${e.id} is not an enum`);
      return Number(t.values.find((v) => v.name === name)!.value);
    };
    expect(out).toEqual([
      msixVectors.bitOffset / 8,
      member(vp, vpId, 'is_legacy').bitOffset / 8,
      vp.sizeOf(msixVectors.member.type),
      0, // virtio_pci_device.tsbpf_no_such_field
      1,
      vp.sizeOf(vpId),
      vpId, // bpf_core_type_id_kernel: the id in the split numbering (after vmlinux's)
      (config.bitOffset + xino.bitOffset) / 8,
      member(ob, ovlId, 'numlayer').bitOffset / 8,
      member(pb, pcId, 'msize').bitOffset / 8,
      member(pb, pcId, 'trans_mod').bitOffset / 8,
      member(transMod.btf, transMod.id, 'maxsize').bitOffset / 8,
      enumVal(msgT, 'P9_TWALK'),
      1, // P9_TVERSION exists
      0, // struct tsbpf_no_such_type
      protoVersions.length ? enumVal(protoVersions[0]!, 'p9_proto_2000L') : 0,
    ]);
    // Sanity: the values really moved (the local declarations have another layout).
    if (vpModule) expect(vpId).toBeGreaterThanOrEqual(vmlinux.length);
    expect(out[5]).toBeGreaterThan(1000);
    expect(out[12]).toBe(110); // P9_TWALK in include/net/9p/9p.h
  });

  vmtest('kprobe on p9_virtio_request (9pnet_virtio) reads the live p9_client with offsets from module BTF', (ctx) => {
    needModuleBtf(ctx);
    const spec = loadCollectionSpec(obj('vm_modules'));
    using c = loadCollection(spec, { programs: ['p9_request'] });
    using link = attachKprobe(c.programs.p9_request!, 'p9_virtio_request');
    expect(link.fd).toBeGreaterThan(2);
    // Lookups of names that do not exist go through the overlay to the 9p lower layer: a walk request each.
    for (let i = 0; i < 5; i++) existsSync(join(ROOT, `.tsbpf-vm-nope-${process.pid}-${Date.now()}-${i}`));
    const u32 = (n: string) => c.variables[n]!.bytes().readUInt32LE(0);
    expect(c.variables.hits!.bytes().readBigUInt64LE(0)).toBeGreaterThanOrEqual(1n);
    const transName = c.variables.seen_trans!.bytes();
    expect(transName.subarray(0, transName.indexOf(0)).toString()).toBe('virtio');
    const maxsize = c.variables.seen_maxsize!.bytes().readInt32LE(0);
    const msize = u32('seen_msize');
    // init.sh mounts with msize=1048576; the client caps it at the transport's maxsize (and the server may lower it).
    expect(maxsize).toBeGreaterThan(4096);
    expect(msize).toBeGreaterThanOrEqual(4096);
    expect(msize).toBeLessThanOrEqual(Math.min(1 << 20, maxsize));
    // p9_proto_2000L (init.sh mounts with version=9p2000.L), as the module's enum numbers it.
    const proto = ownedBy('enum', 'p9_proto_versions')[0];
    const t = proto?.btf.typeById(proto.id);
    const want = t && (t.kind === 'enum' || t.kind === 'enum64') ? Number(t.values.find((v) => v.name === 'p9_proto_2000L')!.value) : 2;
    expect(u32('seen_proto')).toBe(want);
  });
});
