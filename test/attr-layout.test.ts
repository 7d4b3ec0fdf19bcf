/**
 * The attr layouts in syscall/attr.ts against the running kernel's own
 * `union bpf_attr` (from /sys/kernel/btf/vmlinux): every field offset tsbpf
 * writes must be where the kernel reads it. Also `struct bpf_map_info`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import type { BtfType } from '../btf/types.ts';
import * as attr from '../syscall/attr.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Every member of a struct/union with its byte offset, anonymous members flattened, with a path prefix for named sub-structs. */
function fieldOffsets(btf: Btf, t: BtfType, base = 0, prefix = ''): Map<string, number>[] {
  // One map per alternative of the top-level union, so that the same field name in two commands does not clash.
  if (t.kind !== 'struct' && t.kind !== 'union') return [];
  const out = new Map<string, number>();
  const walk = (id: number, off: number, pre: string) => {
    const m = btf.resolve(id);
    if (m.kind !== 'struct' && m.kind !== 'union') return;
    for (const f of m.members) {
      const o = off + f.bitOffset / 8;
      const inner = btf.resolve(f.type);
      if (!f.name) walk(f.type, o, pre);
      else {
        out.set(pre + f.name, o);
        if (inner.kind === 'struct' || inner.kind === 'union') walk(f.type, o, `${pre}${f.name}_`);
      }
    }
  };
  walk(t.id, base, prefix);
  return [out];
}

