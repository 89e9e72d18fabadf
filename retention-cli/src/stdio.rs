//! `-` for standard input and output where a command reads or writes a file.
//!
//! The core reads and writes files (it needs their size, their format by extension, and
//! atomic renames), so `-` goes through a private temporary folder: standard input is saved
//! there first (Parquet when it starts with Parquet's magic bytes, else CSV), and an output is
//! written there in full and copied to standard output only once the command succeeded, so a
//! failed command prints no half of a table.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Whether a path argument means standard input or output.
pub fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A file to read: the path given, or standard input saved to a temporary file.
pub struct Input {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Input {
    /// `path`, or for `-` standard input (saved as `stdin.csv`, `stdin.parquet` or, when
    /// `json_name` is given, that name: a model file).
    pub fn open(path: &Path, json_name: Option<&str>) -> Result<Self> {
        if !is_dash(path) {
            return Ok(Input {
                path: path.to_path_buf(),
                _dir: None,
            });
        }
        let dir = tempfile::tempdir().context("a temporary folder for standard input")?;
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        let name = match json_name {
            Some(name) => name,
            None if bytes.starts_with(b"PAR1") => "stdin.parquet",
            None => "stdin.csv",
        };
        let file = dir.path().join(name);
        std::fs::write(&file, &bytes).context("saving standard input")?;
        Ok(Input {
            path: file,
            _dir: Some(dir),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A file to write: the path given, or a temporary file copied to standard output by
/// [`Output::finish`].
pub struct Output {
    path: PathBuf,
    stdout: bool,
    _dir: Option<tempfile::TempDir>,
}

impl Output {
    /// `path`, or for `-` a temporary `stdout.<extension>` (CSV unless `extension` says).
    pub fn create(path: &Path, extension: &str) -> Result<Self> {
        if !is_dash(path) {
            return Ok(Output {
                path: path.to_path_buf(),
                stdout: false,
                _dir: None,
            });
        }
        let dir = tempfile::tempdir().context("a temporary folder for standard output")?;
        Ok(Output {
            path: dir.path().join(format!("stdout.{extension}")),
            stdout: true,
            _dir: Some(dir),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the data goes to standard output (then a command's summary goes to stderr).
    pub fn is_stdout(&self) -> bool {
        self.stdout
    }

    /// Copies a completed standard-output file to standard output.
    pub fn finish(self) -> Result<()> {
        if self.stdout {
            let mut file = std::fs::File::open(&self.path).context("reading the written output")?;
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            io::copy(&mut file, &mut lock)?;
            lock.flush()?;
        }
        Ok(())
    }
}

/// The `-` arguments of one command, replaced by temporary files until it ends.
#[derive(Default)]
pub struct Plan {
    _inputs: Vec<Input>,
    output: Option<Output>,
}

impl Plan {
    /// Whether the command's data goes to standard output (its summary then goes to stderr).
    pub fn data_on_stdout(&self) -> bool {
        self.output.as_ref().is_some_and(Output::is_stdout)
    }

    /// Copies a completed standard-output file to standard output.
    pub fn finish(self) -> Result<()> {
        match self.output {
            Some(o) => o.finish(),
            None => Ok(()),
        }
    }

    fn input(&mut self, path: &mut PathBuf, model: bool) -> Result<()> {
        if !is_dash(path) {
            return Ok(());
        }
        if !self._inputs.is_empty() {
            anyhow::bail!("only one input can be read from standard input ('-')");
        }
        let input = Input::open(path, model.then_some("stdin.json"))?;
        *path = input.path().to_path_buf();
        self._inputs.push(input);
        Ok(())
    }

    fn output(&mut self, path: &mut PathBuf, extension: &str) -> Result<()> {
        if !is_dash(path) {
            return Ok(());
        }
        let output = Output::create(path, extension)?;
        *path = output.path().to_path_buf();
        self.output = Some(output);
        Ok(())
    }
}

/// Replaces the `-` file arguments of `command` by temporary files: standard input saved
/// before the command runs, standard output copied after it succeeded ([`Plan::finish`]).
pub fn prepare(command: &mut crate::cli::Command) -> Result<Plan> {
    use crate::cli::{Command, ModelCommand};
    let mut plan = Plan::default();
    match command {
        Command::Score(a) => {
            plan.input(&mut a.data, false)?;
            plan.output(&mut a.out, "csv")?;
        }
        Command::Train(a) => {
            plan.input(&mut a.data, false)?;
            plan.output(&mut a.out, "json")?;
        }
        Command::Evaluate(a) => plan.input(&mut a.data, false)?,
        Command::Explain(a) => {
            plan.input(&mut a.data, false)?;
            if let Some(out) = a.out.as_mut() {
                plan.output(out, "csv")?;
            }
        }
        Command::Importance(a) => plan.input(&mut a.data, false)?,
        Command::Drift(a) => {
            plan.input(&mut a.reference, false)?;
            plan.input(&mut a.current, false)?;
            if let Some(out) = a.out.as_mut() {
                plan.output(out, "json")?;
            }
        }
        Command::Generate(a) => plan.output(&mut a.out, "csv")?,
        Command::Inspect(a) => plan.input(&mut a.model, true)?,
        Command::Model(ModelCommand::Register { model, .. }) => plan.input(model, true)?,
        _ => {}
    }
    Ok(plan)
}
