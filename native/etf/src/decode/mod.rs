//! Decoding: external term format bytes to a [`Term`].
//!
//! | Erlang                                   | Rust                                   |
//! |------------------------------------------|----------------------------------------|
//! | `binary_to_term(B)`                      | `etf::decode(&b)?`                     |
//! | `binary_to_term(B, [used])`              | `etf::decode_prefix(&b)?`              |
//! | (dist: terms after a distribution header)| `etf::decode_with(&b, &opts)?`         |
//!
//! Decoding reads every tag `term_to_binary/1,2` of OTP 25–27 produces.
//! It is built for hostile input:
//!
//! * it never recurses: nesting lives on an explicit heap stack, and
//!   [`DecodeOptions::max_depth`] bounds it so the decoded term can also be
//!   dropped, printed and encoded without overflowing the thread's stack;
//! * it never trusts a length: a declared length is checked against the
//!   bytes actually left (each element takes at least one). Elements go on
//!   one value stack as they are decoded and move into an exactly-sized
//!   `Vec` when their container completes; a long container reserves its
//!   room on that stack first, but never more entries than input bytes
//!   are left, so memory stays proportional to the input;
//! * a compressed term (tag 80) is inflated to exactly its declared size
//!   and no further (a zlib bomb is an error, not an allocation).
//!
//! Speed: a decoded list, tuple or map is one exactly-sized allocation of
//! 40-byte `Term`s (a bignum one more for its digits), and dropping the
//! term frees each again; the BEAM instead bumps a pointer on its process
//! heap and its copying GC frees dead terms for nothing. So list-heavy
//! terms decode slower than `binary_to_term` (`examples/bench.rs` measures
//! both), and a program that decodes many should run on a fast allocator:
//! the `ferrotp` binary uses mimalloc. To read a term rather than keep it,
//! [`crate::tape`] decodes into one flat, reusable buffer instead, with
//! the same checks, and faster than the BEAM.
//!
//! ```
//! use etf::Term;
//! let t = etf::decode(&[131, 104, 2, 100, 0, 2, 111, 107, 97, 7]).unwrap();
//! assert_eq!(t, Term::tuple(vec![Term::atom("ok"), Term::Int(7)]));
//! ```

use std::cell::Cell;

use bytes::Bytes;

use crate::atom::Atom;
use crate::compress;
use crate::error::{DecodeError, DecodeErrorKind as Kind};
use crate::tag::*;
use crate::term::{Map, Term};

/// The nesting depth [`DecodeOptions::default`] accepts.
///
/// Deep enough for any real protocol; shallow enough that the recursive
/// `Drop`, `Display` and encoder of a decoded term fit a 2 MiB thread stack.
pub const DEFAULT_MAX_DEPTH: usize = 2048;

