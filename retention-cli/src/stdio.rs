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
    /// `name` is given, that name: `stdin.json` for a model file, `stdin.toml` for a spec).
    pub fn open(path: &Path, name: Option<&str>) -> Result<Self> {
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
        let name = match name {
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
    /// Each temporary path as messages should name it (`standard input`, `standard output`).
    names: Vec<(String, &'static str)>,
}

impl Plan {
    /// The replacements [`Plan::rename`] makes, to apply after the plan is consumed.
    pub fn names(&self) -> Vec<(String, &'static str)> {
        self.names.clone()
    }

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

    fn input(&mut self, path: &mut PathBuf, name: Option<&str>) -> Result<()> {
        if !is_dash(path) {
            return Ok(());
        }
        if !self._inputs.is_empty() {
            anyhow::bail!("only one input can be read from standard input ('-')");
        }
        let input = Input::open(path, name)?;
        *path = input.path().to_path_buf();
        self.names
            .push((path.display().to_string(), "standard input"));
        self._inputs.push(input);
        Ok(())
    }

    fn output(&mut self, path: &mut PathBuf, extension: &str) -> Result<()> {
        if !is_dash(path) {
            return Ok(());
        }
        let output = Output::create(path, extension)?;
        *path = output.path().to_path_buf();
        self.names
            .push((path.display().to_string(), "standard output"));
        self.output = Some(output);
        Ok(())
    }
}

/// `text` with each temporary path replaced by its name.
pub fn rename(names: &[(String, &'static str)], text: &str) -> String {
    let mut text = text.to_string();
    for (path, name) in names {
        text = text.replace(path.as_str(), name);
    }
    text
}

/// A writer that holds everything until it is flushed, then writes it with the temporary
/// files named as the user named them (a path is never split across two writes).
pub struct Renaming {
    inner: Box<dyn Write>,
    names: Vec<(String, &'static str)>,
    held: Vec<u8>,
}

impl Renaming {
    pub fn new(inner: Box<dyn Write>, names: Vec<(String, &'static str)>) -> Self {
        Renaming {
            inner,
            names,
            held: Vec::new(),
        }
    }
}

impl Write for Renaming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.names.is_empty() {
            return self.inner.write(buf);
        }
        self.held.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.held.is_empty() {
            let text = rename(&self.names, &String::from_utf8_lossy(&self.held));
            self.held.clear();
            self.inner.write_all(text.as_bytes())?;
        }
        self.inner.flush()
    }
}

impl Drop for Renaming {
    fn drop(&mut self) {
        // What a failed command printed before its error still reaches the terminal.
        let _ = self.flush();
    }
}

/// Replaces the `-` file arguments of `command` by temporary files: standard input saved
/// before the command runs, standard output copied after it succeeded ([`Plan::finish`]).
pub fn prepare(command: &mut crate::cli::Command) -> Result<Plan> {
    use crate::cli::{Command, GdprCommand, ModelCommand};
    let mut plan = Plan::default();
    match command {
        Command::Score(a) => {
            plan.input(&mut a.data, None)?;
            plan.output(&mut a.out, "csv")?;
        }
        Command::Train(a) => {
            plan.input(&mut a.data, None)?;
            if let Some(spec) = a.features.as_mut() {
                plan.input(spec, Some("stdin.toml"))?;
            }
            plan.output(&mut a.out, "json")?;
        }
        Command::Evaluate(a) => plan.input(&mut a.data, None)?,
        Command::Explain(a) => {
            plan.input(&mut a.data, None)?;
            if let Some(out) = a.out.as_mut() {
                plan.output(out, "csv")?;
            }
        }
        Command::Importance(a) => plan.input(&mut a.data, None)?,
        Command::Drift(a) => {
            plan.input(&mut a.reference, None)?;
            plan.input(&mut a.current, None)?;
            if let Some(out) = a.out.as_mut() {
                plan.output(out, "json")?;
            }
        }
        Command::Generate(a) => plan.output(&mut a.out, "csv")?,
        Command::Inspect(a) => plan.input(&mut a.model, Some("stdin.json"))?,
        Command::Model(ModelCommand::Register { model, .. }) => {
            plan.input(model, Some("stdin.json"))?;
        }
        Command::Model(ModelCommand::Validate { data, .. }) => plan.input(data, None)?,
        Command::Model(ModelCommand::Promote {
            data: Some(data), ..
        }) => plan.input(data, None)?,
        Command::Model(ModelCommand::Compare { outcomes, .. }) => plan.input(outcomes, None)?,
        Command::Gdpr(GdprCommand::Export { out: Some(out), .. }) => plan.output(out, "json")?,
        _ => {}
    }
    Ok(plan)
}
