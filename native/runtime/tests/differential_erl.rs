//! Differential tests against the BEAM:
//! - the exit-signal matrix (exit/2 from another process and to oneself,
//!   link exits, `kill`/`killed`, with and without trap_exit) run on the
//!   BEAM (`tests/erl/exit_matrix.erl`) and on ferrotp must give the same
//!   outcome, line for line;
//! - `sys:get_status/1` of a registered gen_server has the same shape
//!   (`tests/erl/status_probe.erl`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use etf::{Pid, Term};
use ferrotp::{Node, Process};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Exit2Other,
    Exit2Self,
    Link,
    LinkKilled,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Exit2Other => "exit2_other",
            Kind::Exit2Self => "exit2_self",
            Kind::Link => "link",
            Kind::LinkKilled => "link_killed",
        }
    }
}

fn cases() -> Vec<(Kind, &'static str, bool)> {
    let mut v = Vec::new();
    for k in [Kind::Exit2Other, Kind::Exit2Self, Kind::Link] {
        for r in ["normal", "kill", "custom"] {
            for trap in [false, true] {
                v.push((k, r, trap));
            }
        }
    }
    for trap in [false, true] {
        v.push((Kind::LinkKilled, "kill", trap));
    }
    v
}

fn report_request(main: Pid) -> Term {
    Term::tuple(vec![Term::atom("report"), Term::Pid(main)])
}

/// The target process: same protocol as `target/1` in exit_matrix.erl.
async fn target(mut c: Process, main: Pid, kind: Kind, reason: &'static str, trap: bool) {
    c.trap_exit(trap);
    let me = c.pid();
    let linked = match kind {
        Kind::Link => Some(c.spawn_link(move |mut l| async move {
            l.receive().await;
            Err::<(), _>(Term::atom(reason))
        })),
        Kind::LinkKilled => Some(c.spawn_link(|_l| std::future::pending::<()>())),
        _ => None,
    };
    c.send_local(&main, linked);
    if kind == Kind::Exit2Self {
        c.receive_match(|m| m.as_term().is_some_and(|t| t.is_atom("go")), None)
            .await;
        c.exit(&me, Term::atom(reason));
        c.send(&me, report_request(main));
    }
    let mut exits = Vec::new();
    loop {
        let m = c.receive().await;
        let Ok(t) = m.into_term() else { continue };
        match t.as_tuple() {
            Some([tag, Term::Pid(to)]) if tag.is_atom("report") => {
                let list = Term::List(exits.clone());
                c.send(
                    to,
                    Term::tuple(vec![Term::atom("report"), Term::Pid(me), list]),
                );
            }
            Some([tag, _, r]) if tag.is_atom("EXIT") => exits.push(r.clone()),
            _ => {}
        }
    }
}

async fn outcome(ctx: &mut Process, kind: Kind, reason: &'static str, trap: bool) -> String {
    let main = ctx.pid();
    let (t, m) = ctx.spawn_monitor(move |c| target(c, main, kind, reason, trap));
    let linked = ctx
        .receive_match(|m| m.is::<Option<Pid>>(), Some(WAIT))
        .await
        .and_then(|m| m.downcast::<Option<Pid>>().ok())
        .expect("target ready");
    match kind {
        Kind::Exit2Other => {
            ctx.spawn(move |o| async move {
                o.exit(&t, Term::atom(reason));
                o.send(&t, report_request(main));
            });
        }
        Kind::Exit2Self => ctx.send(&t, Term::atom("go")),
        Kind::Link | Kind::LinkKilled => {
            let l = linked.expect("linked pid");
            let ml = ctx.monitor(&l);
            if kind == Kind::Link {
                ctx.send(&l, Term::atom("go"));
            } else {
                ctx.exit(&l, Term::atom("kill"));
            }
            ctx.receive_match(
                |msg| {
                    msg.as_term()
                        .and_then(Term::as_tuple)
                        .is_some_and(|x| x.len() == 5 && x[1] == Term::Reference(ml.clone()))
                },
                Some(WAIT),
            )
            .await
            .expect("linked process DOWN");
            ctx.send(&t, report_request(main));
        }
    }
    let got = ctx
        .receive_match(
            |msg| {
                msg.as_term().and_then(Term::as_tuple).is_some_and(|x| {
                    (x.len() == 5 && x[1] == Term::Reference(m.clone()))
                        || (x.len() == 3 && x[0].is_atom("report") && x[1] == Term::Pid(t))
                })
            },
            Some(WAIT),
        )
        .await
        .expect("DOWN or report")
        .into_term()
        .expect("term");
    ctx.demonitor(&m, true);
    ctx.exit(&t, Term::atom("kill"));
    let x = got.as_tuple().expect("tuple");
    if x.len() == 5 {
        return format!("down:{}", x[4]);
    }
    match &x[2] {
        Term::List(items) if items.is_empty() => "alive".to_owned(),
        Term::List(items) => format!("msg:{}", items[0]),
        other => panic!("bad report {other}"),
    }
}

