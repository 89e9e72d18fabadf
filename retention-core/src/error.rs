//! The one error type of the library.
//!
//! Every message says what was wrong and, where it can, which column, row or value, and what was
//! expected, so that the CLI and the Python module can show it to a user as it is.

use std::borrow::Cow;
use std::path::PathBuf;

/// Everything that can go wrong in RetentionAI. Not `#[non_exhaustive]`: the front ends of this
/// workspace match it exhaustively, so a new kind is given its place in each (its Python class,
/// its HTTP answer) before anything compiles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A column the operation needs is not in the table.
    #[error(
        "column '{}' not found{context}; available columns: {available}",
        excerpt(column)
    )]
    ColumnNotFound {
        /// The missing column.
        column: String,
        /// Where it was looked for (e.g. " in the scoring data"), possibly empty.
        context: String,
        /// The columns the table does have, comma separated.
        available: String,
    },

    /// A cell does not hold what its column's role requires.
    #[error(
        "column '{}', row {row}: {reason} (value {:?})",
        excerpt(column),
        excerpt(value)
    )]
    InvalidValue {
        /// Column of the bad cell.
        column: String,
        /// 1-based data row (the header is not counted).
        row: usize,
        /// The cell as it was read.
        value: String,
        /// What was expected.
        reason: String,
    },

    /// The table as a whole cannot be used (empty, single-class target, all-null column…).
    #[error("{0}")]
    InvalidData(String),

    /// The input file cannot be parsed in its format.
    #[error("cannot read {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },

    /// The data does not fit the schema the model was trained with.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),

    /// A parameter is out of its range or inconsistent with another.
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParameter {
        /// The parameter, by its field name in the core's parameter types (`cv`, `test_size`);
        /// each front end spells it its own way ([`Error::render`]).
        name: String,
        /// What is wrong and what is accepted.
        reason: String,
    },

    /// The derived-feature spec file is wrong.
    #[error("feature spec {path}: {reason}")]
    FeatureSpec {
        /// The spec file (or `<inline>`).
        path: String,
        /// What is wrong, naming the feature.
        reason: String,
    },

    /// A model file cannot be trusted: bad checksum, truncated, not a model.
    #[error("model file {path} is corrupt: {reason}")]
    CorruptArtifact {
        /// The model file.
        path: PathBuf,
        /// What failed (checksum, parse, missing field).
        reason: String,
    },

    /// A model file was written by a newer RetentionAI than this one.
    #[error(
        "model file {path} has format version {found}, but this build of RetentionAI reads up to version {supported}; upgrade RetentionAI to load it"
    )]
    UnsupportedFormat {
        /// The model file.
        path: PathBuf,
        /// The file's format version.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },

    /// A model-fitting routine failed.
    #[error("training {algorithm} failed: {reason}")]
    Training {
        /// The algorithm that failed.
        algorithm: String,
        /// What went wrong.
        reason: String,
    },

    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A registry operation was refused: the gate failed, an alias is not set, the version is
    /// already the champion…
    #[error("{0}")]
    Registry(String),

    /// The operations store (SQLite or PostgreSQL) refused or failed; the message names the database.
    #[error(
        "store: {context}{}",
        .source.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    Store {
        /// What failed, naming the database.
        context: String,
        /// The database's own error, when it reported the failure (its message ends the text).
        #[source]
        source: Option<crate::store::DbError>,
    },

    /// A configuration file or setting was refused; the message names the file and the key.
    #[error(
        "configuration {}{}: {reason}",
        .path.display(),
        if .key.is_empty() { String::new() } else { format!(", key '{}'", .key) }
    )]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// The key (`serve.port`), or empty when the file as a whole is refused.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// An error reported by polars that is not one of the cases above.
    #[error("data frame error: {0}")]
    Polars(#[from] polars::error::PolarsError),

    /// A JSON (de)serialisation error outside model files.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
}

/// Characters of a user's value, line or name that an error message quotes at most.
pub const EXCERPT_CHARS: usize = 60;

/// A user's value, line or name as an error message may quote it: whole when it has at most
/// [`EXCERPT_CHARS`] characters, else its first characters, `…` and its length in bytes, so that
/// a 100 MB cell or header line never ends up in a message (or a log) in full. The one helper
/// every message quoting user data goes through.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len())),
    }
}

/// Names listed in a message (`a, b, c`): at most this many, each through [`excerpt`].
const LISTED_NAMES: usize = 30;

