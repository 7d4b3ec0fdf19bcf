/**
 * `tsbpf feature probe [kernel] [full]`: what this kernel offers BPF, section
 * for section and key for key as bpftool 7.x prints it (system
 * configuration, the bpf syscall, program types, map types, helpers per
 * program type, miscellaneous verifier features). Everything is probed
 * afresh on each run; nothing is kept on disk.
 */
import { readFileSync } from 'node:fs';
import { kernelConfig } from '../../bpf/loader/kconfig.ts';
import { isMapTypeSupported } from '../../bpf/maps/probe.ts';
import { MapType, mapTypeBpftoolName } from '../../bpf/maps/types.ts';
import { isProgTypeSupported, MISC_PROBES, probeHelper, probeMisc } from '../../bpf/programs/probe.ts';
import { helperName, MAX_HELPER_ID, NOISY_HELPERS } from '../../bpf/programs/helpers.ts';
import { ProgType, progTypeName } from '../../bpf/programs/types.ts';
import { bpfSyscallAvailable } from '../../syscall/commands.ts';
import { ensureMemlock } from '../../syscall/rlimit.ts';
import { isKeyword, parseArgs } from './args.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut } from './out.ts';
import { UsageError, type Command } from './types.ts';

/** The kernel options bpftool reports, in its order. */
const KERNEL_OPTIONS = [
  'CONFIG_BPF', 'CONFIG_BPF_SYSCALL', 'CONFIG_HAVE_EBPF_JIT', 'CONFIG_BPF_JIT', 'CONFIG_BPF_JIT_ALWAYS_ON',
  'CONFIG_DEBUG_INFO_BTF', 'CONFIG_DEBUG_INFO_BTF_MODULES',
  'CONFIG_CGROUPS', 'CONFIG_CGROUP_BPF', 'CONFIG_CGROUP_NET_CLASSID', 'CONFIG_SOCK_CGROUP_DATA',
  'CONFIG_BPF_EVENTS', 'CONFIG_KPROBE_EVENTS', 'CONFIG_UPROBE_EVENTS', 'CONFIG_TRACING', 'CONFIG_FTRACE_SYSCALLS',
  'CONFIG_FUNCTION_ERROR_INJECTION', 'CONFIG_BPF_KPROBE_OVERRIDE',
  'CONFIG_NET', 'CONFIG_XDP_SOCKETS', 'CONFIG_LWTUNNEL_BPF', 'CONFIG_NET_ACT_BPF', 'CONFIG_NET_CLS_BPF', 'CONFIG_NET_CLS_ACT',
  'CONFIG_NET_SCH_INGRESS', 'CONFIG_XFRM', 'CONFIG_IP_ROUTE_CLASSID', 'CONFIG_IPV6_SEG6_BPF', 'CONFIG_BPF_LIRC_MODE2',
  'CONFIG_BPF_STREAM_PARSER', 'CONFIG_NETFILTER_XT_MATCH_BPF', 'CONFIG_BPFILTER', 'CONFIG_BPFILTER_UMH',
  'CONFIG_TEST_BPF', 'CONFIG_HZ',
] as const;

/** A /proc/sys integer, -1 when unreadable (bpftool's read_procfs). */
function procInt(path: string): number {
  try {
    const s = readFileSync(path, 'utf8');
    return /^-?\d+\n$/.test(s) ? Number.parseInt(s, 10) : -1;
  } catch {
    return -1;
  }
}

