/** A CLI verb: `name` may be several words ("btf dump"). */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** Tiny flag parser: `--flag value`, `--flag=value`, boolean `--flag`, positionals. */
export function parseArgs(
  args: string[],
  booleans: readonly string[] = [],
): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else if (booleans.includes(a.slice(2)) || i + 1 >= args.length) flags.set(a.slice(2), true);
      else flags.set(a.slice(2), args[++i]!);
    } else positional.push(a);
  }
  return { positional, flags };
}

/** What the kernel reports about every object of a kind: open each id, read its info, close it. */
export function infosOf<T>(ids: Iterable<number>, open: (id: number) => { info(): T } & Disposable): T[] {
  const out: T[] = [];
  for (const id of ids) {
    try {
      using o = open(id);
      out.push(o.info());
    } catch {
      // Gone between listing and opening.
    }
  }
  return out;
}
