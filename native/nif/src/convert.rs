//! Terms across the NIF boundary: rustler's `Term` (a term on a BEAM
//! heap) to and from `etf::Term` (the runtime's owned term).
//!
//! | Erlang                         | here                         |
//! |--------------------------------|------------------------------|
//! | a term a NIF receives          | [`from_beam`] → `etf::Term`  |
//! | a term a NIF builds or sends   | [`to_beam`] ← `etf::Term`    |
//!
//! The walk is direct for the terms messages are made of (atoms, small
//! integers, floats, binaries, lists, tuples, maps). Atoms are cached per
//! scheduler thread both ways: an atom's term never changes for the life of
//! the VM, so a cache hit is a hash lookup instead of a string copy and a
//! lookup in the atom table. Pids are cached the same way (bounded): a pid's
//! term is an immediate too. Big integers, bitstrings, ports, references and
//! funs take the external term format (`term_to_binary`), which is exact
//! and rare enough to be cheap overall.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use bytes::Bytes;
use etf::{Atom, Pid, Term};
use rustler::sys::ERL_NIF_TERM;
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, ListIterator, MapIterator, OwnedBinary, TermType};

/// Why a BEAM term could not become an `etf::Term`.
#[derive(Debug)]
pub enum ConvertError {
    /// The NIF API refused to read part of the term.
    Unreadable(&'static str),
    /// The external-format fallback did not decode.
    Decode(etf::DecodeError),
    /// Larger than the budget given to [`from_beam_within`].
    TooBig,
    /// Tuples, lists and maps nested deeper than [`MAX_NESTING`].
    TooDeep,
}

/// How deep tuples, lists and maps may nest in a term that crosses into
/// Rust. The conversion recurses once per level (~1.2 KiB of stack), and
/// it runs on the VM's scheduler threads: a dirty CPU scheduler has 320 KiB
/// of stack by default (`+sssdcpu 40`), where 128 levels take ~160 KiB.
/// A deeper term is refused (the process it was for ends with
/// `{ferrotp_unreadable_message, Why}`) rather than overflow the stack
/// and take the VM down.
pub const MAX_NESTING: usize = 128;

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::Unreadable(what) => write!(f, "unreadable {what}"),
            ConvertError::Decode(e) => write!(f, "external term format: {e}"),
            ConvertError::TooBig => write!(f, "term larger than the conversion budget"),
            ConvertError::TooDeep => write!(f, "term nested deeper than {MAX_NESTING} levels"),
        }
    }
}

/// A multiplicative hasher for the caches' small integer keys (term words,
/// atom indexes): SipHash's flood resistance is not needed for keys the VM
/// and the runtime hand out, and it costs more than the lookup.
#[derive(Default, Clone, Copy)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<WordHasher>>;

/// Entries kept in the per-thread pid caches before they are emptied.
const PID_CACHE_MAX: usize = 65_536;

#[derive(Default)]
struct Caches {
    atoms_in: FastMap<ERL_NIF_TERM, Atom>,
    atoms_out: FastMap<Atom, ERL_NIF_TERM>,
    pids_in: FastMap<ERL_NIF_TERM, Pid>,
    pids_out: FastMap<Pid, ERL_NIF_TERM>,
}

thread_local! {
    static CACHES: RefCell<Caches> = RefCell::new(Caches::default());
    /// The last pid [`pid_from_beam`] read on this thread (the VM term is
    /// the pid's immediate word: equal words, equal pids).
    static LAST_PID: Cell<Option<(ERL_NIF_TERM, Pid)>> = const { Cell::new(None) };
    /// Work units left for the conversion in progress.
    static BUDGET: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Containers the conversion in progress is inside of.
    static NESTING: Cell<usize> = const { Cell::new(0) };
}

/// One level of nesting in [`from_beam`], given back when dropped (also
/// when the conversion fails part way).
struct Nested;

