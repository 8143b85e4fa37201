//! A cheap stopwatch for charging Rust work to the BEAM scheduler.
//!
//! Every NIF call that runs Rust callbacks times them (see
//! `process::account`). `Instant::now` costs a `clock_gettime` each time,
//! a noticeable share of a direct `gen_server:call`; on x86-64 with an
//! invariant TSC (`constant_tsc` and `nonstop_tsc`), the time-stamp counter
//! is read instead, converted with a rate measured once against `Instant`.
//! Elsewhere, or without those CPU flags, it is `Instant`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A started stopwatch.
pub struct Stopwatch(Start);

enum Start {
    /// Time-stamp counter ticks.
    #[cfg(target_arch = "x86_64")]
    Ticks(u64),
    Instant(Instant),
}

/// Nanoseconds per TSC tick as a 32.32 fixed-point number (a multiply and
/// a shift per reading, where a float would take two conversions), or
/// `None` when the TSC is not usable.
fn ns_per_tick() -> Option<u64> {
    static RATE: OnceLock<Option<u64>> = OnceLock::new();
    *RATE.get_or_init(|| calibrate().map(|rate| (rate * (1u64 << 32) as f64) as u64))
}

#[cfg(target_arch = "x86_64")]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86-64.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(target_arch = "x86_64")]
fn calibrate() -> Option<f64> {
    let flags = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    if !(flags.contains(" constant_tsc") && flags.contains(" nonstop_tsc")) {
        return None;
    }
    let (t0, c0) = (Instant::now(), ticks());
    while t0.elapsed() < Duration::from_micros(500) {
        std::hint::spin_loop();
    }
    let (ns, c1) = (t0.elapsed().as_nanos() as f64, ticks());
    let rate = ns / c1.checked_sub(c0).filter(|d| *d > 0)? as f64;
    // Anything outside 0.05-10 GHz is not a clock to trust.
    (0.1..=20.0).contains(&rate).then_some(rate)
}

#[cfg(not(target_arch = "x86_64"))]
fn calibrate() -> Option<f64> {
    None
}

impl Stopwatch {
    /// Starts timing.
    pub fn start() -> Stopwatch {
        #[cfg(target_arch = "x86_64")]
        if ns_per_tick().is_some() {
            return Stopwatch(Start::Ticks(ticks()));
        }
        Stopwatch(Start::Instant(Instant::now()))
    }

    /// Nanoseconds since [`Stopwatch::start`] (saturating).
    pub fn elapsed_ns(&self) -> u64 {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Start::Ticks(t0) => {
                let rate = ns_per_tick().unwrap_or(1 << 32);
                let ns = (u128::from(ticks().saturating_sub(t0)) * u128::from(rate)) >> 32;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
            Start::Instant(i) => u64::try_from(i.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwatch_measures_a_sleep() {
        let watch = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(20));
        let took = Duration::from_nanos(watch.elapsed_ns());
        assert!(took >= Duration::from_millis(15), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}
