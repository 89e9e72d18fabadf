//! The `retention` command.

mod cli;
mod commands;
mod config;
mod logging;
mod output;
mod serve;
mod spelling;
mod stdio;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use cli::{Cli, Command};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A configuration that cannot be read is a usage error, like a bad flag.
    let prepared = match config::prepare(Cli::command(), &args) {
        Ok(p) => p,
        Err(err) => return fail(&err, ExitCode::from(2)),
    };
    let matches = match prepared.command.clone().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    for warning in &prepared.warnings {
        output::warn(warning);
    }
    // Written out (every queued line) when dropped, at the end of main.
    let _log = match logging::init(&cli.log) {
        Ok(guard) => guard,
        Err(err) => return fail(&err, ExitCode::from(2)),
    };
    // `-` arguments: standard input saved first, standard output written after success.
    let plan = match stdio::prepare(&mut cli.command) {
        Ok(p) => p,
        Err(err) => return fail(&err, ExitCode::FAILURE),
    };
    let names = plan.names();
    match run(&cli, &prepared, &matches, plan) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => fail_named(&err, ExitCode::FAILURE, &names),
    }
}

/// Prints an error's chain on one line and returns `code`.
fn fail(err: &anyhow::Error, code: ExitCode) -> ExitCode {
    fail_named(err, code, &[])
}

/// As [`fail`], naming the temporary files of `-` arguments as the user named them.
fn fail_named(err: &anyhow::Error, code: ExitCode, names: &[(String, &'static str)]) -> ExitCode {
    let chain: Vec<String> = err
        .chain()
        .map(|e| stdio::rename(names, &spelling::message(e)))
        .collect();
    let _ = writeln!(io::stderr().lock(), "error: {}", dedup_chain(&chain));
    code
}

fn run(
    cli: &Cli,
    prepared: &config::Prepared,
    matches: &ArgMatches,
    plan: stdio::Plan,
) -> anyhow::Result<ExitCode> {
    // When the data goes to standard output, the human summary goes to stderr.
    let sink: Box<dyn Write> = if plan.data_on_stdout() {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout().lock())
    };
    let mut out = io::BufWriter::new(stdio::Renaming::new(sink, plan.names()));
    let mut code = ExitCode::SUCCESS;
    let db = &cli.db;
    match &cli.command {
        Command::Train(args) => commands::train::run(args, &mut out)?,
        Command::Score(args) => commands::score::run(db, args, &mut out)?,
        Command::Evaluate(args) => commands::evaluate::run(db, args, &mut out)?,
        Command::Explain(args) => commands::explain::run(db, args, &mut out)?,
        Command::Importance(args) => commands::explain::importance(db, args, &mut out)?,
        Command::Inspect(args) => commands::inspect::run(args, &mut out)?,
        Command::Drift(args) => code = commands::drift::run(db, args, &mut out)?,
        Command::Generate(args) => commands::generate::run(args, &mut out)?,
        Command::Model(cmd) => code = commands::model::model(db, cmd, &mut out)?,
        Command::Db(cmd) => code = commands::db::db(db, cmd, &mut out)?,
        Command::Backup(args) => code = commands::backup::backup(db, args, &mut out)?,
        Command::Restore(args) => commands::backup::restore(db, args, &mut out)?,
        Command::Gdpr(cmd) => commands::gdpr::gdpr(db, cmd, &mut out)?,
        Command::Auth(cmd) => commands::auth::run(db, cmd, &mut out)?,
        Command::Config(cmd) => commands::config::run(cmd, prepared, matches, &mut out)?,
        Command::Completions { shell } => {
            let mut command = prepared.command.clone();
            clap_complete::generate(*shell, &mut command, "retention", &mut out);
        }
        Command::Man { out: dir } => {
            commands::docs::man(&prepared.command, dir.as_deref(), &mut out)?
        }
        Command::Doctor(args) => {
            code = commands::doctor::run(db, args, &cli.log, prepared, matches, &mut out)?;
        }
        Command::Serve(args) => {
            // The server prints its address and logs as it runs: nothing may wait in a buffer.
            drop(out);
            let settings = config::effective(prepared, matches)?;
            serve::run(db, args, &settings)?;
            return Ok(code);
        }
    }
    out.flush()?;
    drop(out);
    plan.finish()?;
    Ok(code)
}

/// A closed pipe (`retention inspect m.json | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Joins an error chain on one line, dropping a cause already contained in its context.
fn dedup_chain(chain: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in chain {
        if !parts.iter().any(|p| p.contains(c.as_str())) {
            parts.push(c);
        }
    }
    parts.join(": ")
}