impl Nested {
    fn enter() -> Result<Nested, ConvertError> {
        NESTING.with(|n| {
            let depth = n.get();
            if depth >= MAX_NESTING {
                return Err(ConvertError::TooDeep);
            }
            n.set(depth + 1);
            Ok(Nested)
        })
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Bytes of binary copied per work unit of the budget.
const BYTES_PER_UNIT: usize = 256;

/// A call's request: [`from_beam`] within `budget` (see
/// [`from_beam_within`]), an atom or small integer read from its word.
pub fn request_from_beam(term: rustler::Term<'_>, budget: usize) -> Result<Term, ConvertError> {
    if let Some(t) = immediate(term) {
        return t;
    }
    let previous = BUDGET.with(|b| b.replace(budget));
    let out = from_beam(term);
    BUDGET.with(|b| b.set(previous));
    out
}

/// [`from_beam`], giving up with [`ConvertError::TooBig`] after `budget`
/// work units (a term node, or 256 bytes of binary): how a NIF on a normal
/// scheduler keeps a huge message from holding it, and hands it to a dirty
/// scheduler instead.
///
/// A message: a call's tag stays a VM term for this NIF call (see
/// [`message_from_beam`]).
pub fn from_beam_within(term: rustler::Term<'_>, budget: usize) -> Result<Term, ConvertError> {
    let previous = BUDGET.with(|b| b.replace(budget));
    let out = message_from_beam(term);
    BUDGET.with(|b| b.set(previous));
    out
}

fn spend(units: usize) -> Result<(), ConvertError> {
    BUDGET.with(|b| {
        let left = b.get();
        if left == usize::MAX {
            return Ok(());
        }
        match left.checked_sub(units) {
            Some(rest) => {
                b.set(rest);
                Ok(())
            }
            None => Err(ConvertError::TooBig),
        }
    })
}

// ---- immediates ------------------------------------------------------------
//
// On a 64-bit VM a small integer is the word `(I << 4) | 0xF` and an atom
// `(Index << 6) | 0xB` (erl_term.h's immediate tags, unchanged for decades).
// Reading them from the word skips a call into the VM per atom and integer;
// the layout is checked against the VM once (`immediates_layout_holds`) and
// the ordinary path is used if it ever differs.

/// An immediate term (a small integer, atom, local pid or port, `[]`):
/// primary tag `0b11`.
const IMMEDIATE_MASK: u64 = 0x3;
const IMMEDIATE_TAG: u64 = 0x3;
const SMALL_TAG_MASK: u64 = 0xF;
const SMALL_TAG: u64 = 0xF;
const ATOM_TAG_MASK: u64 = 0x3F;
const ATOM_TAG: u64 = 0x0B;
/// Atom indexes cached in a vector (the VM's default atom table size).
const ATOM_SLOTS: usize = 1_048_576;

fn immediates_layout_holds(env: Env<'_>) -> bool {
    static HOLDS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HOLDS.get_or_init(|| {
        let five = 5i64.encode(env).as_c_arg() as u64;
        let minus = (-3i64).encode(env).as_c_arg() as u64;
        let ok = rustler::types::atom::ok().to_term(env).as_c_arg() as u64;
        let error = rustler::types::atom::error().to_term(env).as_c_arg() as u64;
        five == (5 << 4) | SMALL_TAG
            && minus == ((-3i64 as u64) << 4) | SMALL_TAG
            && ok & ATOM_TAG_MASK == ATOM_TAG
            && error & ATOM_TAG_MASK == ATOM_TAG
            && ok != error
    })
}

thread_local! {
    /// BEAM atom index -> etf atom, for atoms seen on this thread.
    static ATOMS_BY_INDEX: RefCell<Vec<Option<Atom>>> = const { RefCell::new(Vec::new()) };
}

/// The fast reading of an immediate, if `term` is a small integer or an atom.
fn immediate(term: rustler::Term<'_>) -> Option<Result<Term, ConvertError>> {
    let raw = term.as_c_arg() as u64;
    if raw & SMALL_TAG_MASK == SMALL_TAG {
        if !immediates_layout_holds(term.get_env()) {
            return None;
        }
        return Some(Ok(Term::Int((raw as i64) >> 4)));
    }
    if raw & ATOM_TAG_MASK == ATOM_TAG {
        if !immediates_layout_holds(term.get_env()) {
            return None;
        }
        let index = (raw >> 6) as usize;
        if index >= ATOM_SLOTS {
            return None;
        }
        let cached = ATOMS_BY_INDEX.with(|v| v.borrow().get(index).copied().flatten());
        if let Some(a) = cached {
            return Some(Ok(Term::Atom(a)));
        }
        let atom = atom_from_beam(term);
        if let Ok(a) = atom {
            ATOMS_BY_INDEX.with(|v| {
                let mut v = v.borrow_mut();
                if v.len() <= index {
                    v.resize(index + 1, None);
                }
                v[index] = Some(a);
            });
        }
        return Some(atom.map(Term::Atom));
    }
    None
}

/// Reads a BEAM term into an owned `etf::Term`.
///
/// The budget (see [`from_beam_within`]) is charged per compound term and
/// per element of tuples, lists and maps, in one step each (an immediate
/// costs no check of its own).
pub fn from_beam(term: rustler::Term<'_>) -> Result<Term, ConvertError> {
    if let Some(t) = immediate(term) {
        return t;
    }
    spend(1)?;
    match term.get_type() {
        TermType::Atom => atom_from_beam(term).map(Term::Atom),
        TermType::Integer => match term.decode::<i64>() {
            Ok(i) => Ok(Term::Int(i)),
            Err(_) => via_external(term),
        },
        TermType::Float => term
            .decode::<f64>()
            .map(Term::Float)
            .map_err(|_| ConvertError::Unreadable("float")),
        TermType::Binary => match Binary::from_term(term) {
            Ok(b) => {
                spend(b.len() / BYTES_PER_UNIT)?;
                Ok(Term::Binary(Bytes::copy_from_slice(b.as_slice())))
            }
            Err(_) => via_external(term), // a bitstring
        },
        TermType::Tuple => {
            let _nested = Nested::enter()?;
            let env = term.get_env();
            // SAFETY: `term` is a tuple of `env`; the element slice lives as
            // long as the term (it is the tuple's own memory).
            let items =
                unsafe { rustler::wrapper::tuple::get_tuple(env.as_c_arg(), term.as_c_arg()) }
                    .map_err(|_| ConvertError::Unreadable("tuple"))?;
            spend(items.len())?;
            let mut out = Vec::with_capacity(items.len());
            for raw in items {
                // SAFETY: each element is a term of `env`.
                out.push(from_beam(unsafe { rustler::Term::new(env, *raw) })?);
            }
            Ok(Term::Tuple(out))
        }
        TermType::List => {
            let _nested = Nested::enter()?;
            list_from_beam(term)
        }
        TermType::Map => {
            let _nested = Nested::enter()?;
            let iter = MapIterator::new(term).ok_or(ConvertError::Unreadable("map"))?;
            let mut entries = Vec::new();
            for (k, v) in iter {
                if entries.len() % CELLS_PER_CHARGE == 0 {
                    spend(2 * CELLS_PER_CHARGE)?;
                }
                entries.push((from_beam(k)?, from_beam(v)?));
            }
            Ok(Term::Map(etf::Map { entries }))
        }
        TermType::Pid => pid_from_beam(term).map(Term::Pid),
        _ => via_external(term),
    }
}

/// List cells and map entries charged to the budget at a time.
const CELLS_PER_CHARGE: usize = 32;

fn list_from_beam(term: rustler::Term<'_>) -> Result<Term, ConvertError> {
    let mut items = Vec::new();
    let mut rest = term;
    loop {
        if rest.is_empty_list() {
            return Ok(Term::List(items));
        }
        match rest.list_get_cell() {
            Ok((head, tail)) => {
                if items.len() % CELLS_PER_CHARGE == 0 {
                    spend(CELLS_PER_CHARGE)?;
                }
                items.push(from_beam(head)?);
                rest = tail;
            }
            Err(_) => {
                let tail = from_beam(rest)?;
                return Ok(Term::ImproperList(items, Box::new(tail)));
            }
        }
    }
}

fn atom_from_beam(term: rustler::Term<'_>) -> Result<Atom, ConvertError> {
    let raw = term.as_c_arg();
    if let Some(a) = CACHES.with(|c| c.borrow().atoms_in.get(&raw).copied()) {
        return Ok(a);
    }
    // `enif_get_atom` reads Latin-1 only on OTP 25: an atom with other
    // characters ('€uro') is read from its external format instead.
    let atom = match term.atom_to_string() {
        Ok(name) => Atom::try_new(&name).map_err(|_| ConvertError::Unreadable("atom"))?,
        Err(_) => match via_external(term)? {
            Term::Atom(a) => a,
            _ => return Err(ConvertError::Unreadable("atom")),
        },
    };
    CACHES.with(|c| {
        let mut c = c.borrow_mut();
        c.atoms_in.insert(raw, atom);
        c.atoms_out.insert(atom, raw);
    });
    Ok(atom)
}

/// Reads a local or remote pid (the node name and creation come from the
/// external format, so a pid reads exactly as `term_to_binary` writes it).
pub fn pid_from_beam(term: rustler::Term<'_>) -> Result<Pid, ConvertError> {
    let raw = term.as_c_arg();
    // A caller calls again and again: its pid is usually the last one read.
    if let Some((last, p)) = LAST_PID.with(Cell::get) {
        if last == raw {
            return Ok(p);
        }
    }
    if let Some(p) = CACHES.with(|c| c.borrow().pids_in.get(&raw).copied()) {
        LAST_PID.with(|l| l.set(Some((raw, p))));
        return Ok(p);
    }
    match via_external(term)? {
        // Only a local pid's term is an immediate (the same word in every
        // env, for as long as the pid means this process); a remote pid's
        // term points into a heap, so it is never cached.
        Term::Pid(p) if raw as u64 & IMMEDIATE_MASK != IMMEDIATE_TAG => Ok(p),
        Term::Pid(p) => {
            CACHES.with(|c| {
                let mut c = c.borrow_mut();
                if c.pids_in.len() >= PID_CACHE_MAX {
                    c.pids_in.clear();
                    c.pids_out.clear();
                }
                c.pids_in.insert(raw, p);
                c.pids_out.insert(p, raw);
            });
            LAST_PID.with(|l| l.set(Some((raw, p))));
            Ok(p)
        }
        _ => Err(ConvertError::Unreadable("pid")),
    }
}

fn via_external(term: rustler::Term<'_>) -> Result<Term, ConvertError> {
    let bin = term.to_binary();
    etf::decode(bin.as_slice()).map_err(ConvertError::Decode)
}

/// Tuples up to this size are built without a heap allocation.
const SMALL_TUPLE: usize = 8;

/// `{A, B, ...}` of at most `SMALL_TUPLE` (8) terms, made without the
/// `Vec` that rustler's `make_tuple` collects its arguments into (an
/// allocation and a free on every direct call's reply).
pub fn tuple<'a>(env: Env<'a>, items: &[rustler::Term<'a>]) -> rustler::Term<'a> {
    if items.len() > SMALL_TUPLE {
        return make_tuple(env, items);
    }
    let mut raw = [0 as ERL_NIF_TERM; SMALL_TUPLE];
    for (slot, t) in raw.iter_mut().zip(items) {
        *slot = t.as_c_arg();
    }
    // SAFETY: `raw[..len]` are terms of `env`; the VM copies them.
    unsafe {
        rustler::Term::new(
            env,
            rustler::sys::enif_make_tuple_from_array(
                env.as_c_arg(),
                raw.as_ptr(),
                items.len() as u32,
            ),
        )
    }
}

/// Builds `term` on `env`'s heap.
pub fn to_beam<'a>(env: Env<'a>, term: &Term) -> rustler::Term<'a> {
    match term {
        Term::Atom(a) => atom_to_beam(env, *a),
        Term::Int(i) => i.encode(env),
        Term::Float(f) => f.encode(env),
        Term::Binary(b) => match OwnedBinary::new(b.len()) {
            Some(mut owned) => {
                owned.as_mut_slice().copy_from_slice(b);
                owned.release(env).to_term(env)
            }
            None => external_to_beam(env, term),
        },
        Term::Tuple(items) if items.len() <= SMALL_TUPLE => {
            // Small tuples (replies, tags) are built from a stack array.
            let mut raw = [rustler::Term::list_new_empty(env); SMALL_TUPLE];
            for (slot, t) in raw.iter_mut().zip(items) {
                *slot = to_beam(env, t);
            }
            tuple(env, &raw[..items.len()])
        }
        Term::Tuple(items) => {
            let items: Vec<rustler::Term<'a>> = items.iter().map(|t| to_beam(env, t)).collect();
            make_tuple(env, &items)
        }
        Term::List(items) => list_to_beam(env, items, rustler::Term::list_new_empty(env)),
        Term::ImproperList(items, tail) => list_to_beam(env, items, to_beam(env, tail)),
        Term::Map(m) => {
            let keys: Vec<rustler::Term<'a>> =
                m.entries.iter().map(|(k, _)| to_beam(env, k)).collect();
            let values: Vec<rustler::Term<'a>> =
                m.entries.iter().map(|(_, v)| to_beam(env, v)).collect();
            rustler::Term::map_from_term_arrays(env, &keys, &values)
                .unwrap_or_else(|_| external_to_beam(env, term))
        }
        Term::Pid(p) => pid_to_beam(env, p),
        Term::Port(p) => match placeholder_id(p).and_then(|id| tag_to_beam(env, id)) {
            Some(t) => t,
            None => external_to_beam(env, term),
        },
        _ => external_to_beam(env, term),
    }
}

fn list_to_beam<'a>(env: Env<'a>, items: &[Term], tail: rustler::Term<'a>) -> rustler::Term<'a> {
    items
        .iter()
        .rev()
        .fold(tail, |acc, item| acc.list_prepend(to_beam(env, item)))
}

fn atom_to_beam(env: Env<'_>, atom: Atom) -> rustler::Term<'_> {
    if let Some(raw) = CACHES.with(|c| c.borrow().atoms_out.get(&atom).copied()) {
        // SAFETY: an atom term is an immediate, valid in every env for the
        // life of the VM.
        return unsafe { rustler::Term::new(env, raw) };
    }
    match rustler::Atom::from_str(env, atom.as_str()) {
        Ok(a) => {
            let t = a.to_term(env);
            CACHES.with(|c| {
                let mut c = c.borrow_mut();
                c.atoms_out.insert(atom, t.as_c_arg());
                c.atoms_in.insert(t.as_c_arg(), atom);
            });
            t
        }
        Err(_) => external_to_beam(env, &Term::Atom(atom)),
    }
}

/// Builds a pid term (a local pid when `pid` names this VM's node).
pub fn pid_to_beam<'a>(env: Env<'a>, pid: &Pid) -> rustler::Term<'a> {
    if let Some(raw) = CACHES.with(|c| c.borrow().pids_out.get(pid).copied()) {
        // SAFETY: only local pids are cached, and a local pid's term is an
        // immediate, valid in every env.
        return unsafe { rustler::Term::new(env, raw) };
    }
    let t = external_to_beam(env, &Term::Pid(*pid));
    if t.get_type() == TermType::Pid && t.decode::<rustler::LocalPid>().is_ok() {
        CACHES.with(|c| {
            let mut c = c.borrow_mut();
            if c.pids_out.len() >= PID_CACHE_MAX {
                c.pids_in.clear();
                c.pids_out.clear();
            }
            c.pids_out.insert(*pid, t.as_c_arg());
            c.pids_in.insert(t.as_c_arg(), *pid);
        });
    }
    t
}

