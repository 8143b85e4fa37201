//! The supervisor, one test per documented behaviour (OTP's supervisor
//! docs and supervisor_SUITE as the checklist).

mod common;

use std::time::{Duration, Instant};

use common::*;
use etf::{Atom, Pid, Term};
use ferrotp::supervisor::{
    self, AutoShutdown, ChildSpec, ChildType, Restart, Shutdown, Start, Strategy, SupFlags,
    SupOpts, SupervisorError,
};
use ferrotp::{Node, Process};

fn a(s: &str) -> Term {
    Term::atom(s)
}

fn t(text: &str) -> Term {
    etf::parse(text).expect("test term parses")
}

/// How a test worker behaves when asked to stop.
#[derive(Clone, Copy)]
enum OnShutdown {
    /// Does not trap exits: dies at once.
    Die,
    /// Traps exits and ignores `shutdown` (only `kill` ends it).
    Ignore,
    /// Traps exits and takes this long to exit `shutdown`.
    Slow(Duration),
}

/// A worker that tells `tester` `{started, Id, Pid}` and dies with the
/// reason of a `{crash, Reason}` message.
fn worker(id: &'static str, tester: Pid, on_shutdown: OnShutdown) -> ChildSpec {
    ChildSpec::worker(id, worker_start(id, tester, on_shutdown))
}

fn worker_start(id: &'static str, tester: Pid, on_shutdown: OnShutdown) -> Start {
    Start::process(move |mut ctx: Process, mut init| async move {
        if !matches!(on_shutdown, OnShutdown::Die) {
            ctx.trap_exit(true);
        }
        ctx.send(
            &tester,
            Term::tuple(vec![a("started"), a(id), Term::Pid(ctx.pid())]),
        );
        init.ok();
        loop {
            let m = ctx.receive().await.into_term().unwrap_or_else(|_| a("?"));
            match m.as_tuple() {
                Some([tag, reason]) if tag.is_atom("crash") => {
                    return Err::<(), Term>(reason.clone())
                }
                Some([tag, _, reason]) if tag.is_atom("EXIT") && reason.is_atom("shutdown") => {
                    match on_shutdown {
                        OnShutdown::Ignore => continue,
                        OnShutdown::Slow(d) => {
                            tokio::time::sleep(d).await;
                            return Err(a("shutdown"));
                        }
                        OnShutdown::Die => return Err(a("shutdown")),
                    }
                }
                _ => {}
            }
        }
    })
}

/// Waits for `{started, Id, Pid}`; returns (Id, Pid).
async fn started(ctx: &mut Process) -> (String, Pid) {
    let m = ctx
        .receive_match(|m| m.is_tagged("started"), Some(WAIT))
        .await
        .expect("a child started");
    let t = m.into_term().unwrap_or_else(|_| panic!("term"));
    match t.as_tuple() {
        Some([_, Term::Atom(id), Term::Pid(p)]) => (id.as_str().to_owned(), *p),
        _ => panic!("bad started message {t}"),
    }
}

/// Nothing more starts for a while.
async fn no_more_starts(ctx: &mut Process) {
    let m = ctx
        .receive_match(|m| m.is_tagged("started"), Some(Duration::from_millis(300)))
        .await;
    assert!(m.is_none(), "unexpected start: {m:?}");
}

fn crash(ctx: &Process, pid: &Pid, reason: Term) {
    ctx.send(pid, Term::tuple(vec![a("crash"), reason]));
}

async fn start_sup(ctx: &mut Process, flags: SupFlags, specs: Vec<ChildSpec>) -> Pid {
    supervisor::start_link(ctx, flags, specs, SupOpts::default())
        .await
        .expect("supervisor starts")
}