/// How to decode: version byte or not, atom cache, depth bound.
///
/// ```
/// use etf::{decode_with, Atom, DecodeOptions, Term};
/// // The distribution layer decodes terms after its header: no version
/// // byte, and ATOM_CACHE_REF (82) indexes the header's atom cache.
/// let cache = [Some(Atom::new("hello"))];
/// let opts = DecodeOptions { version_byte: false, atom_cache: Some(&cache), ..Default::default() };
/// let (t, used) = decode_with(&[82, 0], &opts).unwrap();
/// assert_eq!((t, used), (Term::atom("hello"), 2));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions<'a> {
    /// Expect (and skip) the version magic 131 first; a compressed term
    /// (tag 80) is only accepted right after it.
    pub version_byte: bool,
    /// The atom cache `ATOM_CACHE_REF` (82) indexes, as built from a
    /// distribution header. `None` outside distribution: tag 82 is an error.
    pub atom_cache: Option<&'a [Option<Atom>]>,
    /// Deepest nesting of tuples, lists and maps accepted ([`Kind::TooDeep`]).
    pub max_depth: usize,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions {
            version_byte: true,
            atom_cache: None,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Decodes one term that starts with the version byte 131 and fills `input`
/// exactly (`binary_to_term/1`).
///
/// Binaries in the result are copies; [`decode_bytes`] shares them instead.
pub fn decode(input: &[u8]) -> Result<Term, DecodeError> {
    whole(input, decode_with(input, &DecodeOptions::default()))
}

/// Like [`decode`], but binaries in the result are zero-copy slices of `input`.
///
/// ```
/// let buf = bytes::Bytes::from(etf::encode(&etf::Term::binary(&b"abc"[..])));
/// let t = etf::decode_bytes(buf.clone()).unwrap();
/// assert!(matches!(t, etf::Term::Binary(b) if b == &b"abc"[..]));
/// ```
pub fn decode_bytes(input: Bytes) -> Result<Term, DecodeError> {
    let len = input.len();
    whole_len(len, decode_bytes_with(&input, &DecodeOptions::default()))
}

/// Decodes the term at the start of `input` (version byte first) and says
/// how many bytes it took (`binary_to_term(B, [used])`).
pub fn decode_prefix(input: &[u8]) -> Result<(Term, usize), DecodeError> {
    decode_with(input, &DecodeOptions::default())
}

/// Decodes one term without a version byte that fills `input` exactly.
pub fn decode_body(input: &[u8]) -> Result<Term, DecodeError> {
    whole(input, decode_body_prefix(input))
}

/// Decodes the term without a version byte at the start of `input`, and
/// says how many bytes it took.
pub fn decode_body_prefix(input: &[u8]) -> Result<(Term, usize), DecodeError> {
    let opts = DecodeOptions {
        version_byte: false,
        ..DecodeOptions::default()
    };
    decode_with(input, &opts)
}

/// Decodes the term at the start of `input` as `opts` say, returning it
/// and the number of bytes it took. Binaries in the result are copies.
pub fn decode_with(input: &[u8], opts: &DecodeOptions) -> Result<(Term, usize), DecodeError> {
    Decoder::new(input, None, opts).run()
}

/// Like [`decode_with`], but binaries in the result share `input`'s buffer.
pub fn decode_bytes_with(
    input: &Bytes,
    opts: &DecodeOptions,
) -> Result<(Term, usize), DecodeError> {
    Decoder::new(input, Some(input), opts).run()
}

fn whole(input: &[u8], r: Result<(Term, usize), DecodeError>) -> Result<Term, DecodeError> {
    whole_len(input.len(), r)
}

fn whole_len(len: usize, r: Result<(Term, usize), DecodeError>) -> Result<Term, DecodeError> {
    let (term, used) = r?;
    if used == len {
        Ok(term)
    } else {
        Err(DecodeError::new(used, Kind::TrailingBytes(len - used)))
    }
}

/// `vec.push(value)`, but with `value` built straight into the vector's
/// spare slot. `Vec::push` takes the value as an argument, so it is first
/// assembled on the stack with narrow stores and then copied with wide
/// loads, a store-forwarding stall on every element: the decoder's hottest
/// cost before this.
macro_rules! push_direct {
    ($vec:expr, $value:expr) => {{
        let v: &mut Vec<_> = &mut *$vec;
        if v.len() == v.capacity() {
            v.reserve(1);
        }
        let len = v.len();
        if let Some(slot) = v.spare_capacity_mut().first_mut() {
            slot.write($value);
            // SAFETY: the element at `len` was initialised just above.
            unsafe { v.set_len(len + 1) };
        }
    }};
}

// After `push_direct!`, which they use.
mod scalars;
pub(crate) mod tape;

/// Moves `values[start..]` into a new exactly-sized `Vec` and pushes it
/// back as `Term::List` (or `Term::Tuple` when `tuple`).
///
/// The container's `Term` is first written as an empty one (constant
/// stores), then its `Vec` is moved into place word by word:
/// `push_direct!(values, Term::List(items))` made the compiler assemble
/// the `Term` on the stack and reload it with misaligned wide loads, a
/// store-forwarding stall that was half of a deep list's decode time.
#[inline(always)]
fn push_seq(values: &mut Vec<Term>, start: usize, tuple: bool) {
    let items = take_from(values, start);
    if tuple {
        push_direct!(values, Term::Tuple(Vec::new()));
    } else {
        push_direct!(values, Term::List(Vec::new()));
    }
    put_last(values, items);
}

/// Moves `items` into the empty list or tuple on top of `values`.
#[inline(always)]
fn put_last(values: &mut [Term], items: Vec<Term>) {
    if let Some(Term::List(slot) | Term::Tuple(slot)) = values.last_mut() {
        *slot = items;
    }
}

/// `STRING_EXT`'s bytes as a list of integers, pushed on `values`.
#[inline(always)]
fn push_string(values: &mut Vec<Term>, s: &[u8]) {
    let mut items: Vec<Term> = Vec::with_capacity(s.len());
    for &b in s {
        push_direct!(&mut items, Term::Int(b as i64));
    }
    push_direct!(values, Term::List(Vec::new()));
    put_last(values, items);
}

/// `values.split_off(start)`, inlined so that the new `Vec` stays in
/// registers, and with short runs moved element by element rather than
/// through a `memmove` call.
#[inline(always)]
fn take_from(values: &mut Vec<Term>, start: usize) -> Vec<Term> {
    let n = values.len().saturating_sub(start);
    let mut items: Vec<Term> = Vec::with_capacity(n);
    if let Some(src) = values.get(start..) {
        let src = src.as_ptr();
        let dst = items.as_mut_ptr();
        // SAFETY: `src` is `n` initialised elements, `dst` has room for
        // `n`, and they do not overlap. The elements move: `values` is
        // shortened past them before anything can read them there again.
        unsafe {
            if n <= 4 {
                for i in 0..n {
                    dst.add(i).write(src.add(i).read());
                }
            } else {
                std::ptr::copy_nonoverlapping(src, dst, n);
            }
            values.set_len(start);
            items.set_len(n);
        }
    }
    items
}

/// Containers at least this long reserve their elements' room on the value
/// stack up front; shorter ones just push.
const RESERVE_FROM: usize = 256;

/// Makes room on the value stack for `n` elements a container declares
/// (and `claim` checked against the input left), so that a long list does
/// not regrow the stack, copying it each time, as it decodes: a quarter of
/// the work for a 5000-element list. Exactly `n`: the stack then never
/// holds more than one entry per input byte.
#[inline]
fn make_room(values: &mut Vec<Term>, n: usize) {
    if n >= RESERVE_FROM {
        values.reserve_exact(n);
    }
}

/// What kind of container a [`Frame`] is collecting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Tuple,
    List,
    /// A list whose elements are all in; the next value is its tail.
    ListTail,
    /// Keys and values alternate on the value stack.
    Map,
}

