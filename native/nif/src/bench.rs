//! The measurement behind the execution design (see `docs/nif.md`): one
//! counter served two ways, so a `gen_server:call` round trip can be timed
//! through each.
//!
//! * **A, on the caller's scheduler**: the BEAM-side process receives the
//!   message and makes one NIF call that converts it, runs the callback and
//!   sends the reply with `enif_send` from the same scheduler thread.
//! * **B, on runtime threads**: the NIF call converts the message and
//!   hands it to a tokio task over a channel; the task runs the callback and
//!   sends the reply from its own thread (`OwnedEnv::send_and_clear`).
//!
//! Both convert terms the same way ([`crate::convert`]), so the difference
//! is the cross-thread hand-off. And `bench_floor/1`, design A's floor: a
//! NIF that does nothing but build the reply message.

use std::sync::OnceLock;

use etf::{Atom, Term};
use parking_lot::Mutex;
use rustler::env::OwnedEnv;
use rustler::{Env, LocalPid, NifResult, ResourceArc};

use crate::convert::{from_beam, to_beam};

/// Design A's counter: its state, behind the resource.
pub struct BenchA {
    count: Mutex<i64>,
}

#[rustler::resource_impl]
impl rustler::Resource for BenchA {}

// A panic inside a NIF is caught by rustler; the counter stays consistent
// (one integer under a lock).
impl std::panic::RefUnwindSafe for BenchA {}

/// Design B's counter: a channel into its tokio task.
pub struct BenchB {
    tx: tokio::sync::mpsc::UnboundedSender<Term>,
}

#[rustler::resource_impl]
impl rustler::Resource for BenchB {}

impl std::panic::RefUnwindSafe for BenchB {}

/// What a counter does with one message: `Some((caller, reply))` for a call.
fn handle(count: &mut i64, msg: Term) -> Option<(etf::Pid, Term)> {
    let Term::Tuple(items) = msg else { return None };
    match items.as_slice() {
        [Term::Atom(tag), Term::Tuple(from), Term::Atom(req)]
            if *tag == Atom::new("$gen_call") && *req == Atom::new("value") =>
        {
            match from.as_slice() {
                [Term::Pid(caller), mref] => {
                    Some((*caller, Term::Tuple(vec![mref.clone(), Term::Int(*count)])))
                }
                _ => None,
            }
        }
        [Term::Atom(tag), Term::Tuple(req)] if *tag == Atom::new("$gen_cast") => {
            if let [Term::Atom(bump), Term::Int(n)] = req.as_slice() {
                if *bump == Atom::new("bump") {
                    *count += n;
                }
            }
            None
        }
        _ => None,
    }
}

/// `bench_a_new(Count)`: a design-A counter.
#[rustler::nif]
fn bench_a_new(count: i64) -> ResourceArc<BenchA> {
    ResourceArc::new(BenchA {
        count: Mutex::new(count),
    })
}

/// `bench_a_handle(Counter, Msg)`: runs the callback here and replies.
#[rustler::nif]
fn bench_a_handle<'a>(
    env: Env<'a>,
    counter: ResourceArc<BenchA>,
    msg: rustler::Term<'a>,
) -> NifResult<rustler::Atom> {
    let msg = from_beam(msg).map_err(|e| rustler::Error::Term(Box::new(e.to_string())))?;
    let reply = handle(&mut counter.count.lock(), msg);
    if let Some((caller, reply)) = reply {
        let pid: LocalPid = crate::convert::pid_to_beam(env, &caller).decode()?;
        let _ = env.send(&pid, to_beam(env, &reply));
    }
    Ok(rustler::types::atom::ok())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferrotp-bench-b")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the bench runtime: {e}"))
    })
}

/// `bench_b_new(Count)`: a design-B counter (a tokio task).
#[rustler::nif]
fn bench_b_new(count: i64) -> ResourceArc<BenchB> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Term>();
    runtime().spawn(async move {
        let mut count = count;
        let mut env = OwnedEnv::new();
        while let Some(msg) = rx.recv().await {
            if let Some((caller, reply)) = handle(&mut count, msg) {
                let _ = env.send_and_clear_to(&caller, &reply);
            }
        }
    });
    ResourceArc::new(BenchB { tx })
}

/// `bench_b_handle(Counter, Msg)`: hands the message to the task.
#[rustler::nif]
fn bench_b_handle<'a>(
    counter: ResourceArc<BenchB>,
    msg: rustler::Term<'a>,
) -> NifResult<rustler::Atom> {
    let msg = from_beam(msg).map_err(|e| rustler::Error::Term(Box::new(e.to_string())))?;
    let _ = counter.tx.send(msg);
    Ok(rustler::types::atom::ok())
}

/// Sending an `etf::Term` from a thread the VM does not manage.
trait SendTerm {
    fn send_and_clear_to(&mut self, to: &etf::Pid, msg: &Term) -> Result<(), ()>;
}

impl SendTerm for OwnedEnv {
    fn send_and_clear_to(&mut self, to: &etf::Pid, msg: &Term) -> Result<(), ()> {
        let pid: Option<LocalPid> =
            self.run(|env| crate::convert::pid_to_beam(env, to).decode().ok());
        let Some(pid) = pid else { return Err(()) };
        self.send_and_clear(&pid, |env| to_beam(env, msg))
            .map_err(|_| ())
    }
}

// `bench_floor/1`, registered by hand as `gen_call/3` is: the least a NIF
// on the call path can do (read the caller's tag, build `{Tag, 0}`), to
// measure the floor of any design that answers from a NIF in the proxy.
raw_nif!(c"bench_floor", 1, bench_floor_nif);

/// `bench_floor(From)`: `{Tag, 0}` for `From = {Pid, Tag}`.
///
/// # Safety
/// Called by the VM only: `argv` holds `argc` terms of `env`.
unsafe extern "C" fn bench_floor_nif(
    env: rustler::codegen_runtime::NIF_ENV,
    argc: rustler::codegen_runtime::c_int,
    argv: *const rustler::codegen_runtime::NIF_TERM,
) -> rustler::codegen_runtime::NIF_TERM {
    let mut arity = 0;
    let mut items: *const rustler::sys::ERL_NIF_TERM = std::ptr::null();
    if argc != 1
        || rustler::sys::enif_get_tuple(env, *argv, &mut arity, &mut items) == 0
        || arity != 2
    {
        return rustler::sys::enif_make_badarg(env);
    }
    let out = [*items.add(1), rustler::sys::enif_make_int64(env, 0)];
    rustler::sys::enif_make_tuple_from_array(env, out.as_ptr(), 2)
}
