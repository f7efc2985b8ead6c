//! `rnn eval`: scores a trained model on data; dispatches on the model's task.

use crate::error::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;

/// Evaluate a trained model on a data file. What is measured depends on the
/// model's task: language models report loss in nats/char, bits/char and
/// perplexity; forecasters RMSE, MAE and MASE against naive baselines;
/// taggers token accuracy and entity precision, recall and F1 (conlleval).
#[derive(Args, Debug)]
#[command(after_help = super::forecast::EVAL_HELP)]
pub struct EvalArgs {
    /// The model directory (holding model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// The data file.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// forecast: score the last N rows (default: the model's --test).
    #[arg(long)]
    pub test: Option<usize>,
    /// forecast: season of the seasonal-naive baseline and MASE (default: stored with the model).
    #[arg(long)]
    pub season: Option<usize>,
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> CliResult {
    let mf = rnn::checkpoint::ModelFile::load(&args.model)?;
    match mf.task.as_str() {
        "forecast" => super::forecast::eval_forecast(args),
        "tag" => super::tag::eval_tag(&args.model, &args.data, args.json),
        "lm" => super::lm::eval(&args.model, mf, &args.data, args.json),
        task => Err(CliError::Usage(format!(
            "rnn eval: {task} models are not supported yet"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnn::checkpoint::ModelFile;
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
            model: dir.clone(),
            data: dir.join("none.txt"),
            json: false,
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
