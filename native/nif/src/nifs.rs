//! The NIFs behind `erlang/ferrotp_nif.erl`'s proxy loop. Each one is a
//! short call: it converts one term, queues one signal and polls the Rust
//! process once (see `process.rs`).
//!
//! Every one of them answers a *step*: `ok` while the Rust process lives,
//! `{stop, Crashed, Reason}` once it has died (the proxy then exits with
//! `Reason`, logging a crash report when `Crashed` is `{crash, [State]}`).

use etf::Term;
use ferrotp::direct::Direct;
use ferrotp::start::{Ack, Init};
use ferrotp::{MonitorTarget, Signal};
use rustler::types::atom;
use rustler::{Encoder, Env, NifResult, ResourceArc};

use crate::beam_env;
use crate::convert::{
    caller_pid_from_beam, forget_tags, from_beam, from_beam_within, pid_from_beam,
    request_from_beam, settle_tags, to_beam, ConvertError,
};
use crate::host;
use crate::process::{InitStatus, Proc, RustProcess, Step};

mod atoms {
    rustler::atoms! { queue, link, gen_cast = "$gen_cast" }
}

fn bad(e: impl std::fmt::Display) -> rustler::Error {
    rustler::Error::Term(Box::new(e.to_string()))
}

fn step<'a>(env: Env<'a>, step: Step) -> rustler::Term<'a> {
    match step {
        Step::Running => atom::ok().encode(env),
        Step::Gone => (
            rustler::Atom::from_str(env, "stop")
                .map(|a| a.encode(env))
                .unwrap_or_else(|_| atom::error().encode(env)),
            false,
            rustler::Atom::from_str(env, "noproc")
                .map(|a| a.encode(env))
                .unwrap_or_else(|_| atom::error().encode(env)),
        )
            .encode(env),
        // `Crashed`: `false`, or `{crash, [State]}` with the state the
        // crash report shows (`[]` when the process has none to show).
        Step::Exited(e) => {
            let crashed = match (e.crashed, e.state) {
                (false, _) => Term::atom("false"),
                (true, state) => Term::Tuple(vec![
                    Term::atom("crash"),
                    Term::List(state.into_iter().collect()),
                ]),
            };
            let stop = Term::Tuple(vec![Term::atom("stop"), crashed, e.reason]);
            to_beam(env, &stop)
        }
    }
}

/// Runs the process's first poll: `{ok, Proc}` or a stop step.
///
/// The proxy's heap holds the only reference to `Proc`: when the proxy dies
/// without the Rust process having ended (`exit(Pid, kill)`), the resource's
/// destructor kills the Rust process (cheaper than a monitor per process).
fn begin<'a>(env: Env<'a>, process: ResourceArc<RustProcess>) -> NifResult<rustler::Term<'a>> {
    match process.poll(env) {
        Step::Running => Ok((atom::ok(), process).encode(env)),
        other => Ok(step(env, other)),
    }
}

/// `start_nif(Behaviour, Arg, Self, Parent, Name)`: starts `Behaviour`
/// with `Arg` as the calling proxy's Rust process (taking its pid;
/// `Parent` is the process that called `start_link`) and runs it until it
/// first waits. Then `init_status/1` tells whether it acknowledged its
/// start. `Name`: the local name the proxy registered (or `undefined`),
/// registered for the Rust process too, so that it knows its name as a
/// gen_server does (`sys:get_status/1`'s header, crash reports).
#[rustler::nif(name = "start_nif")]
fn start<'a>(
    env: Env<'a>,
    behaviour: rustler::Term<'a>,
    arg: rustler::Term<'a>,
    proxy: rustler::Term<'a>,
    parent: rustler::Term<'a>,
    local_name: rustler::Term<'a>,
) -> NifResult<rustler::Term<'a>> {
    let pid = pid_from_beam(proxy).map_err(bad)?;
    let parent = pid_from_beam(parent).map_err(bad)?;
    let local_name = match from_beam(local_name).map_err(bad)? {
        Term::Atom(a) if a.as_str() != "undefined" => Some(a),
        _ => None,
    };
    let name = match from_beam(behaviour).map_err(bad)? {
        Term::Atom(a) => a,
        _ => return Err(rustler::Error::BadArg),
    };
    let arg = from_beam(arg).map_err(bad)?;
    let Some(behaviour) = ferrotp::behaviours::behaviour(name) else {
        // As in port and node modes, and as `apply/3` of a missing
        // function: `{undef, [{Behaviour, start_link, [Arg], []}]}`.
        let reason = ferrotp::behaviours::undef(name, etf::Atom::new("start_link"), &[arg]);
        return Ok((atom::error(), to_beam(env, &reason)).encode(env));
    };
    let body = match behaviour.body(arg) {
        Ok(body) => body,
        Err(reason) => return Ok((atom::error(), to_beam(env, &reason)).encode(env)),
    };
    let (init, ack) = Init::attached(Vec::new(), Some(parent));
    let node = host::node(&pid);
    let spawned = {
        let _env = beam_env::enter(env);
        let _rt = node.handle().enter();
        host::starting(pid, || {
            node.spawn(move |mut ctx| {
                if let Some(name) = local_name {
                    // Free on the Rust side as on the BEAM side (the
                    // proxy holds it there): this cannot fail but for a
                    // Rust process of this VM registered under a name the
                    // BEAM does not know, and then the BEAM's wins.
                    let _ = ctx.register(name);
                }
                body(ctx, init)
            })
        })
    };
    let Some(process) = host::take_newborn(&pid) else {
        let reason = Term::Tuple(vec![Term::atom("not_spawned_here"), Term::Pid(spawned)]);
        return Ok((atom::error(), to_beam(env, &reason)).encode(env));
    };
    process.expect_ack(ack);
    begin(env, process)
}

