//! A small Prometheus registry: counters, gauges and histograms, optionally labelled,
//! rendered in the Prometheus text exposition format 0.0.4 for `GET /metrics`.
//!
//! Handles are `Arc`s around atomics: look one up once (at startup, or once per label
//! set with [`Family::with`]) and update it from any thread without locking.
//! Registering a name again with the same type, labels and buckets returns the same
//! metric, so components may each ask for the metrics they use.
//!
//! Hand-written rather than `prometheus-client`, which only emits OpenMetrics text.
//!
//! ```
//! let metrics = supervm_node::metrics::Metrics::new();
//! let blocks = metrics.counter("supervm_blocks_total", "Blocks committed.")?;
//! let calls = metrics.counter_vec("supervm_demo_calls_total", "Calls.", ["method"])?;
//! blocks.inc();
//! calls.with(["transfer"]).add(2);
//! assert!(metrics.render().contains("supervm_demo_calls_total{method=\"transfer\"} 2\n"));
//! # Ok::<(), supervm_node::metrics::MetricsError>(())
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::RwLock;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram buckets for latencies in seconds, from 100 µs to 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// A metric or label name is not `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels: no `:`, no
    /// leading `__`, and no `le` on histograms).
    #[error("invalid metric or label name {0:?}")]
    InvalidName(String),
    /// The name is registered with another type, other labels or other buckets.
    #[error("metric {0} is already registered differently")]
    Conflict(String),
    /// Buckets must be finite and strictly increasing.
    #[error("metric {0}: buckets must be finite and strictly increasing")]
    InvalidBuckets(String),
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }
    /// Adds `d` (which may be negative).
    pub fn add(&self, d: f64) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |b| {
            Some((f64::from_bits(b) + d).to_bits())
        });
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }
    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
}

#[derive(Debug)]
struct HistogramCore {
    bounds: Box<[f64]>,
    /// Non-cumulative counts per bound, plus one for values above the last bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A distribution of observations in fixed buckets, with their sum and count.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: &[f64]) -> Self {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self(Arc::new(HistogramCore {
            bounds: bounds.into(),
            buckets,
            sum: AtomicU64::new(0),
        }))
    }
    /// Records one observation (NaN is ignored).
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let h = &self.0;
        let i = h.bounds.partition_point(|b| *b < v);
        if let Some(bucket) = h.buckets.get(i) {
            bucket.fetch_add(1, Relaxed);
        }
        let _ = h.sum.fetch_update(Relaxed, Relaxed, |b| {
            Some((f64::from_bits(b) + v).to_bits())
        });
    }
    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }
    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.0.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }
    /// The sum of observations.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum.load(Relaxed))
    }
}

/// A metric type that can live in a [`Family`].
pub trait Metric: Clone + Send + Sync + 'static {
    /// The `# TYPE` of the metric.
    const KIND: &'static str;
    /// Appends this metric's sample lines; `labels` is `k="v",...` (possibly empty).
    fn write(&self, name: &str, labels: &str, out: &mut String);
}

impl Metric for Counter {
    const KIND: &'static str = "counter";
    fn write(&self, name: &str, labels: &str, out: &mut String) {
        let _ = writeln!(out, "{name}{} {}", braces(labels), self.get());
    }
}

impl Metric for Gauge {
    const KIND: &'static str = "gauge";
    fn write(&self, name: &str, labels: &str, out: &mut String) {
        let _ = writeln!(out, "{name}{} {}", braces(labels), float(self.get()));
    }
}

impl Metric for Histogram {
    const KIND: &'static str = "histogram";
    fn write(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, bucket) in self.0.buckets.iter().enumerate() {
            cumulative += bucket.load(Relaxed);
            let le = self
                .0
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| float(*b));
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), float(self.sum()));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// A metric with `N` labels: one child metric per set of label values.
pub struct Family<M: Metric, const N: usize> {
    labels: [String; N],
    children: RwLock<BTreeMap<[String; N], M>>,
    make: Box<dyn Fn() -> M + Send + Sync>,
    buckets: Option<Vec<f64>>,
}

impl<M: Metric, const N: usize> Family<M, N> {
    /// The child for these label values (created at zero on first use). Keep the handle
    /// if it is updated often: this looks it up under a lock.
    pub fn with(&self, values: [&str; N]) -> M {
        let key = values.map(str::to_string);
        if let Some(m) = self.children.read().get(&key) {
            return m.clone();
        }
        self.children
            .write()
            .entry(key)
            .or_insert_with(|| (self.make)())
            .clone()
    }
}

/// Counters with `N` labels.
pub type CounterVec<const N: usize> = Family<Counter, N>;
/// Gauges with `N` labels.
pub type GaugeVec<const N: usize> = Family<Gauge, N>;
/// Histograms with `N` labels.
pub type HistogramVec<const N: usize> = Family<Histogram, N>;

/// Renders a family type-erased.
trait Collect: Send + Sync {
    fn collect(&self, name: &str, help: &str, out: &mut String);
}

impl<M: Metric, const N: usize> Collect for Family<M, N> {
    fn collect(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(out, "# TYPE {name} {}", M::KIND);
        for (values, metric) in self.children.read().iter() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            metric.write(name, &labels.join(","), out);
        }
    }
}