fn run_on_beam() -> Vec<String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/erl/exit_matrix.erl");
    let dir = std::env::temp_dir().join(format!("ferrotp_exit_matrix_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let status = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(&src)
        .status()
        .expect("erlc runs (Erlang/OTP installed)");
    assert!(status.success(), "erlc failed");
    let out = Command::new("erl")
        .args(["-noshell", "-pa"])
        .arg(&dir)
        .args(["-eval", "exit_matrix:main(), init:stop()."])
        .output()
        .expect("erl runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "erl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_signal_matrix_matches_beam() {
    let beam = tokio::task::spawn_blocking(run_on_beam)
        .await
        .expect("erl thread");
    let ours = Node::local()
        .run(|mut ctx| async move {
            let mut lines = Vec::new();
            for (kind, reason, trap) in cases() {
                let o = outcome(&mut ctx, kind, reason, trap).await;
                lines.push(format!("{} {} {} {}", kind.name(), reason, trap, o));
            }
            lines
        })
        .await
        .unwrap();
    assert_eq!(ours.len(), cases().len());
    assert_eq!(ours, beam);
}

fn normalize(t: &Term) -> Term {
    match t {
        Term::Pid(_) => Term::atom("pid"),
        Term::Tuple(items) => Term::Tuple(items.iter().map(normalize).collect()),
        Term::List(items) => Term::List(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

struct Probe;

impl ferrotp::GenServer for Probe {
    type Arg = ();
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Continue = ();
    async fn init(_: (), _ctx: &mut Process) -> ferrotp::gen_server::Init<Self> {
        ferrotp::gen_server::Init::Ok(Probe)
    }
    fn state_term(&self) -> Term {
        Term::Int(7)
    }
}

fn status_on_beam() -> Term {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/erl/status_probe.erl");
    let dir = std::env::temp_dir().join(format!("ferrotp_status_probe_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("status.etf");
    let status = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(&src)
        .status()
        .expect("erlc runs");
    assert!(status.success(), "erlc failed");
    let run = Command::new("erl")
        .args(["-noshell", "-pa"])
        .arg(&dir)
        .args(["-run", "status_probe", "main"])
        .arg(&out)
        .output()
        .expect("erl runs");
    assert!(
        run.status.success(),
        "erl failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&out).expect("status written");
    let _ = std::fs::remove_dir_all(&dir);
    etf::decode(&bytes).expect("valid ETF")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_get_status_shape_matches_beam() {
    let beam = tokio::task::spawn_blocking(status_on_beam)
        .await
        .expect("erl thread");
    let ours = Node::local()
        .run(|mut ctx| async move {
            let opts = ferrotp::gen_server::Opts::named(etf::Atom::new("probe"));
            let p = ferrotp::gen_server::start::<Probe>(&mut ctx, (), opts)
                .await
                .expect("started");
            ferrotp::sys::get_status(&mut ctx, p.pid())
                .await
                .expect("status")
        })
        .await
        .unwrap();
    assert_eq!(normalize(&ours), beam);
}
