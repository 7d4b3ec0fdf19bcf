import type { Workload } from '../harness.ts';
import { btfParse } from './btf-parse.ts';
import { btfDumpC } from './btf-dump-c.ts';
import { minCoreBtfBench } from './min-core-btf.ts';
import { mapOps } from './map-ops.ts';
import { mapOpsJs } from './map-ops-js.ts';
import { objLoad } from './obj-load.ts';
import { objLoadFirst } from './obj-load-first.ts';
import { perfbuf } from './perfbuf.ts';
import { perfbufLive } from './perfbuf-live.ts';
import { ringbuf } from './ringbuf.ts';
import { codec } from './codec.ts';
import { symbolize } from './symbolize.ts';

/** Every benchmark workload, in the order `npm run bench` runs them. */
export const workloads: Workload[] = [btfParse, btfDumpC, minCoreBtfBench, mapOps, mapOpsJs, objLoad, objLoadFirst, ringbuf, perfbuf, perfbufLive, codec, symbolize];