/** The sysctls bpftool reads, each with its plain-text sentences by value. */
const SYSCTLS: readonly { key: string; path: string; says: (v: number) => string }[] = [
  {
    key: 'unprivileged_bpf_disabled',
    path: '/proc/sys/kernel/unprivileged_bpf_disabled',
    says: (v) =>
      ({
        0: 'bpf() syscall for unprivileged users is enabled',
        1: 'bpf() syscall restricted to privileged users (without recovery)',
        2: 'bpf() syscall restricted to privileged users (admin can change)',
        [-1]: 'Unable to retrieve required privileges for bpf() syscall',
      })[v] ?? `bpf() syscall restriction has unknown value ${v}`,
  },
  {
    key: 'bpf_jit_enable',
    path: '/proc/sys/net/core/bpf_jit_enable',
    says: (v) =>
      ({ 0: 'JIT compiler is disabled', 1: 'JIT compiler is enabled', 2: 'JIT compiler is enabled with debugging traces in kernel logs', [-1]: 'Unable to retrieve JIT-compiler status' })[v] ??
      `JIT-compiler status has unknown value ${v}`,
  },
  {
    key: 'bpf_jit_harden',
    path: '/proc/sys/net/core/bpf_jit_harden',
    says: (v) =>
      ({
        0: 'JIT compiler hardening is disabled',
        1: 'JIT compiler hardening is enabled for unprivileged users',
        2: 'JIT compiler hardening is enabled for all users',
        [-1]: 'Unable to retrieve JIT hardening status',
      })[v] ?? `JIT hardening status has unknown value ${v}`,
  },
  {
    key: 'bpf_jit_kallsyms',
    path: '/proc/sys/net/core/bpf_jit_kallsyms',
    says: (v) =>
      ({ 0: 'JIT compiler kallsyms exports are disabled', 1: 'JIT compiler kallsyms exports are enabled for root', [-1]: 'Unable to retrieve JIT kallsyms export status' })[v] ??
      `JIT kallsyms exports status has unknown value ${v}`,
  },
  {
    key: 'bpf_jit_limit',
    path: '/proc/sys/net/core/bpf_jit_limit',
    says: (v) => (v === -1 ? 'Unable to retrieve global memory limit for JIT compiler for unprivileged users' : `Global memory limit for JIT compiler for unprivileged users is ${v} bytes`),
  },
];

/** Every type of a UAPI enum table after UNSPEC, in number order. */
function typesOf(table: Record<string, number>): number[] {
  return Object.values(table).filter((v) => v > 0).sort((a, b) => a - b);
}

