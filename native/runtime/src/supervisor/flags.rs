//! Supervisor flags: `#{strategy, intensity, period, auto_shutdown}`.
//!
//! | Erlang (`init/1` returns)                                     | Rust                          |
//! |---------------------------------------------------------------|-------------------------------|
//! | `#{strategy => one_for_one, intensity => 3, period => 10}`    | `SupFlags::one_for_one().intensity(3).period(10)` |
//! | `{one_for_one, 3, 10}` (the old tuple form)                   | the same                      |
//! | defaults: `one_for_one`, intensity 1, period 5, `never`       | `SupFlags::default()`         |
//!
//! Invalid flags are errors with OTP's reasons: `{invalid_strategy, S}`,
//! `{invalid_intensity, I}`, `{invalid_period, P}`,
//! `{invalid_auto_shutdown, A}`, `{invalid_type, Flags}`.

use etf::Term;

/// What a supervisor does to the other children when one terminates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// `one_for_one`: restart only the child that terminated.
    OneForOne,
    /// `one_for_all`: terminate all the others, then restart all.
    OneForAll,
    /// `rest_for_one`: terminate the children started after it, then
    /// restart it and them.
    RestForOne,
    /// `simple_one_for_one`: one child spec, children added dynamically
    /// with `start_child(Sup, ExtraArgs)`; each is restarted on its own.
    SimpleOneForOne,
}

impl Strategy {
    /// The strategy's atom name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
            Strategy::SimpleOneForOne => "simple_one_for_one",
        }
    }

    /// Reads the strategy atom.
    pub fn from_term(t: &Term) -> Option<Strategy> {
        Some(match t.as_atom()?.as_str() {
            "one_for_one" => Strategy::OneForOne,
            "one_for_all" => Strategy::OneForAll,
            "rest_for_one" => Strategy::RestForOne,
            "simple_one_for_one" => Strategy::SimpleOneForOne,
            _ => return None,
        })
    }
}

/// When the termination of significant children ends the supervisor
/// (OTP 24's automatic shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// `never`: significant children are not allowed.
    #[default]
    Never,
    /// `any_significant`: as soon as any significant child terminates by itself.
    AnySignificant,
    /// `all_significant`: once every significant child has terminated.
    AllSignificant,
}

impl AutoShutdown {
    /// The atom name.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoShutdown::Never => "never",
            AutoShutdown::AnySignificant => "any_significant",
            AutoShutdown::AllSignificant => "all_significant",
        }
    }

    /// Reads the atom.
    pub fn from_term(t: &Term) -> Option<AutoShutdown> {
        Some(match t.as_atom()?.as_str() {
            "never" => AutoShutdown::Never,
            "any_significant" => AutoShutdown::AnySignificant,
            "all_significant" => AutoShutdown::AllSignificant,
            _ => return None,
        })
    }
}

/// The supervisor flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupFlags {
    /// The restart strategy.
    pub strategy: Strategy,
    /// At most this many restarts...
    pub intensity: u32,
    /// ...within this many seconds (at least 1); one more and the
    /// supervisor gives up and exits `shutdown`.
    pub period: u32,
    /// Automatic shutdown on significant children terminating.
    pub auto_shutdown: AutoShutdown,
}

impl Default for SupFlags {
    /// OTP's defaults: `one_for_one`, intensity 1, period 5, `never`.
    fn default() -> SupFlags {
        SupFlags {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: 5,
            auto_shutdown: AutoShutdown::Never,
        }
    }
}

impl SupFlags {
    /// Defaults with strategy `one_for_one`.
    pub fn one_for_one() -> SupFlags {
        SupFlags::default()
    }

    /// Defaults with strategy `strategy`.
    pub fn new(strategy: Strategy) -> SupFlags {
        SupFlags {
            strategy,
            ..SupFlags::default()
        }
    }

    /// Sets the intensity.
    pub fn intensity(mut self, intensity: u32) -> SupFlags {
        self.intensity = intensity;
        self
    }

    /// Sets the period in seconds (0 is taken as 1).
    pub fn period(mut self, period: u32) -> SupFlags {
        self.period = period.max(1);
        self
    }

    /// Sets the automatic shutdown.
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> SupFlags {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// The map form, `#{strategy => .., intensity => .., period => .., auto_shutdown => ..}`.
    pub fn to_term(&self) -> Term {
        let mut m = etf::Map::new();
        m.insert(Term::atom("strategy"), Term::atom(self.strategy.as_str()));
        m.insert(Term::atom("intensity"), Term::Int(self.intensity.into()));
        m.insert(Term::atom("period"), Term::Int(self.period.into()));
        m.insert(
            Term::atom("auto_shutdown"),
            Term::atom(self.auto_shutdown.as_str()),
        );
        Term::Map(m)
    }

    /// Reads and checks flags in map or tuple form (`check_flags` in
    /// supervisor.erl); `Err` is OTP's reason term.
    pub fn from_term(t: &Term) -> Result<SupFlags, Term> {
        let bad = |what: &str, v: &Term| Term::tuple(vec![Term::atom(what), v.clone()]);
        let (strategy, intensity, period, auto) = match t {
            Term::Map(m) => (
                m.get_atom("strategy").cloned(),
                m.get_atom("intensity").cloned(),
                m.get_atom("period").cloned(),
                m.get_atom("auto_shutdown").cloned(),
            ),
            Term::Tuple(items) if items.len() == 3 => (
                items.first().cloned(),
                items.get(1).cloned(),
                items.get(2).cloned(),
                None,
            ),
            other => return Err(bad("invalid_type", other)),
        };
        let mut flags = SupFlags::default();
        if let Some(s) = strategy {
            flags.strategy = Strategy::from_term(&s).ok_or_else(|| bad("invalid_strategy", &s))?;
        }
        if let Some(i) = intensity {
            flags.intensity = i
                .as_i64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| bad("invalid_intensity", &i))?;
        }
        if let Some(p) = period {
            flags.period = p
                .as_i64()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| bad("invalid_period", &p))?;
        }
        if let Some(a) = auto {
            flags.auto_shutdown =
                AutoShutdown::from_term(&a).ok_or_else(|| bad("invalid_auto_shutdown", &a))?;
        }
        Ok(flags)
    }
}
