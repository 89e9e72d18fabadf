//! One configuration for the `retention` command.
//!
//! Every setting is one flag, defined once in [`crate::cli`] with its default: the global
//! options (`--db`, `--log-*`) and every option of `retention serve`. The same setting can be
//! set by the variable `RETENTIONAI_<NAME>` (`RETENTIONAI_PORT`, `RETENTIONAI_LOG_FORMAT`) and by
//! the configuration file (`--config` or `RETENTIONAI_CONFIG`: top-level `db`, `[log] format`,
//! `[serve] port`); flag > environment > file > default. The file's values become the flags'
//! defaults before the command line is parsed, so they are checked by the flag's own parser;
//! a bad value, in the file or the environment, is refused at start-up with its key named.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use retention_core::config::{self as core_config, ConfigFile, Source};

/// Arguments that are not settings.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// A setting of the command: a global option or one of `serve`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `true` for an option of `retention serve`.
    pub serve: bool,
    /// The clap argument id, which is also the flat name (`log_format`).
    pub id: String,
    /// Where it sits in the file (`log.format`, `serve.port`, `db`).
    pub file_key: String,
    /// Its flag (`--log-format`).
    pub flag: String,
    /// Whether it is a switch (`--no-auth`): `true`/`false` in the file and the environment.
    pub switch: bool,
}

impl Key {
    pub fn env(&self) -> String {
        core_config::env_name(&self.id)
    }
}

fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// Every setting of the command, global options first.
pub fn keys(cmd: &Command) -> Vec<Key> {
    let setting = |a: &Arg| !NOT_SETTINGS.contains(&a.get_id().as_str()) && a.get_long().is_some();
    let mut keys: Vec<Key> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set() && setting(a))
        .map(|a| {
            let id = a.get_id().to_string();
            let file_key = match id.strip_prefix("log_") {
                Some(rest) => format!("log.{rest}"),
                None => id.clone(),
            };
            Key {
                serve: false,
                flag: format!("--{}", a.get_long().unwrap_or_default()),
                switch: is_switch(a),
                id,
                file_key,
            }
        })
        .collect();
    if let Some(serve) = cmd.find_subcommand("serve") {
        keys.extend(serve.get_arguments().filter(|a| setting(a)).map(|a| {
            let id = a.get_id().to_string();
            Key {
                serve: true,
                flag: format!("--{}", a.get_long().unwrap_or_default()),
                switch: is_switch(a),
                file_key: format!("serve.{id}"),
                id,
            }
        }));
    }
    keys
}

/// The command with every setting's environment variable attached and the configuration
/// file's values as defaults, and what it took from where.
pub struct Prepared {
    pub command: Command,
    pub file: Option<ConfigFile>,
    /// Ids of the settings whose default now comes from the file.
    from_file: BTreeSet<String>,
    /// Warnings for the terminal (deprecated variables, unknown ones).
    pub warnings: Vec<String>,
}

/// The configuration file named on the command line (`--config FILE`, `--config=FILE`), if any.
fn config_flag(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// Whether `value` is accepted by `key`'s own parser; the error is clap's, on one line.
fn check_value(cmd: &Command, key: &Key, value: &str) -> Result<(), String> {
    if key.switch {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("expected true or false, found '{value}'")),
        };
    }
    let mut argv = vec!["retention".to_string()];
    if key.serve {
        argv.push("serve".into());
    }
    argv.push(format!("{}={value}", key.flag));
    if !key.serve {
        argv.extend(["config".into(), "check".into()]);
    }
    match cmd.clone().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            Err(first.trim_start_matches("error: ").to_string())
        }
    }
}

