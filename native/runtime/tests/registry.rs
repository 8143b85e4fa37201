//! Registered names.

mod common;

use common::*;
use etf::{Atom, Term};
use ferrotp::{Node, RegisterError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_name_released_on_death() {
    let node = Node::local();
    let n = node.clone();
    node.run(move |mut ctx| async move {
        let me = ctx.pid();
        let p = ctx.spawn(move |mut c| async move {
            c.register(Atom::new("short_lived")).unwrap();
            c.send(&me, Term::atom("registered"));
            c.receive().await;
        });
        assert_eq!(recv(&mut ctx).await, Term::atom("registered"));
        assert_eq!(n.whereis(Atom::new("short_lived")), Some(p));
        ctx.send_to(Atom::new("short_lived"), Term::atom("bye"))
            .unwrap();
        assert_eq!(wait_exit(&mut ctx, &p).await, Term::atom("normal"));
        assert_eq!(ctx.whereis(Atom::new("short_lived")), None);
        // and the name can be taken again
        ctx.register(Atom::new("short_lived")).unwrap();
        assert_eq!(ctx.registered_name(), Some(Atom::new("short_lived")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_register_refused() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        ctx.register(Atom::new("taken")).unwrap();
        let p = ctx.spawn(move |mut c| async move {
            let r = c.register(Atom::new("taken"));
            c.send(
                &me,
                Term::atom(if r == Err(RegisterError::NameTaken(Atom::new("taken"))) {
                    "refused"
                } else {
                    "accepted"
                }),
            );
        });
        assert_eq!(recv(&mut ctx).await, Term::atom("refused"));
        let _ = p;
        assert_eq!(
            ctx.register(Atom::new("other")),
            Err(RegisterError::AlreadyRegistered(Atom::new("taken")))
        );
        assert_eq!(
            ctx.register(Atom::new("undefined")),
            Err(RegisterError::Undefined)
        );
        assert_eq!(ctx.whereis(Atom::new("taken")), Some(me));
        ctx.unregister(Atom::new("taken")).unwrap();
        assert_eq!(
            ctx.unregister(Atom::new("taken")),
            Err(RegisterError::NotRegistered(Atom::new("taken")))
        );
        ctx.register(Atom::new("other")).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_unregistered_name_fails() {
    let node = Node::local();
    node.run(|ctx| async move {
        assert!(ctx
            .send_to(Atom::new("nobody_here"), Term::atom("x"))
            .is_err());
    })
    .await
    .unwrap();
}
