/**
 * Loading and closing 1,000 collections leaves the fd count where it started
 * (the measure). The object is the shipped execsnoop example: CO-RE,
 * a ring buffer, .rodata and .bss, program BTF; its variables are mmapped on
 * use, so every other round touches one to check the mapping goes too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = new URL('../examples/execsnoop.bpf.o', import.meta.url).pathname;

describe('collection lifetime', () => {
  ktest('1,000 load/close cycles leave fds and mappings at baseline', () => {
    const spec = loadCollectionSpec(OBJ);
    loadCollection(spec).close(); // warm: kernel BTF parsed once, like a long-running tool
    const fds = fdCount();
    const owned = ownedFdCount();
    const maps = () => readMappings();
    const mappings = maps();
    for (let i = 0; i < 1000; i++) {
      using c = loadCollection(spec);
      expect(c.programs.handle_exec!.fd).toBeGreaterThan(0);
      if (i % 2) expect(c.variables.unused_event!.bytes().length).toBe(8);
    }
    expect(fdCount()).toBe(fds);
    expect(ownedFdCount()).toBe(owned);
    expect(maps()).toBeLessThanOrEqual(mappings);
  }, { timeout: 120_000 });
});

/** Mappings of BPF maps in this process (anon_inode:bpf-map lines of /proc/self/maps). */
function readMappings(): number {
  const text = readFileSync('/proc/self/maps', 'utf8');
  return text.split('\n').filter((l) => l.includes('bpf-map')).length;
}
