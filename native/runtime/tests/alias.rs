//! Process aliases (OTP 24+ `alias/0`, `unalias/1`) and the replies that
//! use them: `gen:reply/2` answers an `[alias | Ref]` tag through the alias.

use std::time::Duration;

use etf::{Atom, Term};
use ferrotp::alias;
use ferrotp::call::{From, Incoming};
use ferrotp::{behaviours, Node};

const QUIET: Duration = Duration::from_millis(100);

#[test]
fn messages_to_an_active_alias_arrive_and_are_dropped_after_unalias() {
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        let a = ctx.alias();
        let me = ctx.pid();
        // Another process sends to the alias, then to the pid: both arrive, in order.
        ctx.spawn(move |s| async move {
            s.send_alias(&a, Term::atom("via_alias"));
            s.send(&me, Term::atom("via_pid"));
        });
        let first = ctx.receive().await.into_term().ok();
        let second = ctx.receive().await.into_term().ok();
        assert_eq!(first, Some(Term::atom("via_alias")));
        assert_eq!(second, Some(Term::atom("via_pid")));
        let a = ctx.alias();
        assert!(ctx.unalias(&a), "an active alias is deactivated");
        assert!(!ctx.unalias(&a), "unalias of an inactive alias is false");
        ctx.send_alias(&a, Term::atom("late"));
        assert!(ctx.receive_timeout(QUIET).await.is_none(), "dropped");
    })
    .expect("test process");
}

#[test]
fn only_the_owner_can_unalias() {
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        let a = ctx.alias();
        let me = ctx.pid();
        let b = a.clone();
        ctx.spawn(move |mut s| async move {
            let removed = s.unalias(&b);
            s.send(&me, Term::atom(if removed { "removed" } else { "kept" }));
        });
        let verdict = ctx.receive().await.into_term().ok();
        assert_eq!(verdict, Some(Term::atom("kept")));
        ctx.send_alias(&a, Term::atom("still_active"));
        let got = ctx.receive_timeout(Duration::from_secs(5)).await;
        assert_eq!(
            got.and_then(|m| m.into_term().ok()),
            Some(Term::atom("still_active"))
        );
    })
    .expect("test process");
}

#[test]
fn an_alias_tag_is_answered_through_the_alias_and_late_replies_are_dropped() {
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        // A server that answers calls with `call::From::reply`.
        let server = ctx.spawn(|mut s| async move {
            while let Incoming::Call { from, request } = Incoming::classify(s.receive().await) {
                from.reply(&s, request);
            }
        });
        let a = ctx.alias();
        let tag = alias::alias_tag(&a);
        assert_eq!(alias::tag_alias(&tag), Some(&a));
        let from = From {
            pid: ctx.pid(),
            tag: tag.clone(),
        }
        .to_term();
        let call =
            |req: &str| Term::tuple(vec![Term::atom("$gen_call"), from.clone(), Term::atom(req)]);
        ctx.send(&server, call("first"));
        let reply = ctx.receive().await.into_term().ok();
        assert_eq!(
            reply,
            Some(Term::tuple(vec![tag.clone(), Term::atom("first")]))
        );
        // The caller gave up: the alias goes, and the reply with it.
        ctx.unalias(&a);
        ctx.send(&server, call("second"));
        assert!(
            ctx.receive_timeout(QUIET).await.is_none(),
            "late reply dropped"
        );
    })
    .expect("test process");
}

#[test]
fn sys_and_gen_server_replies_use_the_alias_of_the_tag() {
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        let c = behaviours::start_link_arg(&mut ctx, Atom::new("counter"), Term::Int(7), None)
            .await
            .expect("counter");
        let a = ctx.alias();
        let tag = alias::alias_tag(&a);
        let from = From {
            pid: ctx.pid(),
            tag: tag.clone(),
        }
        .to_term();
        for (label, req) in [("$gen_call", "value"), ("system", "get_state")] {
            ctx.send(
                &c,
                Term::tuple(vec![Term::atom(label), from.clone(), Term::atom(req)]),
            );
            let reply = ctx.receive().await.into_term().ok();
            assert_eq!(
                reply,
                Some(Term::tuple(vec![tag.clone(), Term::Int(7)])),
                "{label}"
            );
        }
        ctx.unalias(&a);
        ctx.send(
            &c,
            Term::tuple(vec![Term::atom("$gen_call"), from, Term::atom("value")]),
        );
        assert!(
            ctx.receive_timeout(QUIET).await.is_none(),
            "late reply dropped"
        );
    })
    .expect("test process");
}
