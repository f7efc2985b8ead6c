//! `rnn gradcheck`: BPTT against central finite differences on a random f64 model.

use crate::error::{CliError, CliResult};
use clap::Args;
use rnn::nn::cell::{Activation, CellKind, CellName};
use rnn::nn::loss::OutputKind;
use rnn::testing::gradcheck::{check, Problem};
use rnn::{Model, ModelConfig};

/// Check every gradient of a random small f64 model against central finite
/// differences; prints the max relative error per tensor and exits 1 when any
/// is above 1e-6.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  rnn gradcheck --activation relu --output identity --seed 3")]
pub struct GradcheckArgs {
    /// Elman nonlinearity f: tanh, relu or sigmoid [default: tanh].
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    /// Output g: softmax (cross-entropy) or identity (squared error).
    #[arg(long, default_value = "softmax")]
    pub output: String,
    /// Cell: elman, lstm or gru.
    #[arg(long, value_enum, default_value = "elman")]
    pub cell: CellName,
    /// Stacked layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Two directions per layer.
    #[arg(long)]
    pub bidirectional: bool,
    /// Seed of the random model and data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The tolerance on the max relative error.
const TOL: f64 = 1e-6;

/// Runs the command.
pub fn run(args: &GradcheckArgs) -> CliResult {
    if args.activation.is_some() && args.cell != CellName::Elman {
        return Err(CliError::Usage(format!(
            "--activation is for the elman cell; {} has its own gates",
            CellKind::from_name(args.cell, Activation::Tanh).name()
        )));
    }
    let activation = args.activation.unwrap_or(Activation::Tanh);
    let cell = CellKind::from_name(args.cell, activation);
    let output = match args.output.as_str() {
        "softmax" => OutputKind::Softmax,
        "identity" => OutputKind::Identity,
        o => {
            return Err(CliError::Usage(format!(
                "--output {o:?}: expected softmax or identity"
            )))
        }
    };
    if !(1..=4).contains(&args.layers) {
        return Err(CliError::Usage(format!(
            "--layers {}: expected 1 to 4",
            args.layers
        )));
    }
    let config = ModelConfig {
        cell,
        input_size: 4,
        hidden_size: 5,
        num_layers: args.layers,
        bidirectional: args.bidirectional,
        output_size: 3,
        output,
        bias_hh: true,
    };
    let model = Model::<f64>::new(config.clone(), args.seed)?;
    let problem = Problem::random(&config, 6, 3, true, args.seed);
    let results = check(&model, &problem, 1e-5);
    let worst = results.iter().map(|r| r.max_rel_error).fold(0.0, f64::max);
    if args.json {
        let per: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|r| (r.name.clone(), r.max_rel_error.into()))
            .collect();
        let kinks: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|r| (r.name.clone(), r.kinks.into()))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"cell": cell.name(), "activation": activation.name(), "output": args.output,
                "max_rel_error": worst, "tolerance": TOL, "passed": worst <= TOL, "per_tensor": per,
                "kinks": kinks})
        )?;
    } else {
        outln!("{:<28} {:>14}", "tensor", "max rel error")?;
        for r in &results {
            // entries whose difference crossed a ReLU kink are left out
            let kinks = match r.kinks {
                0 => String::new(),
                n => format!("  ({n} at a ReLU kink, left out)"),
            };
            outln!("{:<28} {:>14.3e}{kinks}", r.name, r.max_rel_error)?;
        }
        outln!(
            "worst {worst:.3e} (tolerance {TOL:e}): {}",
            if worst <= TOL { "ok" } else { "FAILED" }
        )?;
    }
    if worst > TOL || !worst.is_finite() {
        return Err(CliError::Failure(format!(
            "gradient check failed: max relative error {worst:e} > {TOL:e}"
        )));
    }
    Ok(())
}
