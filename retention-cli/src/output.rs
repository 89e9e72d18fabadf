//! Terminal output: aligned tables, metric lines, progress and warnings on stderr.

use std::io::{self, IsTerminal, Write};

use retention_core::metrics::{CvReport, Metrics};
use retention_core::model::{ChurnModel, LeaderboardEntry};

/// A plain text table with aligned columns.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    text_columns: Vec<usize>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            text_columns: Vec::new(),
        }
    }

    /// Keeps column `k` left-aligned even when a cell starts with a number.
    pub fn text_column(mut self, k: usize) -> Self {
        self.text_columns.push(k);
        self
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let n = self.header.len();
        let mut width = vec![0usize; n];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |row: &[String], out: &mut dyn Write| -> io::Result<()> {
            let cells: Vec<String> = row
                .iter()
                .zip(&width)
                .enumerate()
                .map(|(k, (c, w))| {
                    // Numbers (and "0.8 ± 0.1", "12.5 %") right, text left.
                    let first = c.split_whitespace().next().unwrap_or("");
                    let numeric = first.trim_start_matches(['+', '-']).parse::<f64>().is_ok();
                    if k == 0 || !numeric || self.text_columns.contains(&k) {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            writeln!(out, "  {}", cells.join("  ").trim_end())
        };
        line(&self.header, out)?;
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(out, "  {}", rule.join("  "))?;
        for row in &self.rows {
            line(row, out)?;
        }
        Ok(())
    }
}

/// Metrics of several evaluations side by side: one row per metric.
pub fn metrics_table(cv: Option<&CvReport>, columns: &[(&str, &Metrics)]) -> Table {
    let mut header = vec!["metric".to_string()];
    if let Some(cv) = cv {
        header.push(format!("cv {}-fold mean ± std", cv.folds));
    }
    header.extend(columns.iter().map(|(name, _)| name.to_string()));
    let mut table = Table::new(header);
    let names: Vec<&str> = columns
        .first()
        .map(|(_, m)| m.named().into_iter().map(|(n, _)| n).collect())
        .or_else(|| cv.map(|c| c.summary.keys().map(|k| k.as_str()).collect()))
        .unwrap_or_default();
    for name in names {
        let mut row = vec![name.to_string()];
        if let Some(cv) = cv {
            row.push(match cv.get(name) {
                Some(m) => format!("{:.4} ± {:.4}", m.mean, m.std),
                None => "-".into(),
            });
        }
        for (_, m) in columns {
            let v = m
                .named()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v);
            row.push(v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()));
        }
        table.row(row);
    }
    table
}

/// Model selection candidates, best first.
pub fn leaderboard_table(entries: &[LeaderboardEntry]) -> Table {
    let mut t = Table::new(["candidate", "ROC-AUC", "log-loss", "PR-AUC", "ECE", ""]);
    for e in entries {
        let ms = |m: retention_core::metrics::MeanStd| format!("{:.4} ± {:.4}", m.mean, m.std);
        t.row([
            e.name.clone(),
            ms(e.roc_auc),
            ms(e.log_loss),
            ms(e.pr_auc),
            ms(e.ece),
            if e.selected {
                "selected".into()
            } else {
                String::new()
            },
        ]);
    }
    t
}

/// Calibration, threshold (and how it was chosen, with its expected profit) and tiers, on one line.
pub fn threshold_line(model: &ChurnModel) -> String {
    let mut line = format!(
        "Calibration {}; threshold {:.3}",
        model.calibrator.method().as_str(),
        model.threshold
    );
    if let Some(c) = &model.threshold_choice {
        let objective = match c.objective {
            retention_core::training::ThresholdObjective::Fixed => "fixed",
            retention_core::training::ThresholdObjective::F1 => "best F1",
            retention_core::training::ThresholdObjective::Profit => "most profit",
        };
        line.push_str(&format!(" ({objective}"));
        if let Some(p) = c.expected_profit_per_1000 {
            line.push_str(&format!(
                "; expected profit {p:.0} per 1,000 customers at value {}, offer {}, success {}",
                c.customer_value, c.offer_cost, c.offer_success_rate
            ));
        }
        line.push(')');
    }
    line.push_str(&format!(
        "; tiers Low < {:.2} <= Medium < {:.2} <= High.",
        model.tiers.medium, model.tiers.high
    ));
    line
}

/// Progress messages on stderr, shown only when stderr is a terminal.
pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new() -> Self {
        Progress {
            enabled: io::stderr().is_terminal(),
        }
    }

    pub fn say(&self, message: &str) {
        if self.enabled {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{message}");
            let _ = err.flush();
        }
    }

    pub fn done(&self) {
        if self.enabled {
            let _ = write!(io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// A warning line on stderr.
/// The core's notes and warnings name parameters by their core field; they are shown in the
/// CLI's words (see [`crate::spelling`]).
pub fn warn(message: &str) {
    let message = crate::spelling::text(message);
    let _ = writeln!(io::stderr().lock(), "warning: {message}");
}

/// Prints `value` as pretty JSON when `json`, else the human text `text` writes.
pub fn report<T: serde::Serialize>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    text: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        text(out)?;
    }
    Ok(())
}
