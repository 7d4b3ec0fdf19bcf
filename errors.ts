/**
 * The base error of tsbpf and the one list of the codes it throws. `code` is
 * stable and meant for programs (`err.code === 'ENOENT'`, `'ELF_TRUNCATED'`),
 * the message is for people. Every throw site is checked against
 * {@link ErrorCode}, so a misspelt code does not compile.
 */

/**
 * Errno names a failed system call reports (`BpfError`, `FileReadError`): the
 * C library's table as koffi gives it on Linux, plus the kernel-internal values
 * that escape through bpf(2). syscall/errno.ts names errno values from this list.
 */
export const ERRNO_NAMES = [
  'E2BIG', 'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EADV', 'EAFNOSUPPORT', 'EAGAIN', 'EALREADY', 'EBADE', 'EBADF',
  'EBADFD', 'EBADMSG', 'EBADR', 'EBADRQC', 'EBADSLT', 'EBFONT', 'EBUSY', 'ECANCELED', 'ECHILD', 'ECHRNG', 'ECOMM',
  'ECONNABORTED', 'ECONNREFUSED', 'ECONNRESET', 'EDEADLK', 'EDEADLOCK', 'EDESTADDRREQ', 'EDOM', 'EDOTDOT', 'EDQUOT',
  'EEXIST', 'EFAULT', 'EFBIG', 'EHOSTDOWN', 'EHOSTUNREACH', 'EHWPOISON', 'EIDRM', 'EILSEQ', 'EINPROGRESS', 'EINTR',
  'EINVAL', 'EIO', 'EISCONN', 'EISDIR', 'EISNAM', 'EKEYEXPIRED', 'EKEYREJECTED', 'EKEYREVOKED', 'EL2HLT', 'EL2NSYNC',
  'EL3HLT', 'EL3RST', 'ELIBACC', 'ELIBBAD', 'ELIBEXEC', 'ELIBMAX', 'ELIBSCN', 'ELNRNG', 'ELOOP', 'EMEDIUMTYPE',
  'EMFILE', 'EMLINK', 'EMSGSIZE', 'EMULTIHOP', 'ENAMETOOLONG', 'ENAVAIL', 'ENETDOWN', 'ENETRESET', 'ENETUNREACH',
  'ENFILE', 'ENOANO', 'ENOBUFS', 'ENOCSI', 'ENODATA', 'ENODEV', 'ENOENT', 'ENOEXEC', 'ENOKEY', 'ENOLCK', 'ENOLINK',
  'ENOMEDIUM', 'ENOMEM', 'ENOMSG', 'ENONET', 'ENOPKG', 'ENOPROTOOPT', 'ENOSPC', 'ENOSR', 'ENOSTR', 'ENOSYS',
  'ENOTBLK', 'ENOTCONN', 'ENOTDIR', 'ENOTEMPTY', 'ENOTNAM', 'ENOTRECOVERABLE', 'ENOTSOCK', 'ENOTSUP', 'ENOTTY',
  'ENOTUNIQ', 'ENXIO', 'EOPNOTSUPP', 'EOVERFLOW', 'EOWNERDEAD', 'EPERM', 'EPFNOSUPPORT', 'EPIPE', 'EPROTO',
  'EPROTONOSUPPORT', 'EPROTOTYPE', 'ERANGE', 'EREMCHG', 'EREMOTE', 'EREMOTEIO', 'ERESTART', 'ERFKILL', 'EROFS',
  'ESHUTDOWN', 'ESOCKTNOSUPPORT', 'ESPIPE', 'ESRCH', 'ESRMNT', 'ESTALE', 'ESTRPIPE', 'ETIME', 'ETIMEDOUT',
  'ETOOMANYREFS', 'ETXTBSY', 'EUCLEAN', 'EUNATCH', 'EUSERS', 'EWOULDBLOCK', 'EXDEV', 'EXFULL', 'ERESTARTSYS',
  'ENOTSUPP',
] as const;

/** An errno name; `E<n>` for a value no name is known for. */
export type ErrnoName = (typeof ERRNO_NAMES)[number] | `E${number}`;

// ---- elf/: reading ELF files ------------------------------------------------