/// Monitors every pid; returns them in the order their DOWNs arrive.
async fn down_order(ctx: &mut Process, pids: &[Pid]) -> Vec<Pid> {
    let refs: Vec<_> = pids.iter().map(|p| (ctx.monitor(p), *p)).collect();
    let mut order = Vec::new();
    for _ in 0..refs.len() {
        let m = ctx
            .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
            .await
            .expect("DOWN");
        let t = m.into_term().unwrap_or_else(|_| panic!("term"));
        let r = t.as_tuple().map(|x| x[1].clone()).unwrap_or_else(Term::nil);
        if let Some((_, p)) = refs.iter().find(|(mr, _)| Term::Reference(mr.clone()) == r) {
            order.push(*p);
        }
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_child_always_restarted() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one().intensity(10),
                vec![worker("w", me, OnShutdown::Die)],
            )
            .await;
            let (_, p1) = started(&mut ctx).await;
            crash(&ctx, &p1, a("boom"));
            let (_, p2) = started(&mut ctx).await;
            assert_ne!(p1, p2);
            // even a normal exit restarts a permanent child
            crash(&ctx, &p2, a("normal"));
            let (_, p3) = started(&mut ctx).await;
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids[0].pid(), Some(p3));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_child_restarted_only_on_abnormal_exit() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let spec = worker("w", me, OnShutdown::Die).restart(Restart::Transient);
            let sup = start_sup(&mut ctx, SupFlags::one_for_one().intensity(10), vec![spec]).await;
            let (_, p1) = started(&mut ctx).await;
            crash(&ctx, &p1, a("boom"));
            let (_, p2) = started(&mut ctx).await;
            crash(&ctx, &p2, t("{shutdown, done}"));
            no_more_starts(&mut ctx).await;
            // the spec stays, without a process
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids.len(), 1);
            assert_eq!(kids[0].child, a("undefined"));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_child_is_never_restarted() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let spec = worker("w", me, OnShutdown::Die).restart(Restart::Temporary);
            let sup = start_sup(&mut ctx, SupFlags::one_for_one().intensity(10), vec![spec]).await;
            let (_, p1) = started(&mut ctx).await;
            crash(&ctx, &p1, a("boom"));
            no_more_starts(&mut ctx).await;
            // and its spec is gone
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert!(kids.is_empty());
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_restarts_all() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Die),
                worker("b", me, OnShutdown::Die),
                worker("c", me, OnShutdown::Die),
            ];
            start_sup(
                &mut ctx,
                SupFlags::new(Strategy::OneForAll).intensity(10),
                specs,
            )
            .await;
            let (_, _pa) = started(&mut ctx).await;
            let (_, pb) = started(&mut ctx).await;
            let (_, pc) = started(&mut ctx).await;
            let rc = ctx.monitor(&pc);
            crash(&ctx, &pb, a("boom"));
            let mut order = Vec::new();
            for _ in 0..3 {
                order.push(started(&mut ctx).await.0);
            }
            assert_eq!(order, ["a", "b", "c"]);
            // the healthy sibling was shut down, not crashed
            let down = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                down.into_term().unwrap(),
                down_msg(rc, Term::Pid(pc), a("shutdown"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_later_siblings() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Die),
                worker("b", me, OnShutdown::Die),
                worker("c", me, OnShutdown::Die),
            ];
            let sup = start_sup(
                &mut ctx,
                SupFlags::new(Strategy::RestForOne).intensity(10),
                specs,
            )
            .await;
            let (_, pa) = started(&mut ctx).await;
            let (_, pb) = started(&mut ctx).await;
            let (_, _pc) = started(&mut ctx).await;
            crash(&ctx, &pb, a("boom"));
            assert_eq!(started(&mut ctx).await.0, "b");
            assert_eq!(started(&mut ctx).await.0, "c");
            no_more_starts(&mut ctx).await;
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            let a_now = kids.iter().find(|k| k.id == a("a")).and_then(|k| k.pid());
            assert_eq!(a_now, Some(pa));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_stop_in_reverse_order() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true); // the supervisor is linked and will exit `shutdown`
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Slow(Duration::from_millis(20))),
                worker("b", me, OnShutdown::Slow(Duration::from_millis(20))),
                worker("c", me, OnShutdown::Slow(Duration::from_millis(20))),
            ];
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), specs).await;
            let pa = started(&mut ctx).await.1;
            let pb = started(&mut ctx).await.1;
            let pc = started(&mut ctx).await.1;
            let stopper = ctx.spawn(move |mut c| async move {
                let _ = supervisor::stop(&mut c, sup, a("shutdown")).await;
            });
            let _ = stopper;
            let order = down_order(&mut ctx, &[pa, pb, pc]).await;
            assert_eq!(order, vec![pc, pb, pa]);
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_then_kill() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let spec = worker("stubborn", me, OnShutdown::Ignore).shutdown(Shutdown::Timeout(300));
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![spec]).await;
            let p = started(&mut ctx).await.1;
            let r = ctx.monitor(&p);
            let t0 = Instant::now();
            supervisor::terminate_child(&mut ctx, sup, a("stubborn"))
                .await
                .unwrap();
            assert!(
                t0.elapsed() >= Duration::from_millis(300),
                "killed too early"
            );
            let down = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                down.into_term().unwrap(),
                down_msg(r, Term::Pid(p), a("killed"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brutal_kill() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            // traps exits and would ignore `shutdown`: brutal_kill does not ask
            let spec = worker("w", me, OnShutdown::Ignore).shutdown(Shutdown::BrutalKill);
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![spec]).await;
            let p = started(&mut ctx).await.1;
            let r = ctx.monitor(&p);
            let t0 = Instant::now();
            supervisor::terminate_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            assert!(t0.elapsed() < Duration::from_secs(4));
            let down = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                down.into_term().unwrap(),
                down_msg(r, Term::Pid(p), a("killed"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinity_shutdown() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let spec = worker("slow", me, OnShutdown::Slow(Duration::from_millis(700)))
                .shutdown(Shutdown::Infinity);
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![spec]).await;
            let p = started(&mut ctx).await.1;
            let r = ctx.monitor(&p);
            let t0 = Instant::now();
            supervisor::terminate_child(&mut ctx, sup, a("slow"))
                .await
                .unwrap();
            assert!(t0.elapsed() >= Duration::from_millis(700));
            // it was allowed to finish: exited `shutdown`, not `killed`
            let down = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                down.into_term().unwrap(),
                down_msg(r, Term::Pid(p), a("shutdown"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intensity_exceeded_escalates_with_shutdown() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Die),
                worker("b", me, OnShutdown::Die),
            ];
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one().intensity(2).period(10),
                specs,
            )
            .await;
            let pa = started(&mut ctx).await.1;
            let _pb = started(&mut ctx).await.1;
            crash(&ctx, &pa, a("boom"));
            let pa = started(&mut ctx).await.1;
            crash(&ctx, &pa, a("boom"));
            let pa = started(&mut ctx).await.1;
            // third restart within the period: more than intensity 2
            crash(&ctx, &pa, a("boom"));
            let exit = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(exit.into_term().unwrap(), exit_msg(sup, a("shutdown")));
            no_more_starts(&mut ctx).await;
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intensity_zero_means_no_restart_at_all() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.pid();
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one().intensity(0),
                vec![worker("a", me, OnShutdown::Die)],
            )
            .await;
            let pa = started(&mut ctx).await.1;
            crash(&ctx, &pa, a("boom"));
            let exit = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(exit.into_term().unwrap(), exit_msg(sup, a("shutdown")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_child_already_present_and_already_started() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![]).await;
            let p = supervisor::start_child(&mut ctx, sup, worker("w", me, OnShutdown::Die))
                .await
                .unwrap()
                .unwrap();
            let again =
                supervisor::start_child(&mut ctx, sup, worker("w", me, OnShutdown::Die)).await;
            assert_eq!(
                again,
                Err(SupervisorError::Error(Term::tuple(vec![
                    a("already_started"),
                    Term::Pid(p)
                ])))
            );
            supervisor::terminate_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            let again =
                supervisor::start_child(&mut ctx, sup, worker("w", me, OnShutdown::Die)).await;
            assert_eq!(again, Err(SupervisorError::Error(a("already_present"))));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_child_running_restarting_not_found() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one(),
                vec![worker("w", me, OnShutdown::Die)],
            )
            .await;
            started(&mut ctx).await;
            let r = supervisor::restart_child(&mut ctx, sup, a("w")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("running"))));
            let r = supervisor::restart_child(&mut ctx, sup, a("nope")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("not_found"))));
            supervisor::terminate_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            let p = supervisor::restart_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            assert_eq!(p, Some(started(&mut ctx).await.1));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_child_running_then_ok_then_not_found() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one(),
                vec![worker("w", me, OnShutdown::Die)],
            )
            .await;
            started(&mut ctx).await;
            let r = supervisor::delete_child(&mut ctx, sup, a("w")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("running"))));
            supervisor::terminate_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            supervisor::delete_child(&mut ctx, sup, a("w"))
                .await
                .unwrap();
            let r = supervisor::delete_child(&mut ctx, sup, a("w")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("not_found"))));
            let r = supervisor::terminate_child(&mut ctx, sup, a("w")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("not_found"))));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn which_children_and_count_children_shapes() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let inner = ChildSpec::supervisor(
                "inner",
                Start::mfa("supervisor", "start_link", vec![t("#{}"), t("[]")]),
            );
            let counter = ChildSpec::worker(
                "counter",
                Start::mfa("counter", "start_link", vec![Term::Int(0)]),
            );
            let specs = vec![worker("w", me, OnShutdown::Die), inner, counter];
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), specs).await;
            let w = started(&mut ctx).await.1;
            supervisor::terminate_child(&mut ctx, sup, a("counter"))
                .await
                .unwrap();
            // raw wire reply, newest first, as OTP lists them
            let reply = ferrotp::call::call(&mut ctx, sup, a("which_children"), Some(WAIT))
                .await
                .unwrap();
            let Term::List(items) = reply else {
                panic!("list")
            };
            assert_eq!(items.len(), 3);
            assert_eq!(items[0], t("{counter, undefined, worker, [counter]}"));
            match items[1].as_tuple() {
                Some([id, Term::Pid(_), ty, mods]) => {
                    assert_eq!(
                        (id, ty, mods),
                        (&a("inner"), &a("supervisor"), &t("[supervisor]"))
                    );
                }
                _ => panic!("inner: {}", items[1]),
            }
            // A closure's modules are those of its start as shown,
            // {ferrotp, rust_fun, []}: [M] of the MFA, as OTP's default.
            assert_eq!(
                items[2],
                Term::tuple(vec![a("w"), Term::Pid(w), a("worker"), t("[ferrotp]")])
            );
            let counts = ferrotp::call::call(&mut ctx, sup, a("count_children"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                counts,
                t("[{specs,3},{active,2},{supervisors,1},{workers,2}]")
            );
            let typed = supervisor::count_children(&mut ctx, sup).await.unwrap();
            assert_eq!(
                (typed.specs, typed.active, typed.supervisors, typed.workers),
                (3, 2, 1, 2)
            );
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids[1].child_type, ChildType::Supervisor);
            let spec = supervisor::get_childspec(&mut ctx, sup, a("counter"))
                .await
                .unwrap();
            assert_eq!(
                spec,
                t(
                    "#{id => counter, start => {counter, start_link, [0]}, restart => permanent, \
                   significant => false, shutdown => 5000, type => worker, modules => [counter]}"
                )
            );
            let r = supervisor::get_childspec(&mut ctx, sup, a("nope")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("not_found"))));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_one_for_one_dynamic_children() {
    Node::local()
        .run(|mut ctx| async move {
            let template = ChildSpec::worker("ctr", Start::mfa("counter", "start_link", vec![]));
            let sup = start_sup(
                &mut ctx,
                SupFlags::new(Strategy::SimpleOneForOne).intensity(5),
                vec![template],
            )
            .await;
            assert!(supervisor::which_children(&mut ctx, sup)
                .await
                .unwrap()
                .is_empty());
            let c1 = supervisor::start_dynamic_child(&mut ctx, sup, vec![Term::Int(10)])
                .await
                .unwrap()
                .unwrap();
            let c2 = supervisor::start_dynamic_child(&mut ctx, sup, vec![Term::Int(20)])
                .await
                .unwrap()
                .unwrap();
            let v = ferrotp::counter::Counter::at(c2)
                .value(&mut ctx)
                .await
                .unwrap();
            assert_eq!(v, 20.into());
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids.len(), 2);
            assert!(kids.iter().all(|k| k.id == a("undefined")));
            let counts = supervisor::count_children(&mut ctx, sup).await.unwrap();
            assert_eq!((counts.specs, counts.active, counts.workers), (1, 2, 2));
            // a crashed dynamic child is restarted with its own arguments
            let r = ctx.monitor(&c1);
            ferrotp::call::cast(&ctx, c1, a("bad"));
            let _ = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            let _ = r;
            let kids = loop {
                let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
                if kids.len() == 2 && kids.iter().all(|k| k.pid() != Some(c1)) {
                    break kids;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let new = kids
                .iter()
                .filter_map(|k| k.pid())
                .find(|p| *p != c2)
                .unwrap();
            assert_eq!(
                ferrotp::counter::Counter::at(new)
                    .value(&mut ctx)
                    .await
                    .unwrap(),
                10.into()
            );
            // terminate_child by pid; by id is an error
            supervisor::terminate_child(&mut ctx, sup, Term::Pid(c2))
                .await
                .unwrap();
            let r = supervisor::terminate_child(&mut ctx, sup, a("ctr")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("simple_one_for_one"))));
            let r = supervisor::restart_child(&mut ctx, sup, a("ctr")).await;
            assert_eq!(r, Err(SupervisorError::Error(a("simple_one_for_one"))));
            assert_eq!(
                supervisor::which_children(&mut ctx, sup)
                    .await
                    .unwrap()
                    .len(),
                1
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn significant_child_auto_shutdown_any() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Die)
                    .restart(Restart::Transient)
                    .significant(true),
                worker("b", me, OnShutdown::Die)
                    .restart(Restart::Transient)
                    .significant(true),
            ];
            let flags = SupFlags::one_for_one().auto_shutdown(AutoShutdown::AnySignificant);
            let sup = start_sup(&mut ctx, flags, specs).await;
            let pa = started(&mut ctx).await.1;
            let _pb = started(&mut ctx).await.1;
            crash(&ctx, &pa, a("normal"));
            let exit = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(exit.into_term().unwrap(), exit_msg(sup, a("shutdown")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn significant_child_auto_shutdown_all() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.pid();
            let specs = vec![
                worker("a", me, OnShutdown::Die)
                    .restart(Restart::Temporary)
                    .significant(true),
                worker("b", me, OnShutdown::Die)
                    .restart(Restart::Temporary)
                    .significant(true),
                worker("c", me, OnShutdown::Die),
            ];
            let flags = SupFlags::one_for_one().auto_shutdown(AutoShutdown::AllSignificant);
            let sup = start_sup(&mut ctx, flags, specs).await;
            let pa = started(&mut ctx).await.1;
            let pb = started(&mut ctx).await.1;
            let _pc = started(&mut ctx).await.1;
            crash(&ctx, &pa, a("boom"));
            // one significant child is left: the supervisor carries on
            let r = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(Duration::from_millis(300)))
                .await;
            assert!(r.is_none());
            assert_eq!(
                supervisor::count_children(&mut ctx, sup)
                    .await
                    .unwrap()
                    .specs,
                2
            );
            crash(&ctx, &pb, a("normal"));
            let exit = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(exit.into_term().unwrap(), exit_msg(sup, a("shutdown")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_child_spec_is_error() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![]).await;
            let cases = [
                ("not_a_spec", "{error, {invalid_child_spec, not_a_spec}}"),
                ("#{start => {counter, start_link, [0]}}", "{error, missing_id}"),
                ("#{id => x}", "{error, missing_start}"),
                ("#{id => x, start => {counter, start_link, 0}}", "{error, {invalid_mfa, {counter, start_link, 0}}}"),
                ("#{id => x, start => {counter, start_link, [0]}, restart => sometimes}", "{error, {invalid_restart_type, sometimes}}"),
                ("#{id => x, start => {counter, start_link, [0]}, shutdown => -1}", "{error, {invalid_shutdown, -1}}"),
                ("#{id => x, start => {counter, start_link, [0]}, type => boss}", "{error, {invalid_child_type, boss}}"),
                ("#{id => x, start => {counter, start_link, [0]}, modules => [1]}", "{error, {invalid_module, 1}}"),
                ("#{id => x, start => {counter, start_link, [0]}, restart => transient, significant => true}",
                 "{error, {bad_combination, [{auto_shutdown, never}, {significant, true}]}}"),
                ("{x, {counter, start_link, [0]}, permanent, 5000, worker, dynamic, extra}", "{error, {invalid_child_spec, {x, {counter, start_link, [0]}, permanent, 5000, worker, dynamic, extra}}}"),
            ];
            for (spec, expected) in cases {
                let req = Term::tuple(vec![a("start_child"), t(spec)]);
                let reply = ferrotp::call::call(&mut ctx, sup, req, Some(WAIT)).await.unwrap();
                assert_eq!(reply, t(expected), "for {spec}");
            }
            // the old tuple form is accepted
            let req = Term::tuple(vec![a("start_child"), t("{x, {counter, start_link, [0]}, permanent, 5000, worker, dynamic}")]);
            let reply = ferrotp::call::call(&mut ctx, sup, req, Some(WAIT)).await.unwrap();
            assert!(matches!(reply.as_tuple(), Some([ok, Term::Pid(_)]) if ok.is_atom("ok")), "{reply}");
            // ...and the supervisor never crashed
            assert!(ctx.node().is_alive(&sup));
            // invalid flags and specs at start are start errors
            let r = supervisor::start_link_terms(&mut ctx, t("#{strategy => one_for_none}"), t("[]"), SupOpts::default()).await;
            assert_eq!(r, Err(t("{supervisor_data, {invalid_strategy, one_for_none}}")));
            let r = supervisor::start_link_terms(&mut ctx, t("#{}"), t("[#{id => x}]"), SupOpts::default()).await;
            assert_eq!(r, Err(t("{start_spec, missing_start}")));
            let r = supervisor::start_link_terms(
                &mut ctx,
                t("#{}"),
                t("[#{id => x, start => {counter, start_link, [0]}}, #{id => x, start => {counter, start_link, [0]}}]"),
                SupOpts::default(),
            )
            .await;
            assert_eq!(r, Err(t("{start_spec, {duplicate_child_name, x}}")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_to_start_child() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.pid();
            let bad = ChildSpec::worker(
                "bad",
                Start::process(|_ctx, mut init| async move {
                    init.error(Term::atom("no_way"));
                    Err::<(), _>(Term::atom("no_way"))
                }),
            );
            let specs = vec![worker("a", me, OnShutdown::Die), bad, worker("c", me, OnShutdown::Die)];
            let pa_then = async {
                supervisor::start_link(&mut ctx, SupFlags::one_for_one(), specs, SupOpts::default()).await
            };
            let r = pa_then.await;
            assert_eq!(r, Err(t("{shutdown, {failed_to_start_child, bad, no_way}}")));
            // `a` started and was shut down again; `c` never started
            let (id, pa) = started(&mut ctx).await;
            assert_eq!(id, "a");
            assert!(!ctx.node().is_alive(&pa));
            no_more_starts(&mut ctx).await;
            // an unknown module: undef
            let spec = t("[#{id => u, start => {nowhere, start_link, []}}]");
            let r = supervisor::start_link_terms(&mut ctx, t("#{}"), spec, SupOpts::default()).await;
            assert_eq!(
                r,
                Err(t("{shutdown, {failed_to_start_child, u, {'EXIT', {undef, [{nowhere, start_link, [], []}]}}}}"))
            );
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_keeps_the_spec_without_a_process() {
    Node::local()
        .run(|mut ctx| async move {
            let ignoring = || {
                Start::process(|_ctx, mut init| async move {
                    init.ignore();
                })
            };
            let specs = vec![
                ChildSpec::worker("perm", ignoring()),
                ChildSpec::worker("temp", ignoring()).restart(Restart::Temporary),
            ];
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), specs).await;
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids.len(), 1);
            assert_eq!(
                (kids[0].id.clone(), kids[0].child.clone()),
                (a("perm"), a("undefined"))
            );
            let r =
                supervisor::start_child(&mut ctx, sup, ChildSpec::worker("more", ignoring())).await;
            assert_eq!(r, Ok(None));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_behaviour_starts_from_an_mfa_with_named_children() {
    Node::local()
        .run(|mut ctx| async move {
            let flags = t("#{strategy => one_for_one, intensity => 3, period => 10}");
            let specs = t("[#{id => counter, start => {counter, start_link, [7]}, restart => permanent, shutdown => 5000, type => worker}]");
            let sup = ferrotp::behaviours::start_link(&mut ctx, Atom::new("supervisor"), vec![flags, specs])
                .await
                .unwrap();
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            let c = ferrotp::counter::Counter::at(kids[0].pid().unwrap());
            assert_eq!(c.value(&mut ctx).await.unwrap(), 7.into());
            // sys:get_state gives an OTP-like #state{} record
            let r = ctx.make_ref();
            let from = Term::tuple(vec![Term::Pid(ctx.pid()), Term::Reference(r)]);
            ctx.send(&sup, Term::tuple(vec![a("system"), from, a("get_state")]));
            let reply = recv(&mut ctx).await;
            let state = reply.as_tuple().map(|x| x[1].clone()).unwrap();
            let fields = state.as_tuple().unwrap();
            assert_eq!(fields[0], a("state"));
            assert_eq!(fields[2], a("one_for_one"));
            assert_eq!((fields[5].clone(), fields[6].clone()), (Term::Int(3), Term::Int(10)));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_exit_stops_the_supervisor_and_its_children() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let (parent, _) = ctx.spawn_monitor(move |mut p| async move {
                let sup = supervisor::start_link(
                    &mut p,
                    SupFlags::one_for_one(),
                    vec![worker("w", me, OnShutdown::Die)],
                    SupOpts::named("parented_sup"),
                )
                .await
                .unwrap();
                p.send(&me, Term::Pid(sup));
                std::future::pending::<()>().await
            });
            let w = started(&mut ctx).await.1;
            let sup = ctx
                .receive_match(|m| matches!(m.as_term(), Some(Term::Pid(_))), Some(WAIT))
                .await
                .and_then(|m| m.into_term().ok())
                .and_then(|t| t.as_pid())
                .unwrap();
            assert_eq!(ctx.node().whereis(Atom::new("parented_sup")), Some(sup));
            let rw = ctx.monitor(&w);
            let rs = ctx.monitor(&sup);
            ctx.node().exit(&me, &parent, a("kill"));
            // the child goes first (shut down), then the supervisor, with the parent's reason
            let (rw_t, rs_t) = (Term::Reference(rw.clone()), Term::Reference(rs.clone()));
            let ours = |m: &ferrotp::Message| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|x| x.len() == 5 && (x[1] == rw_t || x[1] == rs_t))
            };
            let first = ctx
                .receive_match(ours, Some(WAIT))
                .await
                .unwrap()
                .into_term()
                .unwrap();
            assert_eq!(first, down_msg(rw, Term::Pid(w), a("shutdown")));
            let second = ctx
                .receive_match(ours, Some(WAIT))
                .await
                .unwrap()
                .into_term()
                .unwrap();
            assert_eq!(second, down_msg(rs, Term::Pid(sup), a("killed")));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_gen_server_child_is_restarted_under_its_name() {
    use ferrotp::counter::{Counter, CounterServer, Int};
    Node::local()
        .run(|mut ctx| async move {
            let name = Atom::new("typed_counter_child");
            let spec = ChildSpec::worker(
                "counter",
                Start::gen_server::<CounterServer>(Int::from(5), Some(name)),
            );
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![spec]).await;
            let c = Counter::at(name);
            c.bump(&ctx, 1);
            assert_eq!(c.value(&mut ctx).await.unwrap(), 6.into());
            let old = ctx.node().whereis(name).unwrap();
            let r = ctx.monitor(&old);
            ferrotp::call::cast(&ctx, name, a("reset"));
            let down = ctx
                .receive_match(|m| m.is_tagged("DOWN"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(
                down.into_term().unwrap(),
                down_msg(r, Term::Pid(old), t("{bad_cast, reset}"))
            );
            // the restart has happened once the supervisor answers
            supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_ne!(ctx.node().whereis(name), Some(old));
            assert_eq!(c.value(&mut ctx).await.unwrap(), 5.into());
            let spec = supervisor::get_childspec(&mut ctx, sup, a("counter"))
                .await
                .unwrap();
            let Term::Map(m) = spec else { panic!("map") };
            let start = m.get_atom("start").unwrap().as_tuple().unwrap().to_vec();
            assert_eq!(start[0], a("gen_server"));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_restart_is_retried_and_shows_as_restarting() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let starts = Arc::new(AtomicUsize::new(0));
            let n = starts.clone();
            // start #2 fails: the supervisor marks the child restarting and
            // tries again (try_again_restart), which succeeds
            let start = Start::process(move |mut c: Process, mut init| {
                let k = n.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    if k == 2 {
                        init.error(a("flaky"));
                        return Err::<(), Term>(a("flaky"));
                    }
                    c.send(
                        &me,
                        Term::tuple(vec![a("started"), a("w"), Term::Pid(c.pid())]),
                    );
                    init.ok();
                    let m = c.receive().await.into_term().unwrap_or_else(|_| a("?"));
                    Err(m)
                }
            });
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one().intensity(5),
                vec![ChildSpec::worker("w", start)],
            )
            .await;
            let p1 = started(&mut ctx).await.1;
            ctx.send(&p1, a("boom"));
            let p3 = started(&mut ctx).await.1;
            assert_eq!(starts.load(Ordering::SeqCst), 3);
            let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
            assert_eq!(kids[0].pid(), Some(p3));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_restarts_the_subtree_above() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            // inner supervisor allows no restart at all: one crash escalates
            let inner = ChildSpec::supervisor(
                "inner",
                Start::process(move |mut c: Process, mut init| async move {
                    let r = supervisor::start_link(
                        &mut c,
                        SupFlags::one_for_one().intensity(0),
                        vec![worker("leaf", me, OnShutdown::Die)],
                        SupOpts::default(),
                    )
                    .await;
                    match r {
                        Ok(sup) => {
                            init.ok();
                            // act as the inner supervisor: die as it dies
                            c.trap_exit(true);
                            loop {
                                if let Ok(Term::Tuple(t)) = c.receive().await.into_term() {
                                    if t.len() == 3 && t[1] == Term::Pid(sup) {
                                        return Err::<(), Term>(t[2].clone());
                                    }
                                    if t.len() == 3 && t[0].is_atom("EXIT") {
                                        return Err(t[2].clone());
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            init.error(e.clone());
                            Err(e)
                        }
                    }
                }),
            );
            let top = start_sup(&mut ctx, SupFlags::one_for_one().intensity(3), vec![inner]).await;
            let leaf1 = started(&mut ctx).await.1;
            crash(&ctx, &leaf1, a("boom"));
            // the inner tree died `shutdown` and top restarted all of it
            let leaf2 = started(&mut ctx).await.1;
            assert_ne!(leaf1, leaf2);
            let kids = supervisor::which_children(&mut ctx, top).await.unwrap();
            assert_eq!(kids[0].child_type, ChildType::Supervisor);
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_one_for_one_closure_gets_the_extra_args() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let start = Start::process(move |c: Process, mut init| async move {
                let args = Term::List(init.args.clone());
                c.send(&me, Term::tuple(vec![a("args"), args]));
                init.ok();
                std::future::pending::<()>().await
            });
            let sup = start_sup(
                &mut ctx,
                SupFlags::new(Strategy::SimpleOneForOne),
                vec![ChildSpec::worker("t", start)],
            )
            .await;
            supervisor::start_dynamic_child(&mut ctx, sup, vec![Term::Int(1), a("x")])
                .await
                .unwrap();
            assert_eq!(recv(&mut ctx).await, t("{args, [1, x]}"));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_start_function_is_a_start_error_not_a_supervisor_crash() {
    struct Panics;
    impl supervisor::StartChild for Panics {
        fn start<'a>(
            &'a self,
            _ctx: &'a mut Process,
            _extra: Vec<Term>,
        ) -> ferrotp::start::BoxFuture<'a, Result<ferrotp::start::Started, Term>> {
            Box::pin(async { panic!("no start for you") })
        }
    }
    Node::local()
        .run(|mut ctx| async move {
            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![]).await;
            let r = supervisor::start_child(
                &mut ctx,
                sup,
                ChildSpec::worker("p", Start::custom(Panics)),
            )
            .await;
            let Err(SupervisorError::Error(reason)) = r else {
                panic!("{r:?}")
            };
            // {{'EXIT', {panic, Msg, Location}}, ChildRecord}
            let exit = reason
                .as_tuple()
                .and_then(|t| t.first())
                .and_then(Term::as_tuple)
                .unwrap()
                .to_vec();
            assert_eq!(exit[0], a("EXIT"));
            let panic = exit[1].as_tuple().unwrap().to_vec();
            assert_eq!(
                (panic[0].clone(), panic[1].clone()),
                (a("panic"), Term::binary(&b"no start for you"[..]))
            );
            assert!(ctx.node().is_alive(&sup));
        })
        .await
        .unwrap();
}

/// A call or cast OTP's supervisor has no clause for crashes it with
/// `function_clause`, as OTP's: the caller's call fails with that reason,
/// the children are shut down, and the supervisor's parent hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_call_or_cast_crashes_it_with_function_clause() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let is_function_clause = |reason: &Term, function: &str| {
                let Some([tag, Term::List(stack)]) = reason.as_tuple() else {
                    return false;
                };
                let Some(Some([m, f, Term::List(args), _])) = stack.first().map(Term::as_tuple)
                else {
                    return false;
                };
                tag.is_atom("function_clause")
                    && m.is_atom("supervisor")
                    && f.is_atom(function)
                    && args.first().is_some_and(|a| a.is_atom("bogus"))
            };
            let me = ctx.pid();
            let sup = start_sup(
                &mut ctx,
                SupFlags::one_for_one(),
                vec![worker("w", me, OnShutdown::Die)],
            )
            .await;
            let (_, w) = started(&mut ctx).await;
            let watch = ctx.monitor(&w);
            let failed = ferrotp::call::call(&mut ctx, sup, a("bogus"), Some(WAIT)).await;
            let reason = failed.expect_err("the call fails");
            assert!(is_function_clause(&reason, "handle_call"), "{reason}");
            let mut seen = vec![recv(&mut ctx).await, recv(&mut ctx).await];
            seen.sort_by_key(|m| m.to_string());
            assert_eq!(
                seen,
                vec![
                    down_msg(watch, Term::Pid(w), a("shutdown")),
                    exit_msg(sup, reason.clone())
                ],
                "the child is shut down and the supervisor exits with the reason"
            );

            let sup = start_sup(&mut ctx, SupFlags::one_for_one(), vec![]).await;
            ferrotp::call::cast(&ctx, sup, a("bogus"));
            let exit = recv(&mut ctx).await;
            let Some([_, _, reason]) = exit.as_tuple() else {
                panic!("an exit message: {exit}");
            };
            assert!(is_function_clause(reason, "handle_cast"), "{exit}");
        })
        .await
        .unwrap();
}
