//! Probability calibration: maps a model's raw churn log-odds to probabilities that mean what they
//! say. Fitted on out-of-fold predictions, so the calibrator never sees a row's own fit.

use serde::{Deserialize, Serialize};

use crate::choice::{Choice, named_choice};
use crate::error::{Error, Result};
use crate::estimators::sigmoid;
use crate::model::shown_number as num;

/// How to calibrate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Use the model's own probabilities.
    None,
    /// Platt scaling: `sigmoid(a · z + b)`, two parameters, keeps the ranking (default).
    #[default]
    Platt,
    /// Isotonic regression: any monotone map, piecewise linear between fitted steps.
    Isotonic,
}

impl CalibrationMethod {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

impl Choice for CalibrationMethod {
    const PARAM: &'static str = "calibration";
    const WHAT: &'static str = "calibration method";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("none", CalibrationMethod::None),
        ("platt", CalibrationMethod::Platt),
        ("isotonic", CalibrationMethod::Isotonic),
    ];
}

named_choice!(CalibrationMethod);

/// A fitted calibration map from log-odds to probability.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// `sigmoid(z)`.
    #[default]
    Identity,
    /// `sigmoid(a · z + b)`.
    Platt {
        /// Slope.
        a: f64,
        /// Offset.
        b: f64,
    },
    /// Piecewise-linear monotone map through `(x[k], y[k])`, flat outside.
    Isotonic {
        /// Log-odds knots, ascending.
        x: Vec<f64>,
        /// Probabilities at the knots, non-decreasing.
        y: Vec<f64>,
    },
}

const P_MIN: f64 = 1e-6;

impl Calibrator {
    /// Fits a calibrator to raw log-odds `z` and outcomes `y`.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when the lengths differ or a class is missing.
    pub fn fit(method: CalibrationMethod, z: &[f64], y: &[bool]) -> Result<Self> {
        if z.len() != y.len() || z.is_empty() {
            return Err(Error::InvalidData(
                "calibration needs one prediction per outcome".into(),
            ));
        }
        if let Some(i) = z.iter().position(|v| v.is_nan()) {
            return Err(Error::InvalidData(format!(
                "calibration needs numbers: the log-odds of row {} is NaN",
                i + 1
            )));
        }
        let pos = y.iter().filter(|v| **v).count();
        if pos == 0 || pos == y.len() {
            return Err(Error::InvalidData(
                "calibration needs churned and retained rows".into(),
            ));
        }
        Ok(match method {
            CalibrationMethod::None => Calibrator::Identity,
            CalibrationMethod::Platt => fit_platt(z, y),
            CalibrationMethod::Isotonic => fit_isotonic(z, y),
        })
    }

    /// Calibrated probability of one raw log-odds value.
    pub fn probability(&self, z: f64) -> f64 {
        match self {
            Calibrator::Identity => sigmoid(z),
            Calibrator::Platt { a, b } => sigmoid(a * z + b),
            Calibrator::Isotonic { x, y } => {
                let k = x.partition_point(|v| *v < z);
                if k == 0 {
                    y[0]
                } else if k == x.len() {
                    y[x.len() - 1]
                } else {
                    let (x0, x1, y0, y1) = (x[k - 1], x[k], y[k - 1], y[k]);
                    if x1 > x0 {
                        y0 + (y1 - y0) * (z - x0) / (x1 - x0)
                    } else {
                        y1
                    }
                }
            }
        }
    }

    /// Calibrated probabilities of many values.
    pub fn apply(&self, z: &[f64]) -> Vec<f64> {
        z.iter().map(|&v| self.probability(v)).collect()
    }

    /// Checks a calibrator read from a model file: Platt's parameters finite; isotonic knots
    /// present, as many probabilities as log-odds, log-odds finite and ascending, probabilities
    /// non-decreasing in [0, 1]. Returns what is wrong.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        match self {
            Calibrator::Identity => Ok(()),
            Calibrator::Platt { a, b } => {
                if a.is_finite() && b.is_finite() {
                    Ok(())
                } else {
                    Err(format!(
                        "Platt scaling a = {}, b = {} is not finite",
                        num(*a),
                        num(*b)
                    ))
                }
            }
            Calibrator::Isotonic { x, y } => {
                if x.is_empty() {
                    return Err("isotonic calibration has no knots".into());
                }
                if x.len() != y.len() {
                    return Err(format!(
                        "isotonic calibration has {} log-odds but {} probabilities",
                        x.len(),
                        y.len()
                    ));
                }
                if let Some(k) = x.iter().position(|v| !v.is_finite()) {
                    return Err(format!(
                        "isotonic knot {k}: log-odds {} is not finite",
                        num(x[k])
                    ));
                }
                if let Some(k) = y.iter().position(|p| !(0.0..=1.0).contains(p)) {
                    return Err(format!(
                        "isotonic knot {k}: probability {} is not in [0, 1]",
                        num(y[k])
                    ));
                }
                if let Some(k) = (1..x.len()).find(|&k| x[k] < x[k - 1]) {
                    return Err(format!(
                        "isotonic knot {k}: log-odds {} is below the previous knot's {}",
                        num(x[k]),
                        num(x[k - 1])
                    ));
                }
                if let Some(k) = (1..y.len()).find(|&k| y[k] < y[k - 1]) {
                    return Err(format!(
                        "isotonic knot {k}: probability {} is below the previous knot's {} (not monotone)",
                        num(y[k]),
                        num(y[k - 1])
                    ));
                }
                Ok(())
            }
        }
    }

    /// Lower-case name of the method.
    pub fn method(&self) -> CalibrationMethod {
        match self {
            Calibrator::Identity => CalibrationMethod::None,
            Calibrator::Platt { .. } => CalibrationMethod::Platt,
            Calibrator::Isotonic { .. } => CalibrationMethod::Isotonic,
        }
    }
}

