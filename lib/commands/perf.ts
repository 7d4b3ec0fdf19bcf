/** `tsbpf perf show|list`: BPF programs behind perf events and raw tracepoints of every process (bpftool perf show), its text and keys. */
import { FD_TYPE_NAMES, perfAttachments, type PerfAttachment } from '../../bpf/link/perf-query.ts';
import type { Command } from './types.ts';
import { parseArgs } from './args.ts';
import { JSON_FLAGS, outputOpts, writeOut } from './out.ts';

export function perfJson(a: PerfAttachment): Record<string, unknown> {
  const o: Record<string, unknown> = { pid: a.pid, fd: a.fd, prog_id: a.progId };
  const t = FD_TYPE_NAMES[a.fdType];
  if (t === undefined) return o;
  o.fd_type = t;
  if (t === 'raw_tracepoint' || t === 'tracepoint') o.tracepoint = a.name;
  else if (t === 'kprobe' || t === 'kretprobe') {
    if (a.name) ((o.func = a.name), (o.offset = a.probeOffset));
    else o.addr = a.probeAddr;
  } else ((o.filename = a.name), (o.offset = a.probeOffset));
  return o;
}

export function perfPlain(a: PerfAttachment): string {
  const head = `pid ${a.pid}  fd ${a.fd}: prog_id ${a.progId}  `;
  const t = FD_TYPE_NAMES[a.fdType];
  if (t === 'raw_tracepoint' || t === 'tracepoint') return `${head}${t}  ${a.name}\n`;
  if (t === 'kprobe' || t === 'kretprobe') return `${head}${a.name ? `${t}  func ${a.name}  offset ${a.probeOffset}` : `${t}  addr ${a.probeAddr}`}\n`;
  if (t === 'uprobe' || t === 'uretprobe') return `${head}${t}  filename ${a.name}  offset ${a.probeOffset}\n`;
  return head; // an fd type newer than this table: bpftool prints the head alone too
}

function showCommand(name: 'perf show' | 'perf list'): Command {
  return {
    name,
    usage: `${name} [-j|-p]`,
    summary: 'programs behind perf events (tracepoints, kprobes, uprobes) and raw tracepoints, per pid and fd',
    async run(args) {
      const { flags } = parseArgs(args, JSON_FLAGS);
      const rows = perfAttachments();
      if (flags.has('json')) {
        // Offsets and kernel addresses are u64: written as plain JSON numbers, all digits kept (as bpftool's %llu).
        const o = outputOpts(flags);
        const text = JSON.stringify(rows.map(perfJson), (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}` : v), o.pretty ? 4 : undefined);
        await writeOut(text.replace(/"\\u0000(\d+)"/g, '$1') + '\n');
      }
      else await writeOut(rows.map(perfPlain).join(''));
      return 0;
    },
  };
}

export const perfCommands: Command[] = [showCommand('perf show'), showCommand('perf list')];
