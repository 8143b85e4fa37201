//! Exactly-once under concurrency: many processes dying at once, each
//! watched by several linked/monitoring observers, produce exactly one
//! `'EXIT'` per link and one `'DOWN'` per monitor, with the right reason.

mod common;

use std::collections::HashMap;

use common::*;
use etf::{Pid, Term};
use ferrotp::{Node, Process};

const WORKERS: usize = 300;
const OBSERVERS: usize = 8;

fn reason_for(i: usize) -> Term {
    match i % 3 {
        0 => Term::atom("normal"),
        1 => Term::tuple(vec![Term::atom("crash"), Term::Int(i as i64)]),
        _ => Term::atom("killed"), // killed by exit(Pid, kill)
    }
}

async fn observer(mut c: Process, main: Pid, workers: Vec<Pid>) {
    c.trap_exit(true);
    let mut refs = HashMap::new();
    for (i, w) in workers.iter().enumerate() {
        c.link(w);
        refs.insert(c.monitor(w), i);
    }
    c.send(&main, Term::atom("watching"));
    let mut exits: HashMap<Pid, Vec<Term>> = HashMap::new();
    let mut downs: HashMap<usize, Vec<Term>> = HashMap::new();
    while exits.values().map(Vec::len).sum::<usize>() < workers.len()
        || downs.values().map(Vec::len).sum::<usize>() < workers.len()
    {
        let Some(m) = c.receive_timeout(WAIT).await else {
            break;
        };
        let Ok(t) = m.into_term() else { continue };
        match t.as_tuple() {
            Some([tag, Term::Pid(p), r]) if tag.is_atom("EXIT") => {
                exits.entry(*p).or_default().push(r.clone())
            }
            Some([tag, Term::Reference(r), _, _, reason]) if tag.is_atom("DOWN") => {
                if let Some(i) = refs.get(r) {
                    downs.entry(*i).or_default().push(reason.clone());
                }
            }
            _ => {}
        }
    }
    // Anything extra would show up now.
    for t in quiet(&mut c, std::time::Duration::from_millis(100)).await {
        if let Some([tag, Term::Pid(p), r]) = t.as_tuple() {
            if tag.is_atom("EXIT") {
                exits.entry(*p).or_default().push(r.clone());
            }
        }
    }
    let mut ok = true;
    for (i, w) in workers.iter().enumerate() {
        let want = reason_for(i);
        ok &= exits.get(w).map(Vec::as_slice) == Some(std::slice::from_ref(&want));
        ok &= downs.get(&i).map(Vec::as_slice) == Some(std::slice::from_ref(&want));
    }
    c.send(
        &main,
        Term::atom(if ok { "exactly_once" } else { "mismatch" }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_and_monitor_fires_exactly_once_under_concurrency() {
    Node::local()
        .run(|mut ctx| async move {
            let main = ctx.pid();
            let workers: Vec<Pid> = (0..WORKERS)
                .map(|i| {
                    ctx.spawn(move |mut w| async move {
                        w.receive().await;
                        match i % 3 {
                            1 => Err(reason_for(i)),
                            _ => Ok(()),
                        }
                    })
                })
                .collect();
            for _ in 0..OBSERVERS {
                let ws = workers.clone();
                ctx.spawn(move |c| observer(c, main, ws));
            }
            for _ in 0..OBSERVERS {
                assert_eq!(recv(&mut ctx).await, Term::atom("watching"));
            }
            // Release them all at once, from several processes.
            for chunk in workers.chunks(50) {
                let chunk = chunk.to_vec();
                let first = workers.iter().position(|p| *p == chunk[0]).unwrap_or(0);
                ctx.spawn(move |c| async move {
                    for (k, w) in chunk.iter().enumerate() {
                        if (first + k) % 3 == 2 {
                            c.exit(w, Term::atom("kill"));
                        } else {
                            c.send(w, Term::atom("go"));
                        }
                    }
                });
            }
            for _ in 0..OBSERVERS {
                assert_eq!(recv(&mut ctx).await, Term::atom("exactly_once"));
            }
        })
        .await
        .unwrap();
}
