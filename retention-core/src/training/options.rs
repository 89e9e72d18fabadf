//! Every training option by name, as the front ends offer it: the CLI's `retention train
//! --<name-with-dashes>` and Python's `retention.train(..., <name>=…)`. One table
//! ([`TrainParams::OPTIONS`]) names them, [`TrainParams::option`] reads one (the defaults are
//! `TrainParams::default().option(name)`), [`TrainParams::set_option`] sets one: a front end
//! writes no option name, kind or default of its own.

use crate::calibration::CalibrationMethod;
use crate::choice::Choice;
use crate::error::{Error, Result};
use crate::estimators::{Algorithm, ClassWeight};
use crate::model::RiskTiers;

use super::params::{SelectionMetric, ThresholdObjective, TrainParams};

/// What values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum OptionKind {
    /// A whole number ≥ 0.
    Count,
    /// A real number.
    Number,
    /// One of the names this gives (in the order they are listed to users).
    Choice(fn() -> Vec<&'static str>),
    /// Two real numbers (the risk tiers' bounds).
    Pair,
}

/// A value of an option.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// For [`OptionKind::Count`].
    Count(u64),
    /// For [`OptionKind::Number`].
    Number(f64),
    /// For [`OptionKind::Choice`].
    Name(String),
    /// For [`OptionKind::Pair`].
    Pair(f64, f64),
}

/// One training option.
#[derive(Debug, Clone, Copy)]
pub struct TrainOption {
    /// Its name in snake case: Python's keyword; the CLI's flag is it with dashes.
    pub name: &'static str,
    /// The values it takes.
    pub kind: OptionKind,
}

const fn opt(name: &'static str, kind: OptionKind) -> TrainOption {
    TrainOption { name, kind }
}

