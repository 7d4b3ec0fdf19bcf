/**
 * Classic tc (clsact qdisc + direct-action bpf filter over rtnetlink): the
 * path tc programs take on kernels without tcx (before 6.6). Forced here with
 * attachTc; pings across a veth pair are counted, `tc filter show` lists the
 * filter, and close() removes it.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { attachTc } from '../bpf/link/tc.ts';
import { fdCount } from './helpers/env.ts';
import { createVethNetns, nettest, ping, type VethNetns } from './helpers/netns.ts';

const OBJ = new URL('./bpf/attach_net.o', import.meta.url).pathname;
const C = { TC_IN: 4, TC_OUT: 5 };
let v: VethNetns | undefined;

afterAll(() => v?.destroy());

const filters = (dev: string, dir: string): string => execFileSync('tc', ['filter', 'show', 'dev', dev, dir], { encoding: 'utf8' });

describe('classic tc on a veth pair', () => {
  nettest('ingress and egress filters count pings, show in tc, and go away on close', () => {
    v = createVethNetns('tc', 3);
    const before = fdCount();
    using c = loadCollection(loadCollectionSpec(OBJ), { programs: ['tc_ingress', 'tc_egress'] });
    const count = (slot: number) => Buffer.from(c.maps.counts!.lookup(slot)!).readBigUInt64LE(0);
    const ing = attachTc(c.programs.tc_ingress!, v.hostIf, 'ingress');
    const egr = attachTc(c.programs.tc_egress!, v.hostIf, 'egress', { priority: 7 });
    try {
      expect(ping(v.peerIp, 3)).toBe(3);
      expect(count(C.TC_IN)).toBe(3n);
      expect(count(C.TC_OUT)).toBe(3n);
      expect(filters(v.hostIf, 'ingress')).toMatch(/bpf .*handle 0x\w+ tc_ingress direct-action/s);
      expect(filters(v.hostIf, 'egress')).toMatch(/pref 7 bpf .*tc_egress direct-action/s);
    } finally {
      ing.close();
      egr.close();
    }
    expect(filters(v.hostIf, 'ingress')).toBe('');
    expect(filters(v.hostIf, 'egress')).toBe('');
    expect(ping(v.peerIp, 1)).toBe(1);
    expect(count(C.TC_IN)).toBe(3n);
    c.close();
    expect(fdCount()).toBe(before);
  });
});