fn external_to_beam<'a>(env: Env<'a>, term: &Term) -> rustler::Term<'a> {
    let bytes = etf::encode(term);
    match env.binary_to_term(&bytes) {
        Some((t, _)) => t,
        // Only a term the VM cannot hold (an atom over 255 characters
        // cannot exist in an `etf::Term`): say so rather than crash.
        None => rustler::types::atom::undefined().encode(env),
    }
}

/// An iterator over a proper list (re-exported for the NIFs that read
/// argument lists).
pub fn list_items<'a>(term: rustler::Term<'a>) -> Option<ListIterator<'a>> {
    term.into_list_iterator().ok()
}

// ---- call tags ------------------------------------------------------------
//
// Every `gen_server:call` carries a fresh tag (a reference, `[alias|Ref]`
// since OTP 24) that the server only hands back in its reply. References
// take the external format both ways, the dearest part of a call's
// conversion, so a call's tag stays a VM term: the Rust process sees a
// placeholder (a port of the fake node `'$ferrotp_call_tag'`: a term that
// costs no allocation), and a reply built in the same NIF call puts the
// original term back. A tag still unanswered when the NIF call ends (a
// deferred reply, `gen_server:reply/2` later) is converted then and kept
// until used.

/// The node of placeholder tags.
fn tag_node() -> Atom {
    static NODE: std::sync::OnceLock<Atom> = std::sync::OnceLock::new();
    *NODE.get_or_init(|| Atom::new("$ferrotp_call_tag"))
}

