//! The seed's counter as a process speaking the `gen_server` and `sys`
//! protocols directly (the stand-in until the runtime's `gen_server`
//! behaviour registry is merged).
//!
//! | Erlang                          | here                                 |
//! |---------------------------------|--------------------------------------|
//! | `gen_server:call(P, value)`     | replies the count                    |
//! | `gen_server:cast(P, {bump, N})` | adds `N`                             |
//! | `sys:get_state(P)`              | the count                            |
//! | anything else                   | crashes, the reason names the message |

use etf::{Pid, Term};
use ferrotp::{Node, Process};
use num_bigint::BigInt;

/// Spawns a counter starting at `init` (an integer of any size).
pub fn start(node: &Node, init: Term) -> Pid {
    node.spawn(move |ctx| run(ctx, init))
}

fn to_big(t: &Term) -> Option<BigInt> {
    match t {
        Term::Int(i) => Some(BigInt::from(*i)),
        Term::BigInt(b) => Some(b.clone()),
        _ => None,
    }
}

fn from_big(b: &BigInt) -> Term {
    match i64::try_from(b) {
        Ok(i) => Term::Int(i),
        Err(_) => Term::BigInt(b.clone()),
    }
}

/// Answers a `gen_server` call: `{Tag, Value}` to the caller in `From = {Pid, Tag}`.
pub fn reply(ctx: &Process, from: &Term, value: Term) {
    if let Term::Tuple(f) = from {
        if let [Term::Pid(pid), tag] = f.as_slice() {
            ctx.send(pid, Term::Tuple(vec![tag.clone(), value]));
        }
    }
}

/// The counter's body, for callers that spawn it themselves (`spawn_link`).
pub async fn run(mut ctx: Process, init: Term) -> Result<(), Term> {
    let Some(mut count) = to_big(&init) else {
        return Err(Term::Tuple(vec![Term::atom("bad_init_arg"), init]));
    };
    loop {
        let msg = match ctx.receive().await.into_term() {
            Ok(t) => t,
            Err(_) => return Err(Term::atom("unexpected_local_message")),
        };
        let items = match &msg {
            Term::Tuple(items) => items.as_slice(),
            _ => &[],
        };
        match items {
            [Term::Atom(t), from, Term::Atom(req)]
                if t.as_str() == "$gen_call" && req.as_str() == "value" =>
            {
                reply(&ctx, from, from_big(&count));
            }
            [Term::Atom(t), req] if t.as_str() == "$gen_cast" => match req {
                Term::Tuple(r) if matches!(r.as_slice(), [Term::Atom(b), n] if b.as_str() == "bump" && to_big(n).is_some()) =>
                {
                    count += to_big(&r[1]).unwrap_or_default();
                }
                _ => return Err(Term::Tuple(vec![Term::atom("bad_cast"), req.clone()])),
            },
            [Term::Atom(t), from, req] if t.as_str() == "system" => match req {
                Term::Atom(a) if a.as_str() == "get_state" => {
                    reply(&ctx, from, from_big(&count));
                }
                Term::Tuple(r) if matches!(r.as_slice(), [Term::Atom(a), _] if a.as_str() == "terminate") =>
                {
                    // sys: acknowledge, then terminate with the reason.
                    reply(&ctx, from, Term::atom("ok"));
                    return Err(r[1].clone());
                }
                _ => reply(
                    &ctx,
                    from,
                    Term::Tuple(vec![Term::atom("error"), Term::atom("unsupported")]),
                ),
            },
            [Term::Atom(t), _, req] if t.as_str() == "$gen_call" => {
                return Err(Term::Tuple(vec![Term::atom("bad_call"), req.clone()]));
            }
            _ => return Err(Term::Tuple(vec![Term::atom("unexpected_message"), msg])),
        }
    }
}
