//! The external term format's tag bytes, as named in OTP's
//! `erts/emulator/beam/external.h` and the `erl_ext_dist` documentation.

/// The version magic every `term_to_binary/1` result starts with.
pub const VERSION: u8 = 131;
/// `zlib`-compressed term: `80, UncompressedSize:32, ZlibData`.
pub const COMPRESSED: u8 = 80;
/// Index into a distribution header's atom cache.
pub const ATOM_CACHE_REF: u8 = 82;
/// Float as 8 big-endian IEEE 754 bytes (minor version 1+).
pub const NEW_FLOAT_EXT: u8 = 70;
/// A bitstring: `77, Len:32, Bits:8, Data`.
pub const BIT_BINARY_EXT: u8 = 77;
/// Pid with 32-bit creation (OTP 23+).
pub const NEW_PID_EXT: u8 = 88;
/// Port with 32-bit id and creation (OTP 23+).
pub const NEW_PORT_EXT: u8 = 89;
/// Reference with 32-bit creation (OTP 23+).
pub const NEWER_REFERENCE_EXT: u8 = 90;
/// Integer 0..=255.
pub const SMALL_INTEGER_EXT: u8 = 97;
/// Signed 32-bit integer.
pub const INTEGER_EXT: u8 = 98;
/// Float as a 31-byte `"%.20e"` string (minor version 0).
pub const FLOAT_EXT: u8 = 99;
/// Latin-1 atom with a 16-bit length.
pub const ATOM_EXT: u8 = 100;
/// Old reference with one id word and 8-bit creation.
pub const REFERENCE_EXT: u8 = 101;
/// Old port with 8-bit creation.
pub const PORT_EXT: u8 = 102;
/// Old pid with 8-bit creation.
pub const PID_EXT: u8 = 103;
/// Tuple of arity 0..=255.
pub const SMALL_TUPLE_EXT: u8 = 104;
/// Tuple with a 32-bit arity.
pub const LARGE_TUPLE_EXT: u8 = 105;
/// The empty list.
pub const NIL_EXT: u8 = 106;
/// A list of bytes 0..=255 with a 16-bit length.
pub const STRING_EXT: u8 = 107;
/// A list: `108, Len:32, Elements, Tail`.
pub const LIST_EXT: u8 = 108;
/// A binary.
pub const BINARY_EXT: u8 = 109;
/// Bignum with an 8-bit digit count.
pub const SMALL_BIG_EXT: u8 = 110;
/// Bignum with a 32-bit digit count.
pub const LARGE_BIG_EXT: u8 = 111;
/// A local fun with its environment.
pub const NEW_FUN_EXT: u8 = 112;
/// An export fun `fun M:F/A`.
pub const EXPORT_EXT: u8 = 113;
/// Reference with 8-bit creation and up to 5 id words.
pub const NEW_REFERENCE_EXT: u8 = 114;
/// Latin-1 atom with an 8-bit length.
pub const SMALL_ATOM_EXT: u8 = 115;
/// A map: `116, Arity:32, K1, V1, ...`.
pub const MAP_EXT: u8 = 116;
/// UTF-8 atom with a 16-bit length.
pub const ATOM_UTF8_EXT: u8 = 118;
/// UTF-8 atom with an 8-bit length.
pub const SMALL_ATOM_UTF8_EXT: u8 = 119;
/// Port with a 64-bit id (OTP 24+).
pub const V4_PORT_EXT: u8 = 120;
/// A term encoded with the VM-local `erlang:term_to_binary/2` `local` option.
pub const LOCAL_EXT: u8 = 121;
