/** Command-line argument parsing for the CLI verbs: flags, positionals, numbers. */
import { UsageError } from './types.ts';

export interface ArgSpec {
  /** Flags that take no value (`--json`). */
  booleans?: readonly string[];
  /** Flags that take one value (`--type T`, `--type=T`). */
  values?: readonly string[];
  /** Value flags that may be given more than once (their values, in order, are in `lists`). */
  repeated?: readonly string[];
  /** Short spellings of flags (`{ '-o': 'output' }`). */
  aliases?: Readonly<Record<string, string>>;
  /** How many positionals the verb takes (default: none). */
  min?: number;
  max?: number;
}

/**
 * Flag parser: `--flag value`, `--flag=value`, boolean `--flag`, positionals.
 * Anything the verb did not declare is a UsageError, as is a missing value or
 * a wrong number of positionals.
 */
export function parseArgs(args: string[], spec: ArgSpec = {}): { positional: string[]; flags: Map<string, string | true>; lists: Map<string, string[]> } {
  const booleans = spec.booleans ?? [];
  const repeated = spec.repeated ?? [];
  const values = [...(spec.values ?? []), ...repeated];
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i]!;
    const alias = spec.aliases && Object.hasOwn(spec.aliases, a) ? spec.aliases[a] : undefined;
    if (alias) a = `--${alias}`;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    // bpftool's output options: -j (JSON), -p (pretty JSON), --pretty; and -f (--bpffs).
    if (booleans.includes('json') && (a === '-j' || a === '-p' || a === '--pretty')) {
      flags.set('json', true);
      if (a !== '-j') flags.set('pretty', true);
      continue;
    }
    if (booleans.includes('bpffs') && a === '-f') {
      flags.set('bpffs', true);
      continue;
    }
    if (!a.startsWith('--') || a.length === 2) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.includes(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (values.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      if (repeated.includes(name)) (lists.get(name) ?? lists.set(name, []).get(name)!).push(v);
      flags.set(name, v);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  const min = spec.min ?? 0;
  const max = spec.max ?? min;
  if (positional.length < min) throw new UsageError(`expected ${min === max ? min : `at least ${min}`} argument${min === 1 ? '' : 's'}, got ${positional.length}`);
  if (positional.length > max) throw new UsageError(`unexpected argument '${positional[max]}'`);
  return { positional, flags, lists };
}

/** The string value of a value flag, when given. */
export function flagValue(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** A whole number in decimal or 0x hex, from `min` to `max`; anything else is a UsageError. */
export function parseUint(what: string, s: string, max = 0xffffffff, min = 0): number {
  const n = /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s.slice(2), 16) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got '${s}'`);
  return n;
}

/** A finite positive number (seconds and the like). */
export function parsePositive(what: string, s: string): number {
  const n = /^[0-9]*\.?[0-9]+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number, got '${s}'`);
  return n;
}

/** bpftool's is_prefix: `arg` names keyword `word` when it is a non-empty prefix of it ("ent" for "entries"). */
export function isKeyword(arg: string | undefined, word: string): boolean {
  return arg !== undefined && arg.length > 0 && word.startsWith(arg);
}

/**
 * `[hex] BYTES...` as bpftool's parse_bytes: exactly `n` bytes from `words[at]`
 * on, each in C notation (decimal, 0x hex, 0 octal) or bare hex after `hex`.
 * Returns the bytes and the index after them.
 */
export function parseBytes(what: string, words: string[], at: number, n: number): { bytes: Uint8Array; next: number } {
  let i = at;
  let hex = false;
  if (isKeyword(words[i], 'hex') && words[i] !== '') {
    hex = true;
    i++;
  }
  const bytes = new Uint8Array(n);
  for (let k = 0; k < n; k++, i++) {
    const w = words[i];
    if (w === undefined) throw new UsageError(`${what} expected ${n} bytes got ${k}`);
    const v = hex
      ? /^(0x)?[0-9a-f]{1,2}$/i.test(w) ? Number.parseInt(w.replace(/^0x/i, ''), 16) : Number.NaN
      : /^0x[0-9a-f]+$/i.test(w) ? Number.parseInt(w.slice(2), 16) : /^0[0-7]*$/.test(w) ? Number.parseInt(w, 8) : /^[1-9][0-9]*$/.test(w) ? Number(w) : Number.NaN;
    if (!(v >= 0 && v <= 255)) throw new UsageError(`error parsing byte: ${w}${hex ? ' (hex bytes 00 to ff)' : ' (0 to 255, 0x.. hex or 0.. octal)'}`);
    bytes[k] = v;
  }
  return { bytes, next: i };
}
