//! Seeded, stratified splits: the holdout and the cross-validation folds.

use crate::error::{Error, Result};

/// A small, fast, seedable generator (SplitMix64) so that folds are the same on every platform
/// and every version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Shuffles a slice (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Assigns each row to one of `k` folds so that each fold has the same share of churners
/// (within one row). Returns the fold of every row.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut fold_of = vec![0usize; y.len()];
    let mut offset = 0;
    for class in [true, false] {
        let mut members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rng.shuffle(&mut members);
        for (r, &i) in members.iter().enumerate() {
            fold_of[i] = (r + offset) % k;
        }
        offset += members.len();
    }
    fold_of
}

/// Splits rows into (train, test) with the same churn share in each; `test_size` of each class
/// goes to test.
///
/// # Errors
/// [`Error::InvalidParameter`] when the test set would lack a class.
pub fn stratified_split(y: &[bool], test_size: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut rng = SplitMix64::new(seed ^ 0x005E_ED0F_5E77);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rng.shuffle(&mut members);
        let n_test = (members.len() as f64 * test_size).round() as usize;
        if n_test == 0 || n_test == members.len() {
            return Err(Error::param(
                "test_size",
                format!(
                    "{test_size} leaves no {} rows in the {} set",
                    if class { "churned" } else { "retained" },
                    if n_test == 0 { "test" } else { "training" }
                ),
            ));
        }
        test.extend_from_slice(&members[..n_test]);
        train.extend_from_slice(&members[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}