/// `init_status(Proc)`: `pending`, `ok`, `ignore` or `{error, Reason}`.
#[rustler::nif]
fn init_status<'a>(env: Env<'a>, process: Proc<'a>) -> rustler::Term<'a> {
    let status = match process.init_status() {
        InitStatus::Pending => Term::atom("pending"),
        InitStatus::Acked(Ack::Ok) => Term::atom("ok"),
        InitStatus::Acked(Ack::Ignore) => Term::atom("ignore"),
        InitStatus::Acked(Ack::Error(reason)) => Term::Tuple(vec![Term::atom("error"), reason]),
    };
    to_beam(env, &status)
}

/// `adopt(Self)`: a pooled proxy takes the Rust process spawned with its pid.
#[rustler::nif]
fn adopt<'a>(env: Env<'a>, proxy: rustler::Term<'a>) -> NifResult<rustler::Term<'a>> {
    let pid = pid_from_beam(proxy).map_err(bad)?;
    match host::take_newborn(&pid) {
        Some(process) => begin(env, process),
        None => Ok(atom::error().encode(env)),
    }
}

/// Work units (term nodes, 256-byte binary chunks) a message may take to
/// convert on a normal scheduler: about a millisecond. Larger messages go
/// to a dirty scheduler (`{dirty, Rest}` answer, then `deliver_dirty/2` with `Rest`).
const BUDGET: usize = 20_000;

