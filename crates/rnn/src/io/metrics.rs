//! `metrics.jsonl`: one JSON object per evaluation of a training run.

use crate::Result;
use std::path::{Path, PathBuf};

/// A run's `metrics.jsonl`, rewritten atomically after each row.
#[derive(Clone, Debug)]
pub struct MetricsLog {
    path: PathBuf,
    rows: Vec<serde_json::Value>,
    /// Lines of a resumed file that are not JSON objects (a note a user
    /// added, a byte that is not UTF-8), kept as they were: each with the
    /// number of rows before it.
    other: Vec<(usize, Vec<u8>)>,
}

impl MetricsLog {
    /// The file name inside a run directory.
    pub const FILE: &'static str = "metrics.jsonl";

    /// Starts `dir/metrics.jsonl`, keeping the rows already there when
    /// `resume` (lines that are not JSON are kept as they are, in place:
    /// they used to be dropped, and a byte that was not UTF-8 lost the
    /// whole file).
    pub fn open(dir: &Path, resume: bool) -> Self {
        Self::open_named(dir, Self::FILE, resume)
    }

    /// Like [`MetricsLog::open`] for another JSON-lines file of the run
    /// (`diagnostics.jsonl`).
    pub fn open_named(dir: &Path, name: &str, resume: bool) -> Self {
        let path = dir.join(name);
        let (mut rows, mut other) = (Vec::new(), Vec::new());
        if resume {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let lines = bytes.split(|&b| b == b'\n');
            for line in lines.filter(|l| !l.trim_ascii().is_empty()) {
                match serde_json::from_slice::<serde_json::Value>(line) {
                    Ok(row) if row.is_object() => rows.push(row),
                    _ => other.push((rows.len(), line.to_vec())),
                }
            }
        }
        MetricsLog { path, rows, other }
    }

    /// Drops the rows whose `key` is above `last` (and keeps every other
    /// line): the evaluations a run wrote after the checkpoint it is resumed
    /// from, which it will write again (a run killed between writing a row
    /// and its checkpoint left the row twice after its resumption).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-drop-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let mut log = rnn::io::MetricsLog::open(&dir, false);
    /// for step in [10, 20, 30] {
    ///     log.push(serde_json::json!({"step": step})).unwrap();
    /// }
    /// let mut again = rnn::io::MetricsLog::open(&dir, true);
    /// again.drop_after("step", 20.0);
    /// assert_eq!(again.series("step", "step"), vec![(10.0, 10.0), (20.0, 20.0)]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn drop_after(&mut self, key: &str, last: f64) {
        let mut i = 0;
        while i < self.rows.len() {
            if self.rows[i]
                .get(key)
                .and_then(|v| v.as_f64())
                .is_some_and(|v| v > last)
            {
                self.rows.remove(i);
                // the lines after it move up one row
                for (at, _) in self.other.iter_mut().filter(|(at, _)| *at > i) {
                    *at -= 1;
                }
            } else {
                i += 1;
            }
        }
    }

    /// The value of `key` in the last row that has it as a number: what a
    /// resumed run carries on from (its `elapsed_s`).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rnn-doc-last-{}", std::process::id()));
    /// let mut log = rnn::io::MetricsLog::open(&dir, false);
    /// assert_eq!(log.last_value("elapsed_s"), None);
    /// log.record(serde_json::json!({"step": 10, "elapsed_s": 1.5}));
    /// log.record(serde_json::json!({"step": 20}));
    /// assert_eq!(log.last_value("elapsed_s"), Some(1.5));
    /// ```
    pub fn last_value(&self, key: &str) -> Option<f64> {
        self.rows
            .iter()
            .rev()
            .find_map(|r| r.get(key).and_then(|v| v.as_f64()))
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
        let mut bytes = Vec::new();
        let mut other = self.other.iter().peekable();
        for (i, row) in self.rows.iter().enumerate() {
            while let Some((_, line)) = other.next_if(|(at, _)| *at <= i) {
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(format!("{row}\n").as_bytes());
        }
        for (_, line) in other {
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
        crate::io::write_atomic(&self.path, &bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_log_keeps_lines_it_cannot_read_and_drops_rows_past_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("rnn-metrics-keep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // a byte that is not UTF-8 lost every row before (the whole file
        // read as text failed), and a note a user added was dropped
        let mut file = b"{\"step\":10}\n\xe9t\xe9 note\n{\"step\":20}\nmy note\n".to_vec();
        file.extend_from_slice(b"{\"step\":30}\n[1,2]\n");
        std::fs::write(dir.join(MetricsLog::FILE), &file).unwrap();
        let mut log = MetricsLog::open(&dir, true);
        assert_eq!(log.rows().len(), 3);
        // resumed from step 20: the row of step 30 goes (written again later)
        log.drop_after("step", 20.0);
        log.push(serde_json::json!({"step": 30, "again": true}))
            .unwrap();
        let back = std::fs::read(dir.join(MetricsLog::FILE)).unwrap();
        let want = b"{\"step\":10}\n\xe9t\xe9 note\n{\"step\":20}\nmy note\n[1,2]\n{\"again\":true,\"step\":30}\n";
        assert_eq!(
            String::from_utf8_lossy(&back),
            String::from_utf8_lossy(want)
        );
        assert_eq!(back, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
