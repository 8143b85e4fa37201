//! Test harness: a private EPMD, a hidden Rust node, and real `erl` nodes
//! driven from Rust through an evaluating process (`driver`) that keeps
//! its bindings between expressions, as a shell does.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dist::node::{EpmdMode, NodeConfig};
use dist::{Cookie, NodeName};
use etf::{Atom, Pid, Term};
use ferrotp::Process;
use node::host::HiddenNode;

/// A generous timeout for anything crossing to erl on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// `true` when `erl` is installed; tests print a skip line otherwise.
pub fn have_erl() -> bool {
    let ok = Command::new("erl")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: erl is not installed");
    }
    ok
}

/// A unique name suffix per test (pid + counter).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// An OS process killed when dropped.
pub struct Os(pub Child);

impl Drop for Os {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private `epmd` on a free port.
pub struct Epmd {
    pub port: u16,
    _proc: Os,
}

impl Epmd {
    pub fn start() -> Epmd {
        let port = free_port();
        let child = Command::new("epmd")
            .args(["-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("epmd runs");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "epmd did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Epmd {
            port,
            _proc: Os(child),
        }
    }
}

/// The driver an erl node runs: evaluates `{eval, From, Ref, Src}` with
/// bindings kept across evaluations and answers `{Ref, Value}`; an
/// exception is answered as `{caught, Class, Reason}`. Other messages stay
/// in its mailbox for later expressions to receive.
const DRIVER: &str = r#"
register(driver, self()),
Loop = fun Loop(B) ->
  receive
    {eval, From, Ref, Src} ->
      {R, B2} = try
        {ok, Toks, _} = erl_scan:string(binary_to_list(Src)),
        {ok, Es} = erl_parse:parse_exprs(Toks),
        {value, V, NB} = erl_eval:exprs(Es, B),
        {V, NB}
      catch C:E -> {{caught, C, E}, B} end,
      From ! {Ref, R},
      Loop(B2)
  end
end,
Loop(erl_eval:new_bindings()).
"#;

/// A real erl node running the driver.
pub struct Erl {
    pub name: NodeName,
    proc: Option<Os>,
}

impl Erl {
    /// Starts `erl -sname NAME@localhost -setcookie COOKIE` with the driver.
    pub fn start(epmd: &Epmd, cookie: &str) -> Erl {
        Erl::start_with(epmd, cookie, &[])
    }

    /// Same, with extra `erl` arguments (e.g. `-pa DIR`).
    pub fn start_with(epmd: &Epmd, cookie: &str, extra: &[&str]) -> Erl {
        let alive = unique("erl");
        let name = NodeName::parse(&format!("{alive}@localhost")).expect("valid name");
        let child = Command::new("erl")
            .args(["-noshell", "-sname", name.as_str(), "-setcookie", cookie])
            .args(extra)
            .args(["-eval", DRIVER])
            .env("ERL_EPMD_PORT", epmd.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("erl runs");
        Erl {
            name,
            proc: Some(Os(child)),
        }
    }

    /// The OS process (to kill it).
    pub fn kill(&mut self) {
        self.proc.take();
    }

    /// Whatever erl printed (after it was killed).
    pub fn output(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut os) = self.proc.take() {
            let _ = os.0.kill();
            let _ = os.0.wait();
            if let Some(mut o) = os.0.stdout.take() {
                let _ = o.read_to_string(&mut s);
            }
            if let Some(mut e) = os.0.stderr.take() {
                let _ = e.read_to_string(&mut s);
            }
        }
        s
    }

    pub fn atom(&self) -> Atom {
        self.name.atom()
    }

    /// Connects `hidden` to this node (retrying while erl boots) and waits
    /// until its driver answers.
    pub async fn connect(&self, hidden: &HiddenNode) {
        let deadline = Instant::now() + WAIT;
        loop {
            match hidden.connect(self.name).await {
                Ok(_) => break,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot connect to {}: {e}",
                        self.name
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let me = self.name;
        hidden
            .runtime()
            .run(move |mut ctx| async move {
                loop {
                    if try_eval(&mut ctx, me, "ok.", Duration::from_millis(500))
                        .await
                        .is_some()
                    {
                        return;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "erl driver on {me} never answered"
                    );
                }
            })
            .await
            .expect("driver probe");
    }
}

async fn try_eval(ctx: &mut Process, erl: NodeName, src: &str, timeout: Duration) -> Option<Term> {
    let reference = ctx.make_ref();
    let msg = Term::tuple(vec![
        Term::atom("eval"),
        Term::Pid(ctx.pid()),
        Term::Reference(reference.clone()),
        Term::binary(src.as_bytes().to_vec()),
    ]);
    let _ = ctx.send_to((Atom::new("driver"), erl.atom()), msg);
    let reply = ctx
        .receive_match(
            |m| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|t| t.len() == 2 && t[0] == Term::Reference(reference.clone()))
            },
            Some(timeout),
        )
        .await?;
    match reply.into_term().ok()? {
        Term::Tuple(mut items) => items.pop(),
        _ => None,
    }
}

/// Evaluates `src` (Erlang expressions ending in `.`) on erl node `erl`
/// from process `ctx`; the value.
pub async fn eval(ctx: &mut Process, erl: NodeName, src: &str) -> Term {
    match try_eval(ctx, erl, src, WAIT).await {
        Some(t) => t,
        None => panic!("no answer from erl for {src:?}"),
    }
}

/// Evaluates each of `sources` on erl node `erl`, in order, from a process
/// of `rust`'s node; their values.
pub async fn eval_all(rust: &Rust, erl: NodeName, sources: Vec<String>) -> Vec<Term> {
    rust.hidden
        .runtime()
        .run(move |mut ctx| async move {
            let mut out = Vec::new();
            for src in sources {
                out.push(eval(&mut ctx, erl, &src).await);
            }
            out
        })
        .await
        .expect("driver process")
}

/// A hidden Rust node on `epmd` with the seed tree running under a root
/// process.
pub struct Rust {
    pub hidden: HiddenNode,
    pub top_sup: Pid,
}

impl Drop for Rust {
    fn drop(&mut self) {
        self.hidden.shutdown();
    }
}

impl Rust {
    pub async fn start(epmd: &Epmd, cookie: &str) -> Rust {
        let name = NodeName::parse(&format!("{}@localhost", unique("rust"))).expect("valid name");
        let config = NodeConfig::new(name)
            .cookie(Cookie::new(cookie))
            .epmd(EpmdMode::External)
            .epmd_port(epmd.port);
        let hidden = HiddenNode::start(config).await.expect("hidden node starts");
        let (tx, rx) = tokio::sync::oneshot::channel();
        hidden.runtime().spawn(|mut ctx| async move {
            let sup = node::seed::start_top_sup(&mut ctx).await;
            let _ = tx.send(sup);
            std::future::pending::<()>().await
        });
        let top_sup = rx.await.expect("root runs").expect("top_sup starts");
        Rust { hidden, top_sup }
    }

    pub fn name(&self) -> &'static str {
        self.hidden.name().as_str()
    }
}

/// Formats a term as Erlang text (for assertions on shapes with pids).
pub fn text(t: &Term) -> String {
    t.to_string()
}

/// Waits (up to [`WAIT`]) for a term message satisfying `pred`.
pub async fn recv_term(ctx: &mut Process, pred: impl Fn(&Term) -> bool) -> Term {
    let m = ctx
        .receive_match(|m| m.as_term().is_some_and(&pred), Some(WAIT))
        .await
        .expect("expected message within the timeout");
    m.into_term().unwrap_or_else(|_| Term::nil())
}

/// `true` if `t` is a tuple whose first element is atom `tag`.
pub fn tagged(t: &Term, tag: &str) -> bool {
    t.as_tuple()
        .and_then(|x| x.first())
        .is_some_and(|h| h.is_atom(tag))
}

/// Element `i` of tuple `t`.
pub fn elem(t: &Term, i: usize) -> Term {
    t.as_tuple()
        .and_then(|x| x.get(i))
        .cloned()
        .unwrap_or_else(Term::nil)
}

/// A process registered as `echo` on `hidden` that answers `{From, Msg}` with `Msg`.
pub fn spawn_echo(hidden: &HiddenNode) -> Pid {
    hidden.runtime().spawn(echo_loop)
}

async fn echo_loop(mut ctx: Process) {
    ctx.register(Atom::new("echo")).expect("echo registers");
    loop {
        if let Ok(t) = ctx.receive().await.into_term() {
            if let Some([Term::Pid(from), msg]) = t.as_tuple() {
                ctx.send(from, msg.clone());
            }
        }
    }
}

/// Compiles `erlang/ferrotp*.erl` and the test modules into a fresh
/// directory for `-pa`.
pub fn compile_erlang() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(unique("ferrotp_node_beams"));
    std::fs::create_dir_all(&out).expect("beam dir");
    let sources = [
        root.join("erlang/ferrotp.erl"),
        root.join("erlang/ferrotp_node.erl"),
        root.join("native/node/tests/erlang/node_test_sup.erl"),
    ];
    let status = Command::new("erlc")
        .arg("-o")
        .arg(&out)
        .args(&sources)
        .status()
        .expect("erlc runs");
    assert!(status.success(), "erlc failed");
    out
}