fn deliver_in<'a>(
    env: Env<'a>,
    process: &RustProcess,
    msgs: &[rustler::Term<'a>],
    budget: usize,
) -> NifResult<rustler::Term<'a>> {
    // Casts at the head go straight into an idle gen_server (see
    // `ferrotp::direct`); only their payloads are converted.
    let (taken, must_poll) = direct_casts(env, process, msgs, budget);
    let rest = msgs.get(taken..).unwrap_or_default();
    let to = process.pid();
    let mut signals = Vec::with_capacity(rest.len());
    let mut failed = None;
    for m in rest {
        match from_beam_within(*m, budget) {
            Ok(msg) => signals.push(Signal::Send {
                from: None,
                to,
                msg,
            }),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let out = match failed {
        None if signals.is_empty() && !must_poll => Ok(atom::ok().encode(env)),
        None => Ok(step(env, process.deliver_all(env, signals))),
        // Too large to convert here: the proxy hands what is not taken yet
        // to a dirty scheduler.
        Some(ConvertError::TooBig) => {
            let dirty = to_beam(env, &Term::atom("dirty"));
            Ok((dirty, rest.to_vec()).encode(env))
        }
        Some(e) => Err(bad(e)),
    };
    // Tags of calls not answered in this NIF call are kept for later.
    settle_tags(env);
    out
}

/// `Msg` if `msg` is `{'$gen_cast', Msg}`.
fn cast_payload(msg: rustler::Term<'_>) -> Option<rustler::Term<'_>> {
    let (label, payload) = msg.decode::<(rustler::Atom, rustler::Term<'_>)>().ok()?;
    (label == atoms::gen_cast()).then_some(payload)
}

/// Runs the casts at the head of `msgs` in the process's gen_server if it
/// waits idle: how many it took, and whether its task must be polled.
fn direct_casts(
    env: Env<'_>,
    process: &RustProcess,
    msgs: &[rustler::Term<'_>],
    budget: usize,
) -> (usize, bool) {
    if !process.has_direct() {
        return (0, false);
    }
    let payloads: Vec<Term> = msgs
        .iter()
        .map_while(|m| from_beam_within(cast_payload(*m)?, budget).ok())
        .collect();
    if payloads.is_empty() {
        return (0, false);
    }
    match process.direct(env, |server, cx| server.casts(&payloads, cx)) {
        Some((taken, outcome)) => (taken, outcome == Direct::Poll),
        None => (0, false),
    }
}

// `gen_call/3` is registered by hand rather than with `#[rustler::nif]`:
// rustler's wrapper collects a NIF's arguments into a `Vec` (a `malloc`
// and a `free` on every call), a share of a direct call worth saving. This
// one reads its three arguments in place; the rest is as rustler does it
// (panics caught, errors raised).
raw_nif!(c"gen_call", 3, gen_call_nif);

/// The VM's entry to [`gen_call`].
///
/// # Safety
/// Called by the VM only: `argv` holds `argc` terms of `nif_env`.
unsafe extern "C" fn gen_call_nif(
    nif_env: rustler::codegen_runtime::NIF_ENV,
    argc: rustler::codegen_runtime::c_int,
    argv: *const rustler::codegen_runtime::NIF_TERM,
) -> rustler::codegen_runtime::NIF_TERM {
    let lifetime = ();
    let env = Env::new(&lifetime, nif_env);
    if argc != 3 || argv.is_null() {
        return rustler::codegen_runtime::NifReturned::BadArg.apply(env);
    }
    let [process, from, request] = [0, 1, 2].map(|i| rustler::Term::new(env, *argv.add(i)));
    let result = std::panic::catch_unwind(move || {
        let process: Proc<'_> = process.decode()?;
        gen_call(env, process, from, request)
    });
    match result {
        // The common case straight back to the VM.
        Ok(Ok(term)) => term.as_c_arg(),
        other => rustler::codegen_runtime::handle_nif_result(other, env).apply(env),
    }
}

/// `gen_call(Proc, From, Request)`: `{'$gen_call', From, Request}` arrived
/// at the proxy. If the gen_server waits idle, the call runs now and its
/// reply comes back here as the reply message, `{Tag, Reply}` (the proxy
/// sends it as `gen:reply/2` would). Otherwise `queue` (the proxy delivers
/// the message the ordinary way), or a step when the call was taken but
/// continues in the process.
fn gen_call<'a>(
    env: Env<'a>,
    process: Proc<'a>,
    from: rustler::Term<'a>,
    request: rustler::Term<'a>,
) -> NifResult<rustler::Term<'a>> {
    let queue = || Ok(atoms::queue().encode(env));
    if !process.has_direct() {
        return queue();
    }
    let (Ok(Some((pid, tag))), Ok(request)) = (
        caller_pid_from_beam(from),
        request_from_beam(request, BUDGET),
    ) else {
        return queue();
    };
    // The tag is recorded only if the call does not end in this NIF call
    // with a reply (`BeamTag::placeholder`).
    let mut recorded = false;
    let mut placeholder = || {
        recorded = true;
        tag.placeholder()
    };
    let answer = process.direct(env, |server, cx| {
        server.call_now(pid, &mut placeholder, &request, cx)
    });
    let out = match answer {
        Some(Direct::Replied(reply)) => {
            // The reply message itself, `{Tag, Reply}`: the proxy sends it.
            let reply = to_beam(env, &reply);
            if recorded {
                forget_tags();
            }
            return Ok(crate::convert::tuple(env, &[tag.term(env), reply]));
        }
        None | Some(Direct::Queue) => {
            if recorded {
                forget_tags();
            }
            return queue();
        }
        Some(Direct::Done | Direct::Poll) => step(env, process.poll(env)),
    };
    // The call continues in the process: its tag is kept for the reply.
    settle_tags(env);
    Ok(out)
}

/// `deliver(Proc, Msg)`: `Msg` arrived at the proxy. `{dirty, Rest}` when it is too
/// large to convert here (the proxy then calls `deliver_dirty/2` with the messages not taken yet).
#[rustler::nif]
fn deliver<'a>(
    env: Env<'a>,
    process: Proc<'a>,
    msg: rustler::Term<'a>,
) -> NifResult<rustler::Term<'a>> {
    deliver_in(env, &process, &[msg], BUDGET)
}

/// `deliver_all(Proc, Msgs)`: messages that arrived one after another at
/// the proxy, delivered in order with a single poll (a burst of casts costs
/// one NIF call, not one each). `{dirty, Rest}` as for `deliver/2`.
#[rustler::nif]
fn deliver_all<'a>(
    env: Env<'a>,
    process: Proc<'a>,
    msgs: rustler::ListIterator<'a>,
) -> NifResult<rustler::Term<'a>> {
    deliver_in(env, &process, &msgs.collect::<Vec<_>>(), BUDGET)
}

/// `deliver_dirty(Proc, Msgs)`: as `deliver_all/2`, on a dirty CPU
/// scheduler, for messages too large to convert within ~1 ms.
#[rustler::nif(schedule = "DirtyCpu")]
fn deliver_dirty<'a>(
    env: Env<'a>,
    process: ResourceArc<RustProcess>,
    msgs: rustler::ListIterator<'a>,
) -> NifResult<rustler::Term<'a>> {
    deliver_in(env, &process, &msgs.collect::<Vec<_>>(), usize::MAX)
}