/** Progress on stderr while stdout is a terminal: one line, rewritten. */
class Progress {
  readonly #on = Boolean(process.stdout.isTTY && process.stderr.isTTY);
  #shown = false;
  say(what: string): void {
    if (!this.#on) return;
    process.stderr.write(`\r\x1b[Kprobing ${what}...`);
    this.#shown = true;
  }
  done(): void {
    if (this.#shown) process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}

/** One answer of a probe section, as each output mode needs it. */
type Item =
  | { kind: 'sysctl'; key: string; value: number; plain: string }
  | { kind: 'config'; name: string; value: string | undefined }
  | { kind: 'bool'; key: string; plain: string; define: string; ok: boolean }
  /** `helpers`: each helper probed (name, answer), in id order. */
  | { kind: 'helpers'; type: string; supported: boolean; helpers: [string, boolean][] };

interface Section {
  key: string;
  title: string;
  /** The comment line of the macros output. */
  comment: string;
  items: Item[];
}

/** The macros output's HAVE_PROG_TYPE_HELPER preamble, as bpftool prints it. */
function helperMacroPreamble(p: string): string {
  return [
    '/*',
    ` * Use ${p}HAVE_PROG_TYPE_HELPER(prog_type_name, helper_name)`,
    ' * to determine if <helper_name> is available for <prog_type_name>,',
    ' * e.g.',
    ` *\t#if ${p}HAVE_PROG_TYPE_HELPER(xdp, bpf_redirect)`,
    ' *\t\t// do stuff with this helper',
    ' *\t#elif',
    ' *\t\t// use a workaround',
    ' *\t#endif',
    ' */',
    `#define ${p}HAVE_PROG_TYPE_HELPER(prog_type, helper)\t\\`,
    `\t${p}BPF__PROG_TYPE_ ## prog_type ## __HELPER_ ## helper`,
  ].join('\n');
}

function renderPlain(sections: Section[]): string {
  const out: string[] = [];
  for (const sec of sections) {
    out.push(sec.title);
    for (const it of sec.items) {
      if (it.kind === 'sysctl') out.push(it.plain);
      else if (it.kind === 'config') out.push(it.value === undefined ? `${it.name} is not set` : `${it.name} is set to ${it.value}`);
      else if (it.kind === 'bool') out.push(`${it.plain} is ${it.ok ? '' : 'NOT '}available`);
      else {
        const found = it.helpers.filter(([, ok]) => ok).map(([n]) => n);
        out.push(`eBPF helpers supported for program type ${it.type}:${found.map((h) => `\n\t- ${h}`).join('')}`);
        // bpftool says the same when every probe answered no and when the type cannot be probed at all.
        if (!found.length) out.push(it.supported ? '\tCould not determine which helpers are available' : '\tProgram type not supported');
      }
    }
    out.push('');
  }
  return out.join('\n') + '\n';
}

function renderJson(sections: Section[]): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const sec of sections) {
    const o: Record<string, unknown> = (json[sec.key] = {});
    for (const it of sec.items) {
      if (it.kind === 'sysctl') o[it.key] = it.value;
      // bpftool prints every value as a string ("250" too), null when unset.
      else if (it.kind === 'config') o[it.name] = it.value ?? null;
      else if (it.kind === 'bool') o[it.key] = it.ok;
      else o[`${it.type}_available_helpers`] = it.helpers.filter(([, ok]) => ok).map(([n]) => n);
    }
  }
  return json;
}

/** bpftool's `macros [prefix P]` output: C defines for a header. */
function renderMacros(sections: Section[], p: string): string {
  const out: string[] = [];
  for (const sec of sections) {
    out.push(sec.comment);
    if (sec.key === 'helpers') out.push(helperMacroPreamble(p));
    for (const it of sec.items) {
      // Only CONFIG_HZ is of use in C: bpftool leaves the sysctls and other options out.
      if (it.kind === 'config' && it.name === 'CONFIG_HZ') out.push(it.value === undefined ? `/* ${p}${it.name} is not set */` : `#define ${p}${it.name} ${it.value}`);
      else if (it.kind === 'bool') out.push(`#define ${p}${it.ok ? '' : 'NO_'}HAVE_${it.define}`);
      else if (it.kind === 'helpers') for (const [n, ok] of it.helpers) out.push(`#define ${p}BPF__PROG_TYPE_${it.type}__HELPER_${n} ${ok ? 1 : 0}`);
    }
    out.push('');
  }
  return out.join('\n') + '\n';
}

const probe: Command = {
  name: 'feature probe',
  usage: 'feature probe [kernel] [full] [macros [prefix PREFIX]] [-j|-p]',
  summary: "what the kernel offers BPF: config, program and map types, helpers per program type (bpftool's keys)",
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 8 });
    let full = false;
    let target = false;
    let prefix: string | undefined;
    for (let i = 0; i < positional.length; i++) {
      const w = positional[i]!;
      if (isKeyword(w, 'kernel')) {
        if (target) throw new UsageError('component to probe already specified');
        target = true;
      } else if (isKeyword(w, 'full')) full = true;
      else if (isKeyword(w, 'macros') && prefix === undefined) prefix = '';
      else if (isKeyword(w, 'prefix')) {
        if (prefix === undefined) throw new UsageError("'prefix' argument can only be use after 'macros'");
        if (prefix !== '') throw new UsageError("'prefix' already defined");
        const v = positional[++i];
        if (v === undefined) throw new UsageError("'prefix' needs a value");
        prefix = v;
      } else if (isKeyword(w, 'dev')) throw new UsageError('probing an offload device (dev NAME) is not supported');
      else throw new UsageError(`expected no more arguments, 'kernel', 'full', 'macros' or 'prefix', got: '${w}'?`);
    }
    const o = outputOpts(flags);
    // As in bpftool, JSON wins over macros.
    if (o.json) prefix = undefined;
    const progress = new Progress();
    const sections: Section[] = [];
    const section = (key: string, title: string, comment: string): Item[] => {
      const items: Item[] = [];
      sections.push({ key, title, comment, items });
      return items;
    };

