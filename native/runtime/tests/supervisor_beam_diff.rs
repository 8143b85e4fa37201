//! Differential test: the same supervisor scenarios on OTP's real
//! `supervisor` (in `erl`) and on ferrotp's, with the same worker and the
//! same driver; their event traces must be equal.
//!
//! A scenario is a list of steps (Erlang terms, below). Both sides
//! interpret them the same way (tests/erl/sup_diff.erl is the OTP side):
//!
//! | step                          | what the driver does                                        |
//! |-------------------------------|-------------------------------------------------------------|
//! | `{start_sup, Flags, Specs}`   | `supervisor:start_link` with `init/1` returning `{ok, {Flags, Specs}}` |
//! | `{crash, Id, Reason}`         | tells worker `Id` to exit `Reason`; waits for it to die     |
//! | `{call, Request}`             | `gen_server:call(Sup, Request, infinity)`                   |
//! | `{call_pid, Tag, Id}`         | `gen_server:call(Sup, {Tag, PidOfId}, infinity)`            |
//! | `{exit_sup, Reason}`          | `exit(Sup, Reason)` from the parent; waits for its `'EXIT'` |
//! | `{unordered, Step}`           | `Step`, its events sorted (concurrent shutdowns)            |
//!
//! After each step the driver waits until the supervisor has handled
//! everything (two `which_children` calls — the second also covers a
//! `try_again_restart` the supervisor cast to itself — or the
//! supervisor's `'EXIT'`),
//! then collects what the workers reported, in arrival order:
//! `{started, Id}`, `{crashing, Id, Reason}`, `{stopping, Id, Reason}`,
//! and `{sup_exit, Reason}` when the supervisor died. Workers
//! (`{sup_diff, start_link, [Collector, Id, Mode]}`) trap exits and report
//! before acting, so the order of events is causal on both sides.
//!
//! Skipped, with a message, when `erl`/`erlc` are not installed. Set
//! `FERROTP_DIFF_PRINT=1` to see the traces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etf::{Atom, Pid, Term};
use ferrotp::behaviours::{self, Behaviour};
use ferrotp::start::{self, Body};
use ferrotp::supervisor::{self, SupOpts};
use ferrotp::{call, Message, Node, Process};

// ---- the scenarios -------------------------------------------------------

fn w(id: &str, mode: &str, extra: &str) -> String {
    format!(
        "#{{id => {id}, start => {{sup_diff, start_link, ['$collector', {id}, {mode}]}}{extra}}}"
    )
}

