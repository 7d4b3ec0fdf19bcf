/**
 * `tsbpf btf show|list [id N]` (BTF objects in the kernel, with the programs
 * and maps using each, like bpftool btf show) and
 * `tsbpf btf dump FILE [--format raw|c|json] [--base FILE]` (./btf-dump.ts).
 */
import { UsageError, type Command } from './types.ts';
import { parseArgs, parseUint } from './args.ts';
import { btfIds } from '../../bpf/btf/objects.ts';
import { BtfHandle, type BtfInfo } from '../../bpf/btf/handle.ts';
import { BpfMap, mapIds } from '../../bpf/maps/map.ts';
import { Program, progIds } from '../../bpf/programs/program.ts';
import { infosOf } from './types.ts';
import { btfDumpCommand } from './btf-dump.ts';
import { outputOpts, printJson, writeOut } from './out.ts';

export { btfDump, btfDumpCommand, loadBtfForDump, type BtfDumpFormat } from './btf-dump.ts';

/** Which programs and maps use each BTF object (bpftool's build_btf_tables). */
function btfUsers(): { progs: Map<number, number[]>; maps: Map<number, number[]> } {
  const progs = new Map<number, number[]>();
  const maps = new Map<number, number[]>();
  const add = (t: Map<number, number[]>, btf: number, id: number) => btf && (t.get(btf) ?? t.set(btf, []).get(btf)!).push(id);
  for (const p of infosOf(progIds(), (id) => Program.fromId(id))) add(progs, p.btfId, p.id);
  for (const m of infosOf(mapIds(), (id) => BpfMap.fromId(id))) add(maps, m.btfId, m.id);
  return { progs, maps };
}

function btfInfoOf(id: number): BtfInfo {
  using h = BtfHandle.fromId(id);
  return h.info();
}

function btfShowCommand(name: 'btf show' | 'btf list'): Command {
  return {
    name,
    usage: `${name} [id N] [-j|-p]`,
    summary: 'BTF objects in the kernel, with the programs and maps using each (like bpftool btf show)',
    async run(args) {
      const { positional, flags } = parseArgs(args, { booleans: ['json', 'pretty'], max: 2 });
      if (positional.length === 1 || (positional.length === 2 && positional[0] !== 'id')) throw new UsageError(`expected 'id N', got '${positional.join(' ')}'`);
      const one = positional.length ? parseUint('id', positional[1]!, 0xffffffff, 1) : undefined;
      const users = btfUsers();
      const infos: BtfInfo[] = [];
      for (const id of one !== undefined ? [one] : btfIds()) {
        try {
          infos.push(btfInfoOf(id));
        } catch (e) {
          if (one !== undefined || (e as { code?: unknown }).code !== 'ENOENT') throw e;
        }
      }
      const json = (i: BtfInfo) => ({
        id: i.id,
        size: i.size,
        prog_ids: users.progs.get(i.id) ?? [],
        map_ids: users.maps.get(i.id) ?? [],
        kernel: i.kernel,
        ...(i.name ? { name: i.name } : {}),
      });
      const plain = (i: BtfInfo) => {
        const p = users.progs.get(i.id);
        const m = users.maps.get(i.id);
        return `${i.id}: name ${i.kernel ? `[${i.name}]` : i.name || '<anon>'}  size ${i.size}B${p ? `  prog_ids ${p.join(',')}` : ''}${m ? `  map_ids ${m.join(',')}` : ''}\n`;
      };
      if (flags.has('json')) {
        const v = one !== undefined ? json(infos[0]!) : infos.map(json);
        await printJson(outputOpts(flags), v);
      } else await writeOut(infos.map(plain).join(''));
      return 0;
    },
  };
}

export const btfCommands: Command[] = [btfShowCommand('btf show'), btfShowCommand('btf list'), btfDumpCommand];
