/**
 * `tsbpf demo`: the README's main job until the tracer lands. Creates one map
 * of each everyday type, writes to it through bpf(2), reads it back and prints
 * what the kernel reports about each map.
 */
import { BpfMap } from '../../bpf/maps/map.ts';
import { lpmKeyFromCidr } from '../../bpf/maps/lpm.ts';
import { mapTypeBpftoolName, type MapTypeName } from '../../bpf/maps/types.ts';
import { u64 } from '../../bpf/maps/codec.ts';
import type { Command } from './types.ts';
import { parseArgs } from './args.ts';

interface Row {
  id: number;
  type: string;
  name: string;
  key: number;
  value: number;
  max_entries: number;
  flags: number;
  wrote: string;
  read: string;
}

export const demo: Command = {
  name: 'demo',
  usage: 'demo [--json]',
  summary: 'create maps of several types, use them, print what the kernel reports',
  async run(args) {
    const { flags } = parseArgs(args, { booleans: ['json'] });
    const rows: Row[] = [];
    const maps: BpfMap[] = [];
    const make = (type: MapTypeName, keySize: number, valueSize: number, maxEntries: number, extra: { flags?: number; innerMap?: Parameters<typeof BpfMap.create>[0] } = {}) => {
      const m = BpfMap.create({ name: `demo_${type.toLowerCase()}`, type, keySize, valueSize, maxEntries, ...extra });
      maps.push(m);
      return m;
    };
    const record = (m: BpfMap, wrote: string, read: string) => {
      const i = m.info();
      rows.push({ id: i.id, type: mapTypeBpftoolName(i.type), name: i.name, key: i.keySize, value: i.valueSize, max_entries: i.maxEntries, flags: i.flags, wrote, read });
    };
    try {
      const h = make('HASH', 4, 8, 1024);
      h.update(process.pid, 42n);
      record(h, `${process.pid} -> 42`, `${h.lookupWith(process.pid, u64)}`);

      const a = make('ARRAY', 4, 8, 16);
      a.update(3, 7n);
      record(a, '3 -> 7', `${a.lookupWith(3, u64)} (and index 0 -> ${a.lookupWith(0, u64)})`);

      const pc = make('PERCPU_ARRAY', 4, 8, 4);
      pc.update(0, 5n);
      record(pc, '0 -> 5 on every CPU', (pc.lookupPerCpu(0) ?? []).map((b) => b.readBigUInt64LE()).join(', '));

      const lpm = make('LPM_TRIE', 8, 4, 64, { flags: 1 });
      lpm.update(lpmKeyFromCidr('10.0.0.0/8'), 8);
      lpm.update(lpmKeyFromCidr('10.1.0.0/16'), 16);
      record(lpm, '10/8 -> 8, 10.1/16 -> 16', `10.1.2.3 matches /${lpm.lookup(lpmKeyFromCidr('10.1.2.3'))?.readUInt32LE()}`);

      const q = make('QUEUE', 0, 4, 8);
      q.push(1);
      q.push(2);
      record(q, 'push 1, push 2', `pop ${q.pop()?.readUInt32LE()}`);

      const inner = make('ARRAY', 4, 4, 1);
      const outer = make('ARRAY_OF_MAPS', 4, 4, 2, { innerMap: { type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 } });
      outer.update(0, inner);
      record(outer, `0 -> map id ${inner.info().id}`, `inner map id ${outer.innerMapId(0)}`);

      const rb = make('RINGBUF', 0, 0, 64 * 1024);
      record(rb, '-', '-');
    } finally {
      for (const m of maps) m.close();
    }
    if (flags.has('json')) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      const head = ['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'ENTRIES', 'WROTE', 'READ BACK'];
      const table = [head, ...rows.map((r) => [String(r.id), r.type, r.name, String(r.key), String(r.value), String(r.max_entries), r.wrote, r.read])];
      const w = head.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
      for (const t of table) process.stdout.write(t.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n');
    }
    return 0;
  },
};
