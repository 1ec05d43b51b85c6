//! The statistics `lambda-sim bench` reports: nearest-rank percentiles, linear histograms, and
//! 95 % confidence intervals for the difference between two sets of samples (Welch's for the
//! means, a percentile bootstrap for the medians). Samples are microseconds, as `u64`.

/// A percentile in tenths of a percent, so that ranks are computed without floating point:
/// `P50 = 500`, `P99 = 990`.
pub(crate) type PerMille = u64;

/// The median.
pub(crate) const P50: PerMille = 500;
/// The 90th percentile.
pub(crate) const P90: PerMille = 900;
/// The 99th percentile.
pub(crate) const P99: PerMille = 990;

/// The nearest-rank percentile of `sorted` (ascending): the smallest sample with at least `p`
/// per mille of the samples at or below it. `None` for no samples.
#[inline(never)]
pub(crate) fn percentile(sorted: &[u64], p: PerMille) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    sorted.get(percentile_rank(sorted.len(), p)).copied()
}

/// The usual summary of one phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    /// How many samples.
    pub n: usize,
    /// The smallest.
    pub min: u64,
    /// The median (nearest rank).
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The largest.
    pub max: u64,
    /// The arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// Summarises `sorted` (ascending); `None` for no samples.
    pub(crate) fn of(sorted: &[u64]) -> Option<Summary> {
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        Some(Summary {
            n: sorted.len(),
            min,
            p50: percentile(sorted, P50)?,
            p90: percentile(sorted, P90)?,
            p99: percentile(sorted, P99)?,
            max,
            mean: mean(sorted),
        })
    }
}

#[inline(never)]
fn mean(samples: &[u64]) -> f64 {
    samples.iter().map(|&v| v as f64).sum::<f64>() / samples.len() as f64
}

/// The unbiased sample variance (n − 1 in the denominator).
fn variance(samples: &[u64]) -> f64 {
    let m = mean(samples);
    let squares: f64 = samples.iter().map(|&v| (v as f64 - m).powi(2)).sum();
    squares / (samples.len() as f64 - 1.0)
}

/// Equal-width buckets over a range of samples: bucket `i` holds `[lo + i·width, lo + (i+1)·width)`.
/// The range runs from the smallest sample to the largest 99th percentile, so that one outlier
/// does not squash the rest into a single bar; what lies above is counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Buckets {
    /// The first bucket's lower bound.
    pub lo: u64,
    /// Every bucket's width (at least 1).
    pub width: u64,
    /// How many buckets.
    pub count: usize,
}

/// The samples counted into [`Buckets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Per bucket.
    pub counts: Vec<u64>,
    /// Samples at or above the last bucket's upper bound.
    pub above: u64,
}

impl Buckets {
    /// At most `max` buckets spanning every series (each sorted ascending), from the smallest
    /// sample to the largest of their 99th percentiles. `None` if there are no samples.
    pub(crate) fn spanning(series: &[&[u64]], max: usize) -> Option<Buckets> {
        let lo = series.iter().filter_map(|s| s.first()).min().copied()?;
        let hi = series.iter().filter_map(|s| percentile(s, P99)).max()?;
        let span = hi - lo + 1;
        let count = u64::try_from(max.max(1)).unwrap_or(u64::MAX).min(span);
        let width = span.div_ceil(count);
        Some(Buckets {
            lo,
            width,
            // `span.div_ceil(width)` buckets cover `lo..=hi`; it is at most `count`.
            count: usize::try_from(span.div_ceil(width)).unwrap_or(usize::MAX),
        })
    }

    /// Bucket `i`'s bounds, `[from, to)`.
    pub(crate) fn bounds(&self, i: usize) -> (u64, u64) {
        let from = self.lo + i as u64 * self.width;
        (from, from + self.width)
    }

    /// The first value past the last bucket.
    pub(crate) fn end(&self) -> u64 {
        self.bounds(self.count).0
    }

    /// Counts `samples` (in any order) into the buckets.
    pub(crate) fn count(&self, samples: &[u64]) -> Counts {
        let mut counts = vec![0; self.count];
        let mut above = 0;
        for &v in samples {
            let i = v.saturating_sub(self.lo) / self.width;
            match counts.get_mut(usize::try_from(i).unwrap_or(usize::MAX)) {
                Some(c) => *c += 1,
                None => above += 1,
            }
        }
        Counts { counts, above }
    }
}

/// An estimate with its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// The interval's lower end.
    pub lo: f64,
    /// Its upper end.
    pub hi: f64,
}

