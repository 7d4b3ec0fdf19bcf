import type { Workload } from '../harness.ts';
import { btfParse } from './btf-parse.ts';

/** Every benchmark workload, in the order `npm run bench` runs them. */
export const workloads: Workload[] = [btfParse];
