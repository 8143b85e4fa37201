//! Supervisor reports reach `tracing` with OTP's report fields.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use etf::Term;
use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
use ferrotp::Node;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// One event: its target and fields as text.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

struct Capture(Seen);

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut f = Fields(Vec::new());
        event.record(&mut f);
        if let Ok(mut seen) = self.0.lock() {
            seen.push((event.metadata().target().to_owned(), f.0));
        }
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn child_terminated_and_reached_max_restart_intensity_are_reported() {
    let seen: Seen = Arc::default();
    let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
    // Processes run on the runtime's worker threads: a global subscriber
    // (this file holds the only test of its binary).
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    let node = Node::local();
    node.block_on_process(|mut ctx| async move {
        ctx.trap_exit(true);
        let spec = ChildSpec::worker(
            "w",
            Start::spawn(|_c| async { Err::<(), _>(Term::atom("boom")) }),
        );
        let sup = supervisor::start_link(
            &mut ctx,
            SupFlags::one_for_one().intensity(2),
            vec![spec],
            SupOpts::named("reporting_sup"),
        )
        .await
        .unwrap();
        let exit = ctx
            .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
            .await
            .unwrap();
        assert_eq!(
            exit.into_term().unwrap(),
            exit_msg(sup, Term::atom("shutdown"))
        );
    })
    .unwrap();
    let seen = seen.lock().unwrap();
    let reports: Vec<_> = seen
        .iter()
        .filter(|(target, f)| target == "ferrotp::supervisor" && field(f, "errorContext").is_some())
        .collect();
    let contexts: Vec<&str> = reports
        .iter()
        .filter_map(|(_, f)| field(f, "errorContext"))
        .collect();
    assert_eq!(
        contexts,
        [
            "child_terminated",
            "child_terminated",
            "child_terminated",
            "shutdown"
        ],
        "{seen:?}"
    );
    let last = &reports[3].1;
    assert_eq!(field(last, "supervisor"), Some("{local,reporting_sup}"));
    assert_eq!(field(last, "reason"), Some("reached_max_restart_intensity"));
    let offender = field(last, "offender").unwrap();
    assert!(
        offender.starts_with("[{pid,<")
            && offender.contains("{id,w}")
            && offender.contains("{restart_type,permanent}"),
        "{offender}"
    );
    assert_eq!(field(&reports[0].1, "reason"), Some("boom"));
}
