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

const probe: Command = {
  name: 'feature probe',
  usage: 'feature probe [kernel] [full] [-j|-p]',
  summary: "what the kernel offers BPF: config, program and map types, helpers per program type (bpftool's keys)",
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 8 });
    let full = false;
    let target = false;
    for (const w of positional) {
      if (isKeyword(w, 'kernel')) {
        if (target) throw new UsageError('component to probe already specified');
        target = true;
      }
      else if (isKeyword(w, 'full')) full = true;
      else if (isKeyword(w, 'dev')) throw new UsageError('probing an offload device (dev NAME) is not supported');
      else if (isKeyword(w, 'macros') || isKeyword(w, 'prefix')) throw new UsageError('macros output is not supported; use -j');
      else throw new UsageError(`expected no more arguments, 'kernel' or 'full', got: '${w}'`);
    }
    const o = outputOpts(flags);
    const out: string[] = [];
    const json: Record<string, unknown> = {};
    const progress = new Progress();
    const section = (key: string, title: string): Record<string, unknown> => {
      out.push(title);
      return (json[key] = {});
    };
    const end = () => out.push('');
    const boolLine = (sec: Record<string, unknown>, key: string, plain: string, ok: boolean) => {
      sec[key] = ok;
      out.push(`${plain} is ${ok ? '' : 'NOT '}available`);
    };

    ensureMemlock();
    const sys = section('system_config', 'Scanning system configuration...');
    for (const s of SYSCTLS) {
      const v = procInt(s.path);
      sys[s.key] = v;
      out.push(s.says(v));
    }
    const config = kernelConfig();
    if (config.size === 0) process.stderr.write('tsbpf: skipping kernel config, can\'t open /boot/config-$(uname -r) or /proc/config.gz\n');
    for (const name of KERNEL_OPTIONS) {
      const v = config.get(name);
      // bpftool prints every value as a string ("250" too), null when unset.
      sys[name] = v ?? null;
      out.push(v === undefined ? `${name} is not set` : `${name} is set to ${v}`);
    }
    end();

    const sc = section('syscall_config', 'Scanning system call availability...');
    const syscall = bpfSyscallAvailable();
    boolLine(sc, 'have_bpf_syscall', 'bpf() syscall', syscall);
    end();

    if (syscall) {
      const progTypes = typesOf(ProgType);
      const supported = new Map<number, boolean>();
      const pt = section('program_types', 'Scanning eBPF program types...');
      for (const t of progTypes) {
        const name = progTypeName(t).toLowerCase();
        progress.say(`program type ${name}`);
        const ok = isProgTypeSupported(t);
        supported.set(t, ok);
        boolLine(pt, `have_${name}_prog_type`, `eBPF program_type ${name}`, ok);
      }
      end();

      const mt = section('map_types', 'Scanning eBPF map types...');
      for (const t of typesOf(MapType)) {
        const name = mapTypeBpftoolName(t);
        progress.say(`map type ${name}`);
        boolLine(mt, `have_${name}_map_type`, `eBPF map_type ${name}`, isMapTypeSupported(t));
      }
      end();

      const hs = section('helpers', 'Scanning eBPF helper functions...');
      for (const t of progTypes) {
        const name = progTypeName(t).toLowerCase();
        progress.say(`helpers of ${name} programs`);
        const found: string[] = [];
        if (supported.get(t)) {
          for (let id = 1; id <= MAX_HELPER_ID; id++) {
            // trace_printk and probe_write_user write a warning to the kernel log when they load.
            if (NOISY_HELPERS.has(id) && !full) continue;
            const ok = probeHelper(t, id);
            if (ok === undefined) break;
            if (ok) found.push(helperName(id)!);
          }
        }
        hs[`${name}_available_helpers`] = found;
        out.push(`eBPF helpers supported for program type ${name}:${found.map((h) => `\n\t- ${h}`).join('')}`);
        // bpftool says the same when every probe answered no, and when the type cannot be probed at all (undetermined).
        if (!found.length) out.push(supported.get(t) ? '\tCould not determine which helpers are available' : '\tProgram type not supported');
      }
      end();

      const misc = section('misc', 'Scanning miscellaneous eBPF features...');
      for (const p of MISC_PROBES) {
        progress.say(p.plain);
        boolLine(misc, p.key, p.plain, probeMisc(p));
      }
      end();
    }
    progress.done();
    if (o.json) await printJson(o, json);
    else await writeOut(out.join('\n') + '\n');
    return 0;
  },
};

export const featureCommands: Command[] = [probe];
