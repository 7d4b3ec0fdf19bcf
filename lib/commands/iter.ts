/**
 * `tsbpf iter pin OBJ PATH [map MAP]`: load an object, make an iterator link
 * of its first program and pin it (bpftool iter pin); `cat PATH` then runs the
 * iterator. The link outlives the command until the pin is removed.
 */
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { attachIter } from '../../bpf/link/iter.ts';
import { ensureBpffsFor } from '../../bpf/pin.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { isKeyword, parseArgs } from './args.ts';
import { JSON_FLAGS, writeOut } from './out.ts';
import { openMap, takeRef } from './map-select.ts';
import { resolve } from 'node:path';

const pin: Command = {
  name: 'iter pin',
  usage: 'iter pin OBJ PATH [map (id N | pinned P | name N)] [-j|-p]',
  summary: "pin an iterator link of OBJ's first program at PATH (bpffs); reading PATH runs it",
  async run(args) {
    const { positional: w, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2, max: 5 });
    const [obj, path] = w as [string, string];
    let mapWords: string[] | undefined;
    if (w.length > 2) {
      if (!isKeyword(w[2], 'map')) throw new UsageError(`expected 'map', got: '${w[2]}'`);
      if (w.length !== 5) throw new UsageError('incorrect map spec');
      takeRef(w, 3);
      mapWords = w.slice(3);
    }
    using map = mapWords ? openMap(takeRef(mapWords, 0).ref) : undefined;
    const spec = loadCollectionSpec(obj);
    const coll = loadCollection(spec);
    try {
      const first = Object.values(coll.programs)[0];
      if (!first) throw new TsbpfError('NO_PROGRAM', `can't find bpf program in objfile ${obj}`);
      using link = attachIter(first, { map });
      ensureBpffsFor(resolve(path));
      link.pin(path);
    } finally {
      coll.close();
    }
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

export const iterCommands: Command[] = [pin];
