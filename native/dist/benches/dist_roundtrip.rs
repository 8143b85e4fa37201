//! Distribution round trips and throughput: a ferrotp node against an `erl`
//! echo node, beside an `erl` client doing the same in the same run.
//!
//! `cargo bench -p ferrotp-dist --bench dist_roundtrip` (needs `erl` and `epmd`).
//! Prints each measurement for ferrotp and for the BEAM, and their ratio.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dist::control::ControlMessage;
use dist::node::{DistHandler, DistNode, EpmdMode, NodeConfig};
use dist::{Cookie, NodeName};
use etf::{Atom, Pid, Term};
use tokio::sync::mpsc;

const ROUND_TRIPS: usize = 5_000;
const ONE_WAY: usize = 100_000;
const BIG: usize = 10 * 1024 * 1024;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Forward(mpsc::UnboundedSender<Term>);
impl DistHandler for Forward {
    fn on_control(&self, _peer: NodeName, _msg: ControlMessage, payload: Option<Term>) {
        if let Some(p) = payload {
            let _ = self.0.send(p);
        }
    }
}

const ECHO: &str = "register(echo, self()), io:format(\"ready~n\"), \
    Loop = fun L(Count) -> receive \
        {From, count_to, N} when Count + 1 >= N -> From ! {counted, Count + 1}, L(0); \
        {_From, count_to, _N} -> L(Count + 1); \
        {From, Msg} -> From ! Msg, L(Count) end end, Loop(0).";

fn erl(epmd_port: u16, name: &str, eval: &str) -> (Kill, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new("erl")
        .args([
            "-sname",
            name,
            "-setcookie",
            "bench",
            "-noshell",
            "-noinput",
            "-eval",
            eval,
        ])
        .args(["-kernel", "inet_dist_use_interface", "{127,0,0,1}"])
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("erl");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Kill(child), rx)
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("erl line");
        if line.starts_with(prefix) {
            return line;
        }
    }
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Term>) -> Term {
    tokio::time::timeout(Duration::from_secs(120), rx.recv())
        .await
        .expect("timely reply")
        .expect("open channel")
}

/// Prints one row; `ratio` is ferrotp's speed relative to the BEAM's (above 1: faster).
fn report(what: &str, ours: f64, beam: f64, unit: &str, higher_is_better: bool) {
    let speed = if higher_is_better {
        ours / beam
    } else {
        beam / ours
    };
    println!("{what:<30} ferrotp {ours:>10.1} {unit:<6} BEAM {beam:>10.1} {unit:<6} speed vs BEAM {speed:.2}x");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _epmd = Kill(
        Command::new("epmd")
            .args(["-port", &port.to_string(), "-address", "127.0.0.1"])
            .spawn()
            .expect("epmd"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_echo, echo_out) = erl(port, "bench_echo@localhost", ECHO);
    wait_line(&echo_out, "ready");

    // The BEAM baseline: an erl client against the same echo node.
    let beam_eval = format!(
        "E = {{echo, 'bench_echo@localhost'}}, pong = net_adm:ping('bench_echo@localhost'), \
         {{T1, _}} = timer:tc(fun() -> [begin E ! {{self(), I}}, receive I -> ok end end || I <- lists:seq(1, {ROUND_TRIPS})] end), \
         {{T2, _}} = timer:tc(fun() -> [E ! {{self(), count_to, {ONE_WAY}}} || _ <- lists:seq(1, {ONE_WAY})], receive {{counted, _}} -> ok end end), \
         B = binary:copy(<<7>>, {BIG}), \
         {{T3, _}} = timer:tc(fun() -> E ! {{self(), B}}, receive B -> ok end end), \
         io:format(\"beam ~p ~p ~p~n\", [T1, T2, T3]), halt()."
    );
    let (_client, client_out) = erl(port, "bench_client@localhost", &beam_eval);
    let beam: Vec<f64> = wait_line(&client_out, "beam ")
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("microseconds"))
        .collect();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let name = NodeName::parse("bench_rust@localhost").unwrap();
    let config = NodeConfig::new(name)
        .cookie(Cookie::new("bench"))
        .epmd(EpmdMode::External)
        .epmd_port(port);
    let node = DistNode::start(config, Arc::new(Forward(tx)))
        .await
        .expect("node");
    let me = Pid {
        node: node.name().atom(),
        id: 100,
        serial: 0,
        creation: node.creation(),
    };
    let peer = NodeName::parse("bench_echo@localhost").unwrap();
    let conn = node.connect(peer).await.expect("connect");
    let to_echo = || ControlMessage::RegSend {
        from: me,
        to_name: Atom::new("echo"),
    };

    let t = Instant::now();
    for i in 0..ROUND_TRIPS as i64 {
        conn.send(
            to_echo(),
            Some(Term::tuple(vec![Term::Pid(me), Term::Int(i)])),
        )
        .unwrap();
        let reply = recv(&mut rx).await;
        assert_eq!(reply, Term::Int(i));
    }
    let rtt = t.elapsed();

    let t = Instant::now();
    let n = Term::Int(ONE_WAY as i64);
    for _ in 0..ONE_WAY {
        conn.send(
            to_echo(),
            Some(Term::tuple(vec![
                Term::Pid(me),
                Term::atom("count_to"),
                n.clone(),
            ])),
        )
        .unwrap();
    }
    let counted = recv(&mut rx).await;
    assert_eq!(counted, Term::tuple(vec![Term::atom("counted"), n]));
    let one_way = t.elapsed();

    let big = Term::binary(vec![7u8; BIG]);
    let t = Instant::now();
    conn.send(
        to_echo(),
        Some(Term::tuple(vec![Term::Pid(me), big.clone()])),
    )
    .unwrap();
    assert_eq!(recv(&mut rx).await, big);
    let big_rtt = t.elapsed();
    node.shutdown();

    println!("distribution over loopback, against one erl echo node (OTP 25):");
    report(
        "round trip, small message",
        rtt.as_secs_f64() * 1e6 / ROUND_TRIPS as f64,
        beam[0] / ROUND_TRIPS as f64,
        "us",
        false,
    );
    report(
        "one-way small messages",
        ONE_WAY as f64 / one_way.as_secs_f64(),
        ONE_WAY as f64 / (beam[1] / 1e6),
        "msg/s",
        true,
    );
    report(
        "10 MiB binary round trip",
        big_rtt.as_secs_f64() * 1e3,
        beam[2] / 1e3,
        "ms",
        false,
    );
}
