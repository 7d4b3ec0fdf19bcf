/** `tsbpf link list`: every BPF link on the system, like bpftool link show. */
import { FdLink, linkIds } from '../../bpf/link/link.ts';
import { infosOf, type Command } from './types.ts';
import { parseArgs } from './args.ts';

const list: Command = {
  name: 'link list',
  usage: 'link list [--json]',
  summary: 'list every BPF link on the system (like bpftool link show)',
  async run(args) {
    const { flags } = parseArgs(args, { booleans: ['json'] });
    const rows = infosOf(linkIds(), (id) => FdLink.fromId(id));
    if (flags.has('json')) process.stdout.write(JSON.stringify(rows.map((r) => ({ id: r.id, type: r.typeName.toLowerCase(), prog_id: r.progId }))) + '\n');
    else for (const r of rows) process.stdout.write(`${r.id}: ${r.typeName.toLowerCase()}  prog ${r.progId}\n`);
    return 0;
  },
};

export const linkCommands: Command[] = [list];
