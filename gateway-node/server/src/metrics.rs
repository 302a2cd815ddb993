//! Prometheus metrics, rendered by hand in the text exposition format (a handful of
//! gauges, counters and one histogram do not need a metrics framework).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency histograms' buckets, in milliseconds.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000];

/// A latency histogram (milliseconds, buckets [`LATENCY_BUCKETS_MS`]) in the Prometheus
/// text format: cumulative buckets, sum, count.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    count: AtomicU64,
    sum: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, value_ms: u64) {
        for (bucket, le) in self.buckets.iter().zip(LATENCY_BUCKETS_MS) {
            if value_ms <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value_ms, Ordering::Relaxed);
    }

    /// Appends the series of `name` with `labels` (e.g. `node="…"`, or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sep = if labels.is_empty() { "" } else { "," };
        for (bucket, le) in self.buckets.iter().zip(LATENCY_BUCKETS_MS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {}", load(bucket));
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", load(&self.count));
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", load(&self.sum));
        let _ = writeln!(out, "{name}_count{braces} {}", load(&self.count));
    }
}
