//! Settings chosen by name from a fixed list: the algorithm, the calibration method, the
//! selection metric, the threshold objective, the class weighting, a drift status.
//!
//! Each such type has one name table ([`Choice::NAMES`]); parsing, printing and the lists shown
//! to users all read it, so the command line, Python and the model file agree on the names. The
//! names are the core's (`log_loss`); a front end may spell them its own way (the CLI writes
//! `log-loss`) and map its spelling back before calling [`Choice::parse`].

use crate::error::{Error, Result};

/// A value chosen by name from a fixed list.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// The parameter the value sets, by its core field name (names it in errors).
    const PARAM: &'static str;
    /// What one value is called in messages (`algorithm`, `calibration method`).
    const WHAT: &'static str;
    /// Every value with its name, in the order they are listed to users.
    const NAMES: &'static [(&'static str, Self)];

    /// The value's name (as in model files and JSON).
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }

    /// The value named `text` (letter case ignored).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming [`Choice::PARAM`] and listing the accepted names.
    fn parse(text: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(text))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                Error::param(
                    Self::PARAM,
                    format!(
                        "unknown {} {text:?}; choose one of: {}",
                        Self::WHAT,
                        Self::names().join(", ")
                    ),
                )
            })
    }

    /// Every name, in order.
    fn names() -> Vec<&'static str> {
        Self::NAMES.iter().map(|(n, _)| *n).collect()
    }
}

/// Implements `Display` and `FromStr` of a [`Choice`] type through its name table.
macro_rules! named_choice {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::error::Error;

            fn from_str(s: &str) -> $crate::error::Result<Self> {
                <$ty as $crate::choice::Choice>::parse(s)
            }
        }
    };
}
pub(crate) use named_choice;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::CalibrationMethod;
    use crate::drift::Status;
    use crate::estimators::{Algorithm, ClassWeight};
    use crate::training::{SelectionMetric, ThresholdObjective};

    /// The names are the serde names, so files, JSON and arguments agree.
    fn agrees_with_serde<T: Choice + serde::Serialize + std::fmt::Debug>() {
        for (name, value) in T::NAMES {
            assert_eq!(serde_json::to_value(value).unwrap(), *name, "{value:?}");
            assert_eq!(T::parse(name).unwrap(), *value);
            assert_eq!(value.name(), *name);
        }
    }

    #[test]
    fn names_match_serde_and_parse_back() {
        agrees_with_serde::<Algorithm>();
        agrees_with_serde::<CalibrationMethod>();
        agrees_with_serde::<SelectionMetric>();
        agrees_with_serde::<ThresholdObjective>();
        agrees_with_serde::<ClassWeight>();
        agrees_with_serde::<Status>();
        let e = CalibrationMethod::parse("beta").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid parameter 'calibration': unknown calibration method \"beta\"; choose one of: none, platt, isotonic"
        );
        assert_eq!(
            "ROC_AUC".parse::<SelectionMetric>().unwrap(),
            SelectionMetric::RocAuc
        );
    }
}