/// A container whose elements are still being decoded. Its elements so far
/// are `values[start..]` on the decoder's one value stack; they move into
/// the container's own exactly-sized `Vec` when it completes.
struct Frame {
    kind: FrameKind,
    /// Values still to come (keys and values both, for a map).
    left: u64,
    /// Where the container's values start on the value stack.
    start: usize,
    /// The container's tag offset, for errors found on completion.
    at: usize,
}

/// The decoder's working stacks, kept per thread between calls so that
/// decoding a small term allocates nothing but the term itself.
#[derive(Default)]
struct Scratch {
    frames: Vec<Frame>,
    values: Vec<Term>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Scratch stacks grown past this many entries are not kept.
const SCRATCH_KEEP: usize = 4096;

/// What follows a list's last element.
enum Tail {
    /// `[]` (or a string that completed it): the list is proper and done.
    Proper,
    /// Another `LIST_EXT` continues it with this many more elements.
    More(u32),
    /// Some other term: an improper tail to decode.
    Improper,
}

struct Decoder<'a, 'o> {
    buf: &'a [u8],
    pos: usize,
    owner: Option<&'a Bytes>,
    atom_cache: Option<&'o [Option<Atom>]>,
    max_depth: usize,
    version_byte: bool,
    /// How many funs enclose the terms this decoder reads (see
    /// `nested_term`).
    funs: usize,
    error: Cell<Option<DecodeError>>,
}

/// The deepest funs may nest in each other's free variables inside a
/// distribution message (each level is decoded by a decoder of its own).
const MAX_FUN_NESTING: usize = 32;

/// The decoder's internal failure: the details wait in `Decoder::error`,
/// so that every read returns a register-sized `Result`.
struct Fail;

type R<T> = std::result::Result<T, Fail>;

impl<'a, 'o> Decoder<'a, 'o> {
    fn new(buf: &'a [u8], owner: Option<&'a Bytes>, opts: &DecodeOptions<'o>) -> Self {
        Decoder {
            buf,
            pos: 0,
            owner,
            atom_cache: opts.atom_cache,
            max_depth: opts.max_depth,
            version_byte: opts.version_byte,
            funs: 0,
            error: Cell::new(None),
        }
    }