/// Unanswered tags kept for deferred replies, at most.
const PENDING_MAX: usize = 65_536;

static NEXT_TAG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static PENDING: std::sync::Mutex<std::collections::BTreeMap<u64, Term>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// This thread's call tags: the NIF call's tags and the thread's block of
/// tag ids (one thread-local access per call).
struct CallTags {
    /// This NIF call's tags: (id, env, raw term, answered).
    tags: Vec<(u64, usize, ERL_NIF_TERM, bool)>,
    /// The next id of this thread's block, and the block's end.
    next: u64,
    end: u64,
}

impl CallTags {
    /// A tag id no other call has: from this thread's block of ids (one
    /// shared counter update per [`TAG_BLOCK`] calls, not one per call).
    fn next_id(&mut self) -> u64 {
        if self.next == self.end {
            self.next = NEXT_TAG.fetch_add(TAG_BLOCK, std::sync::atomic::Ordering::Relaxed);
            self.end = self.next + TAG_BLOCK;
        }
        self.next += 1;
        self.next - 1
    }
}

/// Tag ids each thread takes from [`NEXT_TAG`] at a time.
const TAG_BLOCK: u64 = 1 << 20;

thread_local! {
    static CALL_TAGS: RefCell<CallTags> = const {
        RefCell::new(CallTags { tags: Vec::new(), next: 0, end: 0 })
    };
}

