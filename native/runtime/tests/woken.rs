//! `ferrotp::woken`: a thread that delivers a message runs the process it
//! woke itself, once it asks to; a wake-up it collected is never lost.

use std::sync::mpsc;
use std::thread::ThreadId;
use std::time::Duration;

use etf::Term;
use ferrotp::woken::Woken;
use ferrotp::Node;

/// A process that reports, for each message, the thread it ran on; it
/// has handled one message already (an ordinary delivery, run by a
/// scheduler thread: the thread is returned too).
fn reporter(node: &Node) -> (etf::Pid, mpsc::Receiver<ThreadId>, ThreadId) {
    let (tx, rx) = mpsc::channel();
    let pid = node.spawn(move |mut ctx| async move {
        loop {
            let _ = ctx.receive().await;
            if tx.send(std::thread::current().id()).is_err() {
                break;
            }
        }
    });
    node.send(&pid, Term::atom("warm_up"));
    let ran = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("warm-up ran");
    (pid, rx, ran)
}

/// Collects the wake-up of a message to `pid` once the process is idle in
/// its receive (a process still finishing its last message is woken while
/// running, and its scheduler thread runs it again: that attempt is
/// drained and retried).
fn collect_send(node: &Node, pid: &etf::Pid, ran_on: &mpsc::Receiver<ThreadId>) -> Woken {
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(10));
        let mut woken = Woken::new();
        woken.collect(|| node.send(pid, Term::atom("hello")));
        if !woken.is_empty() {
            return woken;
        }
        ran_on.recv_timeout(Duration::from_secs(10)).expect("ran");
    }
    panic!("the process never waited idle");
}

#[test]
fn a_collected_process_runs_on_the_thread_that_woke_it() {
    let node = Node::new(etf::Atom::new("woken@localhost"), 1);
    let (pid, ran_on, scheduler) = reporter(&node);
    assert_ne!(scheduler, std::thread::current().id());

    let mut woken = collect_send(&node, &pid, &ran_on);
    // Collected, not queued: no scheduler thread runs it meanwhile.
    assert!(ran_on.recv_timeout(Duration::from_millis(200)).is_err());
    woken.run();
    assert!(woken.is_empty());
    let here = ran_on.recv_timeout(Duration::from_secs(10)).expect("ran");
    assert_eq!(here, std::thread::current().id());
}

#[test]
fn a_dropped_collection_still_runs_its_processes() {
    let node = Node::new(etf::Atom::new("woken_drop@localhost"), 1);
    let (pid, ran_on, _) = reporter(&node);

    let woken = collect_send(&node, &pid, &ran_on);
    drop(woken);
    let ran = ran_on
        .recv_timeout(Duration::from_secs(10))
        .expect("ran after the drop");
    assert_ne!(ran, std::thread::current().id());
}

#[test]
fn a_panic_inside_collect_keeps_what_was_woken() {
    let node = Node::new(etf::Atom::new("woken_panic@localhost"), 1);
    let (pid, ran_on, _) = reporter(&node);
    let (other, other_ran_on, _) = reporter(&node);

    let mut woken = collect_send(&node, &pid, &ran_on);
    woken.run();
    ran_on.recv_timeout(Duration::from_secs(10)).expect("ran");
    std::thread::sleep(Duration::from_millis(20));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        woken.collect(|| {
            node.send(&pid, Term::atom("hello"));
            panic!("the deliverer failed");
        })
    }));
    assert!(result.is_err());
    assert!(!woken.is_empty(), "the wake-up survived the panic");
    // The thread collects nothing any more: this send queues as usual and
    // a scheduler thread runs it.
    node.send(&other, Term::atom("again"));
    let ran = other_ran_on
        .recv_timeout(Duration::from_secs(10))
        .expect("ran");
    assert_ne!(ran, std::thread::current().id());
    woken.run();
    let ran = ran_on.recv_timeout(Duration::from_secs(10)).expect("ran");
    assert_eq!(ran, std::thread::current().id());
}
