//! Adaptive commit batching: how many units (blocks, or write groups in benchmarks) go
//! into one commit batch. Larger batches amortize the fsyncs and the per-batch protocol
//! cost (more throughput) but take longer to commit (more latency).
//!
//! The policy is additive-increase / multiplicative-decrease on the observed commit
//! latency: while a batch commits in under 3/4 of the target the size grows by a
//! quarter (at least 1); when one takes longer than the target the size halves. The
//! size stays within `[min, max]`. Deterministic given the latencies it is fed.

use std::time::Duration;

/// Bounds and target of an [`AdaptiveBatcher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Smallest batch.
    pub min: usize,
    /// Largest batch.
    pub max: usize,
    /// Commit latency to stay under.
    pub target: Duration,
}

impl Default for BatchPolicy {
    /// The predecessor's range, 8 to 128, with a 50 ms latency target.
    fn default() -> Self {
        BatchPolicy {
            min: 8,
            max: 128,
            target: Duration::from_millis(50),
        }
    }
}

/// Chooses the next commit batch size from the latency of the previous ones.
#[derive(Clone, Debug)]
pub struct AdaptiveBatcher {
    policy: BatchPolicy,
    size: usize,
}

impl AdaptiveBatcher {
    /// Starts at the policy's minimum.
    pub fn new(policy: BatchPolicy) -> Self {
        let min = policy.min.max(1);
        AdaptiveBatcher {
            policy: BatchPolicy {
                min,
                max: policy.max.max(min),
                ..policy
            },
            size: min,
        }
    }

    /// The size to use for the next batch.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Feeds the latency of a committed batch; returns the next size.
    pub fn observe(&mut self, latency: Duration) -> usize {
        let p = self.policy;
        if latency > p.target {
            self.size = (self.size / 2).max(p.min);
        } else if latency * 4 < p.target * 3 {
            self.size = (self.size + (self.size / 4).max(1)).min(p.max);
        }
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_fast_halves_when_slow_and_stays_in_range() {
        let mut b = AdaptiveBatcher::new(BatchPolicy::default());
        assert_eq!(b.size(), 8);
        let fast = Duration::from_millis(5);
        let sizes: Vec<usize> = (0..20).map(|_| b.observe(fast)).collect();
        assert_eq!(sizes[0], 10);
        assert_eq!(*sizes.last().unwrap(), 128);
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(b.observe(Duration::from_millis(80)), 64);
        assert_eq!(
            b.observe(Duration::from_millis(45)),
            64,
            "between 3/4 and 1x target: hold"
        );
        for _ in 0..10 {
            b.observe(Duration::from_secs(1));
        }
        assert_eq!(b.size(), 8);
    }
}