fn placeholder_id(p: &etf::Port) -> Option<u64> {
    (p.node == tag_node()).then_some(p.id)
}

/// Reads a message, keeping the tag of a `'$gen_call'` or `system` request
/// (`{Kind, {Pid, Tag}, Request}`) as a VM term for this NIF call; see
/// [`settle_tags`].
pub fn message_from_beam(term: rustler::Term<'_>) -> Result<Term, ConvertError> {
    if let Some(t) = request_with_tag(term)? {
        return Ok(t);
    }
    from_beam(term)
}

fn request_with_tag(term: rustler::Term<'_>) -> Result<Option<Term>, ConvertError> {
    if term.get_type() != TermType::Tuple {
        return Ok(None);
    }
    let env = term.get_env();
    // SAFETY: `term` is a tuple of `env` (checked above).
    let Ok(items) =
        (unsafe { rustler::wrapper::tuple::get_tuple(env.as_c_arg(), term.as_c_arg()) })
    else {
        return Ok(None);
    };
    let [kind, from, request] = items else {
        return Ok(None);
    };
    // SAFETY: elements of a tuple of `env`.
    let (kind, from, request) = unsafe {
        (
            rustler::Term::new(env, *kind),
            rustler::Term::new(env, *from),
            rustler::Term::new(env, *request),
        )
    };
    if kind.get_type() != TermType::Atom || from.get_type() != TermType::Tuple {
        return Ok(None);
    }
    let kind = atom_from_beam(kind)?;
    if kind.as_str() != "$gen_call" && kind.as_str() != "system" {
        return Ok(None);
    }
    let Some((pid, tag)) = caller_from_beam(from)? else {
        return Ok(None);
    };
    Ok(Some(Term::Tuple(vec![
        Term::Atom(kind),
        Term::Tuple(vec![Term::Pid(pid), tag]),
        from_beam(request)?,
    ])))
}

