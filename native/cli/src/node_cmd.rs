//! `ferrotp node`: a hidden Rust node hosting the seed's tree.
//!
//! ```text
//! $ ferrotp node --sname rust --cookie secret &
//! $ erl -sname erl -setcookie secret
//! 1> gen_server:call({counter, rust@myhost}, value).
//! 0
//! 2> supervisor:which_children({top_sup, rust@myhost}).
//! [{counter,<14022.2.0>,worker,[counter]}]
//! ```
//!
//! | flag                      | `erl` equivalent            |
//! |---------------------------|-----------------------------|
//! | `--sname NAME[@HOST]`     | `-sname NAME` (short host)  |
//! | `--name NAME@HOST`        | `-name NAME@HOST`           |
//! | `--cookie C`              | `-setcookie C` (default: `~/.erlang.cookie`) |
//! | `--connect NODE`          | `net_kernel:connect_node(NODE)` at boot; Erlang children of Rust supervisors start there |
//!
//! EPMD: the one running on `ERL_EPMD_PORT` (default 4369), else the
//! system's `epmd -daemon`, else an embedded one. SIGTERM or SIGINT shuts
//! the tree down (`shutdown`) and exits 0; if `top_sup` itself dies (its
//! restart intensity reached) the node exits 1, as an OTP node whose
//! permanent application stopped.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dist::node::NodeConfig;
use dist::{Cookie, NodeName};
use etf::Term;
use node::host::HiddenNode;
use node::seed;
use tokio::sync::oneshot;

/// `ferrotp node ...`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("node_name").required(true).args(["sname", "name"])))]
pub struct NodeArgs {
    /// Short node name (`NAME` or `NAME@HOST`; the host defaults to this machine's short hostname).
    #[arg(long)]
    sname: Option<String>,
    /// Long node name `NAME@HOST`.
    #[arg(long)]
    name: Option<String>,
    /// The cookie; `~/.erlang.cookie` when absent.
    #[arg(long)]
    cookie: Option<String>,
    /// A node to connect to at start.
    #[arg(long)]
    connect: Vec<String>,
}

fn node_name(args: &NodeArgs) -> Result<NodeName> {
    let text = match (&args.sname, &args.name) {
        (Some(s), _) if s.contains('@') => s.clone(),
        (Some(s), _) => format!("{s}@{}", short_hostname()?),
        (None, Some(n)) if n.contains('@') => n.clone(),
        (None, Some(n)) => bail!("--name needs NAME@HOST, got {n:?}"),
        (None, None) => bail!("one of --sname or --name is required"),
    };
    NodeName::parse(&text).map_err(|e| anyhow!("bad node name {text:?}: {e}"))
}

fn short_hostname() -> Result<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .context("cannot find this machine's hostname; give --sname NAME@HOST")?;
    let host = host.trim();
    Ok(host.split('.').next().unwrap_or(host).to_string())
}

/// Runs the node until SIGTERM/SIGINT.
pub fn run(args: NodeArgs) -> Result<()> {
    // Connection events go to stderr; RUST_LOG tunes them (default: info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let name = node_name(&args)?;
    let mut config = NodeConfig::new(name);
    if let Some(c) = &args.cookie {
        config = config.cookie(Cookie::new(c.as_str()));
    }
    let peers = args
        .connect
        .iter()
        .map(|p| NodeName::parse(p).map_err(|e| anyhow!("bad --connect node {p:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrotp-node")
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(serve(config, peers))
}

async fn serve(config: NodeConfig, peers: Vec<NodeName>) -> Result<()> {
    let hidden = HiddenNode::start(config).await.context("node")?;
    let (started_tx, started_rx) = oneshot::channel();
    let (stopped_tx, stopped_rx) = oneshot::channel();
    // The root: top_sup's parent (an application master, in OTP terms).
    let root = hidden.runtime().spawn(|mut ctx| async move {
        ctx.trap_exit(true);
        let sup = match seed::start_top_sup(&mut ctx).await {
            Ok(sup) => sup,
            Err(reason) => {
                let _ = started_tx.send(Err(reason));
                return;
            }
        };
        let _ = started_tx.send(Ok(sup));
        loop {
            let msg = ctx.receive().await;
            if let Ok(Term::Tuple(items)) = msg.into_term() {
                if let [tag, Term::Pid(p), reason] = items.as_slice() {
                    if tag.is_atom("EXIT") && *p == sup {
                        let _ = stopped_tx.send(reason.clone());
                        return;
                    }
                }
            }
        }
    });
    let sup = started_rx
        .await
        .map_err(|_| anyhow!("node: the root process died"))?
        .map_err(|reason| anyhow!("node: top_sup failed to start: {reason}"))?;
    // Rust supervisors start Erlang children (start modules that are not
    // Rust behaviours) on the first --connect node, else the first connected one.
    hidden.start_beam_children(peers.first().copied());
    for peer in peers {
        hidden
            .connect(peer)
            .await
            .with_context(|| format!("node: connecting to {peer}"))?;
    }
    println!("ferrotp node {} up (top_sup {sup})", hidden.name());
    let result = tokio::select! {
        reason = stopped_rx => {
            let reason = reason.map(|r| r.to_string()).unwrap_or_else(|_| "unknown".into());
            Err(anyhow!("node: top_sup terminated: {reason}"))
        }
        signal = shutdown_signal() => {
            signal?;
            // init:stop(): the tree stops in order, then distribution.
            hidden.runtime().exit(&root, &sup, Term::atom("shutdown"));
            wait_dead(&hidden, sup).await
        }
    };
    hidden.shutdown();
    result
}

/// Waits (up to a minute) for `pid` to be gone.
async fn wait_dead(hidden: &HiddenNode, pid: etf::Pid) -> Result<()> {
    for _ in 0..600 {
        if !hidden.runtime().is_alive(&pid) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(anyhow!("node: top_sup did not stop within a minute"))
}

async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("node: SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("node: SIGINT handler")?,
    }
    Ok(())
}
