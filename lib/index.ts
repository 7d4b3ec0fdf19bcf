/**
 * tsbpf: a pure-TypeScript eBPF userspace stack for Node.js.
 * The public surface, name by name (the README's API section lists it);
 * nothing else is exported. Test seams live in `tsbpf/testing`.
 */
export { TsbpfError, type ErrorCode } from '../errors.ts';
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
} from '../bpf/maps/map.ts';
export { type MapSpec, copyMapSpec } from '../bpf/maps/spec.ts';
export { MapType, MapFlags, UpdateFlags, mapTypeName, isPerCpu, type MapTypeName, type UpdateFlag } from '../bpf/maps/types.ts';
export { type Codec, ValueRangeError, u8, u16, u32, i32, u64, i64, bytes, perCpuCodec, sumPerCpu } from '../bpf/maps/codec.ts';
export { lpmKey, lpmKeyFromCidr } from '../bpf/maps/lpm.ts';
export { PinPathError, isBpffs } from '../bpf/pin.ts';
export { traceFds, type FdLeak } from '../bpf/handle.ts';
export { isMapTypeSupported } from '../bpf/maps/probe.ts';
export { BtfHandle, BtfLoadError } from '../bpf/btf/handle.ts';
export { BpfError, NotSupportedError, type BpfErrorContext } from '../syscall/errors.ts';
export { possibleCpus, possibleCpuCount, onlineCpus } from '../syscall/cpus.ts';
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
export {
  loadSkeleton,
  MapOfMaps,
  type Skeleton,
  type SkeletonVariable,
  type SkeletonConstant,
  type SkeletonLayout,
  type SkeletonLoadOptions,
} from '../bpf/loader/skeleton.ts';
export { generateSkeleton, type SkeletonGenOptions } from './gen/skeleton.ts';
export { UnknownSectionError } from '../bpf/loader/section-names.ts';
export { RelocationError } from '../bpf/loader/relocate.ts';
export { ExternError } from '../bpf/loader/externs.ts';
export { AttachTargetError } from '../bpf/loader/attach-target.ts';
export { StructOpsError, type StructOpsMapSpec } from '../bpf/loader/struct-ops-spec.ts';
export { StructOpsLink } from '../bpf/loader/struct-ops.ts';
// Links: one attach function per hook, each returning a Link (close() detaches).
export { Link, AttachError, LinkType, linkTypeName, linkIds, linkInfoByFd, type LinkInfo } from '../bpf/link/link.ts';
export { attachTracepoint } from '../bpf/link/tracepoint.ts';
export { attachRawTracepoint, attachTracing } from '../bpf/link/raw-tracepoint.ts';
export { attachKprobe, attachKsyscall, attachKprobeMulti, type KprobeOptions } from '../bpf/link/kprobe.ts';
export { attachUprobe, attachUprobeMulti, type UprobeOptions } from '../bpf/link/uprobe.ts';
export { attachUsdt, UsdtError, type UsdtLink, type UsdtOptions } from '../bpf/link/usdt.ts';
export { attachPerfSampling, type SamplingOptions } from '../bpf/link/perf-event.ts';
export { attachXdp, XdpMode, type XdpModeName } from '../bpf/link/xdp.ts';
export { attachTcx } from '../bpf/link/tcx.ts';
export { attachTc, type TcOptions } from '../bpf/link/tc.ts';
export { ifindexOf } from '../bpf/link/netdev.ts';
export { attachCgroup } from '../bpf/link/cgroup.ts';
export { attachSockmap } from '../bpf/link/sockmap.ts';
export { attachSocketFilter, attachReuseport } from '../bpf/link/socket-filter.ts';
export { attachNetns } from '../bpf/link/netns.ts';
export { attachNetfilter, NfProto, NfHook } from '../bpf/link/netfilter.ts';
export { attachIter, type IterLink, type IterOptions } from '../bpf/link/iter.ts';
export { tracePipe, type TraceLine } from '../bpf/link/trace-pipe.ts';
// Event streams.
export { RingBufferReader, RingLease, type RingBufferOptions, type RingRecord } from '../bpf/events/ringbuf.ts';
export { UserRingBuffer, UserRecord, type UserRingBufferOptions } from '../bpf/events/user-ringbuf.ts';
export { PerfBufferReader, type PerfBufferOptions, type PerfEvent, type LostCallback } from '../bpf/events/perfbuf.ts';
export { RecordView, RecordExpiredError, type RecordCallback } from '../bpf/events/record.ts';
export type { WaitOptions } from '../bpf/events/loop.ts';
export { EventArgumentError } from '../bpf/events/args.ts';
// Pure modules: ELF and BTF (no kernel access).
export { parseElf, ElfFile, ElfError, FileReadError, type ElfSection, type ElfSymbol } from '../elf/index.ts';
export { MapMemoryError, estimateMapMemory, DEFAULT_MAX_MAP_MEMORY } from '../bpf/maps/memory.ts';
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
  btfCodec,
  CodecError,
  resolveCoreRelo,
  applyCoreRelo,
  CoreCache,
  CoreError,
  minCoreBtf,
  type MinCoreObject,
  type BtfType,
  type BtfKind,
  type BtfExt,
  type Decoded,
  type BtfValue,
  type BtfCodecOptions,
  type DumpCOptions,
} from '../btf/index.ts';
export { kernelBtf } from '../bpf/btf/kernel.ts';
// Symbolization and profiling.
export {
  Symbolizer,
  SymbolizeError,
  parseKallsyms,
  parsePerfMap,
  parseProcMaps,
  type Frame,
  type FrameKind,
  type SymbolizerOptions,
  type SymbolizerStats,
  type ProcMapping,
} from '../bpf/symbolize/index.ts';
export { AddressSymbols, buildElfSymbolTable, buildIdOf, debugLinkOf, type AddressSymbol, type DebugLink } from '../elf/index.ts';
export {
  LineTable, parseDebugLine, readLineTable, sectionContents,
  type DebugLineInput, type DebugLineOptions, type SourceLocation,
} from '../elf/index.ts';
export { profile, foldedStacks, type ProfileOptions, type ProfileResult, type ProfileStack, type ProfileEvent } from './profile/sample.ts';
export { flameGraphSvg, type FlameGraphOptions } from './profile/flamegraph.ts';
