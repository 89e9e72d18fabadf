//! `retention man`: the man pages, from the same clap definitions as `--help`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Command;

/// The main page on `out`, or with `dir` one page per command (`retention-model-promote.1`…).
pub fn man(command: &Command, dir: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let mut command = command.clone();
    command.build();
    let Some(dir) = dir else {
        clap_mangen::Man::new(command).render(out)?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = 0;
    write_pages(&command, "retention", dir, &mut written)?;
    writeln!(out, "Wrote {written} man pages to {}.", dir.display())?;
    Ok(())
}

fn write_pages(command: &Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    let page = command.clone().name(name.to_string());
    let path = dir.join(format!("{name}.1"));
    let mut bytes = Vec::new();
    clap_mangen::Man::new(page).render(&mut bytes)?;
    retention_core::atomic_write(&path, |w| {
        w.write_all(&bytes)
            .map_err(|e| retention_core::Error::io(&path, e))
    })?;
    *written += 1;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
