//! Settings shared by every front end: a TOML configuration file, `RETENTIONAI_<NAME>`
//! environment variables, and the defaults.
//!
//! Precedence is flag > environment > file > default. A setting has one flat *name*
//! (`port`, `log_format`, `db`): its environment variable is `RETENTIONAI_` and the name in
//! capitals (`RETENTIONAI_LOG_FORMAT`), and its *file key* puts it in a section
//! (`serve.port`, `log.format`, `db`). The CLI defines its settings with its flags (see
//! `retention config show`); the app's settings ([`APP`]) are defined here because the
//! Streamlit app reads them through the Python module.
//!
//! ```toml
//! db = "/var/lib/retentionai/retentionai.db"
//!
//! [log]
//! format = "json"
//! file = "/var/log/retentionai/app.log"
//!
//! [serve]
//! host = "0.0.0.0"
//! port = 8501
//!
//! [app]
//! data = "/srv/data/customers.parquet"
//! ```
//!
//! The older `RETENTION_<NAME>` variables (`RETENTION_DB`, `RETENTION_ACTOR`,
//! `RETENTION_DATA`, `RETENTION_MODEL`) are still read, after the new names, for one release;
//! front ends warn when one is set ([`deprecated_env`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The prefix of every setting's environment variable.
pub const ENV_PREFIX: &str = "RETENTIONAI_";
/// The variable naming the configuration file (as `--config` does).
pub const CONFIG_ENV: &str = "RETENTIONAI_CONFIG";
/// Variables of the previous release, still read (after the new names) with a warning.
pub const OLD_ENV: [(&str, &str); 4] = [
    ("RETENTION_DB", "RETENTIONAI_DB"),
    ("RETENTION_ACTOR", "RETENTIONAI_ACTOR"),
    ("RETENTION_DATA", "RETENTIONAI_DATA"),
    ("RETENTION_MODEL", "RETENTIONAI_MODEL"),
];
/// Variables with the prefix that are not settings but are read where they apply.
pub const OTHER_ENV: [&str; 2] = [CONFIG_ENV, "RETENTIONAI_ACTOR"];
/// Largest configuration file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The environment variable of a setting.
pub fn env_name(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// A variable read from the environment: the new name, else the old one it replaces.
/// Returns the value and the variable it came from.
pub fn env_var(name: &str) -> Option<(String, String)> {
    let new = env_name(name);
    if let Ok(v) = std::env::var(&new) {
        return Some((v, new));
    }
    let (old, _) = OLD_ENV.iter().find(|(_, n)| *n == new)?;
    std::env::var(old).ok().map(|v| (v, (*old).to_string()))
}

/// The deprecated variables set in this environment, each with the name that replaces it.
pub fn deprecated_env() -> Vec<(&'static str, &'static str)> {
    OLD_ENV
        .iter()
        .filter(|(old, _)| std::env::var_os(old).is_some())
        .copied()
        .collect()
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Given on the command line (or as a keyword argument).
    Flag,
    /// The environment variable named.
    Env(String),
    /// The configuration file.
    File(PathBuf),
    /// Nothing set it.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A parsed configuration file: its values by file key (`db`, `serve.port`, `log.format`).
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    path: PathBuf,
    values: BTreeMap<String, toml::Value>,
}

impl ConfigFile {
    /// Reads a TOML configuration file. Keys may sit at the top level or one table deep;
    /// deeper tables and arrays of tables are refused with the key named.
    pub fn load(path: &Path) -> Result<Self> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| Error::io(path, e))?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(config_error(
                path,
                "",
                format!("larger than {} KiB", MAX_FILE_BYTES >> 10),
            ));
        }
        Self::parse(path, &text)
    }

    /// Parses the text of a configuration file read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| config_error(path, "", e.message().to_string()))?;
        let mut values = BTreeMap::new();
        for (key, value) in table {
            match value {
                toml::Value::Table(section) => {
                    for (inner, value) in section {
                        let full = format!("{key}.{inner}");
                        if matches!(value, toml::Value::Table(_) | toml::Value::Array(_)) {
                            return Err(config_error(path, &full, "expected a single value"));
                        }
                        values.insert(full, value);
                    }
                }
                toml::Value::Array(_) => {
                    return Err(config_error(path, &key, "expected a single value"));
                }
                _ if key.contains('.') => {
                    return Err(config_error(
                        path,
                        &key,
                        "a quoted key with a dot: write the section as [section] instead",
                    ));
                }
                value => {
                    values.insert(key, value);
                }
            }
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            values,
        })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key in the file.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// A key's value as text, as it would be typed after a flag (strings without quotes).
    pub fn text(&self, key: &str) -> Option<String> {
        self.values.get(key).map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// Refuses the first key that is not `known` (a section of its own, like `app.`, is
    /// checked only by the front end that owns it when `sections` lists the ones checked).
    pub fn check_known(&self, sections: &[&str], known: &[String]) -> Result<()> {
        for key in self.keys() {
            let section = key.split_once('.').map_or("", |(s, _)| s);
            if !sections.contains(&section) || known.iter().any(|k| k == key) {
                continue;
            }
            let close = known
                .iter()
                .filter(|k| k.starts_with(&format!("{section}.")) || !k.contains('.'))
                .filter(|k| similar(k, key))
                .map(|k| format!(" (did you mean '{k}'?)"))
                .next()
                .unwrap_or_default();
            return Err(config_error(
                &self.path,
                key,
                format!("unknown setting{close}"),
            ));
        }
        Ok(())
    }

    /// An error about one key of this file.
    pub fn error(&self, key: &str, reason: impl Into<String>) -> Error {
        config_error(&self.path, key, reason)
    }
}

