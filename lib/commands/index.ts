/**
 * The table of every CLI verb the dispatcher in lib/cli.ts knows, loaded by
 * module on demand: a command line loads only the modules whose verbs it can
 * name (`tsbpf btf dump` needs neither koffi nor the bpf/ layer, and
 * compiling all of the CLI costs more than some verbs themselves).
 */
import type { Command } from './types.ts';

interface CommandModule {
  /** The leading words of every verb the module defines ('btf dump', or a group: 'map'). */
  readonly prefixes: readonly string[];
  load(): Promise<Command[]>;
}

/** Every CLI verb's module, in the order of the usage text; add new ones here. */
const MODULES: readonly CommandModule[] = [
  { prefixes: ['execsnoop'], load: async () => [(await import('./execsnoop.ts')).execsnoopCommand] },
  { prefixes: ['demo'], load: async () => [(await import('./demo.ts')).demo] },
  { prefixes: ['map'], load: async () => (await import('./map.ts')).mapCommands },
  { prefixes: ['prog', 'obj'], load: async () => (await import('./prog.ts')).progCommands },
  { prefixes: ['link'], load: async () => (await import('./link.ts')).linkCommands },
  // `btf dump` alone first: it is pure, the rest of the group is not.
  { prefixes: ['btf dump'], load: async () => [(await import('./btf-dump.ts')).btfDumpCommand] },
  { prefixes: ['btf'], load: async () => (await import('./btf.ts')).btfCommands },
  { prefixes: ['net'], load: async () => (await import('./net.ts')).netCommands },
  { prefixes: ['cgroup'], load: async () => (await import('./cgroup.ts')).cgroupCommands },
  { prefixes: ['perf'], load: async () => (await import('./perf.ts')).perfCommands },
  { prefixes: ['iter'], load: async () => (await import('./iter.ts')).iterCommands },
  { prefixes: ['feature'], load: async () => (await import('./feature.ts')).featureCommands },
  { prefixes: ['struct_ops'], load: async () => (await import('./struct-ops.ts')).structOpsCommands },
  { prefixes: ['gen'], load: async () => { const g = await import('./gen.ts'); return [g.genSkeletonCommand, g.genMinCoreBtfCommand]; } },
  { prefixes: ['profile'], load: async () => [(await import('./profile.ts')).profileCommand] },
];

/** Verbs of `mods`, each once (`btf dump` is in two modules), in table order. */
async function loadAll(mods: readonly CommandModule[]): Promise<Command[]> {
  const lists = await Promise.all(mods.map((m) => m.load()));
  return [...new Set(lists.flat())];
}

/** Every CLI verb (usage text, an unknown verb). */
export function allCommands(): Promise<Command[]> {
  return loadAll(MODULES);
}

/**
 * The verbs a command line can name: those of the modules with the longest
 * prefix matching its leading words (none: every verb). The caller falls
 * back to {@link allCommands} when none of these matches.
 */
export function commandsFor(argv: readonly string[]): Promise<Command[]> {
  let best = 0;
  let mods: CommandModule[] = [];
  for (const m of MODULES) {
    for (const p of m.prefixes) {
      const words = p.split(' ');
      if (!words.every((w, i) => argv[i] === w)) continue;
      if (words.length > best) {
        best = words.length;
        mods = [m];
      } else if (words.length === best && !mods.includes(m)) mods.push(m);
    }
  }
  return mods.length ? loadAll(mods) : allCommands();
}
