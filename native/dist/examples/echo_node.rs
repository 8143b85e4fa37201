//! A hidden node with one registered process, `echo`, that answers
//! `{From, Msg}` with `From ! {echo, Msg}` — the wiring a runtime does, in
//! miniature: the handler forwards signals to a task, which replies through
//! the node.
//!
//! ```text
//! cargo run -p ferrotp-dist --example echo_node -- rust@localhost secret
//! erl -sname e -setcookie secret -eval "{echo, 'rust@localhost'} ! {self(), hi}, receive R -> io:format(\"~p~n\", [R]) end"
//! ```

use std::sync::Arc;

use dist::control::ControlMessage;
use dist::node::{DistHandler, DistNode, NodeConfig};
use dist::signal::{Dest, Signal};
use dist::{Cookie, NodeName};
use etf::Term;
use tokio::sync::mpsc;

struct Forward(mpsc::UnboundedSender<Signal>);

impl DistHandler for Forward {
    fn on_control(&self, _peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        if let Some(signal) = Signal::from_control(msg, payload) {
            let _ = self.0.send(signal);
        }
    }

    fn on_nodedown(&self, peer: NodeName, reason: &dist::connection::CloseReason) {
        eprintln!("nodedown {peer}: {reason}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = NodeName::parse(&args.next().unwrap_or_else(|| "rust@localhost".into()))?;
    let config = match args.next() {
        Some(cookie) => NodeConfig::new(name).cookie(Cookie::new(cookie)),
        None => NodeConfig::new(name),
    };
    let (tx, mut signals) = mpsc::unbounded_channel();
    let node = DistNode::start(config, Arc::new(Forward(tx))).await?;
    eprintln!("{} up, creation {}", node.name(), node.creation());
    let echo = node.net_kernel_pid();
    while let Some(signal) = signals.recv().await {
        let Signal::Message {
            to: Dest::Name(name),
            message,
            ..
        } = signal
        else {
            continue;
        };
        if name.as_str() != "echo" {
            continue;
        }
        let Some([Term::Pid(from), msg]) = message.as_tuple() else {
            continue;
        };
        let reply = Signal::Message {
            from: Some(echo),
            to: Dest::Pid(*from),
            message: Term::tuple(vec![Term::atom("echo"), msg.clone()]),
        };
        let (control, payload) = reply.into_control(echo);
        if let Err(e) = node
            .send(NodeName::from_atom(from.node)?, control, payload)
            .await
        {
            eprintln!("reply to {from:?} failed: {e}");
        }
    }
    Ok(())
}