impl Interval {
    /// Whether the interval leaves out zero: a difference the noise does not explain.
    pub(crate) fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// Student's t, two-sided 95 % (the 0.975 quantile), for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];
/// ... and beyond: at 40, 60 and 120 degrees of freedom, and in the limit (the normal's).
const T_975_TAIL: [(f64, f64); 4] = [
    (40.0, 2.021),
    (60.0, 2.000),
    (120.0, 1.980),
    (f64::INFINITY, 1.960),
];

/// The 0.975 quantile of Student's t with `df` (real, as Welch's are) degrees of freedom,
/// interpolated linearly in `1/df` between the table's entries: within 0.1 % of the exact value
/// from 5 degrees of freedom on, within 2 % from 2 (checked against SciPy's `t.ppf`).
fn t_975(df: f64) -> f64 {
    let x = 1.0 / df.max(1.0);
    let mut prev = (1.0, T_975[0]);
    let points = (2..=30).map(|k| (1.0 / k as f64, T_975[k - 1]));
    let tail = T_975_TAIL.map(|(df, t)| (1.0 / df, t));
    for (px, py) in points.chain(tail) {
        if x >= px {
            return prev.1 + (x - prev.0) / (px - prev.0) * (py - prev.1);
        }
        prev = (px, py);
    }
    prev.1
}

/// The difference of the means, `a − b`, with Welch's 95 % interval (no assumption that the
/// two variances are equal). `None` unless each side has two samples or more.
pub(crate) fn mean_difference(a: &[u64], b: &[u64]) -> Option<Interval> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (va, vb) = (variance(a) / a.len() as f64, variance(b) / b.len() as f64);
    let estimate = mean(a) - mean(b);
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return Some(Interval {
            estimate,
            lo: estimate,
            hi: estimate,
        });
    }
    // Welch–Satterthwaite.
    let df = (va + vb).powi(2)
        / (va.powi(2) / (a.len() as f64 - 1.0) + vb.powi(2) / (b.len() as f64 - 1.0));
    let half = t_975(df) * se;
    Some(Interval {
        estimate,
        lo: estimate - half,
        hi: estimate + half,
    })
}

/// How many resamples [`median_difference`] draws.
pub(crate) const RESAMPLES: usize = 2000;

/// The difference of the medians (nearest rank), `a − b`, with a 95 % percentile-bootstrap
/// interval: each side (sorted ascending) resampled with replacement `resamples` times from a
/// generator seeded with `seed`, so the same samples always give the same interval. Medians
/// suit latencies, whose tails would swing a mean. `None` if either side is empty.
pub(crate) fn median_difference(
    a: &[u64],
    b: &[u64],
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    let estimate = percentile(a, P50)? as f64 - percentile(b, P50)? as f64;
    let mut rng = SplitMix64(seed);
    let mut counts = Vec::new();
    let mut diffs: Vec<u64> = (0..resamples.max(1))
        .map(|_| {
            let d = resampled_median(a, &mut counts, &mut rng) as i64
                - resampled_median(b, &mut counts, &mut rng) as i64;
            // Flipping the sign bit orders i64s as u64s: one sort for both.
            (d as u64) ^ SIGN
        })
        .collect();
    sort(&mut diffs);
    let at = |p| ((diffs[percentile_rank(diffs.len(), p)] ^ SIGN) as i64) as f64;
    // The 2.5th and 97.5th percentiles of the resampled differences, by nearest rank.
    Some(Interval {
        estimate,
        lo: at(25),
        hi: at(975),
    })
}

const SIGN: u64 = 1 << 63;

/// The median of a resample of `sorted` (ascending, not empty), drawn with replacement. Which
/// indices are drawn is all that matters, so they are counted rather than sorted: O(n).
fn resampled_median(sorted: &[u64], counts: &mut Vec<u32>, rng: &mut SplitMix64) -> u64 {
    let n = sorted.len();
    counts.clear();
    counts.resize(n, 0);
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    let rank = percentile_rank(n, P50) + 1;
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c as usize;
        if seen >= rank {
            return sorted[i];
        }
    }
    sorted[n - 1]
}

/// Sorts ascending, in place: a heapsort, O(n log n), no allocation. The standard library's
/// sorts are faster but add kilobytes of code per element type to the binary; sorting samples
/// once per phase needs no more than this.
pub(crate) fn sort(v: &mut [u64]) {
    let n = v.len();
    for root in (0..n / 2).rev() {
        sift_down(v, root, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

fn sift_down(v: &mut [u64], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v[child] < v[child + 1] {
            child += 1;
        }
        if v[root] >= v[child] {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

/// The index [`percentile`] reads for `n > 0` samples.
#[inline(never)]
fn percentile_rank(n: usize, p: PerMille) -> usize {
    let rank = (p.min(1000) * n as u64).div_ceil(1000).max(1);
    usize::try_from(rank - 1).unwrap_or(0)
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and good enough to resample with.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift; the bias is below 2^-32 for any
    /// sample count this tool sees.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}
