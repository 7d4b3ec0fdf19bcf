/** Symbolization: kernel and user addresses to function names (kallsyms, ELF symbol tables, debug files, perf maps). */
export { Symbolizer, type Frame, type FrameKind, type SymbolizerOptions, type SymbolizerStats } from './symbolizer.ts';
export { SymbolizeError } from './errors.ts';
export { parseKallsyms } from './kallsyms.ts';
export { parseProcMaps, type ProcMapping } from './proc-maps.ts';
export { parsePerfMap } from './perf-map.ts';
