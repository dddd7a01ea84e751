//! Measuring helpers shared by the benchmarks.

// Each benchmark uses a part of these.
#![allow(dead_code, reason = "each benchmark uses a part of the helpers")]

pub(crate) mod http;
pub(crate) mod wrk;

use std::time::Duration;

/// CPU time of every thread of `pid`, from /proc (nanoseconds).
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The middle value (the upper one of an even count).
pub(crate) fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// One measured round: throughput, latency and the server's CPU.
pub(crate) struct Round {
    pub(crate) per_s: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) cpu: Option<Duration>,
}

impl Round {
    /// A round of `latencies` over `elapsed`, with the server's CPU
    /// counters (`cpu_ns`) read before and after.
    pub(crate) fn new(
        mut latencies: Vec<Duration>,
        elapsed: Duration,
        cpu_before: Option<u64>,
        cpu_after: Option<u64>,
    ) -> Self {
        latencies.sort();
        let n = latencies.len();
        Self {
            per_s: n as f64 / elapsed.as_secs_f64(),
            p50: latencies[n / 2],
            p99: latencies[n * 99 / 100],
            cpu: cpu_before
                .zip(cpu_after)
                .map(|(b, a)| Duration::from_nanos((a - b) / n as u64)),
        }
    }
}

/// Prints the medians of `rounds` as one line; returns the median rate.
pub(crate) fn report(name: &str, unit: &str, rounds: &[Round]) -> f64 {
    let per_s = median(rounds.iter().map(|r| r.per_s).collect());
    let p50 = median(rounds.iter().map(|r| r.p50).collect());
    let p99 = median(rounds.iter().map(|r| r.p99).collect());
    let cpu = rounds
        .iter()
        .map(|r| r.cpu)
        .collect::<Option<Vec<_>>>()
        .map(median);
    println!(
        "  {name:<22} {per_s:>8.0} {unit}s/s   p50 {:>7.1} µs   p99 {:>7.1} µs   server CPU {}",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        cpu.map_or_else(
            || "n/a".to_owned(),
            |c| format!("{:.1} µs/{unit}", c.as_secs_f64() * 1e6)
        ),
    );
    per_s
}

/// The median of the paired ratios `ours[i] / base[i]`: each round of ours
/// ran next to a round of the base, so a slow stretch of the machine hits
/// both sides of a ratio.
pub(crate) fn paired_ratio(ours: &[Round], base: &[Round]) -> f64 {
    median(
        ours.iter()
            .zip(base)
            .map(|(o, b)| o.per_s / b.per_s)
            .collect(),
    )
}
