//! gen_server: calls, casts, deferred replies, stop, init results, the
//! BEAM wire shapes, and exits seen by callers.

mod common;

use std::time::Duration;

use common::*;
use etf::{Atom, Pid, Term};
use ferrotp::gen_server::{
    self, CallError, CallResult, CastResult, GenServer, GenServerRef, Init, Opts, StartError,
};
use ferrotp::{Node, Process};
use serde::{Deserialize, Serialize};

fn a(s: &str) -> Term {
    Term::atom(s)
}

/// A counter that reports `terminate` to an observer.
struct Counter {
    count: i64,
    observer: Option<Pid>,
    deferred: Option<gen_server::From>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Value,
    Defer,
    Crash,
    StopWith(String),
    Sleep(u64),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Bump(i64),
    Release,
}

/// How init should behave.
enum Start {
    Ok(i64, Option<Pid>),
    Stop(Term),
    Ignore,
    Panic,
    TrapExits(Pid),
    Continue(i64),
    Slow,
}

impl GenServer for Counter {
    type Arg = Start;
    type Call = Call;
    type Reply = i64;
    type Cast = Cast;
    type Continue = i64;

    async fn init(arg: Start, ctx: &mut Process) -> Init<Self> {
        let new = |count, observer| Counter {
            count,
            observer,
            deferred: None,
        };
        match arg {
            Start::Ok(n, observer) => Init::Ok(new(n, observer)),
            Start::Stop(r) => Init::Stop(r),
            Start::Ignore => Init::Ignore,
            Start::Panic => panic!("init exploded"),
            Start::TrapExits(observer) => {
                ctx.trap_exit(true);
                Init::Ok(new(0, Some(observer)))
            }
            Start::Continue(n) => Init::Continue(new(0, None), n),
            Start::Slow => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Init::Ok(new(0, None))
            }
        }
    }

    async fn handle_call(
        &mut self,
        req: Call,
        from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        match req {
            Call::Value => CallResult::Reply(self.count),
            Call::Defer => {
                self.deferred = Some(from);
                CallResult::NoReply
            }
            Call::Crash => panic!("asked to crash"),
            Call::StopWith(r) => CallResult::Stop {
                reason: Term::atom(&r),
                reply: Some(self.count),
            },
            Call::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallResult::Reply(self.count)
            }
        }
    }

    async fn handle_cast(&mut self, msg: Cast, ctx: &mut Process) -> CastResult<Self> {
        match msg {
            Cast::Bump(n) => self.count += n,
            Cast::Release => {
                if let Some(from) = self.deferred.take() {
                    gen_server::reply(ctx, &from, self.count + 1000).unwrap();
                }
            }
        }
        CastResult::NoReply
    }

    async fn handle_continue(&mut self, n: i64, _ctx: &mut Process) -> CastResult<Self> {
        self.count = n * 2;
        CastResult::NoReply
    }

    async fn terminate(&mut self, reason: &Term, ctx: &mut Process) {
        if let Some(o) = self.observer {
            ctx.send(&o, Term::tuple(vec![a("terminated"), reason.clone()]));
        }
    }

    fn state_term(&self) -> Term {
        Term::Int(self.count)
    }
}

const T: Duration = Duration::from_secs(10);