/// `exit_signal(Proc, From, Reason, Kind)`: an exit signal reached the
/// proxy (which traps exits, so it arrived as `{'EXIT', From, Reason}`).
/// `Kind` is what the proxy made of it (`ferrotp:exit_kind/2`): `link`,
/// the death of a linked process (`kill` then is an ordinary reason, as
/// between Erlang processes), or `exit2`, `exit(Pid, Reason)` (where
/// `kill` cannot be trapped).
#[rustler::nif]
fn exit_signal<'a>(
    env: Env<'a>,
    process: Proc<'a>,
    from: rustler::Term<'a>,
    reason: rustler::Term<'a>,
    kind: rustler::Atom,
) -> NifResult<rustler::Term<'a>> {
    let to = process.pid();
    let reason = from_beam(reason).map_err(bad)?;
    let signals = match from_beam(from).map_err(bad)? {
        // The link may be known on the BEAM side only (`link(Pid)` from
        // Erlang): it is made on the Rust side too, then broken by the exit.
        Term::Pid(from) if kind == atoms::link() => {
            vec![Signal::Link { from, to }, Signal::Exit { from, to, reason }]
        }
        Term::Pid(from) => vec![Signal::Exit2 { from, to, reason }],
        // An exit from a port: a message to the Rust process.
        other => vec![Signal::Send {
            from: None,
            to,
            msg: Term::Tuple(vec![Term::atom("EXIT"), other, reason]),
        }],
    };
    Ok(step(env, process.deliver_all(env, signals)))
}

/// `down(Proc, Ref, Object, Reason)`: a monitor the Rust process asked for
/// (through its proxy) fired.
#[rustler::nif]
fn down<'a>(
    env: Env<'a>,
    process: Proc<'a>,
    reference: rustler::Term<'a>,
    object: rustler::Term<'a>,
    reason: rustler::Term<'a>,
) -> NifResult<rustler::Term<'a>> {
    let Term::Reference(reference) = from_beam(reference).map_err(bad)? else {
        return Err(rustler::Error::BadArg);
    };
    let from = match from_beam(object).map_err(bad)? {
        Term::Pid(p) => MonitorTarget::Pid(p),
        Term::Tuple(t) => match t.as_slice() {
            [Term::Atom(name), Term::Atom(node)] => MonitorTarget::Name {
                name: *name,
                node: *node,
            },
            _ => return Err(rustler::Error::BadArg),
        },
        Term::Atom(name) => MonitorTarget::Name {
            name,
            node: process.pid().node,
        },
        _ => return Err(rustler::Error::BadArg),
    };
    let signal = Signal::Down {
        from,
        to: process.pid(),
        reference,
        reason: from_beam(reason).map_err(bad)?,
    };
    Ok(step(env, process.deliver(env, signal)))
}

/// `poll(Proc)`: the Rust process was woken (`'$ferrotp_poll'`).
#[rustler::nif]
fn poll<'a>(env: Env<'a>, process: Proc<'a>) -> rustler::Term<'a> {
    step(env, process.poll(env))
}

/// `pool_add(Keeper, Pids)`: idle proxies for Rust-spawned processes.
#[rustler::nif]
fn pool_add<'a>(
    env: Env<'a>,
    keeper: rustler::Term<'a>,
    pids: Vec<rustler::Term<'a>>,
) -> NifResult<rustler::Term<'a>> {
    let keeper = pid_from_beam(keeper).map_err(bad)?;
    let pids = pids
        .into_iter()
        .map(pid_from_beam)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    host::pool_add(keeper, pids);
    Ok(atom::ok().encode(env))
}

/// `pool_size()`: idle proxies left.
#[rustler::nif]
fn pool_size() -> usize {
    host::pool_len()
}

/// `behaviours()`: the names `start/3` accepts.
#[rustler::nif]
fn behaviours<'a>(env: Env<'a>) -> rustler::Term<'a> {
    let names: Vec<Term> = ferrotp::behaviours::registered()
        .into_iter()
        .map(Term::Atom)
        .collect();
    to_beam(env, &Term::List(names))
}

/// `process_count()`: live Rust processes in this VM.
#[rustler::nif]
fn process_count() -> usize {
    host::existing_node()
        .map(|n| n.process_count())
        .unwrap_or(0)
}

/// `request_key()`: the key of this VM's requests to proxies (see
/// [`host::request_key`]).
#[rustler::nif]
fn request_key() -> i64 {
    host::request_key()
}

/// `max_poll_ns()`: the longest single poll of any Rust process so far.
#[rustler::nif]
fn max_poll_ns() -> u64 {
    crate::process::MAX_POLL_NS.load(std::sync::atomic::Ordering::Relaxed)
}