/**
 * Stable codes of ElfError:
 * - ELF_BAD_MAGIC: the bytes do not start with "\x7fELF".
 * - ELF_UNSUPPORTED_CLASS: not ELF64 (ELFCLASS32 or an unknown class).
 * - ELF_TRUNCATED: a header, table or section extends past the end of the input.
 * - ELF_MALFORMED: a field holds an impossible or inconsistent value.
 * - ELF_NOT_FOUND: a caller asked for something the file does not have
 *   (e.g. stringAt() on a section index that does not exist).
 * - ELF_COMPRESSION: a compressed (SHF_COMPRESSED or .zdebug) section that
 *   does not inflate to its stated size, or uses a method this Node lacks (zstd).
 * - DWARF_MALFORMED: a .debug_line program that is truncated, lies about a
 *   length, or has an unsupported version or form.
 */
export type ElfErrorCode =
  | 'ELF_BAD_MAGIC'
  | 'ELF_UNSUPPORTED_CLASS'
  | 'ELF_TRUNCATED'
  | 'ELF_MALFORMED'
  | 'ELF_NOT_FOUND'
  | 'ELF_COMPRESSION'
  | 'DWARF_MALFORMED';

/** Codes of FileReadError: not a regular file, over the size cap, or the errno name of a failed open/stat/read. */
export type FileReadErrorCode = 'FILE_NOT_REGULAR' | 'FILE_TOO_LARGE' | ErrnoName;

// ---- btf/: BTF and CO-RE ----------------------------------------------------

/**
 * Stable codes of BtfError:
 * - `BTF_TRUNCATED`       a header, section, type or record runs past the end of its data
 * - `BTF_BAD_MAGIC`       not BTF / BTF.ext (magic is neither 0xeB9F nor its byte swap)
 * - `BTF_BAD_VERSION`     unsupported header version
 * - `BTF_UNKNOWN_KIND`    a type of a kind this library does not know (names the kind and type id)
 * - `BTF_MALFORMED`       structurally invalid data (bad string offset, bad encoding, bad layout)
 * - `BTF_NOT_FOUND`       no such type id / name / section
 * - `BTF_LOOP`            a reference cycle or absurd nesting while resolving a type
 * - `BTF_INVALID_TYPE`    an operation does not apply to this kind (e.g. sizeOf a function)
 * - `BTF_NO_BTF`          an ELF file without a .BTF section
 * - `BTF_NO_BTF_EXT`      an object without the .BTF.ext section a command needs (gen min_core_btf)
 * - `BTF_NOT_IMPLEMENTED` feature not available
 */
export type BtfErrorCode =
  | 'BTF_TRUNCATED'
  | 'BTF_BAD_MAGIC'
  | 'BTF_BAD_VERSION'
  | 'BTF_UNKNOWN_KIND'
  | 'BTF_MALFORMED'
  | 'BTF_NOT_FOUND'
  | 'BTF_LOOP'
  | 'BTF_INVALID_TYPE'
  | 'BTF_NO_BTF'
  | 'BTF_NO_BTF_EXT'
  | 'BTF_NOT_IMPLEMENTED';

/**
 * Stable codes of CoreError:
 * - `CORE_BAD_RELO`        the relocation record cannot be applied: bad access string or type id,
 *                          an index out of range, an anonymous root type, an unknown kind, a kind
 *                          that does not apply to the accessed member, a bitfield no 64-bit load covers
 * - `CORE_AMBIGUOUS`       several target candidates resolve to different values
 * - `CORE_UNEXPECTED_INSN` the instruction does not hold the local value (or has a form this kind
 *                          cannot patch: ALU with a register source, malformed ld_imm64, a jump...)
 * - `CORE_OFFSET_RANGE`    the new offset of a load/store does not fit the instruction's 16-bit offset
 */
/**
 * Codes of CodecError (btf/codec.ts), naming the field path in the message:
 * - `CODEC`           a value that cannot be encoded as its BTF type: the wrong JS type, an integer
 *                     out of range, an unknown or missing field, a string or array of the wrong length
 * - `CODEC_TRUNCATED` the bytes to decode from (or encode into) are shorter than the type
 */
export type CodecErrorCode = 'CODEC' | 'CODEC_TRUNCATED';

export type CoreErrorCode = 'CORE_BAD_RELO' | 'CORE_AMBIGUOUS' | 'CORE_UNEXPECTED_INSN' | 'CORE_OFFSET_RANGE';

