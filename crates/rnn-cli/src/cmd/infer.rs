//! `rnn infer`: run any model's network on tensors from a file.

use crate::error::CliResult;
use clap::Args;
use rnn::interop::InferInput;
use rnn::io::model_file::ModelFile;
use std::path::PathBuf;

/// Run the recurrent network (and head) of a model on tensors, as PyTorch would.
#[derive(Args, Debug)]
#[command(
    after_help = "Input tensors: x [T,B,I] float (or ids [T,B] int64 for one-hot models), optional \
                  lengths [B] int64, h0 [L*D,B,H], c0 (LSTM).\nOutput tensors: output [T,B,D*H] (zeros past \
                  each length), h_n [L*D,B,H], c_n (LSTM), logits [T,B,O] (with a head).\nAn LSTM imported with \
                  proj_size P: h0, h_n [L*D,B,P] and output [T,B,D*P], as PyTorch's; c0, c_n [L*D,B,H].\n\nExample:\n  \
                  rnn infer --model runs/imported --input in.safetensors -o out.safetensors"
)]
pub struct InferArgs {
    /// The model directory (imported, or trained by rnn: lm, tag, forecast).
    #[arg(long)]
    pub model: PathBuf,
    /// The input tensors (.safetensors).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the output tensors (.safetensors).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Also print one JSON object on stdout: model, task, steps, batch, output (the file written) and tensors
    /// (each tensor's name and shape).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &InferArgs) -> CliResult {
    let model = rnn::io::model_inputs(&a.model);
    let mut inputs: Vec<&std::path::Path> = model.iter().map(|p| p.as_path()).collect();
    inputs.push(&a.input);
    rnn::io::refuse_output(&a.output, a.force, &inputs)?;
    let mf = ModelFile::load(&a.model)?;
    let input = InferInput::read_for(&a.input, &mf)?;
    let out = input.run_file(&mf).map_err(|e| e.of_model(&a.model))?;
    out.write(&a.output, &mf.model, input.steps, input.batch)?;
    if a.json {
        let shapes: serde_json::Map<String, serde_json::Value> = out
            .tensors(&mf.model, input.steps, input.batch)?
            .into_iter()
            .map(|(name, shape, _)| (name.to_string(), shape.into()))
            .collect();
        let j = serde_json::json!({
            "model": a.model, "task": mf.task.as_str(), "steps": input.steps, "batch": input.batch,
            "output": a.output, "tensors": shapes,
        });
        outln!("{j}")?;
    }
    logln!(
        "ran {} '{}' model on T = {}, B = {}; wrote {}",
        match mf.task.to_string().starts_with(['a', 'e', 'i', 'o', 'u']) {
            true => "an",
            false => "a",
        },
        mf.task,
        input.steps,
        input.batch,
        a.output.display()
    );
    Ok(())
}