    ensureMemlock();
    const sys = section('system_config', 'Scanning system configuration...', '/*** Misc kernel config items ***/');
    for (const s of SYSCTLS) {
      const v = procInt(s.path);
      sys.push({ kind: 'sysctl', key: s.key, value: v, plain: s.says(v) });
    }
    const config = kernelConfig();
    if (config.size === 0) process.stderr.write("tsbpf: skipping kernel config, can't open /boot/config-$(uname -r) or /proc/config.gz\n");
    for (const name of KERNEL_OPTIONS) sys.push({ kind: 'config', name, value: config.get(name) });

    const syscall = bpfSyscallAvailable();
    section('syscall_config', 'Scanning system call availability...', '/*** System call availability ***/').push({
      kind: 'bool',
      key: 'have_bpf_syscall',
      plain: 'bpf() syscall',
      define: 'BPF_SYSCALL',
      ok: syscall,
    });

    if (syscall) {
      const progTypes = typesOf(ProgType);
      const supported = new Map<number, boolean>();
      const pt = section('program_types', 'Scanning eBPF program types...', '/*** eBPF program types ***/');
      for (const t of progTypes) {
        const name = progTypeName(t).toLowerCase();
        progress.say(`program type ${name}`);
        const ok = isProgTypeSupported(t);
        supported.set(t, ok);
        pt.push({ kind: 'bool', key: `have_${name}_prog_type`, plain: `eBPF program_type ${name}`, define: `${name}_prog_type`.toUpperCase(), ok });
      }

      const mt = section('map_types', 'Scanning eBPF map types...', '/*** eBPF map types ***/');
      for (const t of typesOf(MapType)) {
        const name = mapTypeBpftoolName(t);
        progress.say(`map type ${name}`);
        mt.push({ kind: 'bool', key: `have_${name}_map_type`, plain: `eBPF map_type ${name}`, define: `${name}_map_type`.toUpperCase(), ok: isMapTypeSupported(t) });
      }

      const hs = section('helpers', 'Scanning eBPF helper functions...', '/*** eBPF helper functions ***/');
      for (const t of progTypes) {
        const name = progTypeName(t).toLowerCase();
        progress.say(`helpers of ${name} programs`);
        const helpers: [string, boolean][] = [];
        // A type the kernel lacks, or one a bare program cannot probe (probeHelper undefined): every answer no.
        let probeable = supported.get(t)!;
        for (let id = 1; id <= MAX_HELPER_ID; id++) {
          // trace_printk and probe_write_user write a warning to the kernel log when they load.
          if (NOISY_HELPERS.has(id) && !full) continue;
          const ok = probeable ? probeHelper(t, id) : false;
          if (ok === undefined) probeable = false;
          helpers.push([helperName(id)!, ok === true]);
        }
        hs.push({ kind: 'helpers', type: name, supported: supported.get(t)!, helpers });
      }

      const misc = section('misc', 'Scanning miscellaneous eBPF features...', '/*** eBPF misc features ***/');
      for (const p of MISC_PROBES) {
        progress.say(p.plain);
        misc.push({ kind: 'bool', key: p.key, plain: p.plain, define: p.define, ok: probeMisc(p) });
      }
    }
    progress.done();
    if (o.json) await printJson(o, renderJson(sections));
    else await writeOut(prefix !== undefined ? renderMacros(sections, prefix) : renderPlain(sections));
    return 0;
  },
};

export const featureCommands: Command[] = [probe];