// ---- syscall/: the system below ---------------------------------------------

/**
 * NOT_SUPPORTED: the kernel lacks a feature (NotSupportedError); NOT_LINUX: not on Linux;
 * UNMAPPED: an mmapped view used after munmap; BAD_CPU_LIST: an unreadable sysfs CPU list;
 * ATTR_TOO_LARGE: an attr larger than the shared attr block.
 */
export type SyscallErrorCode = 'NOT_SUPPORTED' | 'NOT_LINUX' | 'UNMAPPED' | 'BAD_CPU_LIST' | 'ATTR_TOO_LARGE';

// ---- bpf/: handles, pins, kernel BTF ----------------------------------------

/** An object used after close(); an fd or pin of another kind of object; a bad pin path; no kernel BTF. */
export type HandleErrorCode =
  | 'CLOSED'
  | 'NOT_A_MAP'
  | 'NOT_A_PROGRAM'
  | 'NOT_A_LINK'
  | 'NOT_A_BTF'
  | 'NOT_A_BPF_LINK'
  | 'BAD_PIN_PATH'
  | 'NO_KERNEL_BTF';

// ---- bpf/maps/ ---------------------------------------------------------------

/** Keys and values of the wrong size or range, the wrong map type, bad specs and flags, iteration restarts, the memory limit. */
export type MapErrorCode =
  | 'BAD_SIZE'
  | 'BAD_VALUE'
  | 'OUT_OF_RANGE'
  | 'WRONG_MAP_TYPE'
  | 'UNKNOWN_MAP_TYPE'
  | 'BAD_SPEC'
  | 'BAD_FLAGS'
  | 'BAD_BATCH_TOKEN'
  | 'BAD_PREFIX'
  | 'NOT_PERCPU'
  | 'ITERATION_RESTARTED'
  | 'ITERATION_ABORTED'
  | 'INTERNAL_CONSTRUCTOR'
  | 'MAP_MEMORY_LIMIT';

// ---- bpf/programs/ -----------------------------------------------------------

/** A bad program spec or option; a program or attach type name the library does not know. */
export type ProgramErrorCode = 'BAD_PROGRAM' | 'BAD_OPTION' | 'UNKNOWN_PROGRAM_TYPE' | 'UNKNOWN_ATTACH_TYPE';

// ---- bpf/events/: ring and perf buffers, the event loop ----------------------

/** Bad arguments and options, a reader on the wrong map, reentrant or leased use, a corrupt buffer, an expired record. */
export type EventErrorCode =
  | 'BAD_ARGUMENT'
  | 'BAD_OPTION'
  | 'BAD_MAP_TYPE'
  | 'NO_CALLBACK'
  | 'REENTRANT'
  | 'LEASED'
  | 'SETTLED'
  | 'CORRUPT'
  | 'RECORD_EXPIRED'
  | 'ABORTED';

// ---- bpf/link/: attaching ------------------------------------------------------

/** Codes of AttachError: the hook's target is missing, or the program does not fit the hook. */
export type AttachErrorCode =
  | 'NOT_SUPPORTED'
  | 'NO_CGROUP'
  | 'NO_INTERFACE'
  | 'NO_NETNS'
  | 'NO_SYMBOL'
  | 'NO_TRACEFS'
  | 'NO_TRACEPOINT'
  | 'NO_USDT'
  | 'NO_USDT_MAPS'
  | 'WRONG_PROGRAM_TYPE';

/** Codes of UsdtError: a note, argument spec or USDT map the attach cannot use. */
export type UsdtErrorCode =
  | 'USDT_BAD_ARG'
  | 'USDT_BAD_MAP'
  | 'USDT_BAD_NOTE'
  | 'USDT_NO_PT_REGS'
  | 'USDT_TOO_MANY_ARGS'
  | 'USDT_TOO_MANY_SPECS';

/** Other attach failures thrown as TsbpfError: no such binary or symbol, no attach type, a map of the wrong type. */
export type LinkErrorCode = AttachErrorCode | UsdtErrorCode | 'NO_BINARY' | 'NO_ATTACH_TYPE' | 'WRONG_MAP_TYPE';

// ---- bpf/symbolize/: addresses to names -------------------------------------------

