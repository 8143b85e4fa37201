//! A process is small: 100k idle processes stay well under 1.5 KB each.

mod common;

use common::*;
use etf::Term;
use ferrotp::Node;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_process_uses_under_1_5_kb() {
    const N: usize = 100_000;
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        // warm up allocator and tables
        let before = resident_bytes();
        let mut pids = Vec::with_capacity(N);
        for _ in 0..N {
            pids.push(ctx.spawn(|mut c| async move {
                c.receive().await;
            }));
        }
        // make sure every process has started and parked in receive
        let last = *pids.last().unwrap();
        let probe = ctx.spawn(move |c| async move {
            c.send(&me, Term::atom("probe"));
        });
        let _ = probe;
        assert_eq!(recv(&mut ctx).await, Term::atom("probe"));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let after = resident_bytes();
        let per = (after.saturating_sub(before)) as f64 / N as f64;
        eprintln!("resident per idle process: {per:.0} bytes ({N} processes)");
        assert!(per < 1536.0, "{per} bytes per process (target: under 1 KB)");
        assert!(ctx.node().is_alive(&last));
        for p in &pids {
            ctx.send(p, Term::atom("stop"));
        }
    })
    .await
    .unwrap();
}
