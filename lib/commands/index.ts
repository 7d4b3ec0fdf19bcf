/** The table of every CLI verb the dispatcher in lib/cli.ts knows. */
import type { Command } from './types.ts';
import { demo } from './demo.ts';
import { execsnoopCommand } from './execsnoop.ts';
import { mapCommands } from './map.ts';
import { progCommands } from './prog.ts';
import { linkCommands } from './link.ts';
import { btfDumpCommand } from './btf.ts';
import { profileCommand } from './profile.ts';

/** Every CLI verb; add new ones here. */
export const commands: Command[] = [execsnoopCommand, demo, ...mapCommands, ...progCommands, ...linkCommands, btfDumpCommand, profileCommand];
