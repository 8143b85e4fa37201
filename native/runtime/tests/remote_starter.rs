//! A start MFA whose module is not a registered behaviour goes to the
//! installed `RemoteStarter` (the hidden-node transport's hook).

use etf::{Atom, Term};
use ferrotp::behaviours::{self, RemoteStarter};
use ferrotp::start::{BoxFuture, Started};
use ferrotp::supervisor::{self, SupOpts};
use ferrotp::{Node, Process};

/// Pretends `beam_counter:start_link(N)` runs on a BEAM node: starts a
/// local counter instead, and records the call.
struct FakeBeam;

impl RemoteStarter for FakeBeam {
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move {
            if module.as_str() != "beam_counter" || function.as_str() != "start_link" {
                return Err(Term::atom("not_here"));
            }
            let pid = behaviours::start_link(ctx, Atom::new("counter"), args).await?;
            Ok(Started::OkInfo(pid, Term::atom("from_beam")))
        })
    }
}

#[test]
fn unregistered_modules_are_started_by_the_remote_starter() {
    behaviours::set_remote_starter(std::sync::Arc::new(FakeBeam));
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        ctx.trap_exit(true); // the failing supervisor below exits abnormally
        let flags = etf::parse("#{}").unwrap();
        let specs = etf::parse("[#{id => c, start => {beam_counter, start_link, [41]}}]").unwrap();
        let sup = supervisor::start_link_terms(&mut ctx, flags, specs, SupOpts::default()).await.unwrap();
        let kids = supervisor::which_children(&mut ctx, sup).await.unwrap();
        let c = ferrotp::counter::Counter::at(kids[0].pid().unwrap());
        c.bump(&ctx, 1);
        assert_eq!(c.value(&mut ctx).await.unwrap(), 42.into());
        assert_eq!(kids[0].modules, etf::parse("[beam_counter]").unwrap());
        // {ok, Pid, Info} comes back from start_child as is
        let spec = etf::parse("{start_child, #{id => d, start => {beam_counter, start_link, [0]}}}").unwrap();
        let reply = ferrotp::call::call(&mut ctx, sup, spec, None).await.unwrap();
        assert!(matches!(reply.as_tuple(), Some([ok, Term::Pid(_), info]) if ok.is_atom("ok") && info.is_atom("from_beam")), "{reply}");
        let bad = etf::parse("[#{id => e, start => {elsewhere, start_link, []}}]").unwrap();
        let r = supervisor::start_link_terms(&mut ctx, etf::parse("#{}").unwrap(), bad, SupOpts::default()).await;
        assert_eq!(r, Err(etf::parse("{shutdown, {failed_to_start_child, e, not_here}}").unwrap()));
    })
    .unwrap();
    behaviours::clear_remote_starter();
}
