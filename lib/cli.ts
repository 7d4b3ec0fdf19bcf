#!/usr/bin/env node
/**
 * The `tsbpf` command line. Each verb lives in lib/commands/<verb>.ts and is
 * registered in lib/commands/index.ts (loaded by module, as a command line
 * needs it); the dispatcher only routes and reports errors.
 */
import { TsbpfError } from '../errors.ts';
import { allCommands, commandsFor } from './commands/index.ts';
import { UsageError, type Command } from './commands/types.ts';

function usage(commands: Command[]): string {
  const lines = ['usage: tsbpf <command> [args...]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.usage.padEnd(44)} ${c.summary}`);
  return lines.join('\n');
}

/** The verbs of a group (`map` -> map list, map show, ...), or [] when `word` is no group. */
function groupOf(commands: Command[], word: string): Command[] {
  return commands.filter((c) => c.name.startsWith(word + ' '));
}

function groupUsage(group: string, verbs: Command[]): string {
  return [`usage: tsbpf ${group} <verb> [args...]`, '', 'verbs:', ...verbs.map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`)].join('\n');
}

/** The verb whose words are the longest prefix of `argv` ("btf dump" before "btf"). */
function longestMatch(commands: Command[], argv: string[]): Command | undefined {
  return commands
    .filter((c) => {
      const words = c.name.split(' ');
      return words.every((w, i) => argv[i] === w);
    })
    .sort((a, b) => b.name.length - a.name.length)[0];
}

const isHelp = (a: string | undefined) => a === '-h' || a === '--help' || a === 'help';

/**
 * Groups that, as in bpftool, run their first verb when given none (bpftool's
 * cmd_select runs cmds[0]: `bpftool prog` is `prog show`, `bpftool feature` is
 * `feature probe`, `bpftool iter` is `iter help`). cgroup and gen have none:
 * bpftool's first verb there needs arguments, so alone they are a usage error.
 */
const DEFAULT_VERB: Readonly<Record<string, string>> = {
  map: 'show',
  prog: 'show',
  link: 'show',
  btf: 'show',
  net: 'show',
  perf: 'show',
  struct_ops: 'show',
  feature: 'probe',
  iter: 'help',
};

/** bpftool's output options may come before the object (`tsbpf -j map show`): each verb reads them after its words. */
const LEADING_OPTIONS = new Set(['-j', '--json', '-p', '--pretty', '-f', '--bpffs']);

export async function main(argv: string[]): Promise<number> {
  let lead = 0;
  while (lead < argv.length && LEADING_OPTIONS.has(argv[lead]!)) lead++;
  if (lead) argv = [...argv.slice(lead), ...argv.slice(0, lead)];
  const [verb] = argv;
  // `tsbpf prog` or `tsbpf prog -j`: the default verb (--help still lists the group).
  const dflt = verb !== undefined && Object.hasOwn(DEFAULT_VERB, verb) ? DEFAULT_VERB[verb] : undefined;
  if (dflt && argv.slice(1).every((a) => LEADING_OPTIONS.has(a))) argv = [verb!, dflt, ...argv.slice(1)];
  if (!verb || isHelp(verb)) {
    process.stdout.write(usage(await allCommands()) + '\n');
    return verb ? 0 : 2;
  }
  // Only the modules this command line can name are loaded; every verb when none of theirs matches.
  let cmd = longestMatch(await commandsFor(argv), argv);
  const commands = cmd ? [] : await allCommands();
  cmd ??= longestMatch(commands, argv);
  if (!cmd) {
    const verbs = groupOf(commands, verb);
    if (!verbs.length) {
      process.stderr.write(`tsbpf: unknown command '${verb}'\n${usage(commands)}\n`);
      return 2;
    }
    // `tsbpf cgroup` alone (a group without a default verb), or `tsbpf map --help`: the group's verbs.
    if (argv.length === 1 || isHelp(argv[1])) {
      process.stdout.write(groupUsage(verb, verbs) + '\n');
      return argv.length === 1 ? 2 : 0;
    }
    process.stderr.write(`tsbpf: unknown ${verb} command '${argv[1]}'\n${groupUsage(verb, verbs)}\n`);
    return 2;
  }
  const args = argv.slice(cmd.name.split(' ').length);
  if (args.some((a) => a === '-h' || a === '--help')) {
    process.stdout.write(`usage: tsbpf ${cmd.usage}\n  ${cmd.summary}\n`);
    return 0;
  }
  try {
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tsbpf ${cmd.name}: ${err.message}\nusage: tsbpf ${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof TsbpfError) {
      process.stderr.write(`tsbpf ${cmd.name}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    // Not one of ours: still one line, never a stack trace.
    process.stderr.write(`tsbpf ${cmd.name}: ${oneLine(err)}\n`);
    return 1;
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return msg.split('\n')[0]!;
}

// A closed pipe (`tsbpf map list | head`) ends the command quietly, as with other Unix tools.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  process.stderr.write(`tsbpf: cannot write the output: ${oneLine(e)}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tsbpf: ${oneLine(err)}\n`);
    process.exitCode = 1;
  },
);
