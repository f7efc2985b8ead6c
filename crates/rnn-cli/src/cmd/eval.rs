//! `rnn eval`: scores a trained model on data; dispatches on the model's task.

use crate::error::{CliError, CliResult};
use clap::Args;
use std::path::{Path, PathBuf};

/// Evaluate a trained model on a data file. What is measured depends on the
/// model's task: language models report loss in nats/char, bits/char and
/// perplexity; forecasters RMSE, MAE and MASE against naive baselines;
/// taggers token accuracy and entity precision, recall and F1 (conlleval).
#[derive(Args, Debug)]
#[command(after_help = super::forecast::EVAL_HELP)]
pub struct EvalArgs {
    /// The model directory (holding model.safetensors). Taggers: repeat the
    /// flag to score an ensemble (mean of the models' tag probabilities).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// The data file.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// tag: add this to the log-probability of every tag but O before
    /// decoding (a single CRF tagger: to its per-token score of those tags;
    /// > 0: more entities, higher recall, lower precision). Several
    /// comma-separated values (e.g. 0,1,2 to tune on dev) give one report each.
    #[arg(
        long,
        default_value = "0",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub entity_bias: Vec<f64>,
    /// forecast: score the last N rows (default: the model's --test).
    #[arg(long)]
    pub test: Option<usize>,
    /// forecast: season of the seasonal-naive baseline and MASE (default: stored with the model).
    #[arg(long)]
    pub season: Option<usize>,
}

impl EvalArgs {
    /// The (first) model directory.
    pub fn first_model(&self) -> &Path {
        &self.model[0]
    }
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> CliResult {
    let mf = rnn::io::model_file::ModelFile::load(args.first_model())?;
    if args.model.len() > 1 && mf.task != "tag" {
        return Err(CliError::Usage(format!(
            "rnn eval: several --model directories (an ensemble) are only supported for taggers, not {} models",
            mf.task
        )));
    }
    if args.entity_bias.iter().any(|&b| b != 0.0) && mf.task != "tag" {
        return Err(CliError::Usage(format!(
            "rnn eval: --entity-bias is for taggers, not {} models",
            mf.task
        )));
    }
    match mf.task.as_str() {
        "forecast" => super::forecast::eval_forecast(args),
        "tag" => super::tag::eval_tag(&args.model, &args.data, args.json, &args.entity_bias),
        "lm" => super::lm::eval(args.first_model(), mf, &args.data, args.json),
        task => Err(CliError::Usage(format!(
            "rnn eval: {task} models are not supported yet"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnn::io::model_file::ModelFile;
    use rnn::{Model, ModelConfig};

    #[test]
    fn other_tasks_are_a_usage_error() {
        let dir = std::env::temp_dir().join(format!("rnn-eval-{}", std::process::id()));
        ModelFile {
            task: "mystery".into(),
            model: Model::new(ModelConfig::elman(3, 2, 3), 0).unwrap(),
            extra: Default::default(),
            meta: Default::default(),
        }
        .save(&dir)
        .unwrap();
        let args = EvalArgs {
            model: vec![dir.clone()],
            data: dir.join("none.txt"),
            json: false,
            entity_bias: vec![0.0],
            test: None,
            season: None,
        };
        let e = run(&args).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rnn eval: mystery models are not supported yet"
        );
        assert_eq!(e.exit_code(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