/// Two keys one edit or a swapped pair apart, or differing only in `-`/`_`.
fn similar(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace('-', "_").to_ascii_lowercase();
    let (a, b) = (norm(a), norm(b));
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Levenshtein distance, bounded: keys are short.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()] <= 2
}

fn config_error(path: &Path, key: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Whether a setting holds a secret (its value is never shown).
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["key", "password", "secret", "token"]
        .iter()
        .any(|w| n.contains(w))
}

/// A value fit for display: secrets hidden, and a URL's password replaced by `***` wherever a
/// client would read one: after the user up to the first `@` (as PostgreSQL's URL parser splits
/// credentials, so a password holding `/` or `?` is hidden whole), and any `password=` query
/// parameter.
pub fn redact(name: &str, value: &str) -> String {
    if is_secret(name) {
        return "<redacted>".into();
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_string();
    };
    let rest = match rest.split_once('@') {
        Some((creds, after)) => match creds.split_once(':') {
            Some((user, _)) => format!("{user}:***@{after}"),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret(k) => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// A setting the core defines (the app's; the CLI's are its flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Flat name: `RETENTIONAI_` + this in capitals is its variable.
    pub name: &'static str,
    /// Where it sits in the file.
    pub file_key: &'static str,
    /// Its default, as text; empty when it has none.
    pub default: &'static str,
    /// One line for `retention config show` and the docs.
    pub help: &'static str,
}

/// The Streamlit app's settings (the database is the top-level `db`).
pub const APP: [Setting; 3] = [
    Setting {
        name: "data",
        file_key: "app.data",
        default: "data/telco_customer_churn.csv",
        help: "customer table the app shows and scores (relative to the app's project folder)",
    },
    Setting {
        name: "model",
        file_key: "app.model",
        default: "",
        help: "model file the app scores with (default: the registry's champion)",
    },
    Setting {
        name: "db",
        file_key: "db",
        default: crate::store::DEFAULT_DB,
        help: "operations database",
    },
];

/// A setting's effective value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: &'static str,
    /// `None` when nothing set it and it has no default.
    pub value: Option<String>,
    pub source: Source,
}

/// Resolves core-defined settings: `given` (keyword arguments) > environment > file > default.
pub fn resolve(
    settings: &[Setting],
    file: Option<&ConfigFile>,
    given: &BTreeMap<String, String>,
) -> Vec<Resolved> {
    settings
        .iter()
        .map(|s| {
            let (value, source) = if let Some(v) = given.get(s.name) {
                (Some(v.clone()), Source::Flag)
            } else if let Some((v, var)) = env_var(s.name) {
                (Some(v), Source::Env(var))
            } else if let Some(v) = file.and_then(|f| f.text(s.file_key)) {
                (
                    Some(v),
                    Source::File(file.map(|f| f.path.clone()).unwrap_or_default()),
                )
            } else {
                let d = (!s.default.is_empty()).then(|| s.default.to_string());
                (d, Source::Default)
            };
            Resolved {
                name: s.name,
                value,
                source,
            }
        })
        .collect()
}

/// The configuration file named by `explicit`, else by `RETENTIONAI_CONFIG`, read; `None`
/// when neither names one.
pub fn load_named(explicit: Option<&Path>) -> Result<Option<ConfigFile>> {
    let path = match explicit {
        Some(p) if p.as_os_str().is_empty() => {
            return Err(config_error(
                p,
                "",
                "the configuration file's path is empty",
            ));
        }
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(CONFIG_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Ok(None),
        },
    };
    ConfigFile::load(&path).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile> {
        ConfigFile::parse(Path::new("c.toml"), text)
    }

    #[test]
    fn sections_become_dotted_keys() {
        let f = parse("db = \"x.db\"\n[serve]\nport = 9000\nno_auth = true\n").unwrap();
        assert_eq!(f.text("db").as_deref(), Some("x.db"));
        assert_eq!(f.text("serve.port").as_deref(), Some("9000"));
        assert_eq!(f.text("serve.no_auth").as_deref(), Some("true"));
        assert_eq!(f.keys().count(), 3);
    }

    #[test]
    fn nesting_and_syntax_errors_name_the_key() {
        let e = parse("[serve.tls]\ncert = 1\n").unwrap_err().to_string();
        assert!(e.contains("serve.tls"), "{e}");
        let e = parse("[serve]\nport = [1]\n").unwrap_err().to_string();
        assert!(e.contains("serve.port"), "{e}");
        let e = parse("port = \n").unwrap_err().to_string();
        assert!(e.contains("c.toml"), "{e}");
        let e = parse("\"serve.port\" = 1\n").unwrap_err().to_string();
        assert!(e.contains("serve.port") && e.contains("quoted"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_a_suggestion() {
        let f = parse("[serve]\nprot = 1\n").unwrap();
        let known = vec!["serve.port".to_string(), "db".to_string()];
        let e = f
            .check_known(&["", "serve"], &known)
            .unwrap_err()
            .to_string();
        assert!(e.contains("serve.prot") && e.contains("serve.port"), "{e}");
        // A section another front end owns is not checked here.
        let f = parse("[app]\ndata = \"x\"\n").unwrap();
        f.check_known(&["", "serve"], &known).unwrap();
        let f = parse("[nope]\nx = 1\n").unwrap();
        assert!(f.check_known(&["", "serve", "nope"], &known).is_err());
    }

    #[test]
    fn secrets_and_url_passwords_are_redacted() {
        assert_eq!(redact("api_key", "abc"), "<redacted>");
        assert_eq!(
            redact("db", "postgres://app:s3cret@db:5432/retention"),
            "postgres://app:***@db:5432/retention"
        );
        assert_eq!(
            redact("db", "postgres://db/retention"),
            "postgres://db/retention"
        );
        assert_eq!(redact("db", "data/retentionai.db"), "data/retentionai.db");
        assert_eq!(
            redact("db", "postgres://u:ab/cd?e@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact("db", "postgres://u@h/db?sslmode=disable&password=pw"),
            "postgres://u@h/db?sslmode=disable&password=***"
        );
    }

    #[test]
    fn given_beats_file_beats_default() {
        let f = parse("[app]\ndata = \"file.csv\"\n").unwrap();
        let mut given = BTreeMap::new();
        let r = resolve(&APP[..1], Some(&f), &given);
        // (The environment is not set for `data` in tests.)
        assert_eq!(r[0].value.as_deref(), Some("file.csv"));
        assert_eq!(r[0].source, Source::File(PathBuf::from("c.toml")));
        given.insert("data".into(), "kw.csv".into());
        let r = resolve(&APP[..1], Some(&f), &given);
        assert_eq!(
            (r[0].value.as_deref(), &r[0].source),
            (Some("kw.csv"), &Source::Flag)
        );
        let r = resolve(&APP[1..2], None, &BTreeMap::new());
        assert_eq!(
            (r[0].value.as_deref(), &r[0].source),
            (None, &Source::Default)
        );
    }
}