fn scenarios() -> Vec<(&'static str, String)> {
    let abc = format!(
        "[{}, {}, {}]",
        w("a", "normal", ""),
        w("b", "normal", ""),
        w("c", "normal", "")
    );
    vec![
        (
            "one_for_one",
            format!(
                "[{{start_sup, #{{strategy => one_for_one, intensity => 5, period => 10}}, {abc}}},
                  {{crash, b, boom}}, {{crash, c, normal}},
                  {{call, which_children}}, {{call, count_children}},
                  {{exit_sup, shutdown}}]"
            ),
        ),
        (
            "one_for_all",
            format!(
                "[{{start_sup, #{{strategy => one_for_all, intensity => 5, period => 10}}, {abc}}},
                  {{crash, b, boom}}, {{crash, a, boom}}, {{exit_sup, shutdown}}]"
            ),
        ),
        (
            "rest_for_one",
            format!(
                "[{{start_sup, #{{strategy => rest_for_one, intensity => 5, period => 10}}, {abc}}},
                  {{crash, b, boom}}, {{crash, c, boom}}, {{crash, a, {{shutdown, x}}}},
                  {{exit_sup, shutdown}}]"
            ),
        ),
        (
            "restart_types",
            format!(
                "[{{start_sup, #{{intensity => 10}}, [{}, {}, {}]}},
                  {{crash, a, normal}}, {{crash, b, boom}}, {{call, which_children}},
                  {{call, {{restart_child, a}}}}, {{crash, a, boom}}, {{crash, a, shutdown}},
                  {{call, {{restart_child, a}}}}, {{call, {{delete_child, a}}}},
                  {{call, {{terminate_child, a}}}}, {{call, {{delete_child, a}}}},
                  {{call, {{delete_child, a}}}}, {{call, {{get_childspec, c}}}},
                  {{call, count_children}}, {{exit_sup, shutdown}}]",
                w("a", "normal", ", restart => transient"),
                w("b", "normal", ", restart => temporary"),
                w("c", "normal", ", restart => permanent, shutdown => brutal_kill"),
            ),
        ),
        (
            "intensity_escalates",
            format!(
                "[{{start_sup, #{{strategy => one_for_one, intensity => 2, period => 10}}, {abc}}},
                  {{crash, a, boom}}, {{crash, a, boom}}, {{crash, a, boom}}, {{call, count_children}}]"
            ),
        ),
        (
            "failed_to_start_child",
            format!(
                "[{{start_sup, #{{}}, [{}, {}, {}]}}]",
                w("a", "normal", ""),
                w("b", "fail_init", ""),
                w("c", "normal", "")
            ),
        ),
        (
            "api_errors",
            format!(
                "[{{start_sup, #{{}}, []}},
                  {{call, {{start_child, {a}}}}}, {{call, {{start_child, {a}}}}},
                  {{call, {{restart_child, a}}}}, {{call, {{terminate_child, a}}}},
                  {{call, {{start_child, {a}}}}}, {{call, {{restart_child, a}}}},
                  {{call, {{restart_child, zz}}}}, {{call, {{terminate_child, zz}}}},
                  {{call, {{get_childspec, zz}}}},
                  {{call, {{start_child, bogus}}}},
                  {{call, {{start_child, #{{id => x}}}}}},
                  {{call, {{start_child, #{{start => {{m, f, []}}}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, 0}}}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, restart => sometimes}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, shutdown => soon}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, type => boss}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, modules => [1]}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, modules => nope}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, restart => transient, significant => true}}}}}},
                  {{call, {{start_child, #{{id => x, start => {{m, f, []}}, significant => maybe}}}}}},
                  {{call, {{start_child, {{y, {{sup_diff, start_link, ['$collector', y, normal]}}, permanent, 100, worker, dynamic}}}}}},
                  {{call, {{start_child, {ign}}}}},
                  {{call, {{start_child, {fail}}}}},
                  {{call, {{start_child, {tmp_ign}}}}},
                  {{call, {{start_child, {taken}}}}},
                  {{call, which_children}}, {{call, count_children}},
                  {{call, {{get_childspec, y}}}},
                  {{exit_sup, shutdown}}]",
                a = w("a", "normal", ""),
                ign = w("ign", "ignore_init", ""),
                fail = w("f", "fail_init", ", restart => transient"),
                tmp_ign = w("tmp_ign", "ignore_init", ", restart => temporary"),
                taken = w("t", "taken", ""),
            ),
        ),
        (
            "simple_one_for_one",
            "[{start_sup, #{strategy => simple_one_for_one, intensity => 5},
                 [#{id => ignored, start => {sup_diff, start_link, ['$collector']}, shutdown => 1000}]},
               {call, {start_child, [d1, normal]}}, {call, {start_child, [d2, normal]}},
               {call, {start_child, [d3, ignore_init]}},
               {crash, d2, boom}, {call, count_children},
               {call_pid, terminate_child, d1}, {call, count_children},
               {call, {terminate_child, d1}}, {call, {restart_child, d1}}, {call, {delete_child, d1}},
               {call_pid, get_childspec, d2},
               {call, {get_childspec, ignored}}, {call, {get_childspec, nope}},
               {call, {start_child, [d4, normal]}},
               {unordered, {exit_sup, shutdown}}]"
                .to_owned(),
        ),
        (
            "shutdown_timeout_and_brutal_kill",
            format!(
                "[{{start_sup, #{{}}, [{}, {}, {}]}},
                  {{call, {{terminate_child, s}}}}, {{call, {{restart_child, s}}}},
                  {{call, {{terminate_child, k}}}},
                  {{exit_sup, shutdown}}]",
                w("s", "stubborn", ", shutdown => 200"),
                w("k", "stubborn", ", shutdown => brutal_kill"),
                w("n", "normal", ", shutdown => infinity"),
            ),
        ),
        (
            "auto_shutdown_any_significant",
            format!(
                "[{{start_sup, #{{auto_shutdown => any_significant}}, [{}, {}]}},
                  {{crash, a, boom}}, {{crash, a, normal}}]",
                w("a", "normal", ", restart => transient, significant => true"),
                w("b", "normal", ""),
            ),
        ),
        (
            "auto_shutdown_all_significant",
            format!(
                "[{{start_sup, #{{auto_shutdown => all_significant}}, [{}, {}, {}]}},
                  {{crash, a, boom}}, {{call, count_children}}, {{crash, b, {{shutdown, done}}}}]",
                w("a", "normal", ", restart => temporary, significant => true"),
                w("b", "normal", ", restart => transient, significant => true"),
                w("c", "normal", ""),
            ),
        ),
        (
            "one_for_all_drops_temporary_siblings",
            format!(
                "[{{start_sup, #{{strategy => one_for_all, intensity => 5}}, [{}, {}, {}]}},
                  {{crash, c, boom}}, {{call, which_children}}, {{crash, a, normal}},
                  {{call, which_children}}, {{exit_sup, shutdown}}]",
                w("a", "normal", ", restart => transient"),
                w("b", "normal", ", restart => temporary"),
                w("c", "normal", ""),
            ),
        ),
        (
            "simple_one_for_one_all_significant",
            "[{start_sup, #{strategy => simple_one_for_one, auto_shutdown => all_significant},
                 [#{id => t, start => {sup_diff, start_link, ['$collector']},
                    restart => transient, significant => true}]},
               {call, {start_child, [s1, normal]}}, {call, {start_child, [s2, normal]}},
               {crash, s1, boom}, {crash, s1, normal}, {call, count_children},
               {crash, s2, {shutdown, bye}}]"
                .to_owned(),
        ),
        (
            "failed_restart_is_retried",
            format!(
                "[{{start_sup, #{{intensity => 5}}, [{}, {}]}},
                  {{crash, f, boom}}, {{call, which_children}}, {{crash, f, boom}},
                  {{exit_sup, shutdown}}]",
                w("f", "flaky", ""),
                w("b", "normal", ""),
            ),
        ),
        (
            "failed_restart_counts_toward_intensity",
            format!(
                "[{{start_sup, #{{intensity => 1}}, [{}]}}, {{crash, f, boom}}]",
                w("f", "flaky", ""),
            ),
        ),
        (
            "rest_for_one_failed_restart",
            format!(
                "[{{start_sup, #{{strategy => rest_for_one, intensity => 5}}, [{}, {}, {}]}},
                  {{crash, a, boom}}, {{call, which_children}}, {{exit_sup, shutdown}}]",
                w("a", "normal", ""),
                w("f", "flaky", ""),
                w("c", "normal", ""),
            ),
        ),
        (
            "bad_flags_and_specs",
            format!(
                "[{{start_sup, #{{strategy => one_for_none}}, []}},
                  {{start_sup, #{{intensity => -1}}, []}},
                  {{start_sup, #{{period => 0}}, []}},
                  {{start_sup, {{one_for_one, 1}}, []}},
                  {{start_sup, #{{}}, [#{{id => x}}]}},
                  {{start_sup, #{{}}, [{a}, {a}]}},
                  {{start_sup, #{{strategy => simple_one_for_one}}, [{a}, {b}]}},
                  {{start_sup, {{one_for_all, 0, 1}}, [{a}]}},
                  {{crash, a, boom}}]",
                a = w("a", "normal", ""),
                b = w("b", "normal", ""),
            ),
        ),
    ]
}

// ---- the ferrotp side ------------------------------------------------------

/// The worker, as `sup_diff:start_link/3` on the OTP side.
struct DiffWorker;

/// How often each flaky worker (by collector and id) has started.
static FLAKY: std::sync::Mutex<std::collections::BTreeMap<(Pid, String), u32>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl Behaviour for DiffWorker {
    fn init_arg(&self, args: Vec<Term>) -> Option<Term> {
        (args.len() == 3).then(|| Term::Tuple(args))
    }

    fn body(&self, arg: Term) -> Result<Body, Term> {
        let (collector, id, mode) = match arg.as_tuple() {
            Some([Term::Pid(c), id, Term::Atom(m)]) => (*c, id.clone(), *m),
            _ => return Err(Term::atom("badarg")),
        };
        let mut mode = mode.as_str();
        if mode == "flaky" {
            // Starts, fails its second start, then starts again.
            let n = {
                let mut starts = FLAKY.lock().unwrap_or_else(|e| e.into_inner());
                let n = starts.entry((collector, id.to_string())).or_insert(0);
                *n += 1;
                *n
            };
            mode = if n == 2 { "flaky_fail" } else { "normal" };
        }
        Ok(start::body(move |mut ctx: Process, mut init| async move {
            match mode {
                "flaky_fail" => {
                    init.error(Term::atom("flaky"));
                    return Err(Term::atom("flaky"));
                }
                "fail_init" => {
                    init.error(Term::atom("nope"));
                    return Err(Term::atom("nope"));
                }
                "taken" => {
                    // As a start under a name someone holds.
                    let holder = init.parent().unwrap_or(collector);
                    init.error(start::already_started(holder));
                    return Ok(());
                }
                "ignore_init" => {
                    init.ignore();
                    return Ok(());
                }
                _ => {}
            }
            ctx.trap_exit(true);
            let me = ctx.pid();
            let event = |e: Term| Term::tuple(vec![Term::atom("event"), e, Term::Pid(me)]);
            ctx.send(
                &collector,
                event(Term::tuple(vec![Term::atom("started"), id.clone()])),
            );
            init.ok();
            loop {
                let Ok(m) = ctx.receive().await.into_term() else {
                    continue;
                };
                match m.as_tuple() {
                    Some([tag, reason]) if tag.is_atom("crash") => {
                        ctx.send(
                            &collector,
                            event(Term::tuple(vec![
                                Term::atom("crashing"),
                                id.clone(),
                                reason.clone(),
                            ])),
                        );
                        return Err(reason.clone());
                    }
                    Some([tag, _, reason]) if tag.is_atom("EXIT") => {
                        ctx.send(
                            &collector,
                            event(Term::tuple(vec![
                                Term::atom("stopping"),
                                id.clone(),
                                reason.clone(),
                            ])),
                        );
                        if !(mode == "stubborn" && reason.is_atom("shutdown")) {
                            return Err(reason.clone());
                        }
                    }
                    _ => {}
                }
            }
        }))
    }
}

fn subst(t: &Term, c: Pid) -> Term {
    match t {
        Term::Atom(a) if a.as_str() == "$collector" => Term::Pid(c),
        Term::List(items) => Term::List(items.iter().map(|x| subst(x, c)).collect()),
        Term::Tuple(items) => Term::Tuple(items.iter().map(|x| subst(x, c)).collect()),
        Term::Map(m) => Term::Map(
            m.entries
                .iter()
                .map(|(k, v)| (subst(k, c), subst(v, c)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn norm(t: &Term) -> Term {
    match t {
        Term::Pid(_) => Term::atom("pid"),
        Term::Reference(_) => Term::atom("ref"),
        Term::List(items) => Term::List(items.iter().map(norm).collect()),
        Term::Tuple(items) => Term::Tuple(items.iter().map(norm).collect()),
        Term::Map(m) => Term::Map(m.entries.iter().map(|(k, v)| (norm(k), norm(v))).collect()),
        other => other.clone(),
    }
}

const LONG: Duration = Duration::from_secs(10);

struct Driver {
    sup: Option<Pid>,
    pids: Vec<(Term, Pid)>,
    exited: Vec<Term>,
}

fn is_exit_from(m: &Message, from: Option<Pid>) -> bool {
    m.as_term().and_then(Term::as_tuple).is_some_and(|t| {
        t.len() == 3 && t[0].is_atom("EXIT") && from.map_or(true, |p| t[1] == Term::Pid(p))
    })
}

fn exit_reason(m: Message) -> Term {
    match m.into_term() {
        Ok(Term::Tuple(mut t)) => t.pop().unwrap_or_else(Term::nil),
        _ => Term::nil(),
    }
}

impl Driver {
    async fn step(&mut self, ctx: &mut Process, step: &Term) -> Term {
        let items = step.as_tuple().unwrap_or(&[]);
        let tag = items
            .first()
            .and_then(Term::as_atom)
            .map(|a| a.as_str())
            .unwrap_or("");
        match (tag, items) {
            ("unordered", [_, inner]) => Box::pin(self.step(ctx, inner)).await,
            ("start_sup", [_, flags, specs]) => {
                match supervisor::start_link_terms(
                    ctx,
                    flags.clone(),
                    specs.clone(),
                    SupOpts::default(),
                )
                .await
                {
                    Ok(p) => {
                        self.sup = Some(p);
                        Term::tuple(vec![Term::atom("ok"), Term::Pid(p)])
                    }
                    Err(r) => {
                        if let Some(m) = ctx
                            .receive_match(|m| is_exit_from(m, None), Some(Duration::from_secs(5)))
                            .await
                        {
                            self.exited.push(exit_reason(m));
                        }
                        Term::tuple(vec![Term::atom("error"), r])
                    }
                }
            }
            ("crash", [_, id, reason]) => {
                let pid = self.pid_of(id);
                let r = ctx.monitor(&pid);
                ctx.send(&pid, Term::tuple(vec![Term::atom("crash"), reason.clone()]));
                let _ = ctx.receive_match(|m| is_down(m, &r), Some(LONG)).await;
                self.sync(ctx).await;
                Term::atom("ok")
            }
            ("call", [_, request]) => {
                let r = self.call(ctx, request.clone()).await;
                self.sync(ctx).await;
                r
            }
            ("call_pid", [_, tag, id]) => {
                let request = Term::tuple(vec![tag.clone(), Term::Pid(self.pid_of(id))]);
                let r = self.call(ctx, request).await;
                self.sync(ctx).await;
                r
            }
            ("exit_sup", [_, reason]) => {
                let sup = self.sup.expect("a supervisor to exit");
                ctx.exit(&sup, reason.clone());
                match ctx
                    .receive_match(|m| is_exit_from(m, Some(sup)), Some(LONG))
                    .await
                {
                    Some(m) => {
                        self.exited.push(exit_reason(m));
                        Term::atom("ok")
                    }
                    None => Term::atom("timeout"),
                }
            }
            _ => panic!("unknown step {step}"),
        }
    }

    fn pid_of(&self, id: &Term) -> Pid {
        self.pids
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("no pid for {id}"))
    }

    async fn call(&mut self, ctx: &mut Process, request: Term) -> Term {
        let Some(sup) = self.sup else {
            return Term::tuple(vec![Term::atom("call_failed"), Term::atom("noproc")]);
        };
        match call::call(ctx, sup, request, None).await {
            Ok(reply) => reply,
            Err(reason) => Term::tuple(vec![Term::atom("call_failed"), reason]),
        }
    }

    /// Two calls, as on the OTP side: the second also covers a retry the
    /// supervisor cast to itself while the first call was on its way.
    async fn sync(&mut self, ctx: &mut Process) {
        self.sync1(ctx).await;
        self.sync1(ctx).await;
    }

    async fn sync1(&mut self, ctx: &mut Process) {
        let Some(sup) = self.sup else { return };
        if !self.exited.is_empty() {
            return;
        }
        if call::call(ctx, sup, Term::atom("which_children"), None)
            .await
            .is_err()
        {
            if let Some(m) = ctx
                .receive_match(|m| is_exit_from(m, Some(sup)), Some(LONG))
                .await
            {
                self.exited.push(exit_reason(m));
            }
        }
    }

    async fn drain(&mut self, ctx: &mut Process) -> Vec<Term> {
        let mut events = Vec::new();
        while let Some(m) = ctx
            .receive_match(|m| m.is_tagged("event"), Some(Duration::ZERO))
            .await
        {
            let Ok(t) = m.into_term() else { continue };
            let Some([_, e, Term::Pid(p)]) = t.as_tuple() else {
                continue;
            };
            if let Some([tag, id]) = e.as_tuple() {
                if tag.is_atom("started") {
                    self.pids.push((id.clone(), *p));
                }
            }
            events.push(e.clone());
        }
        let exits: Vec<Term> = self
            .exited
            .drain(..)
            .map(|r| Term::tuple(vec![Term::atom("sup_exit"), r]))
            .collect();
        if !exits.is_empty() {
            self.sup = None;
        }
        events.extend(exits);
        events
    }
}

fn is_down(m: &Message, r: &etf::Reference) -> bool {
    m.as_term()
        .and_then(Term::as_tuple)
        .is_some_and(|t| t.len() == 5 && t[0].is_atom("DOWN") && t[1] == Term::Reference(r.clone()))
}

async fn run_rust(steps: Term) -> Term {
    // Every scenario's driver is <0.1.0> of a fresh node: forget the
    // flaky workers of the previous one.
    FLAKY.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let node = Node::local();
    node.run(move |mut ctx| async move {
        ctx.trap_exit(true);
        let steps = subst(&steps, ctx.pid());
        let Term::List(steps) = steps else {
            panic!("steps")
        };
        let mut d = Driver {
            sup: None,
            pids: Vec::new(),
            exited: Vec::new(),
        };
        let mut trace = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let result = d.step(&mut ctx, step).await;
            let mut events = d.drain(&mut ctx).await;
            if step
                .as_tuple()
                .and_then(|t| t.first())
                .is_some_and(|t| t.is_atom("unordered"))
            {
                events.sort();
            }
            trace.push(Term::tuple(vec![
                Term::Int(n as i64 + 1),
                norm(&result),
                norm(&Term::List(events)),
            ]));
        }
        Term::List(trace)
    })
    .await
    .expect("driver ran")
}

// ---- the OTP side ----------------------------------------------------------

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("ferrotp-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn have(cmd: &str) -> bool {
    Command::new("which")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs every scenario on `erl` (one scheduler, so OTP's side is
/// deterministic too); the list of traces.
fn run_erl(dir: &Path, scenarios: &Term) -> Vec<Term> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/erl/sup_diff.erl");
    let status = Command::new("erlc")
        .arg("-o")
        .arg(dir)
        .arg(&src)
        .status()
        .expect("run erlc");
    assert!(status.success(), "erlc sup_diff.erl failed");
    let input = dir.join("scenarios.etf");
    let output = dir.join("traces.etf");
    std::fs::write(&input, etf::encode(scenarios)).expect("write scenarios");
    let eval = format!(
        "sup_diff:main(\"{}\", \"{}\")",
        input.display(),
        output.display()
    );
    let child = Command::new("erl")
        .args(["-noshell", "+S", "1", "-pa"])
        .arg(dir)
        .args(["-eval", &eval, "-s", "init", "stop"])
        .stdin(Stdio::null())
        .spawn()
        .expect("run erl");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for erl") {
            assert!(status.success(), "erl failed: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "erl took over 2 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bytes = std::fs::read(&output).expect("erl wrote the traces");
    match etf::decode(&bytes).expect("traces decode") {
        Term::List(traces) => traces,
        other => panic!("traces: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_traces_match_otp() {
    if !have("erl") || !have("erlc") {
        eprintln!("SKIPPED supervisor_traces_match_otp: erl/erlc not installed");
        return;
    }
    behaviours::register(Atom::new("sup_diff"), DiffWorker);
    let scenarios = scenarios();
    let parsed: Vec<Term> = scenarios
        .iter()
        .map(|(name, text)| etf::parse(text).unwrap_or_else(|e| panic!("scenario {name}: {e}")))
        .collect();
    let all = Term::List(parsed.clone());
    let dir = TempDir::new("sup-diff");
    let erl_dir = dir.0.clone();
    let erl_traces = tokio::task::spawn_blocking(move || run_erl(&erl_dir, &all))
        .await
        .expect("erl side ran");
    assert_eq!(erl_traces.len(), parsed.len());
    let mut mismatches = Vec::new();
    for (((name, _), steps), otp) in scenarios.iter().zip(parsed).zip(erl_traces) {
        let ours = run_rust(steps).await;
        if std::env::var_os("FERROTP_DIFF_PRINT").is_some() {
            eprintln!("scenario {name}: {otp}");
        }
        if ours != otp {
            mismatches.push(format!(
                "scenario {name}:\n  OTP:     {otp}\n  ferrotp: {ours}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