describe.skipIf(!existsSync(VMLINUX))('attr layouts match the running kernel', () => {
  const btf = Btf.parse(readFileSync(VMLINUX));
  const union = btf.findByName('bpf_attr', 'union')!;

  // The alternatives of union bpf_attr, each flattened to name -> offset.
  const alternatives: Map<string, number>[] = [];
  if (union && union.kind === 'union') {
    for (const m of union.members) {
      const t = btf.resolve(m.type);
      alternatives.push(...fieldOffsets(btf, t));
    }
  }

  const layouts: [string, Record<string, number>, string][] = [
    ['MapCreateAttr', attr.MapCreateAttr, 'map_type'],
    ['MapElemAttr', attr.MapElemAttr, 'map_fd'],
    ['MapBatchAttr', attr.MapBatchAttr, 'in_batch'],
    ['ProgLoadAttr', attr.ProgLoadAttr, 'prog_type'],
    ['ObjPinAttr', attr.ObjPinAttr, 'pathname'],
    ['GetIdAttr', attr.GetIdAttr, 'start_id'],
    ['InfoAttr', attr.InfoAttr, 'bpf_fd'],
    ['BtfLoadAttr', attr.BtfLoadAttr, 'btf'],
    ['ProgTestRunAttr', attr.ProgTestRunAttr, 'prog_fd'],
    ['RawTracepointAttr', attr.RawTracepointAttr, 'name'],
    ['ProgAttachAttr', attr.ProgAttachAttr, 'attach_bpf_fd'],
    ['LinkUpdateAttr', attr.LinkUpdateAttr, 'link_fd'],
    ['ProgQueryAttr', attr.ProgQueryAttr, 'query_flags'],
    ['TaskFdQueryAttr', attr.TaskFdQueryAttr, 'probe_offset'],
  ];

  // Fields tsbpf names differently from the kernel (aliases inside unions).
  const alias: Record<string, string> = { id: 'start_id', next_key: 'value' };

  for (const [name, layout, marker] of layouts) {
    it(`${name}: every field at the kernel's offset, SIZE within the union`, () => {
      const alt = alternatives.find((a) => a.has(marker) && Object.keys(layout).filter((k) => k !== 'SIZE').every((k) => a.has(alias[k] ?? k)));
      expect(alt, `no alternative of union bpf_attr has all of ${Object.keys(layout).join(', ')}`).toBeDefined();
      for (const [field, off] of Object.entries(layout)) {
        if (field === 'SIZE') continue;
        expect({ field, off: alt!.get(alias[field] ?? field) }).toEqual({ field, off });
      }
      expect(layout.SIZE).toBeLessThanOrEqual(btf.sizeOf(union.id));
    });
  }

  it('LinkCreateAttr: the union members tsbpf writes sit where the kernel reads them', () => {
    // link_create is a named struct: find it through the union's member names.
    const m = union.kind === 'union' ? union.members.find((x) => x.name === 'link_create') : undefined;
    expect(m).toBeDefined();
    const flat = fieldOffsets(btf, btf.resolve(m!.type))[0]!;
    const L = attr.LinkCreateAttr;
    const expectAt = (kernel: string, ours: number) => expect({ kernel, off: flat.get(kernel) }).toEqual({ kernel, off: ours });
    expectAt('prog_fd', L.prog_fd);
    expectAt('target_fd', L.target_fd);
    expectAt('attach_type', L.attach_type);
    expectAt('flags', L.flags);
    expectAt('target_btf_id', L.target_btf_id);
    expectAt('iter_info', L.iter_info);
    expectAt('iter_info_len', L.iter_info_len);
    expectAt('perf_event_bpf_cookie', L.perf_event_cookie);
    expectAt('kprobe_multi_flags', L.kprobe_multi_flags);
    expectAt('kprobe_multi_cnt', L.kprobe_multi_cnt);
    expectAt('kprobe_multi_syms', L.kprobe_multi_syms);
    expectAt('kprobe_multi_cookies', L.kprobe_multi_cookies);
    expectAt('netfilter_pf', L.netfilter_pf);
    expectAt('netfilter_priority', L.netfilter_priority);
    expectAt('tcx_expected_revision', L.tcx_expected_revision);
    expectAt('uprobe_multi_path', L.uprobe_multi_path);
    expectAt('uprobe_multi_offsets', L.uprobe_multi_offsets);
    expectAt('uprobe_multi_cookies', L.uprobe_multi_cookies);
    expectAt('uprobe_multi_cnt', L.uprobe_multi_cnt);
    expectAt('uprobe_multi_flags', L.uprobe_multi_flags);
    expectAt('uprobe_multi_pid', L.uprobe_multi_pid);
    expect(L.SIZE).toBeLessThanOrEqual(btf.sizeOf(m!.type));
  });

  it('struct bpf_map_info: every field tsbpf reads', () => {
    const info = btf.findByName('bpf_map_info', 'struct')!;
    const flat = fieldOffsets(btf, info)[0]!;
    for (const [field, off] of Object.entries(attr.MapInfoLayout)) {
      if (field === 'SIZE') continue;
      expect({ field, off: flat.get(field) }).toEqual({ field, off });
    }
    expect(attr.MapInfoLayout.SIZE).toBeLessThanOrEqual(btf.sizeOf(info.id));
  });

  for (const [struct, layout] of [['bpf_btf_info', attr.BtfInfoLayout], ['bpf_link_info', attr.LinkInfoLayout]] as const) {
    it(`struct ${struct}: every field tsbpf reads`, () => {
      const info = btf.findByName(struct, 'struct')!;
      const flat = fieldOffsets(btf, info)[0]!;
      for (const [field, off] of Object.entries(layout)) {
        if (field === 'SIZE') continue;
        expect({ field, off: flat.get(field) }).toEqual({ field, off });
      }
      expect(layout.SIZE).toBeGreaterThanOrEqual(btf.sizeOf(info.id));
    });
  }

  it('struct bpf_prog_info: every field of ProgInfoLayout', () => {
    const info = btf.findByName('bpf_prog_info', 'struct')!;
    const flat = fieldOffsets(btf, info)[0]!;
    for (const [field, off] of Object.entries(attr.ProgInfoLayout)) {
      if (field === 'SIZE') continue;
      expect({ field, off: flat.get(field) }).toEqual({ field, off });
    }
    expect(attr.ProgInfoLayout.SIZE).toBeLessThanOrEqual(btf.sizeOf(info.id));
  });
});