    fn run(mut self) -> Result<(Term, usize), DecodeError> {
        self.top().map_err(|Fail| {
            self.error
                .take()
                .unwrap_or(DecodeError::new(self.pos, Kind::UnexpectedEof))
        })
    }

    /// Records why decoding failed; the caller returns `Err(Fail)`.
    #[cold]
    fn fail(&self, offset: usize, kind: Kind) -> Fail {
        self.error.set(Some(DecodeError::new(offset, kind)));
        Fail
    }

    fn top(&mut self) -> R<(Term, usize)> {
        if self.version_byte {
            let v = self.u8()?;
            if v != VERSION {
                return Err(self.fail(0, Kind::BadVersion(v)));
            }
            if self.buf.get(self.pos) == Some(&COMPRESSED) {
                return self.compressed();
            }
        }
        let term = self.term()?;
        Ok((term, self.pos))
    }

    /// The term at `self.pos`, which must end by `end`, read by a decoder
    /// of its own with the same atom cache and limits (for the terms
    /// inside a fun's bytes: see `standalone_fun`).
    pub(super) fn nested_term(&mut self, end: usize) -> R<Term> {
        if self.funs >= MAX_FUN_NESTING {
            return Err(self.fail(self.pos, Kind::TooDeep(MAX_FUN_NESTING)));
        }
        let mut inner = Decoder {
            buf: self.buf.get(..end).unwrap_or(self.buf),
            pos: self.pos,
            owner: None,
            atom_cache: self.atom_cache,
            max_depth: self.max_depth,
            version_byte: false,
            funs: self.funs + 1,
            error: Cell::new(None),
        };
        let term = inner
            .term()
            .inspect_err(|_| self.error.set(inner.error.take()))?;
        self.pos = inner.pos;
        Ok(term)
    }

    /// `80, UncompressedSize:32, ZlibData`: the inflated body (at most the
    /// declared size: a zlib bomb stops there) and how many input bytes the
    /// compressed data took.
    pub(super) fn inflate_compressed(&mut self) -> R<(Vec<u8>, usize)> {
        self.pos += 1;
        let size_at = self.pos;
        let declared = self.u32()? as usize;
        let data = self.buf.get(self.pos..).unwrap_or(&[]);
        compress::inflate(data, declared)
            .map_err(|why| self.fail(size_at, Kind::BadCompressed(why)))
    }

    /// `80, UncompressedSize:32, ZlibData`: the term after inflating.
    fn compressed(&mut self) -> R<(Term, usize)> {
        let (body, used) = self.inflate_compressed()?;
        let body = Bytes::from(body);
        let mut inner = Decoder {
            buf: &body,
            pos: 0,
            owner: Some(&body),
            atom_cache: self.atom_cache,
            max_depth: self.max_depth,
            version_byte: false,
            funs: self.funs,
            error: Cell::new(None),
        };
        let term = inner
            .term()
            .inspect_err(|_| self.error.set(inner.error.take()))?;
        if inner.pos != body.len() {
            return Err(self.fail(inner.pos, Kind::TrailingBytes(body.len() - inner.pos)));
        }
        Ok((term, self.pos + used))
    }

    // ---- primitive reads -------------------------------------------------

