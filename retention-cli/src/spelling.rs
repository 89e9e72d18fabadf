//! How the command line writes the core's parameter and operation names in messages: a core
//! field `test_size` is the flag `--test-size`, an operation `model promote` is the command
//! `retention model promote`. The one place a core error meets the CLI's words.

use retention_core::error::Spelling;

/// The CLI's spelling (see [`Spelling`]).
pub struct Flags;

impl Spelling for Flags {
    fn spell(&self, name: &str) -> Option<String> {
        if name.contains(' ') || matches!(name, "backup" | "restore" | "doctor") {
            // An operation: the command that runs it.
            return Some(format!("`retention {name}`"));
        }
        let flag = match name {
            // Core fields whose flag is not their name with dashes.
            "output" => "out",
            // Training, explanations and drift (the core's parameter names).
            "selection" => "select_by",
            "changes" => "set",
            // Synthetic customers: the template table is `--like`.
            "template" => "like",
            other => other,
        };
        Some(format!("--{}", flag.replace('_', "-")))
    }
}

/// A core text (a note, a warning, a stored check's detail) in the CLI's words.
pub fn text(core: &str) -> String {
    retention_core::error::respell(core, &Flags)
}

/// A core error (anywhere in an error's chain) in the CLI's words; any other error as it is.
pub fn message(err: &(dyn std::error::Error + 'static)) -> String {
    match err.downcast_ref::<retention_core::Error>() {
        Some(core) => core.render(&Flags),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use retention_core::error::mention;

    #[test]
    fn core_names_become_flags_and_commands() {
        let e = retention_core::Error::param(
            "min_samples_leaf",
            format!("see {} and {}", mention("cv"), mention("model promote")),
        );
        assert_eq!(
            e.render(&Flags),
            "invalid parameter '--min-samples-leaf': see --cv and `retention model promote`"
        );
    }
}
