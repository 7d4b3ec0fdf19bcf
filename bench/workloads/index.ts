import type { Workload } from '../harness.ts';
import { btfParse } from './btf-parse.ts';
import { mapOps } from './map-ops.ts';
import { objLoad } from './obj-load.ts';

/** Every benchmark workload, in the order `npm run bench` runs them. */
export const workloads: Workload[] = [btfParse, mapOps, objLoad];