    #[cold]
    fn eof(&self) -> Fail {
        self.fail(self.pos, Kind::UnexpectedEof)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    fn u8(&mut self) -> R<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.eof())?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let a: [u8; N] = self
            .buf
            .get(self.pos..self.pos.saturating_add(N))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| self.eof())?;
        self.pos += N;
        Ok(a)
    }

    #[inline]
    fn u16(&mut self) -> R<u16> {
        self.array().map(u16::from_be_bytes)
    }

    #[inline]
    fn u32(&mut self) -> R<u32> {
        self.array().map(u32::from_be_bytes)
    }

    #[inline]
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let s = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.eof())?;
        self.pos += n;
        Ok(s)
    }

    /// `n` bytes as a `Bytes`: a slice of the owner when there is one.
    fn bytes(&mut self, n: usize) -> R<Bytes> {
        let start = self.pos;
        let s = self.take(n)?;
        Ok(match self.owner {
            Some(owner) => owner.slice(start..start + n),
            None => crate::copy::copy_to_bytes(s),
        })
    }

    /// Checks a declared length against the input left: each of the `n`
    /// elements needs at least `min_bytes`, plus `extra` bytes after them.
    ///
    /// Only a length that passed this check is reserved from (`make_room`).
    fn claim(
        &self,
        len_at: usize,
        what: &'static str,
        n: u32,
        min_bytes: usize,
        extra: usize,
    ) -> R<()> {
        let room = self.remaining().saturating_sub(extra) / min_bytes;
        if n as usize > room {
            return Err(self.fail(
                len_at,
                Kind::Oversized {
                    what,
                    len: n as u64,
                },
            ));
        }
        Ok(())
    }

    fn open(&self, stack: &mut Vec<Frame>, frame: Frame) -> R<()> {
        if stack.len() >= self.max_depth {
            return Err(self.fail(frame.at, Kind::TooDeep(self.max_depth)));
        }
        push_direct!(stack, frame);
        Ok(())
    }

    // ---- the term walk -----------------------------------------------------

    /// Pushes up to `max` integers (`SMALL_INTEGER_EXT`, `INTEGER_EXT`)
    /// that come next, and says how many; stops at anything else.
    #[inline]
    fn int_run(&mut self, values: &mut Vec<Term>, max: u32) -> u32 {
        let mut done = 0;
        while done < max {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let i = match rest {
                [SMALL_INTEGER_EXT, b, ..] => {
                    self.pos += 2;
                    *b as i64
                }
                [INTEGER_EXT, a, b, c, d, ..] => {
                    self.pos += 5;
                    i32::from_be_bytes([*a, *b, *c, *d]) as i64
                }
                _ => break,
            };
            push_direct!(values, Term::Int(i));
            done += 1;
        }
        done
    }

    /// Whether the next `n` terms are all integers (`SMALL_INTEGER_EXT`,
    /// `INTEGER_EXT`) and `[]` follows them: a proper list of integers,
    /// which the walk then reads straight into a `Vec` of exactly `n`.
    /// Only a scan of the tags, so that nothing is allocated for a list
    /// that turns out to hold anything else.
    fn is_int_list(&self, n: u32) -> bool {
        let mut pos = self.pos;
        for _ in 0..n {
            pos += match self.buf.get(pos) {
                Some(&SMALL_INTEGER_EXT) => 2,
                Some(&INTEGER_EXT) => 5,
                _ => return false,
            };
        }
        self.buf.get(pos) == Some(&NIL_EXT)
    }

    /// Decodes one term, iteratively.
    fn term(&mut self) -> R<Term> {
        // `try_with`: during thread teardown the scratch may be gone.
        let mut scratch = SCRATCH.try_with(|s| s.take()).unwrap_or_default();
        let term = self.walk(&mut scratch.frames, &mut scratch.values)?;
        if scratch.frames.capacity() <= SCRATCH_KEEP && scratch.values.capacity() <= SCRATCH_KEEP {
            let _ = SCRATCH.try_with(|s| s.set(scratch));
        }
        Ok(term)
    }

    /// The term walk proper: every decoded value goes on `values`; open
    /// containers are `stack` frames. Both come in (and go out) empty.
    fn walk(&mut self, stack: &mut Vec<Frame>, values: &mut Vec<Term>) -> R<Term> {
        'next: loop {
            let at = self.pos;
            let tag = self.u8()?;
            // Leaves push their value; containers open a frame and go on to
            // their first element (`continue`), except the empty list, whose
            // tail comes next (`pushed = false`).
            let mut pushed = true;
            match tag {
                SMALL_INTEGER_EXT => {
                    let i = self.u8()? as i64;
                    push_direct!(values, Term::Int(i));
                }
                INTEGER_EXT => {
                    let i = i32::from_be_bytes(self.array()?) as i64;
                    push_direct!(values, Term::Int(i));
                }
                ATOM_EXT | SMALL_ATOM_EXT | ATOM_UTF8_EXT | SMALL_ATOM_UTF8_EXT
                | ATOM_CACHE_REF => {
                    let a = self.atom_body(tag, at)?;
                    push_direct!(values, Term::Atom(a));
                }
                NIL_EXT => push_direct!(values, Term::List(Vec::new())),
                SMALL_TUPLE_EXT | LARGE_TUPLE_EXT => {
                    let len_at = self.pos;
                    let n = if tag == SMALL_TUPLE_EXT {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    if n == 0 {
                        push_direct!(values, Term::Tuple(Vec::new()));
                    } else {
                        self.claim(len_at, "tuple", n, 1, 0)?;
                        make_room(values, n as usize);
                        let start = values.len();
                        let frame = Frame {
                            kind: FrameKind::Tuple,
                            left: n as u64,
                            start,
                            at,
                        };
                        self.open(stack, frame)?;
                        continue 'next;
                    }
                }
                LIST_EXT => 'list: {
                    let len_at = self.pos;
                    let n = self.u32()?;
                    // Every element and the tail need a byte each.
                    self.claim(len_at, "list", n, 1, 1)?;
                    // A long list of integers (the commonest long list) is
                    // read straight into its own exactly-sized `Vec`, not
                    // through the value stack.
                    let start = values.len();
                    if n as usize >= RESERVE_FROM && self.is_int_list(n) {
                        let mut items = Vec::with_capacity(n as usize);
                        self.int_run(&mut items, n);
                        self.pos += 1; // NIL_EXT
                        push_direct!(values, Term::List(Vec::new()));
                        put_last(values, items);
                        // Counted against its container below.
                        break 'list;
                    }
                    make_room(values, n as usize);
                    // Leading integer elements are read in a tight loop of
                    // their own; the rest go through the walk.
                    let ints = self.int_run(values, n);
                    let frame = Frame {
                        kind: FrameKind::List,
                        left: (n - ints) as u64,
                        start,
                        at,
                    };
                    self.open(stack, frame)?;
                    if ints < n {
                        continue 'next;
                    }
                    // All elements are in: the tail comes next.
                    pushed = false;
                }
                STRING_EXT => {
                    let n = self.u16()? as usize;
                    let s = self.take(n)?;
                    push_string(values, s);
                }
                MAP_EXT => {
                    let len_at = self.pos;
                    let n = self.u32()?;
                    if n == 0 {
                        push_direct!(values, Term::Map(Map::new()));
                    } else {
                        self.claim(len_at, "map", n, 2, 0)?;
                        make_room(values, 2 * n as usize);
                        let start = values.len();
                        let frame = Frame {
                            kind: FrameKind::Map,
                            left: 2 * n as u64,
                            start,
                            at,
                        };
                        self.open(stack, frame)?;
                        continue 'next;
                    }
                }
                BINARY_EXT => {
                    let len_at = self.pos;
                    let n = self.u32()?;
                    self.claim(len_at, "binary", n, 1, 0)?;
                    let b = self.bytes(n as usize)?;
                    push_direct!(values, Term::Binary(b));
                }
                BIT_BINARY_EXT => {
                    let t = self.bit_binary()?;
                    push_direct!(values, t);
                }
                NEW_FLOAT_EXT => {
                    let f = f64::from_bits(u64::from_be_bytes(self.array()?));
                    if !f.is_finite() {
                        return Err(self.fail(at, Kind::InvalidFloat));
                    }
                    push_direct!(values, Term::Float(f));
                }
                FLOAT_EXT => {
                    let t = self.old_float(at)?;
                    push_direct!(values, t);
                }
                SMALL_BIG_EXT | LARGE_BIG_EXT => {
                    self.big(tag, values)?;
                }
                PID_EXT | NEW_PID_EXT => {
                    let p = self.pid(tag)?;
                    push_direct!(values, Term::Pid(p));
                }
                PORT_EXT | NEW_PORT_EXT | V4_PORT_EXT => {
                    let p = self.port(tag)?;
                    push_direct!(values, Term::Port(p));
                }
                REFERENCE_EXT | NEW_REFERENCE_EXT | NEWER_REFERENCE_EXT => {
                    let r = self.reference(tag)?;
                    push_direct!(values, Term::Reference(r));
                }
                NEW_FUN_EXT => {
                    let t = self.new_fun(at)?;
                    push_direct!(values, t);
                }
                EXPORT_EXT => {
                    let t = self.export(at)?;
                    push_direct!(values, t);
                }
                LOCAL_EXT => return Err(self.fail(at, Kind::LocalExt)),
                _ => return Err(self.fail(at, Kind::UnknownTag(tag))),
            }

            // A value is on the stack: count it against its container, and
            // complete every container that this completes.
            loop {
                let Some(top) = stack.last_mut() else {
                    return values.pop().ok_or_else(|| self.eof());
                };
                if pushed {
                    if top.kind == FrameKind::ListTail {
                        let tail = values.pop().ok_or_else(|| self.eof())?;
                        let items = values.split_off(top.start);
                        stack.truncate(stack.len() - 1);
                        push_direct!(values, improper(items, tail));
                        continue;
                    }
                    top.left -= 1;
                    if top.left > 0 {
                        continue 'next;
                    }
                }
                pushed = true;
                let start = top.start;
                // Each arm pushes its container itself: built in place, it
                // is not first assembled on the stack and copied.
                match top.kind {
                    FrameKind::Tuple => {
                        stack.truncate(stack.len() - 1);
                        push_seq(values, start, true);
                    }
                    FrameKind::Map => {
                        let mut entries = Vec::with_capacity((values.len() - start) / 2);
                        let mut flat = values.drain(start..);
                        while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                            entries.push((k, v));
                        }
                        drop(flat);
                        if has_duplicate_keys(&entries) {
                            return Err(self.fail(top.at, Kind::DuplicateMapKey));
                        }
                        stack.truncate(stack.len() - 1);
                        push_direct!(values, Term::Map(Map::new()));
                        if let Some(Term::Map(slot)) = values.last_mut() {
                            // As in `put_last`: the empty map owns nothing.
                            std::mem::forget(std::mem::replace(&mut slot.entries, entries));
                        }
                    }
                    _ => match self.list_tail(values)? {
                        Tail::Proper => {
                            stack.truncate(stack.len() - 1);
                            push_seq(values, start, false);
                        }
                        Tail::More(n) => {
                            top.left = n as u64;
                            continue 'next;
                        }
                        Tail::Improper => {
                            top.kind = FrameKind::ListTail;
                            continue 'next;
                        }
                    },
                }
            }
        }
    }

    /// After a list's last element: reads `[]`, or a `STRING_EXT`/`LIST_EXT`
    /// that continues the list (the BEAM never writes these, but they
    /// decode to one flat list there too), or leaves an improper tail.
    fn list_tail(&mut self, values: &mut Vec<Term>) -> R<Tail> {
        loop {
            match self.buf.get(self.pos) {
                Some(&NIL_EXT) => {
                    self.pos += 1;
                    return Ok(Tail::Proper);
                }
                Some(&STRING_EXT) => {
                    self.pos += 1;
                    let n = self.u16()? as usize;
                    let s = self.take(n)?;
                    values.extend(s.iter().map(|&b| Term::Int(b as i64)));
                    return Ok(Tail::Proper);
                }
                Some(&LIST_EXT) => {
                    self.pos += 1;
                    let len_at = self.pos;
                    let n = self.u32()?;
                    self.claim(len_at, "list", n, 1, 1)?;
                    if n > 0 {
                        return Ok(Tail::More(n));
                    }
                }
                _ => return Ok(Tail::Improper),
            }
        }
    }
}

