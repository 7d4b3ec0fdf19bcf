/** The one program a `PROG` argument names (attach verbs need exactly one, as bpftool's prog_parse_fd). */
import { Program } from '../../bpf/programs/program.ts';
import { TsbpfError } from '../../errors.ts';
import { withSelectedPrograms } from './prog-show.ts';

/**
 * The one program `id N | pinned P | tag T | name N` names, for `fn`; several
 * matches are refused before anything is done (bpftool: "several programs match").
 */
export function withOneProgram(words: string[], fn: (p: Program) => void): void {
  const ids: number[] = [];
  withSelectedPrograms(words, (p) => ids.push(p.info().id));
  if (!ids.length) throw new TsbpfError('ENOENT', `no program with ${words.join(' ')}`);
  if (ids.length > 1) throw new TsbpfError('AMBIGUOUS', `several programs match ${words.join(' ')}: use 'id N' or 'pinned PATH'`);
  // By pin or id, the one already opened is the one meant: open it again by id only for tag and name.
  if (words[0] === 'id' || words[0] === 'pinned') withSelectedPrograms(words, fn);
  else {
    using p = Program.fromId(ids[0]!);
    fn(p);
  }
}
