//! EPMD registration and the version-6 handshake against a real `erl`.

mod common;

use common::{init_tracing, unique, Epmd, Erl};
use dist::epmd::{EpmdClient, NodeEntry};
use dist::handshake::{self, HandshakeConfig, HandshakeError, Status};
use dist::{Cookie, DistFlags, NodeName};
use tokio::net::{TcpListener, TcpStream};

fn config(name: &str, cookie: &str, creation: u32) -> HandshakeConfig {
    HandshakeConfig {
        name: NodeName::parse(name).unwrap(),
        flags: DistFlags::ours(true),
        creation,
        cookie: Cookie::new(cookie),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erl_sees_our_node_in_epmd_names() {
    init_tracing();
    let epmd = Epmd::start();
    let ours = unique("rust");
    let _reg = EpmdClient::new(epmd.addr())
        .register(NodeEntry::hidden(&ours, 40123))
        .await
        .unwrap();
    let names = EpmdClient::new(epmd.addr()).names().await.unwrap();
    assert!(names.contains(&(ours.clone(), 40123)), "{names:?}");
    let mut erl = Erl::start(
        &epmd,
        &unique("names"),
        "c",
        &[],
        &format!(
            "{{ok, Names}} = net_adm:names(), io:format(\"~p~n\", [lists:keyfind(\"{ours}\", 1, Names)]), receive stop -> ok end."
        ),
    );
    erl.expect(&format!("{{\"{ours}\",40123}}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erl_connects_to_our_node_and_we_accept() {
    init_tracing();
    let epmd = Epmd::start();
    let ours = format!("{}@localhost", unique("rust"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let alive = ours.split('@').next().unwrap().to_owned();
    let reg = EpmdClient::new(epmd.addr())
        .register(NodeEntry::hidden(&alive, port))
        .await
        .unwrap();
    let cfg = config(&ours, "cookie_ok", reg.creation());
    let acceptor = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let est = handshake::accept(&mut s, &cfg, |_| Status::Ok).await;
        (est, s)
    });
    let short = unique("erl");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "cookie_ok",
        &[],
        &format!(
            "io:format(\"~p~n\", [net_kernel:connect_node('{ours}')]), receive stop -> ok end."
        ),
    );
    erl.expect("true");
    let (est, _stream) = acceptor.await.unwrap();
    let est = est.unwrap();
    assert_eq!(est.peer.as_str(), format!("{short}@localhost"));
    assert!(est.peer_creation != 0);
    assert!(est
        .flags
        .contains(DistFlags::FRAGMENTS | DistFlags::DIST_HDR_ATOM_CACHE));
    assert!(!est.flags.contains(DistFlags::PUBLISHED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_connect_to_erl_as_initiator() {
    init_tracing();
    let epmd = Epmd::start();
    let short = unique("erl");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "cookie_i",
        &[],
        "ok = net_kernel:monitor_nodes(true, [{node_type, all}]), io:format(\"ready~n\"), \
         receive {nodeup, N, _} -> io:format(\"nodeup ~s~n\", [N]) end, receive stop -> ok end.",
    );
    erl.expect("ready");
    let entry = EpmdClient::new(epmd.addr())
        .port_please(&short)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.node_type, dist::epmd::NODE_TYPE_NORMAL);
    let ours = format!("{}@localhost", unique("rust"));
    let mut s = TcpStream::connect(("127.0.0.1", entry.port)).await.unwrap();
    let peer = NodeName::parse(&format!("{short}@localhost")).ok();
    let est = handshake::initiate(&mut s, &config(&ours, "cookie_i", 77), peer)
        .await
        .unwrap();
    assert_eq!(Some(est.peer), peer);
    erl.expect(&format!("nodeup {ours}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_is_refused_both_ways() {
    init_tracing();
    let epmd = Epmd::start();
    let ours = format!("{}@localhost", unique("rust"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let alive = ours.split('@').next().unwrap().to_owned();
    let reg = EpmdClient::new(epmd.addr())
        .register(NodeEntry::hidden(&alive, port))
        .await
        .unwrap();
    let cfg = config(&ours, "right", reg.creation());
    let acceptor = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        handshake::accept(&mut s, &cfg, |_| Status::Ok).await
    });
    let short = unique("erl");
    let mut erl = Erl::start(
        &epmd,
        &short,
        "wrong",
        &[],
        &format!("io:format(\"~p~n\", [net_adm:ping('{ours}')]), io:format(\"ready~n\"), receive stop -> ok end."),
    );
    erl.expect("pang");
    let refused = acceptor.await.unwrap();
    assert!(
        matches!(refused, Err(HandshakeError::BadDigest { .. })),
        "{refused:?}"
    );

    // And as initiator: erl closes on our wrong digest.
    erl.expect("ready");
    let entry = EpmdClient::new(epmd.addr())
        .port_please(&short)
        .await
        .unwrap()
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", entry.port)).await.unwrap();
    let r = handshake::initiate(&mut s, &config(&ours, "right", 5), None).await;
    assert!(r.is_err(), "{r:?}");
}
