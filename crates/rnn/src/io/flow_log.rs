//! `diagnostics.jsonl` and its pictures: the gradient flow
//! ([`crate::nn::flow`]) measured at each evaluation of a training run.

use crate::io::{plot_lines, MetricsLog, CURVES};
use crate::nn::flow::Flow;
use crate::Result;
use std::path::{Path, PathBuf};

/// A run's `diagnostics.jsonl` (one row per evaluation: `step` and the
/// [`Flow`] fields), `gradient-flow.svg` (log10 of the last step's error
/// carried back, against steps back, one line per evaluation, for the first
/// layer) and `spectral-radius.svg` (against the training step, one line per
/// layer and direction).
#[derive(Clone, Debug)]
pub struct FlowLog {
    dir: PathBuf,
    log: MetricsLog,
}

impl FlowLog {
    /// The file name inside a run directory.
    pub const FILE: &'static str = "diagnostics.jsonl";

    /// Starts `dir/diagnostics.jsonl`, keeping its rows when `resume`.
    pub fn open(dir: &Path, resume: bool) -> Self {
        FlowLog {
            dir: dir.to_path_buf(),
            log: MetricsLog::open_named(dir, Self::FILE, resume),
        }
    }

    /// Appends the flow measured after `step` optimizer steps and redraws
    /// both pictures.
    ///
    /// ```
    /// use rnn::io::FlowLog;
    /// use rnn::nn::flow::gradient_flow;
    /// use rnn::{Batch, Input, Model, ModelConfig, Targets};
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-flowlog-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let model = Model::<f32>::new(ModelConfig::elman(3, 4, 3), 0).unwrap();
    /// let ids = [0usize, 1, 2, 0, 1, 2];
    /// let flow = gradient_flow(&model, Batch::new(Input::Ids(&ids), 6, 1), Targets::Classes(&ids)).unwrap();
    /// let mut log = FlowLog::open(&dir, false);
    /// log.push(10, &flow).unwrap();
    /// assert!(dir.join("gradient-flow.svg").is_file() && dir.join("spectral-radius.svg").is_file());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// Writing the files or drawing fails.
    pub fn push(&mut self, step: u64, flow: &Flow) -> Result<()> {
        let mut row = serde_json::to_value(flow).unwrap_or_default();
        if let Some(obj) = row.as_object_mut() {
            obj.insert("step".into(), step.into());
        }
        self.log.push(row)?;
        self.draw()
    }

    fn draw(&self) -> Result<()> {
        let rows = self.log.rows();
        // the carried error of the first layer: at most 6 evaluations, spread out
        let shown: Vec<usize> = match rows.len() {
            0 => return Ok(()),
            n if n <= 6 => (0..n).collect(),
            n => (0..6).map(|i| i * (n - 1) / 5).collect(),
        };
        let names: Vec<String> = shown
            .iter()
            .map(|&i| format!("step {}", rows[i]["step"]))
            .collect();
        let lines: Vec<(&str, Vec<(f64, f64)>)> = shown
            .iter()
            .zip(&names)
            .map(|(&i, name)| {
                let g = rows[i]["layers"][0]["grad_norm_by_step"].as_array();
                let g: Vec<f64> = g.into_iter().flatten().filter_map(|v| v.as_f64()).collect();
                let pts = g
                    .iter()
                    .rev()
                    .enumerate()
                    .filter(|(_, &v)| v > 0.0)
                    .map(|(back, &v)| (back as f64, v.log10()))
                    .collect();
                (name.as_str(), pts)
            })
            .collect();
        plot_lines(
            &self.dir.join("gradient-flow.svg"),
            "error of the last step carried back (layer 0)",
            ("steps back from T", "log10 ||dE_T/ds_t||"),
            &lines,
            &CURVES,
        )?;
        let n = rows[0]["layers"].as_array().map_or(0, Vec::len);
        let labels: Vec<String> = (0..n)
            .map(|i| {
                let l = &rows[0]["layers"][i];
                format!("layer {} direction {}", l["layer"], l["direction"])
            })
            .collect();
        let radius: Vec<(&str, Vec<(f64, f64)>)> = labels
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let pts = rows.iter().filter_map(|r| {
                    Some((
                        r["step"].as_f64()?,
                        r["layers"][i]["spectral_radius"].as_f64()?,
                    ))
                });
                (name.as_str(), pts.collect())
            })
            .collect();
        plot_lines(
            &self.dir.join("spectral-radius.svg"),
            "spectral radius of ds_t/ds_{t-1}",
            ("training step", "radius"),
            &radius,
            &CURVES,
        )
    }
}
