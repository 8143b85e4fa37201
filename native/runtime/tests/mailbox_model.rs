//! Selective receive against a model: any interleaving of sends and
//! selective receives takes exactly the messages a plain queue model says
//! (the first match, skipped messages kept in order).

use std::collections::VecDeque;
use std::time::Duration;

use etf::Term;
use ferrotp::Node;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Send this value to oneself.
    Send(i64),
    /// Receive the first value `v` with `v % 4 == class` (`after 0`).
    Receive(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..12).prop_map(Op::Send),
        (0i64..4).prop_map(Op::Receive)
    ]
}

/// What a queue with a save queue must answer.
fn model(ops: &[Op]) -> Vec<Option<i64>> {
    let mut queue = VecDeque::new();
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Send(v) => queue.push_back(*v),
            Op::Receive(class) => {
                let hit = queue.iter().position(|v| v % 4 == *class);
                out.push(hit.and_then(|i| queue.remove(i)));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn selective_receive_matches_the_queue_model(ops in proptest::collection::vec(op(), 0..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let want = model(&ops);
        let got = rt.block_on(async move {
            let node = Node::local();
            node.run(move |mut ctx| async move {
                let me = ctx.pid();
                let mut out = Vec::new();
                for op in ops {
                    match op {
                        Op::Send(v) => ctx.send(&me, Term::Int(v)),
                        Op::Receive(class) => {
                            let m = ctx
                                .receive_match(
                                    |m| m.as_term().and_then(Term::as_i64).is_some_and(|v| v % 4 == class),
                                    Some(Duration::ZERO),
                                )
                                .await;
                            out.push(m.and_then(|m| m.into_term().ok()).and_then(|t| t.as_i64()));
                        }
                    }
                }
                out
            })
            .await
        });
        prop_assert_eq!(got.ok(), Some(want));
    }
}
