//! `probe`: a behaviour that does, on request, what a Rust process can do
//! to the BEAM, so the Erlang and Elixir suites can check each signal
//! crossing the boundary. Every request is a `gen_server:call`; other
//! messages are kept and handed back by `inbox`.
//!
//! | call                   | does (Erlang equivalent)                 | replies        |
//! |------------------------|------------------------------------------|----------------|
//! | `ping`                 |                                          | `pong`         |
//! | `{link, Pid}`          | `link(Pid)`                              | `ok`           |
//! | `{unlink, Pid}`        | `unlink(Pid)`                            | `ok`           |
//! | `{monitor, Pid}`       | `erlang:monitor(process, Pid)`           | `ok`           |
//! | `{trap_exit, Bool}`    | `process_flag(trap_exit, Bool)`          | the old flag   |
//! | `{send, Pid, Msg}`     | `Pid ! Msg`                              | `ok`           |
//! | `{exit, Pid, Reason}`  | `exit(Pid, Reason)`                      | `ok`           |
//! | `{send_after, Ms, Msg}`| `erlang:send_after(Ms, self(), Msg)`     | `ok`           |
//! | `spawn_counter`        | `{counter, start_link, [0]}`, linked     | its pid        |
//! | `{spawn_many, N}`      | `N` spawns in one poll, each then pinged | `{Answered, Pids}` |
//! | `inbox`                | the other messages so far, oldest first  | a list         |
//! | `{hold, Value}`        | `{noreply, ..}`; a later `release` message answers `Value` (`gen_server:reply/2`) | `Value`, later |
//! | `{panic, Text}`        | panics                                   | (dies)         |
//! | `{stop, Reason}`       | returns `Err(Reason)`                    | (dies)         |
//!
//! Its init argument is ignored, except `{init_sleep, Ms}`: init then takes
//! `Ms` milliseconds (for start timeouts).

use std::time::Duration;

use etf::{Atom, Term};
use ferrotp::start::{self, Body};
use ferrotp::Process;

/// Registers `probe` in the runtime's behaviour registry.
pub fn register() {
    ferrotp::behaviours::register(Atom::new("probe"), |arg: Term| -> Result<Body, Term> {
        // `{init_sleep, Ms}`: init takes that long (`receive after Ms`),
        // for start timeouts; anything else starts at once.
        let init_sleep = match arg.as_tuple() {
            Some([tag, Term::Int(ms)]) if is(tag, "init_sleep") => {
                Some(Duration::from_millis(u64::try_from(*ms).unwrap_or(0)))
            }
            _ => None,
        };
        Ok(start::body(move |mut ctx, mut init| async move {
            if let Some(sleep) = init_sleep {
                // `receive after Ms`: nothing matches, so messages that
                // arrive meanwhile wait for the loop below.
                let _ = ctx.receive_match(|_| false, Some(sleep)).await;
            }
            init.ok();
            run(ctx).await
        }))
    });
}

/// Answers a `gen_server` call: `{Tag, Value}` to the caller in `From = {Pid, Tag}`.
fn reply(ctx: &Process, from: &Term, value: Term) {
    if let Term::Tuple(f) = from {
        if let [Term::Pid(pid), tag] = f.as_slice() {
            ctx.send(pid, Term::Tuple(vec![tag.clone(), value]));
        }
    }
}

fn is(t: &Term, name: &str) -> bool {
    matches!(t, Term::Atom(a) if a.as_str() == name)
}