/// Reads a call's `From` (`{Pid, Tag}`), its tag kept as a VM term for
/// this NIF call (a placeholder stands for it; see [`settle_tags`] and
/// [`forget_tags`]). `None` if `from` is not a `{Pid, Tag}`.
pub fn caller_from_beam(from: rustler::Term<'_>) -> Result<Option<(Pid, Term)>, ConvertError> {
    Ok(caller_pid_from_beam(from)?.map(|(pid, tag)| (pid, tag.placeholder())))
}

/// A call's tag, still a VM term of the running NIF call: see
/// [`caller_pid_from_beam`].
pub struct BeamTag {
    env: usize,
    raw: ERL_NIF_TERM,
    alias: bool,
}

impl BeamTag {
    /// The tag as the VM term it is, in the running NIF call's `env`.
    pub fn term<'a>(&self, env: Env<'a>) -> rustler::Term<'a> {
        // SAFETY: read from a term of the running NIF call's env (the
        // caller's `From`), which is `env`.
        unsafe { rustler::Term::new(env, self.raw) }
    }

    /// The placeholder term standing for the tag, recorded for this NIF
    /// call (see [`settle_tags`] and [`forget_tags`]).
    pub fn placeholder(&self) -> Term {
        let id = CALL_TAGS.with(|t| {
            let mut t = t.borrow_mut();
            let id = t.next_id();
            t.tags.push((id, self.env, self.raw, false));
            id
        });
        // `creation` says whether the tag is `[alias | Ref]` (1) or a reference (0).
        Term::Port(etf::Port {
            node: tag_node(),
            id,
            creation: u32::from(self.alias),
        })
    }
}

