//! An independent third peer: a Java node on OTP's JInterface
//! (`test/java/FerrotpPeer.java`, `com.ericsson.otp.erlang`) talks to the
//! Rust node's seed tree: gen_server call and cast, a bignum, a link and
//! `exit(Counter, kill)`, the supervisor's restart, and a message from a
//! Rust process to a Java mailbox and back. Both directions of the
//! handshake are covered: JInterface dials Rust (`dial`), Rust dials
//! JInterface (`wait`).
//!
//! Needs `java`, `javac` and `OtpErlang.jar` (Debian `erlang-jinterface`,
//! `openjdk-17-jdk-headless`; `make deps` installs them). Missing, the tests
//! fail when `CI` is set and skip with a printed line otherwise.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use dist::NodeName;
use etf::{Atom, BitString, Map, Term};
use num_bigint::BigInt;

/// The JVM's start, JIT and the whole run on a loaded 2-core machine.
const JAVA_WAIT: Duration = Duration::from_secs(120);

/// Reports a missing tool: a failure under CI (which installs it), a
/// skip line otherwise. `None` means skip.
fn missing<T>(what: &str) -> Option<T> {
    let msg = format!(
        "{what} is not installed (Debian: erlang-jinterface openjdk-17-jdk-headless; `make deps`)"
    );
    assert!(std::env::var_os("CI").is_none(), "CI: {msg}");
    eprintln!("skipping: {msg}");
    None
}