async fn run(mut ctx: Process) -> Result<(), Term> {
    let mut inbox = Vec::new();
    let mut held: Vec<(Term, Term)> = Vec::new();
    loop {
        let Ok(msg) = ctx.receive().await.into_term() else {
            continue;
        };
        let (from, req) = match &msg {
            Term::Tuple(t) if t.len() == 3 && is(&t[0], "$gen_call") => {
                (t[1].clone(), t[2].clone())
            }
            _ if is(&msg, "release") => {
                for (from, value) in held.drain(..) {
                    reply(&ctx, &from, value);
                }
                continue;
            }
            _ => {
                inbox.push(msg);
                continue;
            }
        };
        let ok = Term::atom("ok");
        let items: &[Term] = match &req {
            Term::Tuple(t) => t.as_slice(),
            _ => std::slice::from_ref(&req),
        };
        match items {
            [a] if is(a, "ping") => reply(&ctx, &from, Term::atom("pong")),
            [a] if is(a, "inbox") => reply(&ctx, &from, Term::List(std::mem::take(&mut inbox))),
            [a] if is(a, "spawn_counter") => {
                let started = ferrotp::behaviours::start_link(
                    &mut ctx,
                    Atom::new("counter"),
                    vec![Term::Int(0)],
                )
                .await;
                match started {
                    Ok(child) => reply(&ctx, &from, Term::Pid(child)),
                    Err(reason) => {
                        reply(&ctx, &from, Term::Tuple(vec![Term::atom("error"), reason]))
                    }
                }
            }
            [a, Term::Int(n)] if is(a, "spawn_many") => {
                // More processes than the proxy pool holds, in one poll (no
                // await in between); each answers `ping` with its pid, so a
                // Rust process can reach every one, proxied or not.
                let mut pids = Vec::new();
                for _ in 0..(*n).max(0) {
                    pids.push(ctx.spawn::<_, _, ()>(|mut c| async move {
                        loop {
                            if let Ok(Term::Tuple(t)) = c.receive().await.into_term() {
                                if let [Term::Pid(to), Term::Atom(p)] = t.as_slice() {
                                    if p.as_str() == "ping" {
                                        let me = c.pid();
                                        c.send(to, Term::Pid(me));
                                    }
                                }
                            }
                        }
                    }));
                }
                let me = ctx.pid();
                for p in &pids {
                    ctx.send(p, Term::Tuple(vec![Term::Pid(me), Term::atom("ping")]));
                }
                let mut answered = 0;
                while answered < pids.len() {
                    let got = ctx
                        .receive_match(
                            |m| matches!(m.as_term(), Some(Term::Pid(_))),
                            Some(Duration::from_secs(10)),
                        )
                        .await;
                    if got.is_none() {
                        break;
                    }
                    answered += 1;
                }
                let answered = Term::Int(answered as i64);
                reply(
                    &ctx,
                    &from,
                    Term::Tuple(vec![
                        answered,
                        Term::List(pids.into_iter().map(Term::Pid).collect()),
                    ]),
                );
            }
            [a, Term::Pid(p)] if is(a, "link") => {
                ctx.link(p);
                reply(&ctx, &from, ok);
            }
            [a, Term::Pid(p)] if is(a, "unlink") => {
                ctx.unlink(p);
                reply(&ctx, &from, ok);
            }
            [a, Term::Pid(p)] if is(a, "monitor") => {
                ctx.monitor(p);
                reply(&ctx, &from, ok);
            }
            [a, flag] if is(a, "trap_exit") => {
                let old = ctx.trap_exit(is(flag, "true"));
                reply(&ctx, &from, Term::atom(if old { "true" } else { "false" }));
            }
            [a, Term::Pid(p), m] if is(a, "send") => {
                ctx.send(p, m.clone());
                reply(&ctx, &from, ok);
            }
            [a, Term::Pid(p), reason] if is(a, "exit") => {
                ctx.exit(p, reason.clone());
                reply(&ctx, &from, ok);
            }
            [a, Term::Int(ms), m] if is(a, "send_after") => {
                let me = ctx.pid();
                ctx.send_after(Duration::from_millis((*ms).max(0) as u64), &me, m.clone());
                reply(&ctx, &from, ok);
            }
            [a, Term::Binary(text)] if is(a, "panic") => {
                panic!("{}", String::from_utf8_lossy(text));
            }
            [a, value] if is(a, "hold") => held.push((from.clone(), value.clone())),
            [a, reason] if is(a, "stop") => return Err(reason.clone()),
            _ => return Err(Term::Tuple(vec![Term::atom("bad_call"), req.clone()])),
        }
    }
}
