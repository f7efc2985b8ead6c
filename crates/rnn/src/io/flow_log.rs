//! `diagnostics.jsonl` and its pictures: the gradient flow
//! ([`crate::nn::flow`]) measured at each evaluation of a training run.

use crate::io::{plot_lines, plot_panels, MetricsLog, Series, CURVES};
use crate::nn::flow::Flow;
use crate::Result;
use std::path::{Path, PathBuf};

/// A run's `diagnostics.jsonl` (one row per evaluation: `step` and the
/// [`Flow`] fields; `member` too for a network of an ensemble, see
/// [`FlowLog::push_member`]), `gradient-flow.svg` (log10 of the error
/// carried back from each direction's last step, against steps back, one
/// line per evaluation, one panel per layer and direction) and
/// `spectral-radius.svg` (against the training step, one line per layer and
/// direction).
#[derive(Clone, Debug)]
pub struct FlowLog {
    dir: PathBuf,
    log: MetricsLog,
}

/// The name of a layer and direction in the pictures.
fn name(layer: &serde_json::Value) -> String {
    format!("layer {} direction {}", layer["layer"], layer["direction"])
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

    /// Drops the rows measured after `step` ([`MetricsLog::drop_after`]):
    /// a resumed run measures them again.
    pub fn drop_after(&mut self, step: u64) {
        self.log.drop_after("step", step as f64);
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
    /// let mut cfg = ModelConfig::elman(3, 4, 3);
    /// (cfg.num_layers, cfg.bidirectional) = (2, true);
    /// let model = Model::<f32>::new(cfg, 0).unwrap();
    /// let ids = [0usize, 1, 2, 0, 1, 2];
    /// let flow = gradient_flow(&model, Batch::new(Input::Ids(&ids), 6, 1), Targets::Classes(&ids)).unwrap();
    /// let mut log = FlowLog::open(&dir, false);
    /// log.push(10, &flow).unwrap();
    /// let svg = std::fs::read_to_string(dir.join("gradient-flow.svg")).unwrap();
    /// // one panel per layer and direction, each titled
    /// assert_eq!(svg.matches("\nlayer 1 direction 1: error carried back from t = ").count(), 1);
    /// assert_eq!(svg.matches(": error carried back from t = ").count(), 4);
    /// assert!(dir.join("spectral-radius.svg").is_file());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// Writing the files or drawing fails.
    pub fn push(&mut self, step: u64, flow: &Flow) -> Result<()> {
        self.push_row(None, None, step, flow)
    }

    /// [`FlowLog::push`] for network `member` (1-based, as in the run's
    /// `metrics.jsonl`) of an ensemble trained one network after the other
    /// into one directory: its rows carry a `member` key, and a `candidate`
    /// key (1-based) when several configurations are trained in turn to
    /// choose one, as in `metrics.jsonl`. The pictures show the first
    /// network's rows (of the first candidate).
    ///
    /// # Errors
    ///
    /// Writing the files or drawing fails.
    pub fn push_member(
        &mut self,
        member: usize,
        candidate: Option<usize>,
        step: u64,
        flow: &Flow,
    ) -> Result<()> {
        self.push_row(Some(member), candidate, step, flow)
    }

    fn push_row(
        &mut self,
        member: Option<usize>,
        candidate: Option<usize>,
        step: u64,
        flow: &Flow,
    ) -> Result<()> {
        let mut row = serde_json::to_value(flow).unwrap_or_default();
        if let Some(obj) = row.as_object_mut() {
            obj.insert("step".into(), step.into());
            if let Some(m) = member {
                obj.insert("member".into(), m.into());
            }
            if let Some(c) = candidate {
                obj.insert("candidate".into(), c.into());
            }
        }
        self.log.push(row)?;
        self.draw()
    }

    fn draw(&self) -> Result<()> {
        // the first network's rows (all of them without a member key)
        let rows: Vec<&serde_json::Value> = self
            .log
            .rows()
            .iter()
            .filter(|r| r.get("member").is_none_or(|m| m == 1))
            .filter(|r| r.get("candidate").is_none_or(|c| c == 1))
            .collect();
        // the carried error: at most 6 evaluations, spread out
        let shown: Vec<usize> = match rows.len() {
            0 => return Ok(()),
            n if n <= 6 => (0..n).collect(),
            n => (0..6).map(|i| i * (n - 1) / 5).collect(),
        };
        let names: Vec<String> = shown
            .iter()
            .map(|&i| format!("step {}", rows[i]["step"]))
            .collect();
        let layers = rows[0]["layers"].as_array().map_or(&[][..], Vec::as_slice);
        let titles: Vec<String> = layers
            .iter()
            .map(|l| {
                format!(
                    "{}: error carried back from t = {}",
                    name(l),
                    l["from_step"]
                )
            })
            .collect();
        let panels: Vec<(&str, Vec<Series>)> = titles
            .iter()
            .enumerate()
            .map(|(k, title)| {
                let lines = shown
                    .iter()
                    .zip(&names)
                    .map(|(&i, name)| {
                        let l = &rows[i]["layers"][k];
                        let g = l["grad_norm_by_step"].as_array();
                        let mut g: Vec<f64> =
                            g.into_iter().flatten().filter_map(|v| v.as_f64()).collect();
                        // by steps back from the direction's last step (LayerFlow::by_steps_back)
                        if l["from_step"].as_u64() != Some(0) {
                            g.reverse();
                        }
                        let pts = g
                            .iter()
                            .enumerate()
                            .filter(|(_, &v)| v > 0.0)
                            .map(|(back, &v)| (back as f64, v.log10()))
                            .collect();
                        (name.as_str(), pts)
                    })
                    .collect();
                (title.as_str(), lines)
            })
            .collect();
        let directions = layers
            .iter()
            .filter_map(|l| l["direction"].as_u64())
            .max()
            .map_or(1, |d| d as usize + 1);
        plot_panels(
            &self.dir.join("gradient-flow.svg"),
            &panels,
            directions,
            (
                "steps back from the direction's last step",
                "log10 ||dE/ds_t||",
            ),
            &CURVES,
        )?;
        let labels: Vec<String> = layers.iter().map(name).collect();
        let radius: Vec<Series> = labels
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
