//! TEMPORARY development stand-in for the runtime's behaviour registry:
//! a `counter` speaking the gen_server protocol by hand. Replaced by the
//! runtime's `counter` and `supervisor` when they land.

use etf::{Pid, Term};
use ferrotp::Node;

use crate::signals::SpawnRequest;

fn tuple(items: Vec<Term>) -> Term {
    Term::tuple(items)
}

/// Starts `req.behaviour` with `req.args`.
pub fn start(node: &Node, req: &SpawnRequest) -> Result<Pid, Term> {
    if req.behaviour.as_str() != "counter" || req.args.len() != 1 {
        return Err(tuple(vec![
            Term::atom("undef"),
            tuple(vec![
                Term::Atom(req.behaviour),
                Term::Atom(req.function),
                Term::Int(req.args.len() as i64),
            ]),
        ]));
    }
    let count = match &req.args[0] {
        Term::Int(n) => num_bigint::BigInt::from(*n),
        Term::BigInt(n) => n.clone(),
        other => return Err(tuple(vec![Term::atom("badarg"), other.clone()])),
    };
    Ok(node.spawn(move |mut ctx| async move {
        let mut count = count;
        loop {
            let Ok(msg) = ctx.receive().await.into_term() else {
                continue;
            };
            let items = msg.as_tuple().map(|t| t.to_vec()).unwrap_or_default();
            match items.as_slice() {
                [tag, from, req] if tag.is_atom("$gen_call") && req.is_atom("value") => {
                    reply(&ctx, from, Term::from_bigint(count.clone()))
                }
                [tag, from, req] if tag.is_atom("system") && req.is_atom("get_state") => {
                    reply(&ctx, from, Term::from_bigint(count.clone()))
                }
                [tag, from, req] if tag.is_atom("system") => {
                    if let Some([t, reason]) = req.as_tuple() {
                        if t.is_atom("terminate") {
                            reply(&ctx, from, Term::atom("ok"));
                            return Err::<(), Term>(reason.clone());
                        }
                    }
                    return Err(tuple(vec![Term::atom("bad_system"), req.clone()]));
                }
                [tag, cast] if tag.is_atom("$gen_cast") => match cast.as_tuple() {
                    Some([b, n]) if b.is_atom("bump") => match n.clone() {
                        Term::Int(i) => count += i,
                        Term::BigInt(i) => count += i,
                        _ => return Err(tuple(vec![Term::atom("bad_cast"), cast.clone()])),
                    },
                    _ => return Err(tuple(vec![Term::atom("bad_cast"), cast.clone()])),
                },
                [tag, _from, req] if tag.is_atom("$gen_call") => {
                    return Err(tuple(vec![Term::atom("bad_call"), req.clone()]))
                }
                _ => return Err(tuple(vec![Term::atom("unexpected_message"), msg])),
            }
        }
    }))
}

fn reply(ctx: &ferrotp::Process, from: &Term, value: Term) {
    if let Some([Term::Pid(to), tag]) = from.as_tuple() {
        ctx.send(to, tuple(vec![tag.clone(), value]));
    }
}
