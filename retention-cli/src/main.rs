//! The `retention` command.

mod cli;
mod commands;
mod output;
mod serve;
mod spelling;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(spelling::message).collect();
            let _ = writeln!(io::stderr().lock(), "error: {}", dedup_chain(&chain));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut code = ExitCode::SUCCESS;
    let db = cli.db.as_path();
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
        Command::Serve(args) => {
            // The server prints its address and logs as it runs: nothing may wait in a buffer.
            drop(out);
            serve::run(db, args)?;
            return Ok(code);
        }
    }
    out.flush()?;
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
