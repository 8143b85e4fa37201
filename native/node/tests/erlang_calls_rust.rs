//! From a real erl node: gen_server and sys against the Rust counter and
//! OTP's supervisor API against the Rust `top_sup`.

mod common;

use common::*;
use etf::Term;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_server_call_cast_and_sys_reach_the_registered_counter() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c1").await;
    let erl = Erl::start(&epmd, "c1");
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let results = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let mut out = Vec::new();
            for src in [
                format!("gen_server:call({{counter, '{n}'}}, value)."),
                format!("gen_server:cast({{counter, '{n}'}}, {{bump, 5}}), gen_server:call({{counter, '{n}'}}, value)."),
                format!("sys:get_state({{counter, '{n}'}})."),
                format!("[{{counter, Pid, _, _}}] = supervisor:which_children({{top_sup, '{n}'}}), gen_server:call(Pid, value) =:= 5."),
                format!("gen_server:cast({{counter, '{n}'}}, {{bump, 1 bsl 80}}), gen_server:call({{counter, '{n}'}}, value) =:= 5 + (1 bsl 80)."),
            ] {
                out.push(eval(&mut ctx, e, &src).await);
            }
            out
        })
        .await
        .expect("driver process");
    assert_eq!(results[0], Term::Int(0));
    assert_eq!(results[1], Term::Int(5));
    assert_eq!(results[2], Term::Int(5));
    assert_eq!(results[3], Term::atom("true"));
    assert_eq!(results[4], Term::atom("true"), "bignum bump");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_supervisor_api_works_on_the_rust_top_sup() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c2").await;
    let erl = Erl::start(&epmd, "c2");
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let results = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let mut out = Vec::new();
            for src in [
                format!("[{{counter, C, worker, [counter]}}] = supervisor:which_children({{top_sup, '{n}'}}), is_pid(C) andalso node(C) =:= '{n}'."),
                format!("supervisor:count_children({{top_sup, '{n}'}})."),
                format!("{{ok, C2}} = supervisor:start_child({{top_sup, '{n}'}}, #{{id => c2, start => {{counter, start_link, [7]}}}}), gen_server:call(C2, value)."),
                format!("supervisor:terminate_child({{top_sup, '{n}'}}, c2)."),
                format!("{{ok, C3}} = supervisor:restart_child({{top_sup, '{n}'}}, c2), gen_server:call(C3, value)."),
                format!("ok = supervisor:terminate_child({{top_sup, '{n}'}}, c2), supervisor:delete_child({{top_sup, '{n}'}}, c2)."),
                format!("{{ok, S}} = supervisor:start_child({{top_sup, '{n}'}}, #{{id => sub, type => supervisor, start => {{supervisor, start_link, [#{{strategy => one_for_one}}, [#{{id => w, start => {{counter, start_link, [3]}}}}]]}}}}), [{{w, W, worker, _}}] = supervisor:which_children(S), gen_server:call(W, value)."),
                format!("length(supervisor:which_children({{top_sup, '{n}'}}))."),
            ] {
                out.push(eval(&mut ctx, e, &src).await);
            }
            out
        })
        .await
        .expect("driver process");
    assert_eq!(results[0], Term::atom("true"), "{}", text(&results[0]));
    assert_eq!(
        text(&results[1]),
        "[{specs,1},{active,1},{supervisors,0},{workers,1}]"
    );
    assert_eq!(results[2], Term::Int(7), "{}", text(&results[2]));
    assert_eq!(results[3], Term::atom("ok"));
    assert_eq!(results[4], Term::Int(7), "{}", text(&results[4]));
    assert_eq!(results[5], Term::atom("ok"), "{}", text(&results[5]));
    assert_eq!(results[6], Term::Int(3), "{}", text(&results[6]));
    assert_eq!(results[7], Term::Int(2));
}
