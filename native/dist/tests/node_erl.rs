//! The node manager against real `erl` nodes: ping, messages both ways,
//! fragments, the atom cache, refused cookies, bad frames, ticks, disconnects.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{init_tracing, unique, Epmd, Erl, WAIT};
use dist::connection::CloseReason;
use dist::control::ControlMessage;
use dist::handshake::{self, HandshakeConfig};
use dist::node::{DistHandler, DistNode, EpmdMode, NodeConfig};
use dist::{Cookie, DistFlags, NodeName};
use etf::{Atom, Pid, Term};
use tokio::sync::mpsc;

#[derive(Debug)]
enum Event {
    Control(NodeName, ControlMessage, Option<Term>),
    Up(NodeName),
    Down(NodeName, CloseReason),
}

struct Events(mpsc::UnboundedSender<Event>);

impl DistHandler for Events {
    fn on_control(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let _ = self.0.send(Event::Control(peer, msg, payload));
    }
    fn on_nodeup(&self, peer: NodeName) {
        let _ = self.0.send(Event::Up(peer));
    }
    fn on_nodedown(&self, peer: NodeName, reason: &CloseReason) {
        let _ = self.0.send(Event::Down(peer, reason.clone()));
    }
}

struct Rust {
    node: DistNode,
    events: mpsc::UnboundedReceiver<Event>,
}

impl Rust {
    async fn start(epmd: &Epmd, cookie: &str, ticktime: Duration) -> Rust {
        let name = NodeName::parse(&format!("{}@localhost", unique("rust"))).unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let config = NodeConfig::new(name)
            .cookie(Cookie::new(cookie))
            .epmd(EpmdMode::External)
            .epmd_port(epmd.port)
            .ticktime(ticktime);
        let node = DistNode::start(config, Arc::new(Events(tx))).await.unwrap();
        Rust { node, events }
    }

    /// Waits for the first event `pick` accepts, skipping others.
    async fn expect<T>(&mut self, what: &str, pick: impl Fn(Event) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    if let Some(t) = pick(e) {
                        return t;
                    }
                }
                _ => panic!("never saw {what}"),
            }
        }
    }

    fn pid(&self, id: u32) -> Pid {
        Pid {
            node: self.node.name().atom(),
            id,
            serial: 0,
            creation: self.node.creation(),
        }
    }

    fn name(&self) -> String {
        self.node.name().to_string()
    }
}

impl Drop for Rust {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}

fn erl_name(short: &str) -> NodeName {
    NodeName::parse(&format!("{short}@localhost")).unwrap()
}