/// A list of names for a message: at most [`LISTED_NAMES`] of them, each through [`excerpt`],
/// then how many more there are.
pub fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    let mut text = names
        .iter()
        .take(LISTED_NAMES)
        .map(|s| excerpt(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED_NAMES {
        text.push_str(&format!(" … and {} more", names.len() - LISTED_NAMES));
    }
    text
}

impl Error {
    /// Whether the operation may succeed if tried again: the store's database was unreachable,
    /// restarting or busy ([`crate::store::DbError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Store { source: Some(e), .. } if e.is_transient())
    }

    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::ColumnNotFound`] given the available column names.
    pub fn column_not_found<S: AsRef<str>>(
        column: impl Into<String>,
        context: impl Into<String>,
        available: &[S],
    ) -> Self {
        Error::ColumnNotFound {
            column: column.into(),
            context: context.into(),
            available: name_list(available),
        }
    }
}

/// How a parameter or an operation is written inside a message: its core name between
/// backticks (`` `cv` ``, `` `model promote` ``). A front end rewrites these mentions in its own
/// spelling with [`Error::render`] (the CLI writes `--cv`, Python `cv=`); left alone, as in
/// `Error`'s `Display`, they read as the core's names.
pub fn mention(name: &str) -> String {
    format!("`{name}`")
}

/// How a front end writes the core's parameter and operation names.
pub trait Spelling {
    /// This front end's spelling of `name` (a core field such as `test_size`, or an operation
    /// such as `model promote`), or `None` to leave the mention as it is.
    fn spell(&self, name: &str) -> Option<String>;
}

/// Longest name a mention may hold; longer backtick-quoted text is left alone.
const MENTION_CHARS: usize = 40;

/// Rewrites every mention (a [`mention`]-quoted core name) in `text` in `spelling`'s words.
pub fn respell(text: &str, spelling: &dyn Spelling) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let spelled = after.find('`').and_then(|close| {
            let name = &after[..close];
            let edges = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase());
            let plain = name.len() <= MENTION_CHARS
                && edges(name.as_bytes().first())
                && name
                    .as_bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_ -".contains(&b));
            let spelled = if plain { spelling.spell(name) } else { None };
            spelled.map(|s| (s, close))
        });
        match spelled {
            Some((s, close)) => {
                out.push_str(&s);
                rest = &after[close + 1..];
            }
            None => {
                out.push('`');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Error {
    /// The message as a front end shows it: parameter names and mentions in `spelling`'s words.
    /// `Display` gives the same message in the core's names.
    pub fn render(&self, spelling: &dyn Spelling) -> String {
        match self {
            Error::InvalidParameter { name, reason } => format!(
                "invalid parameter '{}': {}",
                spelling.spell(name).unwrap_or_else(|| name.clone()),
                respell(reason, spelling)
            ),
            other => respell(&other.to_string(), spelling),
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_a_short_prefix_of_user_data() {
        assert_eq!(excerpt("Yes"), "Yes");
        let long = "é".repeat(1_000_000);
        let short = excerpt(&long);
        assert!(short.starts_with(&"é".repeat(EXCERPT_CHARS)), "{short}");
        assert!(short.ends_with("… (2000000 bytes)"), "{short}");
        let e = Error::InvalidValue {
            column: "c".repeat(10_000),
            row: 3,
            value: "v".repeat(100 << 20),
            reason: "bad".into(),
        };
        assert!(e.to_string().len() < 300, "{}", e.to_string().len());
        let names: Vec<String> = (0..100_000).map(|i| format!("column_{i}")).collect();
        let e = Error::column_not_found("x".repeat(1 << 20), "", &names).to_string();
        assert!(e.len() < 1000 && e.ends_with("and 99970 more"), "{e}");
    }

    struct Flags;
    impl Spelling for Flags {
        fn spell(&self, name: &str) -> Option<String> {
            (name != "model promote").then(|| format!("--{}", name.replace('_', "-")))
        }
    }

    #[test]
    fn front_ends_spell_parameters_their_own_way() {
        let e = Error::param(
            "test_size",
            format!(
                "use {} 2 or more, or {}",
                mention("cv"),
                mention("model promote")
            ),
        );
        assert_eq!(
            e.to_string(),
            "invalid parameter 'test_size': use `cv` 2 or more, or `model promote`"
        );
        assert_eq!(
            e.render(&Flags),
            "invalid parameter '--test-size': use --cv 2 or more, or `model promote`"
        );
        // Backticks that quote anything but a plain name are left as they are.
        let e = Error::InvalidData("a `Weird Name`, an open ` and `cv`".into());
        assert_eq!(e.render(&Flags), "a `Weird Name`, an open ` and --cv");
    }
}
