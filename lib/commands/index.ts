/** The table of every CLI verb the dispatcher in lib/cli.ts knows. */
import type { Command } from './types.ts';
import { demo } from './demo.ts';
import { execsnoopCommand } from './execsnoop.ts';
import { mapCommands } from './map.ts';
import { progCommands } from './prog.ts';
import { linkCommands } from './link.ts';
import { btfCommands } from './btf.ts';
import { genMinCoreBtfCommand, genSkeletonCommand } from './gen.ts';
import { netCommands } from './net.ts';
import { cgroupCommands } from './cgroup.ts';
import { perfCommands } from './perf.ts';
import { iterCommands } from './iter.ts';
import { featureCommands } from './feature.ts';
import { profileCommand } from './profile.ts';
import { structOpsCommands } from './struct-ops.ts';

/** Every CLI verb; add new ones here. */
export const commands: Command[] = [execsnoopCommand, demo, ...mapCommands, ...progCommands, ...linkCommands, ...btfCommands, ...netCommands, ...cgroupCommands, ...perfCommands, ...iterCommands, ...featureCommands, ...structOpsCommands, genSkeletonCommand, genMinCoreBtfCommand, profileCommand];
