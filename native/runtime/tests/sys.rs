//! sys: get_state, replace_state, get_status, suspend/resume, terminate.

mod common;

use std::time::Duration;

use common::*;
use etf::Term;
use ferrotp::gen_server::{self, CallError, CallResult, CastResult, GenServer, Init, Opts};
use ferrotp::{sys, Node, Process};
use serde::{Deserialize, Serialize};

struct Count(i64);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Value,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Bump(i64),
}

impl GenServer for Count {
    type Arg = i64;
    type Call = Call;
    type Reply = i64;
    type Cast = Cast;
    type Continue = ();

    async fn init(n: i64, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Count(n))
    }
    async fn handle_call(
        &mut self,
        _: Call,
        _: gen_server::From,
        _: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0)
    }
    async fn handle_cast(&mut self, Cast::Bump(n): Cast, _: &mut Process) -> CastResult<Self> {
        self.0 += n;
        CastResult::NoReply
    }
    fn state_term(&self) -> Term {
        Term::Int(self.0)
    }
}

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_get_state_and_replace_state() {
    Node::local()
        .run(|mut ctx| async move {
            let c = gen_server::start_link::<Count>(&mut ctx, 4, Opts::default())
                .await
                .unwrap();
            assert_eq!(sys::get_state(&mut ctx, c.pid()).await, Ok(Term::Int(4)));
            assert_eq!(
                sys::replace_state(&mut ctx, &c, |s| s.0 = 100).await,
                Ok(Term::Int(100))
            );
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(100));
            // The wire shape sys:get_state uses: {system, {Pid, Ref}, get_state} -> {Ref, State}
            let me = ctx.pid();
            let r = Term::Reference(ctx.make_ref());
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    Term::atom("system"),
                    Term::tuple(vec![Term::Pid(me), r.clone()]),
                    Term::atom("get_state"),
                ]),
            );
            assert_eq!(recv(&mut ctx).await, Term::tuple(vec![r, Term::Int(100)]));
            // An Erlang fun cannot run here: an error reply, the server lives on.
            let r = Term::Reference(ctx.make_ref());
            let req = Term::tuple(vec![
                Term::atom("replace_state"),
                Term::atom("not_a_rust_closure"),
            ]);
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    Term::atom("system"),
                    Term::tuple(vec![Term::Pid(me), r.clone()]),
                    req,
                ]),
            );
            let reply = recv(&mut ctx).await;
            let reply = reply.as_tuple().unwrap();
            assert_eq!(reply[0], r);
            assert!(reply[1].as_tuple().unwrap()[0].is_atom("error"));
            let v = gen_server::call_term(&mut ctx, c.pid(), Term::atom("value"), T).await;
            assert_eq!(v, Ok(Term::Int(100)));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_suspend_and_resume() {
    Node::local()
        .run(|mut ctx| async move {
            let c = gen_server::start_link::<Count>(&mut ctx, 1, Opts::default())
                .await
                .unwrap();
            sys::suspend(&mut ctx, c.pid()).await.unwrap();
            c.cast(&ctx, Cast::Bump(1)).unwrap();
            // Suspended: calls wait.
            assert_eq!(
                c.call(&mut ctx, Call::Value, Duration::from_millis(100))
                    .await,
                Err(CallError::Timeout)
            );
            // System messages are still answered, and the cast has not run.
            assert_eq!(sys::get_state(&mut ctx, c.pid()).await, Ok(Term::Int(1)));
            let status = sys::get_status(&mut ctx, c.pid()).await.unwrap();
            let st = status.as_tuple().unwrap();
            assert!(st[0].is_atom("status"));
            assert_eq!(st[1], Term::Pid(c.pid()));
            assert_eq!(
                st[2],
                Term::tuple(vec![Term::atom("module"), Term::atom("gen_server")])
            );
            match &st[3] {
                Term::List(items) => assert!(items[1].is_atom("suspended")),
                other => panic!("{other:?}"),
            }
            sys::resume(&mut ctx, c.pid()).await.unwrap();
            assert_eq!(c.call(&mut ctx, Call::Value, T).await, Ok(2));
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_terminate_exits_with_reason() {
    Node::local()
        .run(|mut ctx| async move {
            ctx.trap_exit(true);
            let c = gen_server::start_link::<Count>(&mut ctx, 1, Opts::default())
                .await
                .unwrap();
            sys::terminate(&mut ctx, c.pid(), Term::atom("bye"))
                .await
                .unwrap();
            assert_eq!(recv(&mut ctx).await, exit_msg(c.pid(), Term::atom("bye")));
            let c = gen_server::start_link::<Count>(&mut ctx, 1, Opts::default())
                .await
                .unwrap();
            let r = gen_server::call_term(&mut ctx, c.pid(), Term::atom("value"), T).await;
            assert_eq!(r, Ok(Term::Int(1)));
            // Unknown system requests: {error, {unknown_system_msg, Req}}, as sys answers.
            let me = ctx.pid();
            let tag = Term::Reference(ctx.make_ref());
            ctx.send(
                &c.pid(),
                Term::tuple(vec![
                    Term::atom("system"),
                    Term::tuple(vec![Term::Pid(me), tag.clone()]),
                    Term::atom("frobnicate"),
                ]),
            );
            let want = Term::tuple(vec![
                Term::atom("error"),
                Term::tuple(vec![
                    Term::atom("unknown_system_msg"),
                    Term::atom("frobnicate"),
                ]),
            ]);
            assert_eq!(recv(&mut ctx).await, Term::tuple(vec![tag, want]));
        })
        .await
        .unwrap();
}