/// An erl node whose registered `echo` process answers `{From, Msg}` with
/// `From ! {echo, Msg}`, and `{From, big, N}` with a binary of N bytes
/// (0..255 repeating) and its md5, and `{From, check, Bin}` with
/// `{checked, byte_size(Bin), erlang:md5(Bin)}`.
const ECHO: &str = "register(echo, self()), io:format(\"ready~n\"), \
    Loop = fun L() -> receive \
        {From, big, N} -> B = binary:part(binary:copy(list_to_binary(lists:seq(0, 255)), N div 256 + 1), 0, N), \
                          From ! {big, B, erlang:md5(B)}, L(); \
        {From, check, B} when is_binary(B) -> From ! {checked, byte_size(B), erlang:md5(B)}, L(); \
        {From, Msg} -> From ! {echo, Msg}, L() end end, Loop().";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erl_pings_our_node_and_gets_pong() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "ping_cookie", Duration::from_secs(60)).await;
    let short = unique("pinger");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "ping_cookie",
        &[],
        &format!(
            "io:format(\"~p~n\", [net_adm:ping('{}')]), io:format(\"~p~n\", [nodes(hidden)]), receive stop -> ok end.",
            rust.name()
        ),
    );
    erl.expect("pong");
    erl.expect(&format!("[{}]", rust.name()));
    let up = rust.expect("nodeup", |e| match e {
        Event::Up(n) => Some(n),
        _ => None,
    });
    assert_eq!(up.await, erl_name(&short));
    assert_eq!(rust.node.nodes(), vec![erl_name(&short)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_work_like_short_ones() {
    init_tracing();
    let epmd = Epmd::start();
    let name = NodeName::parse(&format!("{}@127.0.0.1", unique("rust"))).unwrap();
    let (tx, _events) = mpsc::unbounded_channel();
    let config = NodeConfig::new(name)
        .cookie(Cookie::new("long_cookie"))
        .epmd(EpmdMode::External)
        .epmd_port(epmd.port);
    let node = DistNode::start(config, Arc::new(Events(tx))).await.unwrap();
    let mut erl = Erl::start_long(
        &epmd,
        &unique("long"),
        "long_cookie",
        &format!("io:format(\"~p~n\", [net_adm:ping('{name}')]), receive stop -> ok end."),
    );
    erl.expect("pong");
    // A short-named peer cannot be mixed in.
    assert!(node.connect(erl_name("short")).await.is_err());
    node.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_send_to_an_erl_process_gets_its_reply() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "echo_cookie", Duration::from_secs(60)).await;
    let short = unique("echo");
    let mut erl = Erl::start(&epmd, &short, "echo_cookie", &[], ECHO);
    erl.expect("ready");
    let me = rust.pid(42);
    let msg = Term::tuple(vec![Term::atom("some"), Term::atom("term")]);
    rust.node
        .send(
            erl_name(&short),
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("echo"),
            },
            Some(Term::tuple(vec![Term::Pid(me), msg.clone()])),
        )
        .await
        .unwrap();
    let (peer, to, payload) = rust
        .expect("the echo", |e| match e {
            Event::Control(n, ControlMessage::SendSender { to, .. }, p)
            | Event::Control(n, ControlMessage::Send { to }, p) => Some((n, to, p)),
            _ => None,
        })
        .await;
    assert_eq!(peer, erl_name(&short));
    assert_eq!(to, me);
    assert_eq!(payload, Some(Term::tuple(vec![Term::atom("echo"), msg])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_binary_from_erl_arrives_in_fragments_intact() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "big_cookie", Duration::from_secs(60)).await;
    let short = unique("big");
    let mut erl = Erl::start(&epmd, &short, "big_cookie", &[], ECHO);
    erl.expect("ready");
    let me = rust.pid(7);
    let size: i64 = 10 * 1024 * 1024;
    rust.node
        .send(
            erl_name(&short),
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("echo"),
            },
            Some(Term::tuple(vec![
                Term::Pid(me),
                Term::atom("big"),
                Term::Int(size),
            ])),
        )
        .await
        .unwrap();
    let payload = rust
        .expect("the big binary", |e| match e {
            Event::Control(_, _, Some(p)) => Some(p),
            _ => None,
        })
        .await;
    let items = payload.as_tuple().expect("a tuple").to_vec();
    assert!(items[0].is_atom("big"));
    let Term::Binary(bin) = &items[1] else {
        panic!("expected a binary, got {:?}", items[1].as_atom());
    };
    let expected: Vec<u8> = (0..size as usize).map(|i| (i % 256) as u8).collect();
    assert_eq!(bin.len(), expected.len());
    assert!(bin[..] == expected[..], "binary differs");
    use md5::Digest;
    let Term::Binary(md5) = &items[2] else {
        panic!("no md5")
    };
    assert_eq!(&md5[..], &md5::Md5::digest(&expected)[..]);
    let stats = rust.node.connection(erl_name(&short)).unwrap().stats();
    assert!(stats.fragments_in > 1, "erl did not fragment: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_binary_to_erl_is_fragmented_and_arrives_intact() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "out_cookie", Duration::from_secs(60)).await;
    let short = unique("sink");
    let mut erl = Erl::start(&epmd, &short, "out_cookie", &[], ECHO);
    erl.expect("ready");
    let me = rust.pid(11);
    let bin: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    use md5::Digest;
    let digest = md5::Md5::digest(&bin).to_vec();
    rust.node
        .send(
            erl_name(&short),
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("echo"),
            },
            Some(Term::tuple(vec![
                Term::Pid(me),
                Term::atom("check"),
                Term::binary(bin.clone()),
            ])),
        )
        .await
        .unwrap();
    let payload = rust
        .expect("the check", |e| match e {
            Event::Control(_, _, Some(p)) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(
        payload,
        Term::tuple(vec![
            Term::atom("checked"),
            Term::Int(bin.len() as i64),
            Term::binary(digest)
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atom_cache_entries_from_erl_are_decoded_and_reused() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "atoms_cookie", Duration::from_secs(60)).await;
    let short = unique("atoms");
    let mut erl = Erl::start(&epmd, &short, "atoms_cookie", &[], ECHO);
    erl.expect("ready");
    let me = rust.pid(9);
    let conn = rust.node.connect(erl_name(&short)).await.unwrap();
    assert!(conn.flags().contains(DistFlags::DIST_HDR_ATOM_CACHE));
    // Both ways: our payload atoms go out as cache references too (after
    // the first message), and erl must read them to echo the term back.
    for i in 0..5 {
        let msg = Term::tuple(vec![
            Term::atom("cached_atom_one"),
            Term::atom("cached_atom_two"),
            Term::Int(i),
        ]);
        conn.send(
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("echo"),
            },
            Some(Term::tuple(vec![Term::Pid(me), msg.clone()])),
        )
        .unwrap();
        let payload = rust
            .expect("an echo", |e| match e {
                Event::Control(_, _, Some(p)) => Some(p),
                _ => None,
            })
            .await;
        assert_eq!(payload, Term::tuple(vec![Term::atom("echo"), msg]));
    }
    let stats = conn.stats();
    assert!(stats.new_atom_refs_in > 0, "{stats:?}");
    assert!(
        stats.cached_atom_refs_in > 0,
        "erl never reused a cache entry: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_is_refused_and_erl_sees_pang() {
    init_tracing();
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "right_cookie", Duration::from_secs(60)).await;
    let mut erl = Erl::start(
        &epmd,
        &unique("intruder"),
        "wrong_cookie",
        &[],
        &format!(
            "io:format(\"~p~n\", [net_adm:ping('{}')]), receive stop -> ok end.",
            rust.name()
        ),
    );
    erl.expect("pang");
    assert!(rust.node.nodes().is_empty());
    // And we cannot get in with the wrong cookie either.
    let short = unique("guard");
    let mut guard = Erl::start(&epmd, &short, "other_cookie", &[], ECHO);
    guard.expect("ready");
    let r = rust.node.connect(erl_name(&short)).await;
    assert!(r.is_err(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_connection() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "mal_cookie", Duration::from_secs(60)).await;
    let short = unique("good");
    let mut erl = Erl::start(&epmd, &short, "mal_cookie", &[], ECHO);
    erl.expect("ready");
    rust.node.connect(erl_name(&short)).await.unwrap();

    // A rogue peer: a correct handshake, then garbage.
    let rogue = NodeName::parse(&format!("{}@localhost", unique("rogue"))).unwrap();
    let mut s = tokio::net::TcpStream::connect(rust.node.local_addr())
        .await
        .unwrap();
    let cfg = HandshakeConfig {
        name: rogue,
        flags: DistFlags::ours(true),
        creation: 1,
        cookie: Cookie::new("mal_cookie"),
    };
    handshake::initiate(&mut s, &cfg, Some(rust.node.name()))
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    s.write_all(&[0, 0, 0, 3, 131, 68, 200]).await.unwrap();
    let reason = rust
        .expect("the rogue's nodedown", |e| match e {
            Event::Down(n, r) if n == rogue => Some(r),
            _ => None,
        })
        .await;
    assert!(matches!(reason, CloseReason::Malformed(_)), "{reason:?}");

    // The good connection still carries messages.
    let me = rust.pid(3);
    rust.node
        .send(
            erl_name(&short),
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("echo"),
            },
            Some(Term::tuple(vec![Term::Pid(me), Term::atom("still_here")])),
        )
        .await
        .unwrap();
    let payload = rust
        .expect("the echo", |e| match e {
            Event::Control(_, _, Some(p)) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(
        payload,
        Term::tuple(vec![Term::atom("echo"), Term::atom("still_here")])
    );
    assert_eq!(rust.node.nodes(), vec![erl_name(&short)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_keep_the_connection_alive_past_ticktime() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "tick_cookie", Duration::from_secs(4)).await;
    let short = unique("ticker");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "tick_cookie",
        &["-kernel", "net_ticktime", "4"],
        &format!(
            "ok = net_kernel:monitor_nodes(true, [{{node_type, all}}, nodedown_reason]), \
             true = net_kernel:connect_node('{}'), io:format(\"connected~n\"), \
             receive {{nodedown, N, Info}} -> io:format(\"nodedown ~p ~p~n\", [N, Info]) \
             after 12000 -> io:format(\"alive ~p~n\", [nodes(hidden)]) end, receive stop -> ok end.",
            rust.name()
        ),
    );
    erl.expect("connected");
    let line = erl.expect_line("alive or nodedown", |l| {
        l.starts_with("alive") || l.starts_with("nodedown")
    });
    assert_eq!(line, format!("alive [{}]", rust.name()));
    assert_eq!(rust.node.nodes(), vec![erl_name(&short)]);
    let stats = rust.node.connection(erl_name(&short)).unwrap().stats();
    assert!(stats.ticks_in >= 4, "{stats:?}");
    while let Ok(e) = rust.events.try_recv() {
        assert!(!matches!(e, Event::Down(..)), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_node_from_erl_is_seen_as_nodedown() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "dc_cookie", Duration::from_secs(60)).await;
    let short = unique("dc");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "dc_cookie",
        &[],
        &format!(
            "pong = net_adm:ping('{0}'), io:format(\"up~n\"), \
             io:format(\"~p~n\", [erlang:disconnect_node('{0}')]), receive stop -> ok end.",
            rust.name()
        ),
    );
    erl.expect("up");
    let peer = erl_name(&short);
    let reason = rust
        .expect("nodedown", |e| match e {
            Event::Down(n, r) if n == peer => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(reason, CloseReason::PeerClosed);
    erl.expect("true");
    assert!(rust.node.nodes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_erl_is_declared_dead_after_ticktime() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "frozen_cookie", Duration::from_secs(2)).await;
    let short = unique("frozen");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "frozen_cookie",
        &["-kernel", "net_ticktime", "2"],
        ECHO,
    );
    erl.expect("ready");
    let conn = rust.node.connect(erl_name(&short)).await.unwrap();
    // Alive past the ticktime while erl runs: it ticks every 0.5 s.
    let deadline = std::time::Instant::now() + WAIT;
    while conn.stats().ticks_in < 6 {
        assert!(std::time::Instant::now() < deadline, "erl never ticked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rust.node.nodes(), vec![erl_name(&short)]);
    let stopped = std::time::Instant::now();
    erl.signal("-STOP");
    let reason = rust
        .expect("nodedown", |e| match e {
            Event::Down(_, r) => Some(r),
            _ => None,
        })
        .await;
    let after = stopped.elapsed();
    erl.signal("-CONT");
    assert_eq!(reason, CloseReason::TickTimeout);
    // OTP declares a peer dead between ticktime and 1.25 x ticktime; allow for a loaded machine.
    assert!(
        after >= Duration::from_millis(1500),
        "declared dead too early: {after:?}"
    );
    assert!(rust.node.nodes().is_empty());
}

/// Links, monitors and exit signals we send are understood by erl: a
/// trapping erl process sees `{'EXIT', ..}` and `'DOWN'` from our pid, and
/// `exit(Victim, kill)` from our pid kills an erl process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_monitor_and_exit_signals_reach_erl() {
    init_tracing();
    let epmd = Epmd::start();
    let mut rust = Rust::start(&epmd, "sig_cookie", Duration::from_secs(60)).await;
    let short = unique("probe");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "sig_cookie",
        &[],
        "process_flag(trap_exit, true), register(probe, self()), io:format(\"ready~n\"), \
         receive {go, R} -> ok end, \
         link(R), Ref = erlang:monitor(process, R), \
         V = spawn(fun() -> receive never -> ok end end), VRef = erlang:monitor(process, V), \
         R ! {victim, V}, \
         receive {'EXIT', R, E} -> io:format(\"exit ~p~n\", [E]) end, \
         receive {'DOWN', Ref, process, R, D} -> io:format(\"down ~p~n\", [D]) end, \
         receive {'DOWN', VRef, process, V, K} -> io:format(\"victim ~p~n\", [K]) end, \
         receive stop -> ok end.",
    );
    erl.expect("ready");
    let me = rust.pid(77);
    rust.node
        .send(
            erl_name(&short),
            ControlMessage::RegSend {
                from: me,
                to_name: Atom::new("probe"),
            },
            Some(Term::tuple(vec![Term::atom("go"), Term::Pid(me)])),
        )
        .await
        .unwrap();
    let linker = rust
        .expect("LINK", |e| match e {
            Event::Control(_, ControlMessage::Link { from, to }, None) if to == me => Some(from),
            _ => None,
        })
        .await;
    let reference = rust
        .expect("MONITOR_P", |e| match e {
            Event::Control(_, ControlMessage::MonitorP { to, reference, .. }, None)
                if to == dist::control::ProcRef::Pid(me) =>
            {
                Some(reference)
            }
            _ => None,
        })
        .await;
    let victim = rust
        .expect("the victim's pid", |e| match e {
            Event::Control(_, _, Some(p)) => match p.as_tuple() {
                Some([tag, Term::Pid(v)]) if tag.is_atom("victim") => Some(*v),
                _ => None,
            },
            _ => None,
        })
        .await;
    let conn = rust.node.connection(erl_name(&short)).unwrap();
    conn.send(
        ControlMessage::PayloadExit {
            from: me,
            to: linker,
        },
        Some(Term::atom("boom")),
    )
    .unwrap();
    conn.send(
        ControlMessage::PayloadMonitorPExit {
            from: dist::control::ProcRef::Pid(me),
            to: linker,
            reference,
        },
        Some(Term::atom("boom")),
    )
    .unwrap();
    conn.send(
        ControlMessage::PayloadExit2 {
            from: me,
            to: victim,
        },
        Some(Term::atom("kill")),
    )
    .unwrap();
    erl.expect("exit boom");
    erl.expect("down boom");
    erl.expect("victim killed");
}
