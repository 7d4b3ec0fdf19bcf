/**
 * tsbpf: a pure-TypeScript eBPF userspace stack for Node.js.
 * The public surface; everything else is internal.
 */
export { TsbpfError } from './errors.ts';
export {
  BpfMap,
  TypedMap,
  MapSizeError,
  WrongMapTypeError,
  MapValueError,
  IterationRestartedError,
  mapIds,
  mapInfoByFd,
  type MapKey,
  type MapValue,
  type MapInfo,
  type BatchCursor,
  type CreateMapOptions,
} from '../bpf/map.ts';
export { type MapSpec, copyMapSpec } from '../bpf/map-spec.ts';
export { MapType, MapFlags, UpdateFlags, mapTypeName, isPerCpu, type MapTypeName, type UpdateFlag } from '../bpf/map-types.ts';
export { type Codec, ValueRangeError, u8, u16, u32, i32, u64, i64, bytes } from '../bpf/codec.ts';
export { lpmKey, lpmKeyFromCidr } from '../bpf/lpm.ts';
export { PinPathError, isBpffs } from '../bpf/pin.ts';
export { traceFds, type FdLeak } from '../bpf/object.ts';
export { isMapTypeSupported } from '../bpf/probe.ts';
export { BtfHandle, BtfLoadError } from '../bpf/btf-handle.ts';
export { BpfError, NotSupportedError, type BpfErrorContext } from '../syscall/errors.ts';
export { possibleCpus, possibleCpuCount, onlineCpus } from '../syscall/cpus.ts';
export { setBpfBackend, BpfCmd, type BpfBackend, type AttrRef } from '../syscall/bpf.ts';
export {
  Program,
  progIds,
  progInfoByFd,
  type ProgramSpec,
  type LoadOptions,
  type ProgInfo,
  type TestRunOptions,
  type TestRunResult,
} from '../bpf/program.ts';
export { ProgType, AttachType, ProgFlags, progTypeName, attachTypeName, type ProgTypeName, type AttachTypeName } from '../bpf/prog-types.ts';
export { VerifierError, type SourceLine } from '../bpf/verifier.ts';
export { asm, encodeInsns, Helper, type Insn } from '../bpf/insn.ts';
export {
  loadCollectionSpec,
  ObjectError,
  type CollectionSpec,
  type ObjMapSpec,
  type ObjProgramSpec,
  type FuncSpec,
  type VariableSpec,
  type ExternSpec,
  type SpecOptions,
  type Reloc,
} from '../bpf/collection-spec.ts';
export { loadCollection, setVariable, Collection, CollectionError, Variable, type CollectionOptions } from '../bpf/collection.ts';
export { UnknownSectionError, SECTION_DEFS, matchSection, type SectionDef, type AutoAttachKind } from '../bpf/section-names.ts';
export { LinkError } from '../bpf/linker.ts';
export * from '../bpf/link/index.ts';
export * from '../bpf/events.ts';
// Pure modules: ELF and BTF (no kernel access).
export { parseElf, ElfFile, ElfError, FileReadError, type ElfSection, type ElfSymbol } from '../elf/index.ts';
export { MapMemoryError, estimateMapMemory, DEFAULT_MAX_MAP_MEMORY } from '../bpf/map-memory.ts';
export {
  Btf,
  BtfError,
  BtfBuilder,
  loadBtf,
  loadBtfFile,
  parseBtfExt,
  dumpC,
  dumpRaw,
  dumpJson,
  btfDecoder,
  resolveCoreRelo,
  applyCoreRelo,
  CoreCache,
  CoreError,
  type BtfType,
  type BtfKind,
  type BtfExt,
  type Decoded,
  type DumpCOptions,
} from '../btf/index.ts';
export { kernelBtf } from '../bpf/collection.ts';