impl TrainParams {
    /// Every training option, in the order `retention train --help` lists them. Table and
    /// schema options (target, id, column roles), the derived-feature spec and where the data
    /// comes from are the front ends' own: they are not model settings.
    pub const OPTIONS: &'static [TrainOption] = &[
        opt("algorithm", OptionKind::Choice(<Algorithm>::names)),
        opt("select_by", OptionKind::Choice(<SelectionMetric>::names)),
        opt(
            "calibration",
            OptionKind::Choice(<CalibrationMethod>::names),
        ),
        opt("cv", OptionKind::Count),
        opt("test_size", OptionKind::Number),
        opt("seed", OptionKind::Count),
        opt("l2", OptionKind::Number),
        opt("max_depth", OptionKind::Count),
        opt("min_samples_leaf", OptionKind::Count),
        opt("trees", OptionKind::Count),
        opt("learning_rate", OptionKind::Number),
        opt("max_leaves", OptionKind::Count),
        opt("class_weight", OptionKind::Choice(<ClassWeight>::names)),
        opt("threshold", OptionKind::Number),
        opt(
            "threshold_objective",
            OptionKind::Choice(<ThresholdObjective>::names),
        ),
        opt("customer_value", OptionKind::Number),
        opt("offer_cost", OptionKind::Number),
        opt("offer_success_rate", OptionKind::Number),
        opt("tiers", OptionKind::Pair),
    ];

    /// The option called `name`, if there is one.
    pub fn find_option(name: &str) -> Option<&'static TrainOption> {
        Self::OPTIONS.iter().find(|o| o.name == name)
    }

    /// The value of the option `name` in these settings (`None` for no such option).
    pub fn option(&self, name: &str) -> Option<OptionValue> {
        use OptionValue::{Count, Name, Number, Pair};
        let name_of = |s: &str| Some(Name(s.to_owned()));
        let count = |n: usize| Some(Count(n as u64));
        let e = &self.estimator;
        match name {
            "algorithm" => name_of(self.algorithm.name()),
            "select_by" => name_of(self.selection.name()),
            "calibration" => name_of(self.calibration.name()),
            "cv" => count(self.cv_folds),
            "test_size" => Some(Number(self.test_size)),
            "seed" => Some(Count(self.seed)),
            "l2" => Some(Number(e.logistic.l2)),
            "max_depth" => count(e.tree.max_depth),
            "min_samples_leaf" => count(e.tree.min_samples_leaf),
            "trees" => count(e.boosting.trees),
            "learning_rate" => Some(Number(e.boosting.learning_rate)),
            "max_leaves" => count(e.boosting.max_leaves),
            "class_weight" => name_of(e.class_weight.name()),
            "threshold" => Some(Number(self.threshold)),
            "threshold_objective" => name_of(self.threshold_objective.name()),
            "customer_value" => Some(Number(self.business.customer_value)),
            "offer_cost" => Some(Number(self.business.offer_cost)),
            "offer_success_rate" => Some(Number(self.business.offer_success_rate)),
            "tiers" => Some(Pair(self.tiers.medium, self.tiers.high)),
            _ => None,
        }
    }

    /// Sets the option `name`. Ranges are checked later, all together, by
    /// [`TrainParams::check`] (training runs it).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown option (listing the known ones), a value of
    /// the wrong kind, a count too large for this machine or an unknown choice.
    pub fn set_option(&mut self, name: &str, value: OptionValue) -> Result<()> {
        let Some(option) = Self::find_option(name) else {
            let known: Vec<&str> = Self::OPTIONS.iter().map(|o| o.name).collect();
            return Err(Error::param(
                name,
                format!("unknown training option; known: {}", known.join(", ")),
            ));
        };
        let wrong = |expected: &str| Error::param(option.name, format!("must be {expected}"));
        let count = |v: &OptionValue| match v {
            OptionValue::Count(n) => usize::try_from(*n).map_err(|_| wrong("a smaller number")),
            _ => Err(wrong("a whole number of 0 or more")),
        };
        let number = |v: &OptionValue| match v {
            OptionValue::Number(x) => Ok(*x),
            // A whole number where a real one is expected is that number.
            OptionValue::Count(n) => Ok(*n as f64),
            _ => Err(wrong("a number")),
        };
        let text = |v: &OptionValue| match v {
            OptionValue::Name(s) => Ok(s.clone()),
            _ => Err(wrong("a name")),
        };
        let e = &mut self.estimator;
        match name {
            "algorithm" => self.algorithm = Algorithm::parse(&text(&value)?)?,
            "select_by" => self.selection = SelectionMetric::parse(&text(&value)?)?,
            "calibration" => self.calibration = CalibrationMethod::parse(&text(&value)?)?,
            "cv" => self.cv_folds = count(&value)?,
            "test_size" => self.test_size = number(&value)?,
            "seed" => {
                self.seed = match value {
                    OptionValue::Count(n) => n,
                    _ => return Err(wrong("a whole number of 0 or more")),
                }
            }
            "l2" => e.logistic.l2 = number(&value)?,
            "max_depth" => e.tree.max_depth = count(&value)?,
            "min_samples_leaf" => e.tree.set_min_samples_leaf(count(&value)?),
            "trees" => e.boosting.trees = count(&value)?,
            "learning_rate" => e.boosting.learning_rate = number(&value)?,
            "max_leaves" => e.boosting.max_leaves = count(&value)?,
            "class_weight" => e.class_weight = ClassWeight::parse(&text(&value)?)?,
            "threshold" => self.threshold = number(&value)?,
            "threshold_objective" => {
                self.threshold_objective = ThresholdObjective::parse(&text(&value)?)?;
            }
            "customer_value" => self.business.customer_value = number(&value)?,
            "offer_cost" => self.business.offer_cost = number(&value)?,
            "offer_success_rate" => self.business.offer_success_rate = number(&value)?,
            "tiers" => {
                let OptionValue::Pair(medium, high) = value else {
                    return Err(wrong("two numbers (medium, high)"));
                };
                self.tiers = RiskTiers { medium, high };
            }
            _ => {
                return Err(Error::param(
                    name,
                    "has no setter (a bug: please report it)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_reads_and_sets_and_its_default_round_trips() {
        let defaults = TrainParams::default();
        for option in TrainParams::OPTIONS {
            let value = defaults
                .option(option.name)
                .unwrap_or_else(|| panic!("{} has no getter", option.name));
            let kind_matches = matches!(
                (&option.kind, &value),
                (OptionKind::Count, OptionValue::Count(_))
                    | (OptionKind::Number, OptionValue::Number(_))
                    | (OptionKind::Pair, OptionValue::Pair(..))
                    | (OptionKind::Choice(_), OptionValue::Name(_))
            );
            assert!(kind_matches, "{}: {value:?}", option.name);
            if let (OptionKind::Choice(names), OptionValue::Name(n)) = (&option.kind, &value) {
                assert!(names().contains(&n.as_str()), "{}: {n}", option.name);
            }
            let mut params = TrainParams::default();
            params.set_option(option.name, value.clone()).unwrap();
            assert_eq!(params, defaults, "{}", option.name);
        }
    }

    #[test]
    fn setting_an_option_changes_what_it_names() {
        let mut p = TrainParams::default();
        p.set_option("trees", OptionValue::Count(7)).unwrap();
        p.set_option("learning_rate", OptionValue::Count(1))
            .unwrap();
        p.set_option("min_samples_leaf", OptionValue::Count(3))
            .unwrap();
        p.set_option("class_weight", OptionValue::Name("Balanced".into()))
            .unwrap();
        p.set_option("select_by", OptionValue::Name("roc_auc".into()))
            .unwrap();
        assert_eq!(p.estimator.boosting.trees, 7);
        assert_eq!(p.estimator.boosting.learning_rate, 1.0);
        assert_eq!(p.estimator.tree.min_samples_leaf, 3);
        assert_eq!(p.estimator.class_weight, ClassWeight::Balanced);
        assert_eq!(p.selection, SelectionMetric::RocAuc);
        assert_eq!(p.option("trees"), Some(OptionValue::Count(7)));
    }

    #[test]
    fn wrong_names_and_kinds_are_refused_by_name() {
        let mut p = TrainParams::default();
        let e = p.set_option("tres", OptionValue::Count(7)).unwrap_err();
        assert!(
            e.to_string().contains("tres") && e.to_string().contains("trees"),
            "{e}"
        );
        let e = p
            .set_option("trees", OptionValue::Name("many".into()))
            .unwrap_err();
        assert!(e.to_string().contains("trees"), "{e}");
        let e = p.set_option("tiers", OptionValue::Number(0.5)).unwrap_err();
        assert!(e.to_string().contains("tiers"), "{e}");
        let e = p
            .set_option("calibration", OptionValue::Name("magic".into()))
            .unwrap_err();
        assert!(e.to_string().contains("platt"), "{e}");
        assert_eq!(p, TrainParams::default());
    }
}