/// Platt scaling by Newton's method on the log-loss (a tiny ridge keeps it defined when the
/// classes separate).
fn fit_platt(z: &[f64], y: &[bool]) -> Calibrator {
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let ridge = 1e-8;
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (ridge * a, 0.0, ridge, 0.0, ridge);
        for (&zi, &yi) in z.iter().zip(y) {
            let p = sigmoid(a * zi + b);
            let r = p - f64::from(u8::from(yi));
            let w = (p * (1.0 - p)).max(1e-12);
            ga += r * zi;
            gb += r;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-12 {
            break;
        }
    }
    Calibrator::Platt { a, b }
}

/// Isotonic regression by pool-adjacent-violators on rows sorted by log-odds; ties share a block.
fn fit_isotonic(z: &[f64], y: &[bool]) -> Calibrator {
    let mut idx: Vec<usize> = (0..z.len()).collect();
    idx.sort_by(|&i, &j| z[i].total_cmp(&z[j]));
    // Blocks: (sum of y, count, min z, max z).
    let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut k = 0;
    while k < idx.len() {
        let zk = z[idx[k]];
        let (mut s, mut c) = (0.0, 0.0);
        while k < idx.len() && crate::metrics::same_score(z[idx[k]], zk) {
            s += f64::from(u8::from(y[idx[k]]));
            c += 1.0;
            k += 1;
        }
        blocks.push((s, c, zk, zk));
        while blocks.len() >= 2 {
            let (s1, c1, lo1, _) = blocks[blocks.len() - 2];
            let (s2, c2, _, hi2) = blocks[blocks.len() - 1];
            if s1 / c1 <= s2 / c2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, c1 + c2, lo1, hi2);
        }
    }
    let mut x = Vec::with_capacity(blocks.len() * 2);
    let mut v = Vec::with_capacity(blocks.len() * 2);
    for (s, c, lo, hi) in blocks {
        let p = (s / c).clamp(P_MIN, 1.0 - P_MIN);
        x.push(lo);
        v.push(p);
        if hi > lo {
            x.push(hi);
            v.push(p);
        }
    }
    Calibrator::Isotonic { x, y: v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_recovers_a_known_scaling() {
        // Outcomes drawn so that P(y) = sigmoid(2z - 1) exactly in expectation: use many z with
        // deterministic label proportions.
        let mut z = Vec::new();
        let mut y = Vec::new();
        for k in -20..=20 {
            let zk = k as f64 / 10.0;
            let p = sigmoid(2.0 * zk - 1.0);
            let n_pos = (p * 1000.0).round() as usize;
            for i in 0..1000 {
                z.push(zk);
                y.push(i < n_pos);
            }
        }
        let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &z, &y).unwrap()
        else {
            panic!("not platt")
        };
        assert!((a - 2.0).abs() < 0.01 && (b + 1.0).abs() < 0.01, "{a} {b}");
    }

    #[test]
    fn nan_log_odds_are_refused_not_looped_over() {
        // The isotonic tie loop never advanced past a NaN and grew its blocks forever.
        for method in [CalibrationMethod::Isotonic, CalibrationMethod::Platt] {
            let e = Calibrator::fit(method, &[0.1, f64::NAN, 0.3], &[true, false, true])
                .unwrap_err()
                .to_string();
            assert!(e.contains("row 2") && e.contains("NaN"), "{e}");
        }
    }

    #[test]
    fn isotonic_is_monotone_and_matches_block_means() {
        let z = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [false, true, false, true, true, true];
        let c = Calibrator::fit(CalibrationMethod::Isotonic, &z, &y).unwrap();
        let p = c.apply(&z);
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        // PAV pools (1, 0) at z = 1, 2 into 0.5.
        assert!(
            (p[1] - 0.5).abs() < 1e-12 && (p[2] - 0.5).abs() < 1e-12,
            "{p:?}"
        );
        assert!(p[0] <= 1e-6 + 1e-12 && p[5] >= 1.0 - 1e-6 - 1e-12);
        // Between knots the map is linear; outside it is flat.
        assert!((c.probability(1.5) - 0.5).abs() < 1e-12);
        assert_eq!(c.probability(-10.0), p[0]);
    }

    #[test]
    fn refuses_a_single_class() {
        assert!(Calibrator::fit(CalibrationMethod::Platt, &[0.0, 1.0], &[true, true]).is_err());
    }
}
