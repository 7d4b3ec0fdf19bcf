#!/usr/bin/env node
/**
 * The `tsbpf` command line. Each verb lives in lib/commands/<verb>.ts and is
 * registered below; the dispatcher only routes and reports errors.
 */
import { TsbpfError } from '../errors.ts';
import { commands } from './commands/index.ts';

function usage(): string {
  const lines = ['usage: tsbpf <command> [args...]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.usage.padEnd(44)} ${c.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [verb] = argv;
  if (!verb || verb === '-h' || verb === '--help' || verb === 'help') {
    process.stdout.write(usage() + '\n');
    return verb ? 0 : 2;
  }
  // Match the longest prefix of words ("btf dump" before "btf").
  const cmd = commands
    .filter((c) => {
      const words = c.name.split(' ');
      return words.every((w, i) => argv[i] === w);
    })
    .sort((a, b) => b.name.length - a.name.length)[0];
  if (!cmd) {
    process.stderr.write(`tsbpf: unknown command '${verb}'\n${usage()}\n`);
    return 2;
  }
  const args = argv.slice(cmd.name.split(' ').length);
  try {
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof TsbpfError) {
      process.stderr.write(`tsbpf ${cmd.name}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    throw err;
  }
}

// A closed pipe (`tsbpf map list | head`) ends the command quietly, as with other Unix tools.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tsbpf: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
