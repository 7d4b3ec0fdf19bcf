/** CPU sets from sysfs ("0-3,5"): per-CPU map values hold one slot per possible CPU. */
import { readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.ts';

export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new TsbpfError('BAD_CPU_LIST', `bad CPU list '${text.trim()}'`);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;

/** CPUs that may ever come online; per-CPU maps size their values by this count. */
export function possibleCpus(): number[] {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

/** Number of slots in a per-CPU value: the highest possible CPU id + 1. */
export function possibleCpuCount(): number {
  const cpus = possibleCpus();
  return cpus[cpus.length - 1]! + 1;
}

export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
