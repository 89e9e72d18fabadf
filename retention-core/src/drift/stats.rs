//! The statistics behind drift reports, as plain functions over counts and sorted samples.
//!
//! Each is written to agree with the reference implementation users already know:
//! PSI and Jensen-Shannon as Evidently computes them, the two-sample Kolmogorov-Smirnov test as
//! `scipy.stats.ks_2samp(method="asymp")`, the chi-square test as
//! `scipy.stats.chi2_contingency(correction=False)`, Wasserstein as
//! `scipy.stats.wasserstein_distance`. The tests pin values computed with scipy.

/// Proportions below this are raised to it before PSI takes logarithms (an empty bin would
/// otherwise make PSI infinite). The same floor Evidently uses.
pub const PSI_FLOOR: f64 = 1e-4;

/// Population stability index of two histograms over the same bins:
/// `Σ (c − r) · ln(c / r)` with `r`, `c` the reference and current proportions, each floored at
/// [`PSI_FLOOR`]. Zero for identical distributions; 0.1 is the usual "investigate" level and
/// 0.25 "significant shift".
pub fn psi(reference: &[u64], current: &[u64]) -> f64 {
    let (nr, nc) = (total(reference), total(current));
    if nr == 0.0 || nc == 0.0 {
        return 0.0;
    }
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let r = (r as f64 / nr).max(PSI_FLOOR);
            let c = (c as f64 / nc).max(PSI_FLOOR);
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Jensen-Shannon distance (the square root of the divergence, base-2 logarithms, so it lies in
/// [0, 1]) between two histograms over the same bins; `scipy.spatial.distance.jensenshannon(r, c,
/// base=2)`.
pub fn jensen_shannon(reference: &[u64], current: &[u64]) -> f64 {
    let (nr, nc) = (total(reference), total(current));
    if nr == 0.0 || nc == 0.0 {
        return 0.0;
    }
    let mut divergence = 0.0;
    for (&r, &c) in reference.iter().zip(current) {
        let (p, q) = (r as f64 / nr, c as f64 / nc);
        let m = 0.5 * (p + q);
        if p > 0.0 {
            divergence += 0.5 * p * (p / m).log2();
        }
        if q > 0.0 {
            divergence += 0.5 * q * (q / m).log2();
        }
    }
    divergence.max(0.0).sqrt()
}

/// Pearson's chi-square test of homogeneity on the 2 × k table of reference and current counts
/// (bins empty on both sides dropped; no continuity correction). Returns the statistic, the
/// degrees of freedom and the p-value.
pub fn chi_square(reference: &[u64], current: &[u64]) -> (f64, usize, f64) {
    let (nr, nc) = (total(reference), total(current));
    let n = nr + nc;
    if nr == 0.0 || nc == 0.0 {
        return (0.0, 0, 1.0);
    }
    let mut statistic = 0.0;
    let mut bins = 0usize;
    for (&r, &c) in reference.iter().zip(current) {
        let column = (r + c) as f64;
        if column == 0.0 {
            continue;
        }
        bins += 1;
        for (observed, row) in [(r as f64, nr), (c as f64, nc)] {
            let expected = row * column / n;
            statistic += (observed - expected).powi(2) / expected;
        }
    }
    let dof = bins.saturating_sub(1);
    if dof == 0 {
        return (0.0, 0, 1.0);
    }
    (statistic, dof, chi_square_sf(statistic, dof as f64))
}

fn total(counts: &[u64]) -> f64 {
    counts.iter().sum::<u64>() as f64
}

/// Bin edges at the reference's quantiles `1/bins, …, (bins−1)/bins` (linear interpolation, as
/// numpy's default), duplicates removed. Bins are `(−∞, e₁], (e₁, e₂], …, (e_last, ∞)`.
/// `sorted` must be sorted ascending and non-empty.
pub fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| quantile(sorted, i as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

/// The `q`-quantile of sorted values with linear interpolation (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    if below + 1 >= sorted.len() {
        return last;
    }
    let t = position - below as f64;
    let (lo, hi) = (sorted[below], sorted[below + 1]);
    // numpy's lerp: interpolate from the nearer end, so results match to the last bit.
    if t >= 0.5 {
        hi - (hi - lo) * (1.0 - t)
    } else {
        lo + (hi - lo) * t
    }
}

/// Counts of sorted values in the bins defined by `edges` (see [`quantile_edges`]).
pub fn bin_counts(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut start = 0usize;
    for &edge in edges {
        let end = start + sorted[start..].partition_point(|&v| v <= edge);
        counts.push((end - start) as u64);
        start = end;
    }
    counts.push((sorted.len() - start) as u64);
    counts
}

/// Whether a sorted cursor passes `v` at `x`: `v <= x`, or either is NaN (so that the merge
/// loops of the KS statistic always advance).
fn not_above(v: f64, x: f64) -> bool {
    v <= x || v.is_nan() || x.is_nan()
}

/// The two-sample Kolmogorov-Smirnov statistic `sup |F_r − F_c|` and the 1-Wasserstein distance
/// `∫ |F_r − F_c|`, from one merge of two sorted, non-empty samples.
pub fn ks_and_wasserstein(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let (nr, nc) = (reference.len() as f64, current.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ks, mut wasserstein) = (0.0f64, 0.0f64);
    let mut previous: Option<f64> = None;
    while i < reference.len() || j < current.len() {
        let x = match (reference.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        if let Some(p) = previous {
            // Between the previous value and x, both CDFs are flat.
            wasserstein += (i as f64 / nr - j as f64 / nc).abs() * (x - p);
        }
        // A NaN (head or x) is passed over, never looped on: `v <= x` alone is false for it.
        while i < reference.len() && not_above(reference[i], x) {
            i += 1;
        }
        while j < current.len() && not_above(current[j], x) {
            j += 1;
        }
        ks = ks.max((i as f64 / nr - j as f64 / nc).abs());
        previous = Some(x);
    }
    (ks, wasserstein)
}

/// Distinct ascending values with their counts: the form in which [`super::summary`] keeps a
/// numeric column. The functions below on `Weighted` give exactly what their counterparts on
/// the expanded sorted values give.
pub type Weighted = [(f64, u64)];

/// Total count of weighted values.
pub fn weight(values: &Weighted) -> u64 {
    values.iter().map(|(_, c)| c).sum()
}

/// The `k`-th (0-based) value in ascending order of weighted values.
fn order_statistic(values: &Weighted, k: u64) -> f64 {
    let mut seen = 0u64;
    for &(v, c) in values {
        seen += c;
        if k < seen {
            return v;
        }
    }
    values.last().map_or(f64::NAN, |(v, _)| *v)
}

/// [`quantile`] of weighted values.
pub fn quantile_weighted(values: &Weighted, q: f64) -> f64 {
    let n = weight(values);
    if n == 0 {
        return f64::NAN;
    }
    let position = q * (n - 1) as f64;
    let below = position.floor() as u64;
    if below + 1 >= n {
        return order_statistic(values, n - 1);
    }
    let t = position - below as f64;
    let (lo, hi) = (
        order_statistic(values, below),
        order_statistic(values, below + 1),
    );
    if t >= 0.5 {
        hi - (hi - lo) * (1.0 - t)
    } else {
        lo + (hi - lo) * t
    }
}

/// [`quantile_edges`] of weighted values (non-empty).
pub fn quantile_edges_weighted(values: &Weighted, bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| quantile_weighted(values, i as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

/// [`bin_counts`] of weighted values.
pub fn bin_counts_weighted(values: &Weighted, edges: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    let mut bin = 0usize;
    for &(v, c) in values {
        while bin < edges.len() && v > edges[bin] {
            bin += 1;
        }
        counts[bin] += c;
    }
    counts
}

/// [`ks_and_wasserstein`] of weighted values (both non-empty).
pub fn ks_and_wasserstein_weighted(reference: &Weighted, current: &Weighted) -> (f64, f64) {
    let (nr, nc) = (weight(reference) as f64, weight(current) as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut below_r, mut below_c) = (0u64, 0u64);
    let (mut ks, mut wasserstein) = (0.0f64, 0.0f64);
    let mut previous: Option<f64> = None;
    while i < reference.len() || j < current.len() {
        let x = match (reference.get(i), current.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => break,
        };
        if let Some(p) = previous {
            // Between the previous value and x, both CDFs are flat.
            wasserstein += (below_r as f64 / nr - below_c as f64 / nc).abs() * (x - p);
        }
        while i < reference.len() && not_above(reference[i].0, x) {
            below_r += reference[i].1;
            i += 1;
        }
        while j < current.len() && not_above(current[j].0, x) {
            below_c += current[j].1;
            j += 1;
        }
        ks = ks.max((below_r as f64 / nr - below_c as f64 / nc).abs());
        previous = Some(x);
    }
    (ks, wasserstein)
}

/// Mean and population standard deviation (numpy's `std`, ddof 0) of weighted values.
pub fn mean_std_weighted(values: &Weighted) -> (f64, f64) {
    let n = weight(values) as f64;
    if n == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().map(|(v, c)| v * *c as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|(v, c)| (v - mean).powi(2) * *c as f64)
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// The p-value of a two-sample KS statistic `d` for samples of sizes `n1`, `n2`, from the
/// distribution of the one-sample statistic at `n = round(n1·n2 / (n1 + n2))`, as scipy's
/// `ks_2samp(method="asymp")`: exact Smirnov tail when small, Pelz-Good otherwise.
pub fn ks_p_value(d: f64, n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let n = (a * b / (a + b)).round().max(1.0);
    kolmogorov_sf(n, d)
}

/// `P(D_n > d)` for the two-sided one-sample Kolmogorov-Smirnov statistic (Simard & L'Ecuyer's
/// choice of method, as scipy's `kstwo.sf`, without its exact small-n matrix methods).
fn kolmogorov_sf(n: f64, d: f64) -> f64 {
    if d.is_nan() {
        return f64::NAN;
    }
    if d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let t = n * d;
    if t <= 0.5 {
        return 1.0;
    }
    if t >= n - 1.0 {
        return clip(2.0 * (1.0 - d).powf(n));
    }
    let nx2 = t * d;
    if nx2 >= 370.0 {
        return 0.0;
    }
    if d >= 0.5 || nx2 >= 2.2 {
        // Deep in the tail: twice the one-sided probability is exact to many digits.
        return clip(2.0 * smirnov_sf(n, d));
    }
    clip(1.0 - pelz_good_cdf(n, d))
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// One-sided `P(D⁺_n ≥ d)`: Birnbaum-Tingey's exact sum for moderate `n`, the limiting
/// `exp(−2 n d²)` with Stephens' finite-n correction beyond.
fn smirnov_sf(n: f64, d: f64) -> f64 {
    if n > 100_000.0 {
        let z = (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d;
        return (-2.0 * z * z).exp();
    }
    let n_int = n as u64;
    let last = (n * (1.0 - d)).floor() as u64;
    // Σ_j C(n, j) (1 − d − j/n)^(n−j) (d + j/n)^(j−1), in logs; C(n, j) built up step by step.
    let mut log_binomial = 0.0f64;
    let mut sum = 0.0f64;
    for j in 0..=last.min(n_int) {
        if j > 0 {
            log_binomial += ((n_int - j + 1) as f64).ln() - (j as f64).ln();
        }
        let jf = j as f64;
        let a = 1.0 - d - jf / n;
        if a <= 0.0 {
            break;
        }
        let log_term = log_binomial + (n - jf) * a.ln() + (jf - 1.0) * (d + jf / n).ln();
        sum += log_term.exp();
    }
    d * sum
}

/// The Pelz-Good (1976) asymptotic series for `P(D_n ≤ d)` (accurate to about 1e-6 for the
/// sample sizes drift works with).
fn pelz_good_cdf(n: f64, d: f64) -> f64 {
    use std::f64::consts::PI;
    let z = n.sqrt() * d;
    let z2 = z * z;
    let (z3, z4, z6) = (z2 * z, z2 * z2, z2 * z2 * z2);
    let pi2 = PI * PI;
    let (pi4, pi6) = (pi2 * pi2, pi2 * pi2 * pi2);
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -745.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z2 * z6;
    let mut k = [0.0f64; 4];
    let max_k = (16.0 * z / PI).ceil().max(1.0) as i64;
    for step in (1..=max_k).rev() {
        let m = (2 * step - 1) as f64;
        let (m2, m4) = (m * m, m * m * m * m);
        let m6 = m4 * m2;
        let power = q.powf(8.0 * step as f64);
        let coefficients = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in k.iter_mut().zip(coefficients) {
            *acc = *acc * power + c;
        }
    }
    let sqrt_2pi = (2.0 * PI).sqrt();
    let divisors = [z, 6.0 * z4, 72.0 * z6 * z, 6480.0 * z6 * z4];
    for (acc, div) in k.iter_mut().zip(divisors) {
        *acc *= q * sqrt_2pi / div;
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut extra2, mut extra3) = (0.0, 0.0);
    for step in 1..=max_k {
        let kf = step as f64;
        let k2 = kf * kf;
        let power = q2.powf(k2);
        extra2 += k2 * power;
        let kpi = PI * kf;
        extra3 += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * power;
    }
    k[2] += extra2 * pi2 * sqrt_2pi / (-36.0 * z3);
    k[3] += extra3 * pi2 * sqrt_2pi / (216.0 * z6);
    k.iter()
        .enumerate()
        .map(|(i, v)| v / n.powf(i as f64 / 2.0))
        .sum()
}

/// Upper tail of the chi-square distribution with `dof` degrees of freedom.
pub fn chi_square_sf(x: f64, dof: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    upper_regularized_gamma(dof / 2.0, x / 2.0)
}

/// `Q(a, x) = Γ(a, x) / Γ(a)`: the series for `P` below `a + 1`, Lentz's continued fraction above.
fn upper_regularized_gamma(a: f64, x: f64) -> f64 {
    const EPS: f64 = 1e-15;
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                break;
            }
        }
        return clip(1.0 - sum * log_prefix.exp());
    }
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    clip(log_prefix.exp() * h)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms; relative error below 1e-14).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() <= tol
    }

    #[test]
    fn psi_by_hand() {
        // r = (0.5, 0.3, 0.2), c = (0.3, 0.3, 0.4):
        // (0.3−0.5)·ln(0.3/0.5) + 0 + (0.4−0.2)·ln(0.4/0.2) = 0.2·ln(5/3) + 0.2·ln 2
        let expected = 0.2 * (5.0f64 / 3.0).ln() + 0.2 * 2f64.ln();
        assert!(close(psi(&[50, 30, 20], &[30, 30, 40]), expected, 1e-12));
        assert_eq!(psi(&[10, 20, 30], &[20, 40, 60]), 0.0);
        // An empty current bin is floored at 1e-4: (1e-4 − 0.5)·ln(1e-4/0.5) + (1 − 0.5)·ln 2
        let floored = (1e-4 - 0.5) * (1e-4f64 / 0.5).ln() + 0.5 * 2f64.ln();
        assert!(close(psi(&[5, 5], &[0, 10]), floored, 1e-12));
    }

    #[test]
    fn jensen_shannon_matches_scipy() {
        // scipy.spatial.distance.jensenshannon([50,30,20], [30,30,40], base=2)
        assert!(close(
            jensen_shannon(&[50, 30, 20], &[30, 30, 40]),
            0.206_730_860_332_140_78,
            1e-12
        ));
        assert_eq!(jensen_shannon(&[1, 2], &[2, 4]), 0.0);
        assert!(close(jensen_shannon(&[1, 0], &[0, 1]), 1.0, 1e-12));
    }

    #[test]
    fn chi_square_matches_scipy() {
        // scipy.stats.chi2_contingency([[50,30,20,0],[30,30,40,0]], correction=False) after
        // dropping the empty column: statistic 11.666666666666668, dof 2, p 0.0029282996948181853
        let (stat, dof, p) = chi_square(&[50, 30, 20, 0], &[30, 30, 40, 0]);
        assert!(close(stat, 11.666_666_666_666_668, 1e-12), "{stat}");
        assert_eq!(dof, 2);
        assert!(close(p, 0.002_928_299_694_818_185_3, 1e-10), "{p}");
        // chi2.sf(3.2, 1), chi2.sf(250, 30), chi2.sf(0.5, 7)
        assert!(close(
            chi_square_sf(3.2, 1.0),
            0.073_638_270_120_302_58,
            1e-10
        ));
        assert!(close(
            chi_square_sf(250.0, 30.0),
            1.515_741_420_368_730_8e-36,
            1e-8
        ));
        assert!(close(
            chi_square_sf(0.5, 7.0),
            0.999_446_481_390_424_9,
            1e-12
        ));
    }

    #[test]
    fn quantile_edges_and_bins_follow_numpy() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        // np.quantile(1..10, [0.25, 0.5, 0.75]) = 3.25, 5.5, 7.75
        assert_eq!(quantile_edges(&sorted, 4), vec![3.25, 5.5, 7.75]);
        assert_eq!(bin_counts(&sorted, &[3.25, 5.5, 7.75]), vec![3, 2, 2, 3]);
        // Ties collapse edges: a 0/1 column has one edge per distinct quantile.
        // np.quantile([0,0,0,1,1], np.arange(1,10)/10), to the last bit.
        let flags = [0.0, 0.0, 0.0, 1.0, 1.0];
        assert_eq!(
            quantile_edges(&flags, 10),
            vec![0.0, 0.399_999_999_999_999_9, 0.799_999_999_999_999_8, 1.0]
        );
        assert_eq!(bin_counts(&flags, &[0.0, 1.0]), vec![3, 2, 0]);
    }

    #[test]
    fn ks_and_wasserstein_are_total_over_nan() {
        // A NaN head used to stop both cursors (NaN <= x is false): an endless loop.
        let (ks, _) = ks_and_wasserstein(&[0.1, f64::NAN], &[0.2]);
        assert!(ks.is_finite());
        let (ks, _) = ks_and_wasserstein(&[f64::NAN], &[f64::NAN, 0.3]);
        assert!(ks.is_finite());
        let (ks, _) = ks_and_wasserstein_weighted(&[(0.1, 1), (f64::NAN, 2)], &[(0.2, 3)]);
        assert!(ks.is_finite());
    }

    #[test]
    fn ks_and_wasserstein_match_scipy() {
        let r = [0.1, 0.4, 0.4, 0.7, 1.3, 2.0, 2.2, 3.5];
        let c = [0.4, 0.9, 1.1, 1.3, 2.5, 3.0, 3.1, 3.9, 4.2, 5.0];
        let (d, w) = ks_and_wasserstein(&r, &c);
        // scipy.stats.ks_2samp(r, c).statistic = 0.475; wasserstein_distance(r, c) = 1.215
        assert!(close(d, 0.475, 1e-12), "{d}");
        assert!(close(w, 1.215, 1e-12), "{w}");
        let (d, w) = ks_and_wasserstein(&r, &r);
        assert_eq!((d, w), (0.0, 0.0));
    }

    #[test]
    fn ks_p_values_match_scipy_asymp() {
        // scipy.stats.ks_2samp(.., method="asymp").pvalue = kstwo.sf(d, round(n1 n2 / (n1 + n2)))
        let cases = [
            // (d, n1, n2, scipy)
            (0.05, 1000, 1200, 0.126_709_426_688_732_53),
            (0.02, 7043, 7043, 0.117_882_792_687_217_91),
            (0.035, 7043, 7043, 3.488_389_449_219_173e-4),
            (0.1, 7043, 7043, 4.110_333_503_774_418e-31),
            (0.0015, 1_000_000, 1_000_000, 0.210_341_901_558_289_47),
            (0.004, 1_000_000, 1_000_000, 2.244_597_849_385_146_7e-7),
        ];
        for (d, n1, n2, expected) in cases {
            let p = ks_p_value(d, n1, n2);
            assert!(
                close(p, expected, 1e-4),
                "d={d} n1={n1} n2={n2}: {p} vs scipy {expected}"
            );
        }
    }
}
