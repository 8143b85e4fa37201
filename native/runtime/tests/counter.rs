//! The built-in `counter` and the behaviour registry.

mod common;

use std::time::Duration;

use common::*;
use etf::{Atom, Term};
use ferrotp::counter::Counter;
use ferrotp::{behaviours, call, start, Node};
use num_bigint::BigInt;

fn a(s: &str) -> Term {
    Term::atom(s)
}

fn t(text: &str) -> Term {
    etf::parse(text).expect("test term parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_casts_bump_and_calls_read_the_value() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let c = Counter::start_link(&mut ctx, 5).await.unwrap();
        c.bump(&ctx, 3);
        c.bump(&ctx, -1);
        assert_eq!(c.value(&mut ctx).await.unwrap(), BigInt::from(7));
        // The same over the wire shapes any BEAM process uses.
        let pid = c.pid().unwrap();
        call::cast(&ctx, pid, t("{bump, 10}"));
        let v = call::call(&mut ctx, pid, a("value"), Some(WAIT)).await;
        assert_eq!(v, Ok(Term::Int(17)));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_counts_past_i64_with_bignums() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let big = t("123456789012345678901234567890");
        let pid = behaviours::start_link(&mut ctx, Atom::new("counter"), vec![big])
            .await
            .unwrap();
        call::cast(
            &ctx,
            pid,
            t("{bump, 10000000000000000000000000000000000000000}"),
        );
        let v = call::call(&mut ctx, pid, a("value"), Some(WAIT))
            .await
            .unwrap();
        assert_eq!(v, t("10000000000123456789012345678901234567890"));
        // and back down into i64 range
        call::cast(
            &ctx,
            pid,
            t("{bump, -10000000000123456789012345678901234567889}"),
        );
        let v = call::call(&mut ctx, pid, a("value"), Some(WAIT))
            .await
            .unwrap();
        assert_eq!(v, Term::Int(1));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_crashes_on_unknown_cast_naming_the_message() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let c = Counter::start_link(&mut ctx, 0).await.unwrap();
        let pid = c.pid().unwrap();
        call::cast(&ctx, pid, t("{bump, not_a_number}"));
        assert_eq!(
            recv(&mut ctx).await,
            exit_msg(pid, t("{bad_cast, {bump, not_a_number}}"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_crashes_on_unknown_call_and_the_caller_learns_why() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let c = Counter::start_link(&mut ctx, 0).await.unwrap();
        let pid = c.pid().unwrap();
        let r = call::call(&mut ctx, pid, a("reset"), Some(WAIT)).await;
        assert_eq!(r, Err(t("{bad_call, reset}")));
        assert_eq!(recv(&mut ctx).await, exit_msg(pid, t("{bad_call, reset}")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_get_state_returns_the_count() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let c = Counter::start_link(&mut ctx, 41).await.unwrap();
        c.bump(&ctx, 1);
        let pid = c.pid().unwrap();
        // sys:get_state(Pid) sends {system, From, get_state}; the reply is the state
        let r = ctx.make_ref();
        let from = Term::tuple(vec![Term::Pid(ctx.pid()), Term::Reference(r.clone())]);
        ctx.send(&pid, Term::tuple(vec![a("system"), from, a("get_state")]));
        assert_eq!(
            recv(&mut ctx).await,
            Term::tuple(vec![Term::Reference(r), Term::Int(42)])
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_suspend_holds_requests_until_resume() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let c = Counter::start_link(&mut ctx, 0).await.unwrap();
        let pid = c.pid().unwrap();
        let sys = |ctx: &mut ferrotp::Process, req: Term| {
            let r = ctx.make_ref();
            let from = Term::tuple(vec![Term::Pid(ctx.pid()), Term::Reference(r)]);
            ctx.send(&pid, Term::tuple(vec![a("system"), from, req]));
        };
        sys(&mut ctx, a("suspend"));
        let _ok = recv(&mut ctx).await;
        c.bump(&ctx, 1);
        let early = call::call(&mut ctx, pid, a("value"), Some(Duration::from_millis(300))).await;
        assert_eq!(early, Err(a("timeout")));
        sys(&mut ctx, a("resume"));
        let _ok = recv(&mut ctx).await;
        assert_eq!(c.value(&mut ctx).await.unwrap(), BigInt::from(1));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_link_arg_registers_the_name_once() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let name = Atom::new("counter_named_once");
        let pid =
            behaviours::start_link_arg(&mut ctx, Atom::new("counter"), Term::Int(5), Some(name))
                .await
                .unwrap();
        assert_eq!(ctx.node().whereis(name), Some(pid));
        let again =
            behaviours::start_link_arg(&mut ctx, Atom::new("counter"), Term::Int(5), Some(name))
                .await;
        assert_eq!(again, Err(start::already_started(pid)));
        assert_eq!(
            Counter::at(name).value(&mut ctx).await.unwrap(),
            BigInt::from(5)
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_behaviour_is_undef() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let r =
            behaviours::start_link(&mut ctx, Atom::new("no_such_behaviour"), vec![Term::Int(1)])
                .await;
        assert_eq!(
            r,
            Err(t(
                "{'EXIT', {undef, [{no_such_behaviour, start_link, [1], []}]}}"
            ))
        );
        // the right module with the wrong arity is undef too
        let args = vec![Term::Int(1), Term::Int(2), Term::Int(3)];
        let r = behaviours::start_link(&mut ctx, Atom::new("counter"), args).await;
        assert_eq!(
            r,
            Err(t(
                "{'EXIT', {undef, [{counter, start_link, [1, 2, 3], []}]}}"
            ))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_behaviour_starts_from_an_mfa_and_its_init_failure_is_an_error() {
    behaviours::register(Atom::new("test_picky"), |arg: Term| {
        Ok(start::body(move |mut ctx, mut init| async move {
            if arg.is_atom("bad") {
                init.error(Term::atom("bad_arg"));
                return Err(Term::atom("bad_arg"));
            }
            if arg.is_atom("skip") {
                init.ignore();
                return Ok(());
            }
            init.ok();
            let _ = ctx.receive().await;
            Ok(())
        }))
    });
    assert!(behaviours::registered().contains(&Atom::new("test_picky")));
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let ok = behaviours::start_link(&mut ctx, Atom::new("test_picky"), vec![a("good")]).await;
        assert!(ok.is_ok());
        let bad = behaviours::start_link(&mut ctx, Atom::new("test_picky"), vec![a("bad")]).await;
        assert_eq!(bad, Err(a("bad_arg")));
        let skip = behaviours::start_link(&mut ctx, Atom::new("test_picky"), vec![a("skip")]).await;
        assert_eq!(skip, Err(a("ignore")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_dies_in_init_fails_the_start_with_its_reason() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let r = start::start_link(&mut ctx, None, |_c, _init| async {
            Err::<(), _>(Term::atom("init_crash"))
        })
        .await;
        assert_eq!(r, Err(a("init_crash")));
        // the 'EXIT' was consumed by the start, as proc_lib does
        assert!(ctx
            .receive_timeout(Duration::from_millis(100))
            .await
            .is_none());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_start_options_register_the_name() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let args = vec![Term::Int(3), t("[{name, counter_by_opts}]")];
        let pid = behaviours::start_link(&mut ctx, Atom::new("counter"), args)
            .await
            .unwrap();
        assert_eq!(ctx.node().whereis(Atom::new("counter_by_opts")), Some(pid));
        let bad = behaviours::start_link(
            &mut ctx,
            Atom::new("counter"),
            vec![Term::Int(3), t("[{nome, x}]")],
        )
        .await;
        assert_eq!(
            bad,
            Err(t(
                "{'EXIT', {undef, [{counter, start_link, [3, [{nome, x}]], []}]}}"
            ))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_start_link_0_starts_at_zero_registered_as_counter() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        // #{id => counter, start => {counter, start_link, []}} from the seed's top_sup
        let pid = behaviours::start_link(&mut ctx, Atom::new("counter"), vec![])
            .await
            .unwrap();
        assert_eq!(ctx.node().whereis(Atom::new("counter")), Some(pid));
        assert_eq!(
            Counter::at(Atom::new("counter"))
                .value(&mut ctx)
                .await
                .unwrap(),
            BigInt::from(0)
        );
    })
    .await
    .unwrap();
}
