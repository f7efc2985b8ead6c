//! `metrics.jsonl`: one JSON object per evaluation of a training run.

use crate::io::model_file::write_text;
use crate::Result;
use std::path::{Path, PathBuf};

/// A run's `metrics.jsonl`, rewritten atomically after each row.
#[derive(Clone, Debug)]
pub struct MetricsLog {
    path: PathBuf,
    rows: Vec<serde_json::Value>,
}

impl MetricsLog {
    /// The file name inside a run directory.
    pub const FILE: &'static str = "metrics.jsonl";

    /// Starts `dir/metrics.jsonl`, keeping the rows already there when
    /// `resume` (unparseable lines are dropped).
    pub fn open(dir: &Path, resume: bool) -> Self {
        Self::open_named(dir, Self::FILE, resume)
    }

    /// Like [`MetricsLog::open`] for another JSON-lines file of the run
    /// (`diagnostics.jsonl`).
    pub fn open_named(dir: &Path, name: &str, resume: bool) -> Self {
        let path = dir.join(name);
        let rows = if resume {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        } else {
            Vec::new()
        };
        MetricsLog { path, rows }
    }

    /// Appends one row and rewrites the file.
    pub fn push(&mut self, row: serde_json::Value) -> Result<()> {
        self.record(row);
        self.write()
    }

    /// Appends one row without writing the file (see [`MetricsLog::write`]):
    /// for runs that log often and write now and then.
    pub fn record(&mut self, row: serde_json::Value) {
        self.rows.push(row);
    }

    /// Rewrites the file with every row so far.
    pub fn write(&self) -> Result<()> {
        let text: String = self.rows.iter().map(|r| format!("{r}\n")).collect();
        write_text(&self.path, &text)
    }

    /// The rows so far.
    pub fn rows(&self) -> &[serde_json::Value] {
        &self.rows
    }

    /// The `(x, y)` points of numeric fields `x` and `y` across rows.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-metrics-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let mut log = rnn::io::MetricsLog::open(&dir, false);
    /// log.push(serde_json::json!({"step": 10, "val_loss": 1.5})).unwrap();
    /// log.push(serde_json::json!({"step": 20, "val_loss": 1.25})).unwrap();
    /// assert_eq!(log.series("step", "val_loss"), vec![(10.0, 1.5), (20.0, 1.25)]);
    /// let again = rnn::io::MetricsLog::open(&dir, true);
    /// assert_eq!(again.rows().len(), 2);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn series(&self, x: &str, y: &str) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .filter_map(|r| Some((r.get(x)?.as_f64()?, r.get(y)?.as_f64()?)))
            .collect()
    }
}
