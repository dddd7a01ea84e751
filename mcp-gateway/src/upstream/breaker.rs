//! The circuit breaker of one upstream: after `threshold` failures in a
//! row, calls fail at once for `open_for`; then one call goes through as a
//! probe, and its outcome closes the circuit or opens it again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use mcp_server::clock::Clock;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe call is out; the others fail at once.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: SystemTime },
    HalfOpen,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
    clock: Arc<dyn Clock>,
}

/// A call the breaker let through: report how it went.
#[derive(Debug)]
#[must_use]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    reported: bool,
}

impl Permit<'_> {
    /// The upstream answered (a JSON-RPC error counts: it is up).
    pub(crate) fn success(mut self) {
        self.reported = true;
        *self.breaker.lock() = State::Closed { failures: 0 };
    }

    /// The upstream did not answer: timeout, connection lost, HTTP 5xx.
    pub(crate) fn failure(mut self) {
        self.reported = true;
        self.breaker.failed();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A probe whose caller went away settles nothing: let the next
        // call probe again.
        if !self.reported {
            let mut state = self.breaker.lock();
            if matches!(*state, State::HalfOpen) {
                *state = State::Open {
                    until: self.breaker.clock.now(),
                };
            }
        }
    }
}

impl Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            open_for,
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a call through, or says how long until the next probe.
    pub(crate) fn admit(&self) -> Result<Permit<'_>, Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => {}
            State::Open { until } => {
                let now = self.clock.now();
                if now < until {
                    return Err(until.duration_since(now).unwrap_or_default());
                }
                *state = State::HalfOpen;
            }
            State::HalfOpen => return Err(Duration::ZERO),
        }
        Ok(Permit {
            breaker: self,
            reported: false,
        })
    }

    fn failed(&self) {
        let mut state = self.lock();
        let failures = match *state {
            State::Closed { failures } => failures.saturating_add(1),
            // A failed probe opens the circuit again at once.
            State::Open { .. } | State::HalfOpen => self.threshold,
        };
        *state = if failures >= self.threshold {
            State::Open {
                until: self.clock.now() + self.open_for,
            }
        } else {
            State::Closed { failures }
        };
    }

    /// The connection was lost: open at once (the supervisor reconnects).
    pub(crate) fn trip(&self) {
        *self.lock() = State::Open {
            until: self.clock.now() + self.open_for,
        };
    }

    /// The connection is back: close.
    pub(crate) fn reset(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    pub(crate) fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mcp_server::clock::ManualClock;

    #[test]
    fn opens_after_threshold_probes_then_closes() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let breaker = Breaker::new(2, Duration::from_secs(10), Arc::new(clock.clone()));
        breaker.admit().unwrap().failure();
        assert_eq!(breaker.state(), CircuitState::Closed);
        breaker.admit().unwrap().failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.admit().unwrap_err(), Duration::from_secs(10));
        clock.advance(Duration::from_secs(10));
        let probe = breaker.admit().unwrap();
        // Only one probe at a time.
        assert!(breaker.admit().is_err());
        probe.failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        clock.advance(Duration::from_secs(10));
        breaker.admit().unwrap().success();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let breaker = Breaker::new(1, Duration::from_secs(1), Arc::new(clock.clone()));
        breaker.admit().unwrap().failure();
        clock.advance(Duration::from_secs(1));
        drop(breaker.admit().unwrap());
        assert!(breaker.admit().is_ok());
    }
}