/// `true` if `tool -version` runs.
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// JInterface's jar: `code:lib_dir(jinterface)/priv/OtpErlang.jar`.
fn jinterface_jar() -> Option<PathBuf> {
    let out = Command::new("erl")
        .args([
            "-noshell",
            "-eval",
            "io:format(\"~p\", [code:lib_dir(jinterface)]), halt().",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let jar = PathBuf::from(dir.trim().trim_matches('"')).join("priv/OtpErlang.jar");
    jar.exists().then_some(jar)
}

/// The jar, once `java` and `javac` are known to run; `None` to skip.
fn java_toolchain() -> Option<PathBuf> {
    if !have_erl() {
        return None;
    }
    if !runs("java") || !runs("javac") {
        return missing("java/javac");
    }
    jinterface_jar().or_else(|| missing("JInterface (OtpErlang.jar)"))
}

/// Compiles `test/java/FerrotpPeer.java` into a fresh directory.
fn compile_peer(jar: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/java/FerrotpPeer.java");
    let out = std::env::temp_dir().join(unique("ferrotp_jpeer"));
    std::fs::create_dir_all(&out).expect("class dir");
    let built = Command::new("javac")
        .arg("-cp")
        .arg(jar)
        .arg("-d")
        .arg(&out)
        .arg(&src)
        .output()
        .expect("javac runs");
    assert!(
        built.status.success(),
        "javac failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

/// What the Rust process sends to the Java mailbox and expects back
/// unchanged: one term of each kind JInterface has a class for.
fn payload(ctx: &ferrotp::Process) -> Term {
    let mut map = Map::new();
    map.insert(Term::atom("k"), Term::binary(b"v".to_vec()));
    map.insert(Term::Int(1), Term::List(vec![]));
    Term::tuple(vec![
        Term::binary(b"bytes\x00\xff".to_vec()),
        Term::from(-(BigInt::from(1) << 80u32)),
        Term::Int(-42),
        Term::Float(3.5),
        Term::atom("h\u{e9}llo"),
        Term::List("ferrotp".bytes().map(|b| Term::Int(b.into())).collect()),
        Term::List(vec![Term::Int(1000), Term::atom("x")]),
        Term::ImproperList(vec![Term::Int(1)], Box::new(Term::Int(2))),
        Term::from(BitString {
            bytes: vec![1, 0b0100_0000].into(),
            last_bits: 3,
        }),
        Term::Map(map),
        Term::Pid(ctx.pid()),
        Term::Reference(ctx.make_ref()),
    ])
}

/// The registered `jtest` process: on `go` or `{hello, _}` it sends
/// `{ping, Self, Payload}` to `{javambox, Java}` and reports
/// `(Payload, Echo)` once `{pong, Echo}` arrives.
fn spawn_jtest(
    rust: &Rust,
    java: NodeName,
    done: tokio::sync::oneshot::Sender<(Term, Term)>,
) -> etf::Pid {
    rust.hidden.runtime().spawn(move |mut ctx| async move {
        ctx.register(Atom::new("jtest")).expect("jtest registers");
        let sent = payload(&ctx);
        loop {
            let Ok(m) = ctx.receive().await.into_term() else {
                continue;
            };
            if m.is_atom("go") || tagged(&m, "hello") {
                let ping =
                    Term::tuple(vec![Term::atom("ping"), Term::Pid(ctx.pid()), sent.clone()]);
                let _ = ctx.send_to((Atom::new("javambox"), java.atom()), ping);
            } else if tagged(&m, "pong") {
                let _ = done.send((sent, elem(&m, 1)));
                return;
            }
        }
    })
}

/// How the connection between the two nodes comes up.
#[derive(Clone, Copy, PartialEq)]
enum Dial {
    /// JInterface dials the Rust node (Rust's acceptor).
    Java,
    /// The Rust node dials JInterface (Rust's client handshake).
    Rust,
}

/// Runs the Java peer against a fresh Rust node; asserts its lines, the
/// echoed payload, and the counter's restart as the Rust node sees it.
async fn java_peer_session(dial: Dial, expected: &[&str]) {
    let Some(jar) = java_toolchain() else {
        return;
    };
    let classes = compile_peer(&jar);
    let cookie = "jinterface";
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, cookie).await;
    let counter_before = rust.hidden.runtime().whereis(Atom::new("counter"));
    let alive = unique("java");
    let java = NodeName::parse(&format!("{alive}@localhost")).expect("valid name");
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let jtest = spawn_jtest(&rust, java, done_tx);

    let classpath = std::env::join_paths([jar.as_path(), classes.as_path()]).expect("classpath");
    let mode = if dial == Dial::Java { "dial" } else { "wait" };
    let mut child = Os(Command::new("java")
        .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp"])
        .arg(&classpath)
        .args(["FerrotpPeer", rust.name(), cookie, &alive, mode])
        .env("ERL_EPMD_PORT", epmd.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs"));
    let (line_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.0.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let mut stderr = child.0.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    // Every stdout line but "ready NODE", which (Rust dialing) is the cue
    // to connect and ping; a line that does not come within JAVA_WAIT ends
    // the run.
    let ready_line = format!("ready {}", java.as_str());
    let mut ready = false;
    let mut got = Vec::new();
    let finished = loop {
        match tokio::time::timeout(JAVA_WAIT, lines.recv()).await {
            Ok(Some(line)) if !ready && line == ready_line => {
                ready = true;
                if dial == Dial::Rust {
                    match rust.hidden.connect(java).await {
                        Ok(_) => rust.hidden.runtime().send(&jtest, Term::atom("go")),
                        Err(e) => got.push(format!("(test) the Rust node cannot connect: {e}")),
                    }
                }
            }
            Ok(Some(line)) => got.push(line),
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    if !finished {
        got.push("(test) timed out waiting for the Java peer".into());
        let _ = child.0.kill();
    }
    let status = tokio::task::block_in_place(|| child.0.wait()).expect("java exits");
    let stderr = stderr.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&classes);
    assert!(
        ready,
        "the Java node never started: {got:?}; stderr:\n{stderr}"
    );
    assert_eq!(got, expected, "Java peer output; stderr:\n{stderr}");
    assert!(
        status.success(),
        "Java peer exit {status}; stderr:\n{stderr}"
    );

    let (sent, echoed) = tokio::time::timeout(WAIT, done_rx)
        .await
        .expect("the pong reached jtest")
        .expect("jtest reports");
    assert_eq!(
        echoed, sent,
        "JInterface re-encoded the payload differently"
    );
    let counter_after = rust.hidden.runtime().whereis(Atom::new("counter"));
    assert!(
        counter_before.is_some() && counter_after.is_some(),
        "counter is registered before and after"
    );
    assert_ne!(
        counter_before, counter_after,
        "the killed counter was restarted"
    );
}

/// The Java side's lines for the counter checks, in order.
const COUNTER_LINES: [&str; 5] = [
    "ok call: value -> 0",
    "ok cast: bump 5 -> 5",
    "ok bignum: bump 2^70 -> 1180591620717411303429",
    "ok exit: link from counter: killed",
    "ok restart: fresh counter -> 0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jinterface_node_dials_calls_links_and_kills_the_rust_counter() {
    let mut expected = COUNTER_LINES.to_vec();
    expected.extend(["ok rust: ping answered", "done"]);
    java_peer_session(Dial::Java, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_node_dials_a_jinterface_node_and_their_terms_round_trip() {
    let mut expected = vec!["ok rust: ping answered"];
    expected.extend(COUNTER_LINES);
    expected.push("done");
    java_peer_session(Dial::Rust, &expected).await;
}
