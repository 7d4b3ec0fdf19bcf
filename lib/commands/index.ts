import type { Command } from './types.ts';

/** Every CLI verb; add new ones here. */
export const commands: Command[] = [];