/**
 * Codes of SymbolizeError:
 * - KALLSYMS_HIDDEN: /proc/kallsyms shows every address as 0 (kernel.kptr_restrict, or no CAP_SYSLOG)
 * - PROCESS_EXITED: /proc/PID is gone: the process exited (its addresses cannot be named any more)
 * - BAD_ADDRESS: an address that is not a u64, or a pid that is not a positive integer
 * - NO_STACK: a stack id the STACK_TRACE map does not hold
 */
export type SymbolizeErrorCode = 'KALLSYMS_HIDDEN' | 'PROCESS_EXITED' | 'BAD_ADDRESS' | 'NO_STACK';

// ---- bpf/loader/: object files and collections -------------------------------

/** Codes of ObjectError: an object file whose maps, sections, relocations or BTF cannot be used. */
export type ObjectErrorCode =
  | 'NOT_BPF'
  | 'WRONG_ENDIANNESS'
  | 'NO_BTF'
  | 'BAD_MAPS'
  | 'BAD_DATA_SECTION'
  | 'BAD_FUNCTION'
  | 'BAD_RELOCATION'
  | 'BAD_CORE_RELO'
  | 'DUPLICATE_PROGRAM';

/** Codes of CollectionError: a program, map or kconfig value the collection lacks, a pin that does not match. */
export type CollectionErrorCode = 'NO_PROGRAM' | 'NO_MAP' | 'KCONFIG_MISSING' | 'PIN_MISMATCH';

/** Codes of ExternError: an extern (kconfig, ksym, kfunc) that cannot be resolved. */
export type ExternErrorCode = 'UNKNOWN_EXTERN' | 'BAD_EXTERN' | 'KSYM_MISSING' | 'KFUNC_MISSING';

/**
 * Codes of StructOpsError: BAD_STRUCT_OPS, a malformed SEC(".struct_ops") variable; STRUCT_OPS_UNKNOWN, a struct
 * (or its bpf_struct_ops_<name> value type) the kernel's BTF lacks; STRUCT_OPS_MISMATCH, a member the kernel's
 * struct lacks or declares differently; NO_STRUCT_OPS, no struct_ops map of that name in the collection.
 */
export type StructOpsErrorCode = 'BAD_STRUCT_OPS' | 'STRUCT_OPS_UNKNOWN' | 'STRUCT_OPS_MISMATCH' | 'NO_STRUCT_OPS';

/** The rest of loading: section names, relocation, attach targets, kconfig, variables, auto-attach. */
export type LoaderErrorCode =
  | ObjectErrorCode
  | CollectionErrorCode
  | ExternErrorCode
  | StructOpsErrorCode
  | 'UNKNOWN_SECTION'
  | 'RELOCATION_FAILED'
  | 'NO_ATTACH_TARGET'
  | 'BAD_KCONFIG'
  | 'BAD_SECTION'
  | 'NO_COLLECTION'
  | 'NO_VARIABLE'
  | 'READ_ONLY'
  | 'BAD_SIZE'
  | 'BAD_VALUE'
  | 'OUT_OF_RANGE';

// ---- lib/: the CLI -------------------------------------------------------------

/**
 * USAGE: bad command-line arguments; NO_BTF_TYPE: a type a command needs is not in kernel BTF; NO_PACKAGE_ROOT: the install is broken;
 * NO_MATCH: no object has the name a command was given; AMBIGUOUS: several objects have it where one is needed;
 * NO_CLANG: `gen skeleton SRC.bpf.c` found no clang 16 or newer; CLANG_FAILED: clang refused the source.
 */
export type CliErrorCode = 'USAGE' | 'NO_BTF_TYPE' | 'NO_PACKAGE_ROOT' | 'NO_MATCH' | 'AMBIGUOUS' | 'NO_CLANG' | 'CLANG_FAILED';

/** Every code a TsbpfError can carry. */
export type ErrorCode =
  | ErrnoName
  | ElfErrorCode
  | FileReadErrorCode
  | BtfErrorCode
  | CodecErrorCode
  | CoreErrorCode
  | SyscallErrorCode
  | HandleErrorCode
  | MapErrorCode
  | ProgramErrorCode
  | EventErrorCode
  | LinkErrorCode
  | LoaderErrorCode
  | SymbolizeErrorCode
  | CliErrorCode;

/** Base class of every error tsbpf throws on purpose; subclasses narrow `code` to their own codes. */
export class TsbpfError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