/// Reads a call's `From` (`{Pid, Tag}`) but leaves the tag a VM term
/// until [`BeamTag::placeholder`] is asked for (a call answered within the
/// NIF call never needs it). `None` if `from` is not a `{Pid, Tag}`.
pub fn caller_pid_from_beam(
    from: rustler::Term<'_>,
) -> Result<Option<(Pid, BeamTag)>, ConvertError> {
    let env = from.get_env();
    let raw_env = env.as_c_arg();
    let mut arity = 0;
    let mut items: *const ERL_NIF_TERM = std::ptr::null();
    // SAFETY: `from` is a term of `env`; on success `items` points to the
    // tuple's `arity` elements, which live as long as the term.
    let from_items = unsafe {
        if rustler::sys::enif_get_tuple(raw_env, from.as_c_arg(), &mut arity, &mut items) == 0
            || arity != 2
        {
            return Ok(None);
        }
        std::slice::from_raw_parts(items, 2)
    };
    let (pid, tag) = (from_items[0], from_items[1]);
    // SAFETY: elements of a tuple of `env`.
    let Some(alias) = (unsafe { tag_kind(raw_env, tag) }) else {
        return Ok(None);
    };
    // SAFETY: as above.
    if unsafe { rustler::sys::enif_is_pid(raw_env, pid) } == 0 {
        return Ok(None);
    }
    // SAFETY: as above.
    let pid = pid_from_beam(unsafe { rustler::Term::new(env, pid) })?;
    let tag = BeamTag {
        env: raw_env as usize,
        raw: tag,
        alias,
    };
    Ok(Some((pid, tag)))
}

