/**
 * tsbpf's ELF64 reader: pure, bounds-checked, zero-copy, both byte orders.
 * Entry point: parseElf(bytes).
 */
export * from './constants.ts';
export { ElfError, type ElfErrorCode } from './errors.ts';
export { ElfFile, parseElf } from './file.ts';
export type { ElfHeader } from './header.ts';
export { iterateNotes, parseNotes, noteAlignment, type ElfNote } from './notes.ts';
export type { ElfProgramHeader } from './program-headers.ts';
export type { ElfRelocation, ElfRelocationSection } from './relocations.ts';
export { ElfSection } from './sections.ts';
export { FileReadError, MAX_FILE_BYTES, readRegularFile } from './read-file.ts';
export { ElfSymbol } from './symbols.ts';
export { AddressSymbols, AddressSymbolsBuilder, buildElfSymbolTable, type AddressSymbol } from './address-symbols.ts';
export { buildIdOf, crc32, debugLinkOf, fileOffsetToVirtualAddress, type DebugLink } from './debug-info.ts';
export { MAX_DECOMPRESSED_BYTES, sectionContents } from './compressed.ts';
export { LineTable, parseDebugLine, readLineTable, type DebugLineInput, type DebugLineOptions, type SourceLocation } from './dwarf-line.ts';
