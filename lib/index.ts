/**
 * tsbpf: a pure-TypeScript eBPF userspace stack for Node.js.
 * The public surface; everything else is internal.
 */
export { TsbpfError } from '../errors.ts';
export {
  BpfMap,
  TypedMap,
  MapSizeError,
  IterationRestartedError,
  mapIds,
  mapInfoByFd,
  type MapKey,
  type MapValue,
  type MapInfo,
  type BatchCursor,
  type CreateMapOptions,
} from '../bpf/maps/map.ts';
export { type MapSpec, copyMapSpec } from '../bpf/maps/spec.ts';
export { MapType, MapFlags, UpdateFlags, mapTypeName, isPerCpu, type MapTypeName, type UpdateFlag } from '../bpf/maps/types.ts';
export { type Codec, u8, u16, u32, i32, u64, i64, bytes } from '../bpf/maps/codec.ts';
export { lpmKey, lpmKeyFromCidr } from '../bpf/maps/lpm.ts';
export { PinPathError, isBpffs } from '../bpf/pin.ts';
export { isMapTypeSupported } from '../bpf/maps/probe.ts';
export { BtfHandle, BtfLoadError } from '../bpf/btf/handle.ts';
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
} from '../bpf/programs/program.ts';
export { ProgType, AttachType, ProgFlags, progTypeName, attachTypeName, type ProgTypeName, type AttachTypeName } from '../bpf/programs/types.ts';
export { VerifierError, type SourceLine } from '../bpf/programs/verifier.ts';
export { asm, encodeInsns, Helper, type Insn } from '../bpf/programs/insn.ts';
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
} from '../bpf/loader/collection-spec.ts';
export { loadCollection, setVariable, Collection, CollectionError, Variable, type CollectionOptions } from '../bpf/loader/collection.ts';
export { UnknownSectionError, SECTION_DEFS, matchSection, type SectionDef, type AutoAttachKind } from '../bpf/loader/section-names.ts';
export { LinkError } from '../bpf/loader/relocate.ts';
export * from '../bpf/link/index.ts';
export * from '../bpf/events/index.ts';
// Pure modules: ELF and BTF (no kernel access).
export { parseElf, ElfFile, ElfError, type ElfSection, type ElfSymbol } from '../elf/index.ts';
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
export { kernelBtf } from '../bpf/btf/kernel.ts';
