//! Let it crash: a panic is an exit reason and stays inside its process.

mod common;

use common::*;
use etf::Term;
use ferrotp::Node;

/// Panics (typed `()` so the process body has a unit output).
fn crash(msg: &str) {
    panic!("{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_becomes_exit_reason() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let (p, _) = ctx.spawn_monitor(|_| async {
            let v: Vec<u8> = Vec::new();
            if v.is_empty() {
                panic!("the bucket is empty");
            }
        });
        let reason = wait_exit(&mut ctx, &p).await;
        let parts = reason.as_tuple().expect("a tuple").to_vec();
        assert_eq!(parts.len(), 3);
        assert!(parts[0].is_atom("panic"));
        assert_eq!(parts[1], Term::binary(b"the bucket is empty".to_vec()));
        match &parts[2] {
            Term::Binary(b) => {
                let loc = std::str::from_utf8(b).unwrap();
                assert!(
                    loc.starts_with("native/runtime/tests/panics.rs:")
                        || loc.contains("panics.rs:"),
                    "{loc}"
                );
            }
            other => panic!("location not a binary: {other:?}"),
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_does_not_affect_others() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let bystander = ctx.spawn(move |mut c| async move {
            let m = c.receive().await.into_term().unwrap();
            c.send(&me, m);
        });
        // A linked (trapping) parent sees the panic as an EXIT and survives.
        ctx.trap_exit(true);
        let crasher = ctx.spawn_link(|_| async { crash("kaboom") });
        let exit = recv(&mut ctx).await;
        let t = exit.as_tuple().unwrap().to_vec();
        assert!(t[0].is_atom("EXIT"));
        assert_eq!(t[1], Term::Pid(crasher));
        assert!(t[2].as_tuple().unwrap()[0].is_atom("panic"));
        // Everyone else is fine.
        ctx.send(&bystander, Term::atom("still_here"));
        assert_eq!(recv(&mut ctx).await, Term::atom("still_here"));
        // and many panics in a row do not hurt the node
        for _ in 0..50 {
            let (p, _) = ctx.spawn_monitor(|_| async { crash("again") });
            let _ = wait_exit(&mut ctx, &p).await;
        }
        assert!(ctx.node().process_count() >= 1);
    })
    .await
    .unwrap();
}
