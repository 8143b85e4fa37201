//! SPAWN_REQUEST / SPAWN_REPLY in both directions.

mod common;

use common::*;
use etf::{Atom, Term};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erlang_spawn_request_runs_a_behaviour_linked_and_monitored() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "s1").await;
    let erl = Erl::start(&epmd, "s1");
    erl.connect(&rust.hidden).await;
    let n = format!("'{}'", rust.name());
    let e = erl.name;
    let steps: Vec<String> = [
        "process_flag(trap_exit, true), Req = spawn_request({N}, counter, start_link, [4], [link, monitor]), \
         P = receive {spawn_reply, Req, ok, X} -> X after 30000 -> timeout end, \
         {node(P) =:= {N}, gen_server:call(P, value)}.",
        "{links, L} = process_info(self(), links), lists:member(P, L).",
        "exit(P, kill), A = receive {'DOWN', Req, process, P, R} -> R after 30000 -> timeout end, \
         B = receive {'EXIT', P, R2} -> R2 after 30000 -> timeout end, {A, B}.",
        "P2 = spawn({N}, counter, start_link, [1]), gen_server:cast(P2, {bump, 1}), gen_server:call(P2, value).",
        "Req3 = spawn_request({N}, no_such_module, start_link, [], [monitor]), \
         receive {spawn_reply, Req3, ok, P3} -> ok end, \
         receive {'DOWN', Req3, process, P3, {undef, [{no_such_module, start_link, [], []}]}} -> undef after 30000 -> timeout end.",
    ]
    .iter()
    .map(|s| s.replace("{N}", &n))
    .collect();
    let r = eval_all(&rust, e, steps).await;
    assert_eq!(text(&r[0]), "{true,4}");
    assert_eq!(r[1], Term::atom("true"));
    assert_eq!(text(&r[2]), "{killed,killed}");
    assert_eq!(r[3], Term::Int(2));
    assert_eq!(r[4], Term::atom("undef"), "{}", text(&r[4]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_spawn_request_to_erlang_links_both_ways() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "s2").await;
    let erl = Erl::start(&epmd, "s2");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let hidden = rust.hidden.clone();
    let (links, exit, bad) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            ctx.trap_exit(true);
            let mfa = (
                Atom::new("timer"),
                Atom::new("sleep"),
                vec![Term::atom("infinity")],
            );
            let pid = hidden
                .spawn_request(e, ctx.pid(), mfa, true)
                .await
                .expect("spawned");
            assert_eq!(pid.node, e.atom());
            let src = format!(
                "{{links, L}} = process_info(list_to_pid(\"{}\"), links), L.",
                local_pid_text(&pid)
            );
            let links = eval(&mut ctx, e, &src).await;
            let kill = format!("exit(list_to_pid(\"{}\"), boom), ok.", local_pid_text(&pid));
            eval(&mut ctx, e, &kill).await;
            let exit = recv_term(&mut ctx, |t| tagged(t, "EXIT")).await;
            let bad = hidden
                .spawn_request(
                    e,
                    ctx.pid(),
                    (Atom::new("erlang"), Atom::new("self"), vec![]),
                    false,
                )
                .await;
            (links, elem(&exit, 2), bad.is_ok())
        })
        .await
        .expect("test process");
    assert!(
        matches!(links, Term::List(ref l) if l.len() == 1),
        "{links}"
    );
    assert_eq!(exit, Term::atom("boom"));
    assert!(bad, "an unlinked spawn succeeds too");
}

/// `<0.N.S>` for a pid as its own node prints it.
fn local_pid_text(p: &etf::Pid) -> String {
    format!("<0.{}.{}>", p.id, p.serial)
}
