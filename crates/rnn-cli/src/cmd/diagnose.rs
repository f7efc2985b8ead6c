//! `rnn diagnose`: the gradient flow of a trained language model on a text.

use crate::error::CliResult;
use clap::Args;
use rnn::tasks::lm::{Corpus, LanguageModel};
use std::path::PathBuf;

/// Show how far back BPTT carries the error, per layer: the last step's error at each step back, the spectral radius of ds_t/ds_{t-1}, saturated units, gradient norms.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rnn diagnose --model runs/shakespeare --data tinyshakespeare.txt --json"
)]
pub struct DiagnoseArgs {
    /// The model directory (a language model).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to measure on (8 windows of 100 characters spread over it).
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object (the library's `Flow`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &DiagnoseArgs) -> CliResult {
    let lm = LanguageModel::load(&a.model)?; // language models only, for now
    let flow = lm.diagnose(&Corpus::read(&a.data)?.text, &a.data.display().to_string())?;
    if a.json {
        println!("{}", serde_json::to_value(&flow).unwrap_or_default());
        return Ok(());
    }
    println!(
        "T = {} steps; the error of the last step, carried back:",
        flow.steps
    );
    for l in &flow.layers {
        let reach = l.reach.map_or(format!("beyond {} steps", flow.steps), |r| {
            format!("{r} steps")
        });
        let g = &l.grad_norm_by_step;
        println!(
            "layer {} direction {}: |dE_T/ds_t| {:.3e} at T, {:.3e} at t = 0; falls below 1e-3 of it after {reach}; spectral radius {:.4}; saturated {:.1}%",
            l.layer,
            l.direction,
            g[g.len() - 1],
            g[0],
            l.spectral_radius,
            100.0 * l.saturated
        );
    }
    for (name, n) in &flow.grad_norms {
        println!("|dE/d {name}| = {n:.4e}");
    }
    Ok(())
}
