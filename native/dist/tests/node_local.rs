//! The node manager between ferrotp nodes, and with the embedded EPMD.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{init_tracing, unique, Erl, WAIT};
use dist::connection::CloseReason;
use dist::control::ControlMessage;
use dist::node::{DistHandler, DistNode, EpmdMode, NodeConfig};
use dist::{Cookie, NodeName};
use etf::{Atom, Pid, Term};
use tokio::sync::mpsc;

#[derive(Debug)]
enum Event {
    Control(ControlMessage, Option<Term>),
    Up(NodeName),
    Down(NodeName, CloseReason),
}

struct Events(mpsc::UnboundedSender<Event>);

impl DistHandler for Events {
    fn on_control(&self, _peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let _ = self.0.send(Event::Control(msg, payload));
    }
    fn on_nodeup(&self, peer: NodeName) {
        let _ = self.0.send(Event::Up(peer));
    }
    fn on_nodedown(&self, peer: NodeName, reason: &CloseReason) {
        let _ = self.0.send(Event::Down(peer, reason.clone()));
    }
}

async fn start(
    prefix: &str,
    epmd_port: u16,
    mode: EpmdMode,
) -> (DistNode, mpsc::UnboundedReceiver<Event>) {
    let name = NodeName::parse(&format!("{}@localhost", unique(prefix))).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let config = NodeConfig::new(name)
        .cookie(Cookie::new("local"))
        .epmd(mode)
        .epmd_port(epmd_port)
        .ticktime(Duration::from_secs(60));
    (
        DistNode::start(config, Arc::new(Events(tx))).await.unwrap(),
        rx,
    )
}

fn pid(node: &DistNode, id: u32) -> Pid {
    Pid {
        node: node.name().atom(),
        id,
        serial: 0,
        creation: node.creation(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_settle_on_one_connection() {
    init_tracing();
    let epmd = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = epmd.local_addr().port();
    for _ in 0..20 {
        let (a, mut ea) = start("sim_a", port, EpmdMode::External).await;
        let (b, mut eb) = start("sim_b", port, EpmdMode::External).await;
        let (ra, rb) = tokio::join!(a.connect(b.name()), b.connect(a.name()));
        let (ca, cb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(a.nodes(), vec![b.name()]);
        assert_eq!(b.nodes(), vec![a.name()]);
        // Both handles lead to the one surviving connection: a message gets through each way.
        ca.send(
            ControlMessage::SendSender {
                from: pid(&a, 1),
                to: pid(&b, 2),
            },
            Some(Term::atom("a_to_b")),
        )
        .unwrap();
        cb.send(
            ControlMessage::SendSender {
                from: pid(&b, 2),
                to: pid(&a, 1),
            },
            Some(Term::atom("b_to_a")),
        )
        .unwrap();
        for (events, peer, want) in [(&mut eb, a.name(), "a_to_b"), (&mut ea, b.name(), "b_to_a")] {
            let mut ups = 0;
            loop {
                match tokio::time::timeout(WAIT, events.recv())
                    .await
                    .unwrap()
                    .unwrap()
                {
                    Event::Up(n) => {
                        assert_eq!(n, peer);
                        ups += 1;
                    }
                    Event::Down(n, r) => panic!("unexpected nodedown {n} {r}"),
                    Event::Control(ControlMessage::SendSender { .. }, Some(p))
                        if p.is_atom(want) =>
                    {
                        break
                    }
                    Event::Control(..) => {}
                }
            }
            assert_eq!(ups, 1, "exactly one nodeup");
        }
        a.shutdown();
        b.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_disconnect_is_nodedown_on_both_sides() {
    init_tracing();
    let epmd = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = epmd.local_addr().port();
    let (a, mut ea) = start("dc_a", port, EpmdMode::External).await;
    let (b, mut eb) = start("dc_b", port, EpmdMode::External).await;
    a.connect(b.name()).await.unwrap();
    assert!(a.disconnect(b.name()));
    for (events, peer, want) in [
        (&mut ea, b.name(), CloseReason::Disconnected),
        (&mut eb, a.name(), CloseReason::PeerClosed),
    ] {
        loop {
            match tokio::time::timeout(WAIT, events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Event::Down(n, r) => {
                    assert_eq!((n, r), (peer, want));
                    break;
                }
                _ => continue,
            }
        }
    }
    assert!(a.nodes().is_empty());
    // And a later send reconnects, as in Erlang.
    a.send(
        b.name(),
        ControlMessage::RegSend {
            from: pid(&a, 5),
            to_name: Atom::new("anyone"),
        },
        Some(Term::Int(1)),
    )
    .await
    .unwrap();
    assert_eq!(a.nodes(), vec![b.name()]);
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erl_registers_with_the_embedded_epmd_and_pings_us() {
    init_tracing();
    let epmd = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = epmd.local_addr().port();
    let (node, _events) = start("emb", port, EpmdMode::External).await;
    let mut erl = Erl::start_on(
        port,
        &unique("embping"),
        "local",
        &[],
        &format!(
            "io:format(\"~p~n\", [net_adm:ping('{}')]), receive stop -> ok end.",
            node.name()
        ),
    );
    erl.expect("pong");
    node.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_starts_the_system_epmd_when_none_runs() {
    init_tracing();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (node, _events) = start("auto", port, EpmdMode::Auto).await;
    let epmd = dist::epmd::EpmdClient::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let names = epmd.names().await.unwrap();
    assert!(
        names.iter().any(|(n, _)| n == node.name().alive()),
        "{names:?}"
    );
    let mut erl = Erl::start_on(
        port,
        &unique("autoping"),
        "local",
        &[],
        &format!(
            "io:format(\"~p~n\", [net_adm:ping('{}')]), receive stop -> ok end.",
            node.name()
        ),
    );
    erl.expect("pong");
    drop(erl);
    node.shutdown();
    // The daemon outlives the node, as erl's does; this test stops it.
    assert!(epmd.kill().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueued_messages_keep_their_order_across_the_auto_connect() {
    init_tracing();
    let epmd = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = epmd.local_addr().port();
    let (a, _ea) = start("q_a", port, EpmdMode::External).await;
    let (b, mut eb) = start("q_b", port, EpmdMode::External).await;
    let (from, to) = (pid(&a, 1), pid(&b, 2));
    // Yielding now and then spreads the sends over the connect and the drain.
    for i in 0..5000 {
        a.enqueue(
            b.name(),
            ControlMessage::SendSender { from, to },
            Some(Term::Int(i)),
        );
        if i % 5 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut next = 0;
    while next < 5000 {
        match tokio::time::timeout(WAIT, eb.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Control(ControlMessage::SendSender { .. }, Some(Term::Int(i))) => {
                assert_eq!(i, next, "out of order");
                next += 1;
            }
            Event::Down(n, r) => panic!("unexpected nodedown {n} {r}"),
            _ => {}
        }
    }
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_to_an_unreachable_node_reports_nodedown() {
    init_tracing();
    let epmd = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (a, mut ea) = start("lonely", epmd.local_addr().port(), EpmdMode::External).await;
    let nobody = NodeName::parse("nobody_home@localhost").unwrap();
    a.enqueue(nobody, ControlMessage::NodeLink, None);
    let event = tokio::time::timeout(WAIT, ea.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&event, Event::Down(n, CloseReason::ConnectFailed(_)) if *n == nobody),
        "{event:?}"
    );
    a.shutdown();
}
