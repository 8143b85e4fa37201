//! A typed gen_server registered as a behaviour starts from a start MFA.

use std::time::Duration;

use etf::{Atom, Term};
use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, GenServerRef, Init};
use ferrotp::{behaviours, Node, Process};
use serde::{Deserialize, Serialize};

struct Stack(Vec<i64>);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Pop,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Push(i64),
}

impl GenServer for Stack {
    type Arg = Vec<i64>;
    type Call = Call;
    type Reply = Option<i64>;
    type Cast = Cast;
    type Continue = ();
    async fn init(items: Vec<i64>, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Stack(items))
    }
    async fn handle_call(
        &mut self,
        _req: Call,
        _from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0.pop())
    }
    async fn handle_cast(&mut self, Cast::Push(n): Cast, _ctx: &mut Process) -> CastResult<Self> {
        self.0.push(n);
        CastResult::NoReply
    }
}

#[test]
fn typed_server_registered_as_behaviour_starts_from_a_start_mfa() {
    behaviours::register(Atom::new("test_stack"), gen_server::behaviour::<Stack>());
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        let arg = Term::List(vec![Term::Int(1), Term::Int(2)]);
        let pid = behaviours::start_link(&mut ctx, Atom::new("test_stack"), vec![arg])
            .await
            .unwrap();
        let stack = GenServerRef::<Stack>::from_pid(pid);
        stack.cast(&ctx, Cast::Push(3)).unwrap();
        let t = Duration::from_secs(10);
        assert_eq!(stack.call(&mut ctx, Call::Pop, t).await, Ok(Some(3)));
        assert_eq!(stack.call(&mut ctx, Call::Pop, t).await, Ok(Some(2)));
        let bad =
            behaviours::start_link(&mut ctx, Atom::new("test_stack"), vec![Term::atom("x")]).await;
        assert_eq!(
            bad,
            Err(Term::tuple(vec![Term::atom("badarg"), Term::atom("x")]))
        );
    })
    .unwrap();
}