/// Whether `tag` is a call tag: `Some(false)` for a reference,
/// `Some(true)` for `[alias | Ref]`, `None` for anything else.
///
/// # Safety
/// `tag` must be a term of `env`.
unsafe fn tag_kind(env: *mut rustler::sys::ErlNifEnv, tag: ERL_NIF_TERM) -> Option<bool> {
    if rustler::sys::enif_is_ref(env, tag) != 0 {
        return Some(false);
    }
    let (mut head, mut tail) = (0, 0);
    (rustler::sys::enif_get_list_cell(env, tag, &mut head, &mut tail) != 0
        && rustler::sys::enif_is_ref(env, tail) != 0)
        .then_some(true)
}

/// `true` for a reply `{Tag, Reply}` whose tag stands for an OTP 24+
/// `[alias | Ref]` call tag: `gen:reply/2` sends such a reply to the alias,
/// not to the caller's pid (so a reply after the caller's timeout is
/// dropped).
pub fn is_alias_reply(msg: &Term) -> bool {
    match msg {
        Term::Tuple(items) => matches!(
            items.as_slice(),
            [Term::Port(p), _] if placeholder_id(p).is_some() && p.creation == 1
        ),
        _ => false,
    }
}

/// Ends a NIF call's tag scope when no tag can be used later (the call was
/// answered in the NIF call, or not taken): unlike [`settle_tags`], keeps
/// nothing.
pub fn forget_tags() {
    CALL_TAGS.with(|t| t.borrow_mut().tags.clear());
}

/// The VM term for placeholder `id`: this NIF call's own (same `env`), or a
/// deferred one's.
fn tag_to_beam<'a>(env: Env<'a>, id: u64) -> Option<rustler::Term<'a>> {
    let raw = CALL_TAGS.with(|t| {
        let mut t = t.borrow_mut();
        t.tags
            .iter_mut()
            .find(|(i, e, _, _)| *i == id && *e == env.as_c_arg() as usize)
            .map(|entry| {
                entry.3 = true;
                entry.2
            })
    });
    if let Some(raw) = raw {
        // SAFETY: the tag is a term of `env`, the running NIF call's.
        return Some(unsafe { rustler::Term::new(env, raw) });
    }
    let kept = PENDING.lock().ok().and_then(|mut p| p.remove(&id));
    kept.map(|t| to_beam(env, &t))
}

/// Ends a NIF call's tag scope: tags not answered during the call are
/// converted and kept for a deferred reply.
pub fn settle_tags(env: Env<'_>) {
    let tags = CALL_TAGS.with(|t| std::mem::take(&mut t.borrow_mut().tags));
    for (id, e, raw, answered) in tags {
        if answered || e != env.as_c_arg() as usize {
            continue;
        }
        // SAFETY: recorded from this env's terms in this NIF call.
        let Ok(tag) = from_beam(unsafe { rustler::Term::new(env, raw) }) else {
            continue;
        };
        if let Ok(mut pending) = PENDING.lock() {
            if pending.len() >= PENDING_MAX {
                if let Some(oldest) = pending.keys().next().copied() {
                    pending.remove(&oldest);
                }
            }
            pending.insert(id, tag);
        }
    }
}
