/**
 * BTF: parse, query, build/marshal, dump. Pure (no kernel access).
 *
 * - {@link Btf}: lazy parser + query API (typeById, findByName, resolve, sizeOf, typeName...)
 * - ./types.ts: the type model (one plain interface per kind, `kind` discriminant)
 * - {@link parseBtfExt}: .BTF.ext func_info / line_info / CO-RE relocations
 * - {@link dumpRaw} / {@link dumpJson}: `bpftool btf dump` formats
 */
export * from './errors.ts';
export * from './types.ts';
export { Btf, BTF_MAGIC, BTF_HEADER_LEN, type BtfHeader, type BtfParseOptions } from './btf.ts';
export { StringTable } from './strings.ts';
export * from './ext.ts';
export { loadBtf, loadBtfFile, parseElfBtf, isElf, type LoadedBtf } from './load.ts';
export { dumpRaw, dumpJson, formatTypeRaw, formatTypeJson } from './dump-raw.ts';
export { BtfBuilder, marshalBtf } from './builder.ts';
export { marshalTypes, encodeType, typeWords, type MarshalOptions } from './marshal.ts';
export * from './core.ts';
export { dumpC, type DumpCOptions } from './dump-c.ts';
export { btfDecoder, type Decoded, type DecodeOptions } from './decode.ts';
export { btfCodec, CodecError, type Codec, type BtfValue, type BtfCodecOptions } from './codec.ts';
export { minCoreBtf, type MinCoreObject } from './min-core.ts';
