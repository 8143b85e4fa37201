//! `ferrotp node` against real erl nodes: the seed tree is reachable,
//! SIGTERM exits cleanly, and killing the OS process is `noconnection`
//! for Erlang watchers.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_erl() -> bool {
    let ok = Command::new("erl")
        .arg("-version")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: erl is not installed");
    }
    ok
}

fn epmd() -> (u16, Kill) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = Command::new("epmd")
        .args(["-port", &port.to_string()])
        .spawn()
        .expect("epmd");
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "epmd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (port, Kill(child))
}

/// Lines of a child's stdout, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(_) => continue,
            Err(e) => panic!("no expected line: {e}"),
        }
    }
}

fn rust_node(port: u16, name: &str, cookie: &str) -> (Kill, mpsc::Receiver<String>) {
    rust_node_as(port, "--sname", name, cookie)
}

/// `ferrotp node FLAG NAME` (`--sname` or `--name`).
fn rust_node_as(port: u16, flag: &str, name: &str, cookie: &str) -> (Kill, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotp"))
        .args(["node", flag, name, "--cookie", cookie])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferrotp node runs");
    let rx = lines(&mut child);
    wait_line(&rx, |l| l.contains(" up "));
    (Kill(child), rx)
}

fn erl(port: u16, cookie: &str, script: &str) -> (Kill, mpsc::Receiver<String>) {
    let name = format!("erl{}_{}@localhost", std::process::id(), script.len());
    erl_as(port, "-sname", &name, cookie, script)
}

/// `erl FLAG NAME` (`-sname` or `-name`) evaluating `script`.
fn erl_as(
    port: u16,
    flag: &str,
    name: &str,
    cookie: &str,
    script: &str,
) -> (Kill, mpsc::Receiver<String>) {
    let mut child = Command::new("erl")
        .args([
            "-noshell",
            flag,
            name,
            "-setcookie",
            cookie,
            "-eval",
            script,
        ])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("erl runs");
    let rx = lines(&mut child);
    (Kill(child), rx)
}

#[test]
fn erl_reaches_the_seed_tree_and_sigterm_exits_cleanly() {
    if !have_erl() {
        return;
    }
    let (port, _epmd) = epmd();
    let node = format!("cli{}@localhost", std::process::id());
    let (mut rust, _out) = rust_node(port, &node, "cc1");
    let script = format!(
        "N = '{node}', pong = net_adm:ping(N), \
         V0 = gen_server:call({{counter, N}}, value), gen_server:cast({{counter, N}}, {{bump, 3}}), \
         V1 = gen_server:call({{counter, N}}, value), S = sys:get_state({{counter, N}}), \
         [{{counter, C, worker, [counter]}}] = supervisor:which_children({{top_sup, N}}), \
         M = erlang:monitor(process, C), exit(C, kill), receive {{'DOWN', M, process, C, killed}} -> ok end, \
         Wait = fun W() -> case supervisor:which_children({{top_sup, N}}) of [{{counter, C2, _, _}}] when is_pid(C2), C2 =/= C -> C2; _ -> timer:sleep(20), W() end end, \
         C2 = Wait(), V2 = gen_server:call(C2, value), \
         io:format(\"result ~w~n\", [{{V0, V1, S, V2}}]), halt()."
    );
    let (_erl, erl_out) = erl(port, "cc1", &script);
    let line = wait_line(&erl_out, |l| l.starts_with("result"));
    assert_eq!(line, "result {0,3,3,0}");
    let pid = rust.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = rust.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn killing_the_rust_os_process_is_noconnection_for_erlang() {
    if !have_erl() {
        return;
    }
    let (port, _epmd) = epmd();
    let node = format!("clk{}@localhost", std::process::id());
    let (mut rust, _out) = rust_node(port, &node, "cc2");
    let script = format!(
        "N = '{node}', pong = net_adm:ping(N), process_flag(trap_exit, true), \
         [{{counter, C, _, _}}] = supervisor:which_children({{top_sup, N}}), link(C), \
         M = erlang:monitor(process, {{counter, N}}), io:format(\"ready~n\"), \
         A = receive {{'DOWN', M, process, _, R}} -> R end, B = receive {{'EXIT', C, R2}} -> R2 end, \
         io:format(\"result ~w~n\", [{{A, B}}]), halt()."
    );
    let (_erl, erl_out) = erl(port, "cc2", &script);
    wait_line(&erl_out, |l| l == "ready");
    let _ = rust.0.kill();
    let line = wait_line(&erl_out, |l| l.starts_with("result"));
    assert_eq!(line, "result {noconnection,noconnection}");
}

#[test]
fn long_names_connect_both_ways_and_reach_the_seed_tree() {
    if !have_erl() {
        return;
    }
    let (port, _epmd) = epmd();
    let id = std::process::id();
    let node = format!("clong{id}@127.0.0.1");
    let (_rust, _out) = rust_node_as(port, "--name", &node, "cc3");
    // erl with a long name reaches the Rust node's registered names and
    // sees it as a hidden node (not in nodes(), in nodes(hidden)).
    let script = format!(
        "N = '{node}', pong = net_adm:ping(N), \
         V0 = gen_server:call({{counter, N}}, value), gen_server:cast({{counter, N}}, {{bump, 4}}), \
         V1 = gen_server:call({{counter, N}}, value), \
         [{{counter, C, worker, [counter]}}] = supervisor:which_children({{top_sup, N}}), \
         Visible = lists:member(N, nodes()), Hidden = lists:member(N, nodes(hidden)), \
         io:format(\"result ~w~n\", [{{V0, V1, node(C) =:= N, Visible, Hidden}}]), halt()."
    );
    let erl_node = format!("elong{id}@127.0.0.1");
    let (_erl, erl_out) = erl_as(port, "-name", &erl_node, "cc3", &script);
    let line = wait_line(&erl_out, |l| l.starts_with("result"));
    assert_eq!(line, "result {0,4,true,false,true}");

    // The other way: the Rust node dials a long-named erl (`--connect`).
    let waiter = format!("wait{id}@127.0.0.1");
    let script = "io:format(\"ready~n\"), Wait = fun W() -> case nodes(hidden) of [N] -> N; _ -> timer:sleep(50), W() end end, \
         N = Wait(), V = gen_server:call({counter, N}, value), \
         io:format(\"result ~w~n\", [{N, V}]), halt().";
    let (_erl2, erl2_out) = erl_as(port, "-name", &waiter, "cc3", script);
    wait_line(&erl2_out, |l| l == "ready");
    let dialer = format!("cdial{id}@127.0.0.1");
    let child = Command::new(env!("CARGO_BIN_EXE_ferrotp"))
        .args([
            "node",
            "--name",
            &dialer,
            "--cookie",
            "cc3",
            "--connect",
            &waiter,
        ])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferrotp node runs");
    let _dialer = Kill(child);
    let line = wait_line(&erl2_out, |l| l.starts_with("result"));
    assert_eq!(line, format!("result {{'{dialer}',0}}"));
}