/// `[items... | tail]`, flattened when the tail is itself a list.
fn improper(mut items: Vec<Term>, tail: Term) -> Term {
    match tail {
        Term::List(rest) => {
            items.extend(rest);
            Term::List(items)
        }
        Term::ImproperList(rest, tail) => {
            items.extend(rest);
            Term::ImproperList(items, tail)
        }
        tail if items.is_empty() => tail,
        tail => Term::ImproperList(items, Box::new(tail)),
    }
}

/// Whether two entries share a key (`=:=`), as `binary_to_term` rejects.
fn has_duplicate_keys(entries: &[(Term, Term)]) -> bool {
    match entries.len() {
        0 | 1 => false,
        n if n <= 8 => entries
            .iter()
            .enumerate()
            .any(|(i, (k, _))| entries[i + 1..].iter().any(|(k2, _)| k == k2)),
        _ => {
            // Atom keys (the common case) compare by table index; mixed
            // keys fall back to sorting in term order.
            let atoms: Option<Vec<u32>> = entries
                .iter()
                .map(|(k, _)| k.as_atom().map(Atom::index))
                .collect();
            match atoms {
                Some(mut ids) => {
                    ids.sort_unstable();
                    ids.windows(2).any(|w| w[0] == w[1])
                }
                None => {
                    let mut keys: Vec<&Term> = entries.iter().map(|(k, _)| k).collect();
                    keys.sort_unstable();
                    keys.windows(2).any(|w| w[0] == w[1])
                }
            }
        }
    }
}
