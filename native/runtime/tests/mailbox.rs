//! Selective receive and timers.

mod common;

use std::time::Duration;

use common::*;
use etf::Term;
use ferrotp::{Message, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_receive_keeps_order() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        for i in 0..10 {
            ctx.send(&me, Term::Int(i));
        }
        // Take the odd ones first...
        for i in (1..10).step_by(2) {
            let m = ctx
                .receive_match(
                    |m| {
                        m.as_term()
                            .and_then(Term::as_i64)
                            .is_some_and(|n| n % 2 == 1)
                    },
                    Some(WAIT),
                )
                .await
                .unwrap();
            assert_eq!(m.into_term().unwrap(), Term::Int(i));
        }
        // ...the even ones are still there, in order.
        for i in (0..10).step_by(2) {
            assert_eq!(recv(&mut ctx).await, Term::Int(i));
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_receive_waits_for_a_match() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        ctx.send(&me, Term::atom("noise"));
        ctx.spawn(move |c| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c.send(&me, Term::atom("wanted"));
        });
        let m = ctx
            .receive_match(
                |m| m.as_term().is_some_and(|t| t.is_atom("wanted")),
                Some(WAIT),
            )
            .await;
        assert!(m.is_some());
        assert_eq!(recv(&mut ctx).await, Term::atom("noise"));
        // Nothing matches: the timeout.
        let none = ctx
            .receive_match(|_| false, Some(Duration::from_millis(20)))
            .await;
        assert!(none.is_none());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_local_messages_arrive_as_local() {
    #[derive(Debug, PartialEq)]
    struct Ping(u32);
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        ctx.send_local(&me, Ping(7));
        let m: Message = ctx.receive().await;
        assert_eq!(m.downcast::<Ping>().unwrap(), Ping(7));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_after_and_cancel() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let cancelled = ctx.send_after(Duration::from_millis(100), &me, Term::atom("cancelled"));
        let fired = ctx.send_after(Duration::from_millis(20), &me, Term::atom("fired"));
        let left = ctx.cancel_timer(&cancelled).expect("timer was running");
        assert!(left <= Duration::from_millis(100));
        assert_eq!(recv(&mut ctx).await, Term::atom("fired"));
        assert_eq!(ctx.cancel_timer(&fired), None, "already fired");
        assert_eq!(ctx.cancel_timer(&cancelled), None, "already cancelled");
        assert!(quiet(&mut ctx, Duration::from_millis(250)).await.is_empty());
    })
    .await
    .unwrap();
}

/// `receive ... after 0` looks at what has arrived and returns at once:
/// a message sent after the call began is not waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_after_zero_does_not_wait() {
    let node = ferrotp::Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        ctx.send(&me, etf::Term::atom("here"));
        let got = ctx.receive_timeout(std::time::Duration::ZERO).await;
        assert!(got.is_some_and(|m| m.as_term().is_some_and(|t| t.is_atom("here"))));
        // Each waited for the timer wheel's next tick before (up to 1 ms,
        // ~100 ms for the 200); at once, they take microseconds.
        let start = std::time::Instant::now();
        for _ in 0..200 {
            assert!(ctx
                .receive_timeout(std::time::Duration::ZERO)
                .await
                .is_none());
        }
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_millis(40), "{took:?}");
    })
    .await
    .unwrap();
}