async fn start_counter(ctx: &mut Process, n: i64) -> GenServerRef<Counter> {
    let me = ctx.pid();
    gen_server::start_link::<Counter>(ctx, Start::Ok(n, Some(me)), Opts::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_returns_reply_and_cast_updates_state() {
    Node::local()
        .run(|mut ctx| async move {
            let c = start_counter(&mut ctx, 5).await;
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(5));
            c.cast(&ctx, Cast::Bump(3)).unwrap();
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(8));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_reply_with_noreply() {
    Node::local()
        .run(|mut ctx| async move {
            let c = start_counter(&mut ctx, 1).await;
            let (caller, r) = ctx.spawn_monitor(move |mut cc| async move {
                let v = c.call(&mut cc, Call::Defer, T).await;
                if v == Ok(1001) {
                    Ok(())
                } else {
                    Err(Term::atom("wrong_reply"))
                }
            });
            // The server is free while the call waits.
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(1));
            c.cast(&ctx, Cast::Release).unwrap();
            assert_eq!(
                recv(&mut ctx).await,
                down_msg(r, Term::Pid(caller), a("normal"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_runs_terminate_and_exits_with_reason() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let c = start_counter(&mut ctx, 1).await;
            c.stop(&mut ctx, a("shutdown"), T).await.unwrap();
            assert_eq!(
                recv(&mut ctx).await,
                Term::tuple(vec![a("terminated"), a("shutdown")])
            );
            assert_eq!(recv(&mut ctx).await, exit_msg(c.pid(), a("shutdown")));
            assert!(!ctx.node().is_alive(&c.pid()));
            // A call-initiated stop: terminate runs, the caller gets its reply.
            let c2 = start_counter(&mut ctx, 42).await;
            assert_eq!(
                c2.call(&mut ctx, Call::StopWith("normal".into()), T).await,
                Ok(42)
            );
            assert_eq!(
                recv(&mut ctx).await,
                Term::tuple(vec![a("terminated"), a("normal")])
            );
            assert_eq!(recv(&mut ctx).await, exit_msg(c2.pid(), a("normal")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_stop_returns_error_and_exits_with_reason() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let r = gen_server::start_link::<Counter>(
                &mut ctx,
                Start::Stop(a("no_way")),
                Opts::default(),
            )
            .await;
            assert_eq!(r, Err(StartError::Stop(a("no_way"))));
            let exit = recv(&mut ctx).await;
            assert_eq!(exit.as_tuple().unwrap()[2], a("no_way"));
            // A non-trapping caller is killed by the abnormal exit, as in OTP 25.
            let (p, _) = ctx.spawn_monitor(|mut c| async move {
                let _ = gen_server::start_link::<Counter>(
                    &mut c,
                    Start::Stop(a("no_way")),
                    Opts::default(),
                )
                .await;
                c.receive().await;
            });
            assert_eq!(wait_exit(&mut ctx, &p).await, a("no_way"));
            // A panicking init is an error too.
            let r = gen_server::start::<Counter>(&mut ctx, Start::Panic, Opts::default()).await;
            match r {
                Err(StartError::Stop(reason)) => {
                    assert!(reason.as_tuple().unwrap()[0].is_atom("panic"))
                }
                other => panic!("{other:?}"),
            }
            let r = gen_server::start::<Counter>(&mut ctx, Start::Ignore, Opts::default()).await;
            assert_eq!(r, Err(StartError::Ignore));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_continue_runs_before_first_message() {
    Node::local()
        .run(|mut ctx| async move {
            let c =
                gen_server::start_link::<Counter>(&mut ctx, Start::Continue(21), Opts::default())
                    .await
                    .unwrap();
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(42));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_server_and_already_started() {
    Node::local()
        .run(|mut ctx| async move {
            let name = Atom::new("the_counter");
            let me = ctx.pid();
            let c = gen_server::start_link::<Counter>(
                &mut ctx,
                Start::Ok(7, Some(me)),
                Opts::named(name),
            )
            .await
            .unwrap();
            assert_eq!(ctx.whereis(name), Some(c.pid()));
            assert_eq!(GenServerRef::<Counter>::whereis(ctx.node(), name), Some(c));
            let again =
                gen_server::start::<Counter>(&mut ctx, Start::Ok(0, None), Opts::named(name)).await;
            assert_eq!(again, Err(StartError::AlreadyStarted(c.pid())));
            assert_eq!(
                gen_server::call_term(&mut ctx, name, a("value"), T).await,
                Ok(Term::Int(7))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_dead_server_exits_caller() {
    Node::local()
        .run(|mut ctx| async move {
            let dead = ctx.spawn(|_| async {});
            let _ = wait_exit(&mut ctx, &dead).await;
            let r = GenServerRef::<Counter>::from_pid(dead)
                .call(&mut ctx, Call::Value, T)
                .await;
            assert_eq!(r, Err(CallError::Exit(a("noproc"))));
            // A caller that lets it crash exits with {noproc, {gen_server, call}}.
            let (p, _) = ctx.spawn_monitor(move |mut c| async move {
                GenServerRef::<Counter>::from_pid(dead)
                    .call(&mut c, Call::Value, T)
                    .await?;
                Ok::<(), CallError>(())
            });
            assert_eq!(
                wait_exit(&mut ctx, &p).await,
                Term::tuple(vec![
                    a("noproc"),
                    Term::tuple(vec![a("gen_server"), a("call")])
                ])
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dying_mid_call_exits_caller_with_its_reason() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let c = start_counter(&mut ctx, 0).await;
            match c.call(&mut ctx, Call::Crash, T).await {
                Err(CallError::Exit(reason)) => {
                    let t = reason.as_tuple().unwrap();
                    assert!(t[0].is_atom("panic"));
                    assert_eq!(t[1], Term::binary(b"asked to crash".to_vec()));
                }
                other => panic!("{other:?}"),
            }
            // terminate ran with the panic reason
            let term = recv(&mut ctx).await;
            assert!(term.as_tuple().unwrap()[0].is_atom("terminated"));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout() {
    Node::local()
        .run(|mut ctx| async move {
            let c = start_counter(&mut ctx, 3).await;
            let r = c
                .call(&mut ctx, Call::Sleep(500), Duration::from_millis(50))
                .await;
            assert_eq!(r, Err(CallError::Timeout));
            // The late reply is not left in the caller's mailbox to confuse the next call.
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(3));
            let term = gen_server::call_term(
                &mut ctx,
                c.pid(),
                Term::tuple(vec![a("sleep"), Term::Int(500)]),
                Duration::from_millis(50),
            )
            .await;
            assert_eq!(term, Err(CallError::Timeout));
            // Both late replies are dropped on arrival (as OTP 24+'s call
            // aliases drop them): once the server has answered them, the
            // caller's mailbox holds nothing.
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(3));
            assert!(quiet(&mut ctx, Duration::from_millis(100)).await.is_empty());
            assert_eq!(ctx.message_queue_len(), 0);
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_call_wire_shape_with_ref_and_alias_tags() {
    Node::local()
        .run(|mut ctx| async move {
            let c = start_counter(&mut ctx, 5).await;
            let me = ctx.pid();
            // {'$gen_call', {Self, Ref}, value} -> {Ref, 5}
            let r = Term::Reference(ctx.make_ref());
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    a("$gen_call"),
                    Term::tuple(vec![Term::Pid(me), r.clone()]),
                    a("value"),
                ]),
            );
            assert_eq!(recv(&mut ctx).await, Term::tuple(vec![r, Term::Int(5)]));
            // OTP 24+: Tag = [alias|Ref] -> {[alias|Ref], 5}, sent to the
            // alias (which must be active: see tests/alias.rs).
            let active = ctx.alias();
            let alias = Term::ImproperList(vec![a("alias")], Box::new(Term::Reference(active)));
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    a("$gen_call"),
                    Term::tuple(vec![Term::Pid(me), alias.clone()]),
                    a("value"),
                ]),
            );
            assert_eq!(recv(&mut ctx).await, Term::tuple(vec![alias, Term::Int(5)]));
            // {'$gen_cast', {bump, 2}}
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    a("$gen_cast"),
                    Term::tuple(vec![a("bump"), Term::Int(2)]),
                ]),
            );
            assert_eq!(
                gen_server::call_term(&mut ctx, c.pid(), a("value"), T).await,
                Ok(Term::Int(7))
            );
            gen_server::cast_term(&ctx, c.pid(), Term::tuple(vec![a("bump"), Term::Int(1)]));
            assert_eq!(
                gen_server::call_term(&mut ctx, c.pid(), a("value"), T).await,
                Ok(Term::Int(8))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_call_crashes_server_with_bad_call() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let c = start_counter(&mut ctx, 0).await;
            let r = gen_server::call_term(&mut ctx, c.pid(), a("what_is_this"), T).await;
            let want = Term::tuple(vec![a("bad_call"), a("what_is_this")]);
            assert_eq!(r, Err(CallError::Exit(want.clone())));
            assert_eq!(
                recv(&mut ctx).await,
                Term::tuple(vec![a("terminated"), want.clone()])
            );
            assert_eq!(recv(&mut ctx).await, exit_msg(c.pid(), want));
            let c = start_counter(&mut ctx, 0).await;
            gen_server::cast_term(&ctx, c.pid(), Term::Int(17));
            let want = Term::tuple(vec![a("bad_cast"), Term::Int(17)]);
            assert_eq!(
                recv(&mut ctx).await,
                Term::tuple(vec![a("terminated"), want.clone()])
            );
            assert_eq!(recv(&mut ctx).await, exit_msg(c.pid(), want));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_exit_runs_terminate_only_when_trapping() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            // Trapping server: the parent's shutdown runs terminate.
            let (parent, _) = ctx.spawn_monitor(move |mut p| async move {
                let c = gen_server::start_link::<Counter>(
                    &mut p,
                    Start::TrapExits(me),
                    Opts::default(),
                )
                .await
                .unwrap();
                p.send(&me, Term::Pid(c.pid()));
                p.receive().await;
                Err::<(), _>(a("shutdown"))
            });
            let server = recv(&mut ctx).await.as_pid().unwrap();
            let r = ctx.monitor(&server);
            ctx.send(&parent, a("go"));
            let got = ctx
                .receive_match(|m| m.is_tagged("terminated"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                got.into_term().unwrap(),
                Term::tuple(vec![a("terminated"), a("shutdown")])
            );
            let down = ctx
                .receive_match(
                    |m| {
                        m.is_tagged("DOWN")
                            && m.as_term().unwrap().as_tuple().unwrap()[1]
                                == Term::Reference(r.clone())
                    },
                    Some(WAIT),
                )
                .await;
            assert_eq!(
                down.unwrap().into_term().unwrap(),
                down_msg(r, Term::Pid(server), a("shutdown"))
            );
            // Non-trapping server: killed at once, no terminate.
            let (parent, _) = ctx.spawn_monitor(move |mut p| async move {
                let c = gen_server::start_link::<Counter>(
                    &mut p,
                    Start::Ok(0, Some(me)),
                    Opts::default(),
                )
                .await
                .unwrap();
                p.send(&me, Term::Pid(c.pid()));
                p.receive().await;
                Err::<(), _>(a("shutdown"))
            });
            let server = ctx
                .receive_match(
                    |m| m.as_term().is_some_and(|t| t.as_pid().is_some()),
                    Some(WAIT),
                )
                .await
                .unwrap()
                .into_term()
                .unwrap()
                .as_pid()
                .unwrap();
            let r = ctx.monitor(&server);
            ctx.send(&parent, a("go"));
            let down = ctx
                .receive_match(
                    |m| {
                        m.is_tagged("DOWN")
                            && m.as_term().unwrap().as_tuple().unwrap()[1]
                                == Term::Reference(r.clone())
                    },
                    Some(WAIT),
                )
                .await;
            assert_eq!(
                down.unwrap().into_term().unwrap(),
                down_msg(r, Term::Pid(server), a("shutdown"))
            );
            let rest = quiet(&mut ctx, Duration::from_millis(200)).await;
            assert!(
                !rest
                    .iter()
                    .any(|t| t.as_tuple().is_some_and(|x| x[0].is_atom("terminated"))),
                "{rest:?}"
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_timeout_kills_server_and_spares_caller() {
    Node::local()
        .run(|mut ctx| async move {
            let opts = Opts {
                name: Some(Atom::new("slowpoke")),
                timeout: Some(Duration::from_millis(50)),
            };
            let r = gen_server::start_link::<Counter>(&mut ctx, Start::Slow, opts).await;
            assert_eq!(r, Err(StartError::Timeout));
            // The caller (not trapping exits) is alive and unlinked; the server is gone.
            assert!(ctx.links().is_empty());
            let me = ctx.pid();
            ctx.send(&me, a("still_alive"));
            assert_eq!(recv(&mut ctx).await, a("still_alive"));
        })
        .await
        .unwrap();
}

/// A server whose every reply is its init argument (an `i64` that arrives
/// as a term, a float).
struct Echo<T>(T);

impl<T> GenServer for Echo<T>
where
    T: Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Arg = T;
    type Call = Call;
    type Reply = T;
    type Cast = Cast;
    type Continue = ();
    async fn init(x: T, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Echo(x))
    }
    async fn handle_call(
        &mut self,
        _req: Call,
        _from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_with_term_argument_decodes_it() {
    Node::local()
        .run(|mut ctx| async move {
            let e =
                gen_server::start_link_term::<Echo<i64>>(&mut ctx, &Term::Int(9), Opts::default())
                    .await
                    .unwrap();
            assert_eq!(e.call(&mut ctx, Call::Value, T).await, Ok(9));
            let bad =
                gen_server::start_link_term::<Echo<i64>>(&mut ctx, &a("nine"), Opts::default())
                    .await;
            assert_eq!(
                bad,
                Err(StartError::Stop(Term::tuple(vec![a("badarg"), a("nine")])))
            );
        })
        .await
        .unwrap();
}

/// Records what the runtime hands to a (pretend) remote node.
#[derive(Default)]
struct Recorder(parking_lot::Mutex<Vec<ferrotp::Signal>>);

impl ferrotp::Transport for Recorder {
    fn deliver(&self, signal: ferrotp::Signal) {
        self.0.lock().push(signal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_link_for_remote_parent_links_and_obeys_its_exit() {
    let node = Node::new(Atom::new("rust@host"), 1);
    let rec = std::sync::Arc::new(Recorder::default());
    node.set_transport(Atom::new("beam@host"), rec.clone());
    let far = Pid {
        node: Atom::new("beam@host"),
        id: 77,
        serial: 0,
        creation: 3,
    };
    let n = node.clone();
    node.run(move |mut ctx| async move {
        let me = ctx.pid();
        let server = gen_server::start_link_for::<Counter>(&n, far, Start::TrapExits(me), Opts::default()).await.unwrap();
        assert!(rec.0.lock().iter().any(|s| matches!(s, ferrotp::Signal::Link { from, to } if *from == server.pid() && *to == far)));
        let r = ctx.monitor(&server.pid());
        // The remote parent goes down with `shutdown`: terminate runs, the server exits.
        n.deliver(ferrotp::Signal::Exit { from: far, to: server.pid(), reason: a("shutdown") });
        assert_eq!(recv(&mut ctx).await, Term::tuple(vec![a("terminated"), a("shutdown")]));
        assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(server.pid()), a("shutdown")));
    })
    .await
    .unwrap();
}

/// A reply that cannot become a term (a NaN: Erlang floats have none)
/// ends the server with `{bad_reply, Why}`, and the caller's call with
/// it; the request was fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_is_no_term_ends_the_server_with_bad_reply() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let f = gen_server::start_link::<Echo<f64>>(&mut ctx, f64::NAN, Opts::default())
                .await
                .unwrap();
            let r = gen_server::call_term(&mut ctx, f.pid(), a("value"), T).await;
            let Err(CallError::Exit(reason)) = r else {
                panic!("the call fails: {r:?}");
            };
            assert!(
                matches!(reason.as_tuple(), Some([tag, Term::Binary(_)]) if tag.is_atom("bad_reply")),
                "{reason}"
            );
            assert_eq!(recv(&mut ctx).await, exit_msg(f.pid(), reason));
        })
        .await
        .unwrap();
}
