//! Time for the simulated cluster. Everything in `sim` reads "now" through a [`Clock`], so a
//! test or a scenario can pin time and get byte-identical objects run after run. Nothing here
//! sleeps: waiting stays with tokio, which the controllers drive.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// A source of wall-clock time for object metadata and controller decisions.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;

    /// Changes how fast simulated time runs, for clocks that scale real time. Scenarios that
    /// converge before serving run fast, then return to the configured speed.
    fn set_speed(&self, _speed: f64) {}

    /// How many times faster than real time this clock runs.
    fn speed(&self) -> f64 {
        1.0
    }

    /// Moves time on by a step while a scenario converges, for clocks that only move when
    /// told to.
    fn nudge(&self, _by: SignedDuration) {}

    /// Sets simulated time to an instant, for clocks that can be set: a simulator started
    /// with a fixed start time loads its scenario at that instant.
    fn start_at(&self, _at: Timestamp) {}
}

/// A start time for simulators whose output must not depend on the day they run (snapshot
/// tests): shortly after the times the scenarios' seeded objects carry.
pub const FIXED_START: &str = "2026-11-29T10:00:00Z";

/// `FIXED_START` as a timestamp.
pub fn fixed_start() -> Timestamp {
    FIXED_START.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The machine's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; used by tests and deterministic scenarios.
#[derive(Debug)]
pub struct ManualClock {
    nanos: AtomicI64,
    // Serialises `advance` callers that want a consistent before/after pair.
    lock: Mutex<()>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        let nanos = i64::try_from(start.as_nanosecond()).unwrap_or(i64::MAX);
        Self {
            nanos: AtomicI64::new(nanos),
            lock: Mutex::new(()),
        }
    }

    /// Moves time forward and returns the new time.
    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        let _guard = self.lock.lock();
        let step = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(step, Ordering::SeqCst);
        self.now()
    }
}

impl Clock for ManualClock {
    fn nudge(&self, by: SignedDuration) {
        self.advance(by);
    }

    fn start_at(&self, at: Timestamp) {
        let _guard = self.lock.lock();
        let nanos = i64::try_from(at.as_nanosecond()).unwrap_or(i64::MAX);
        self.nanos.store(nanos, Ordering::SeqCst);
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.nanos.load(Ordering::SeqCst)))
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// Simulated time that runs `speed` times faster than the machine's clock, from a start
/// instant. Demos and tests use it so that a Windows image pull of minutes takes seconds,
/// while every timestamp the API shows stays consistent. The speed can change; simulated time
/// stays continuous across the change.
#[derive(Debug)]
pub struct ScaledClock {
    state: Mutex<Scale>,
}

#[derive(Debug, Clone, Copy)]
struct Scale {
    start: Timestamp,
    origin: std::time::Instant,
    speed: f64,
}

impl Scale {
    fn now(&self) -> Timestamp {
        let elapsed = self.origin.elapsed().mul_f64(self.speed);
        let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
        self.start.checked_add(elapsed).unwrap_or(self.start)
    }
}

impl ScaledClock {
    pub fn new(start: Timestamp, speed: f64) -> Self {
        Self {
            state: Mutex::new(Scale {
                start,
                origin: std::time::Instant::now(),
                speed: speed.max(0.0),
            }),
        }
    }

    fn scale(&self) -> Scale {
        // A Scale is replaced whole, so a poisoned lock still holds a consistent one.
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How much real time a stretch of simulated time takes.
    pub fn real_duration(&self, simulated: std::time::Duration) -> std::time::Duration {
        let speed = self.scale().speed;
        if speed > 0.0 {
            simulated.div_f64(speed)
        } else {
            std::time::Duration::MAX
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.scale().now()
    }

    fn set_speed(&self, speed: f64) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = state.now();
        *state = Scale {
            start: now,
            origin: std::time::Instant::now(),
            speed: speed.max(0.0),
        };
    }

    fn speed(&self) -> f64 {
        self.scale().speed
    }

    fn start_at(&self, at: Timestamp) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.start = at;
        state.origin = std::time::Instant::now();
    }
}

/// RFC 3339 with whole seconds and a `Z`, the form Kubernetes uses for `metav1.Time`.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 with microseconds, the form of `metav1.MicroTime` (events, leases).
pub fn rfc3339_micros(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses the timestamps Kubernetes writes; `None` for anything else.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        let later = clock.advance(SignedDuration::from_secs(90));
        assert_eq!(rfc3339(later), "2026-11-29T10:01:30Z");
        assert_eq!(rfc3339_micros(later), "2026-11-29T10:01:30.000000Z");
    }

    #[test]
    fn scaled_clock_runs_faster() {
        let start: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let clock = ScaledClock::new(start, 100.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ran = clock.now().duration_since(start);
        assert!(ran >= SignedDuration::from_secs(2), "{ran:?}");
        assert_eq!(
            clock.real_duration(std::time::Duration::from_secs(10)),
            std::time::Duration::from_millis(100)
        );
    }

    #[test]
    fn clocks_start_where_told() {
        let start = fixed_start();
        assert_eq!(rfc3339(start), FIXED_START);
        let manual = ManualClock::new(Timestamp::UNIX_EPOCH);
        manual.start_at(start);
        assert_eq!(manual.now(), start);
        let scaled = ScaledClock::new(Timestamp::UNIX_EPOCH, 0.0);
        scaled.start_at(start);
        assert_eq!(scaled.now(), start);
    }

    #[test]
    fn parses_what_it_writes() {
        let ts: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(parse_time(&rfc3339(ts)), Some(ts));
        assert_eq!(parse_time("yesterday"), None);
    }
}