/// Attaches every setting's variable, checks the environment and the configuration file, and
/// makes the file's values the defaults.
pub fn prepare(command: Command, args: &[OsString]) -> Result<Prepared> {
    let keys = keys(&command);
    let file = core_config::load_named(config_flag(args).as_deref())?;
    let mut warnings = Vec::new();
    for (old, new) in core_config::deprecated_env() {
        warnings.push(format!(
            "{old} is deprecated and will stop working in the next release: use {new}"
        ));
    }
    let known_env: BTreeSet<String> = keys
        .iter()
        .map(Key::env)
        .chain(
            core_config::APP
                .iter()
                .map(|s| core_config::env_name(s.name)),
        )
        .chain(core_config::OTHER_ENV.iter().map(|s| (*s).to_string()))
        .collect();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with(core_config::ENV_PREFIX) && !known_env.contains(name.as_ref()) {
            warnings.push(format!(
                "{name} is not a RetentionAI setting (ignored; {} lists them)",
                retention_core::error::mention("config show")
            ));
        }
    }
    // Each setting's variable (the deprecated name when only it is set), checked up front so
    // that a bad value is reported by the variable's name rather than the flag's.
    let mut command = command;
    for key in &keys {
        if let Some((value, var)) = core_config::env_var(&key.id) {
            check_value(&command, key, &value)
                .map_err(|reason| anyhow!("environment variable {var}: {reason}"))?;
        }
    }
    let mut from_file = BTreeSet::new();
    let mut defaults: Vec<(Key, String)> = Vec::new();
    if let Some(file) = &file {
        let mut known: Vec<String> = keys.iter().map(|k| k.file_key.clone()).collect();
        known.extend(core_config::APP.iter().map(|s| s.file_key.to_string()));
        let sections: BTreeSet<&str> = file
            .keys()
            .map(|k| k.split_once('.').map_or("", |(s, _)| s))
            .collect();
        file.check_known(&sections.into_iter().collect::<Vec<_>>(), &known)?;
        for key in &keys {
            if let Some(value) = file.text(&key.file_key) {
                check_value(&command, key, &value).map_err(|r| file.error(&key.file_key, r))?;
                from_file.insert(key.id.clone());
                defaults.push((key.clone(), value));
            }
        }
    }
    let attach = |arg: Arg, serve: bool| -> Arg {
        let Some(key) = keys
            .iter()
            .find(|k| k.serve == serve && k.id == arg.get_id().as_str())
        else {
            return arg;
        };
        let var = match core_config::env_var(&key.id) {
            Some((_, var)) => var,
            None => key.env(),
        };
        let arg = arg.env(var);
        match defaults.iter().find(|(k, _)| k == key) {
            Some((_, value)) => arg.default_value(value.clone()),
            None => arg,
        }
    };
    command = command
        .mut_args(|a| attach(a, false))
        .mut_subcommand("serve", |s| s.mut_args(|a| attach(a, true)));
    Ok(Prepared {
        command,
        file,
        from_file,
        warnings,
    })
}

impl Prepared {
    /// Where the value of `key` came from, in `matches` (the command's, or `serve`'s).
    pub fn source(&self, matches: &ArgMatches, key: &Key) -> Source {
        match matches.value_source(&key.id) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(
                core_config::env_var(&key.id)
                    .map(|(_, var)| var)
                    .unwrap_or_else(|| key.env()),
            ),
            _ if self.from_file.contains(&key.id) => Source::File(
                self.file
                    .as_ref()
                    .map(|f| f.path().to_path_buf())
                    .unwrap_or_default(),
            ),
            _ => Source::Default,
        }
    }
}

/// One row of `retention config show`.
#[derive(Debug, serde::Serialize)]
pub struct Shown {
    pub key: String,
    pub env: String,
    /// Redacted; `None` when unset and without a default.
    pub value: Option<String>,
    pub source: String,
}

/// The effective value of every setting: the global options from `matches`, `serve`'s as a
/// `retention serve` started now would see them, the app's as the Python module resolves them.
pub fn effective(prepared: &Prepared, matches: &ArgMatches) -> Result<Vec<Shown>> {
    let keys = keys(&prepared.command);
    // `retention serve`'s own flags when it is the command; else as a bare `retention serve`
    // would see them.
    let bare;
    let serve = match matches.subcommand_matches("serve") {
        Some(m) => m,
        None => {
            bare = prepared
                .command
                .clone()
                .try_get_matches_from(["retention", "serve"])
                .map_err(|e| anyhow!("{}", e.render().to_string().trim()))?;
            bare.subcommand_matches("serve")
                .ok_or_else(|| anyhow!("no serve settings"))?
        }
    };
    let mut rows = Vec::new();
    for key in &keys {
        let m = if key.serve { serve } else { matches };
        let value = m
            .get_raw(&key.id)
            .and_then(|mut v| v.next())
            .map(|v| core_config::redact(&key.id, &v.to_string_lossy()));
        rows.push(Shown {
            key: key.file_key.clone(),
            env: key.env(),
            value,
            source: prepared.source(m, key).to_string(),
        });
    }
    let shown: BTreeSet<String> = rows.iter().map(|r| r.key.clone()).collect();
    let app: Vec<_> = core_config::APP
        .iter()
        .filter(|s| !shown.contains(s.file_key))
        .copied()
        .collect();
    for r in core_config::resolve(&app, prepared.file.as_ref(), &Default::default()) {
        let file_key = app
            .iter()
            .find(|s| s.name == r.name)
            .map_or(r.name, |s| s.file_key);
        rows.push(Shown {
            key: file_key.to_string(),
            env: core_config::env_name(r.name),
            value: r.value.map(|v| core_config::redact(r.name, &v)),
            source: r.source.to_string(),
        });
    }
    Ok(rows)
}