struct Registered {
    help: String,
    collector: Arc<dyn Collect>,
    any: Arc<dyn Any + Send + Sync>,
}

/// The registry of all metrics of a node. Cloning shares it.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<RwLock<BTreeMap<String, Registered>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.families.read().keys()).finish()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter `name`, registered on first call.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, MetricsError> {
        Ok(self.counter_vec(name, help, [])?.with([]))
    }

    /// The gauge `name`, registered on first call.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricsError> {
        Ok(self.gauge_vec(name, help, [])?.with([]))
    }

    /// The histogram `name` with these bucket upper bounds (e.g. [`LATENCY_BUCKETS`]).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
    ) -> Result<Histogram, MetricsError> {
        Ok(self.histogram_vec(name, help, [], buckets)?.with([]))
    }

    /// The counter family `name` with these label names.
    pub fn counter_vec<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<Arc<CounterVec<N>>, MetricsError> {
        self.family(name, help, labels, None, Counter::default)
    }

    /// The gauge family `name` with these label names.
    pub fn gauge_vec<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<Arc<GaugeVec<N>>, MetricsError> {
        self.family(name, help, labels, None, Gauge::default)
    }

    /// The histogram family `name` with these label names and bucket upper bounds.
    pub fn histogram_vec<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        buckets: &[f64],
    ) -> Result<Arc<HistogramVec<N>>, MetricsError> {
        if labels.contains(&"le") {
            return Err(MetricsError::InvalidName("le".into()));
        }
        if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(MetricsError::InvalidBuckets(name.into()));
        }
        let bounds = buckets.to_vec();
        self.family(name, help, labels, Some(buckets.to_vec()), move || {
            Histogram::new(&bounds)
        })
    }

    fn family<M: Metric, const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        buckets: Option<Vec<f64>>,
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Result<Arc<Family<M, N>>, MetricsError> {
        if !valid_name(name, true) {
            return Err(MetricsError::InvalidName(name.into()));
        }
        if let Some(bad) = labels
            .iter()
            .find(|l| !valid_name(l, false) || l.starts_with("__"))
        {
            return Err(MetricsError::InvalidName((*bad).into()));
        }
        let mut families = self.families.write();
        if let Some(existing) = families.get(name) {
            return match existing.any.clone().downcast::<Family<M, N>>() {
                Ok(f)
                    if f.labels
                        .iter()
                        .map(String::as_str)
                        .eq(labels.iter().copied())
                        && f.buckets == buckets =>
                {
                    Ok(f)
                }
                _ => Err(MetricsError::Conflict(name.into())),
            };
        }
        let family = Arc::new(Family {
            labels: labels.map(str::to_string),
            children: RwLock::new(BTreeMap::new()),
            make: Box::new(make),
            buckets,
        });
        let registered = Registered {
            help: help.into(),
            collector: family.clone(),
            any: family.clone(),
        };
        families.insert(name.into(), registered);
        Ok(family)
    }

    /// Every metric in the text exposition format 0.0.4, sorted by name.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, r) in self.families.read().iter() {
            r.collector.collect(name, &r.help, &mut out);
        }
        out
    }

    /// A router serving `GET /metrics` with [`Metrics::render`], to merge into the node's.
    pub fn router(&self) -> axum::Router {
        let metrics = self.clone();
        axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = metrics.render();
                async move { ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body) }
            }),
        )
    }
}

fn valid_name(s: &str, colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
    };
    let mut chars = s.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_kinds() -> Result<(), MetricsError> {
        let m = Metrics::new();
        m.counter("c_total", "A counter.")?.add(3);
        m.gauge("g", "A\ngauge.")?.set(-1.5);
        let h = m.histogram("h_seconds", "A histogram.", &[0.1, 1.0])?;
        h.observe(0.0625);
        h.observe(0.5);
        h.observe(7.0);
        m.counter_vec("v_total", "Labelled.", ["a", "b"])?
            .with(["x\"y", "z"])
            .inc();
        let text = m.render();
        let expected = "\
# HELP c_total A counter.
# TYPE c_total counter
c_total 3
# HELP g A\\ngauge.
# TYPE g gauge
g -1.5
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{le=\"0.1\"} 1
h_seconds_bucket{le=\"1\"} 2
h_seconds_bucket{le=\"+Inf\"} 3
h_seconds_sum 7.5625
h_seconds_count 3
# HELP v_total Labelled.
# TYPE v_total counter
v_total{a=\"x\\\"y\",b=\"z\"} 1
";
        assert_eq!(text, expected);
        Ok(())
    }

    #[test]
    fn re_registration_shares_or_conflicts() -> Result<(), MetricsError> {
        let m = Metrics::new();
        m.counter("c", "")?.inc();
        assert_eq!(m.counter("c", "")?.get(), 1);
        assert_eq!(
            m.gauge("c", "").err(),
            Some(MetricsError::Conflict("c".into()))
        );
        assert!(m.counter_vec("c", "", ["l"]).is_err());
        assert!(m.counter("1c", "").is_err());
        assert!(m.counter_vec("d", "", ["__x"]).is_err());
        assert!(m.histogram("h", "", &[1.0, 1.0]).is_err());
        assert!(m.histogram_vec("h", "", ["le"], &[1.0]).is_err());
        Ok(())
    }
}
