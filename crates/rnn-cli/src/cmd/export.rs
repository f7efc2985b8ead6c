//! `rnn export`: a model directory's network out to PyTorch or ONNX.

use crate::error::CliResult;
use clap::{Args, ValueEnum};
use rnn::interop::{export_pytorch, outside_the_network, write_onnx};
use rnn::io::model_file::ModelFile;
use std::path::PathBuf;

/// What to export to.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A state_dict (.safetensors) that `load_state_dict` accepts unchanged.
    Pytorch,
    /// An ONNX model (.onnx): inputs x (or ids), lengths, h0, c0 (LSTM), all required.
    Onnx,
}

/// Export a model's recurrent network and head.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn export --model runs/lm --format pytorch -o sd.safetensors\n  \
                  rnn export --model runs/lm --format onnx -o model.onnx\n\n\
                  In Python: model.load_state_dict(safetensors.torch.load_file(\"sd.safetensors\"))"
)]
pub struct ExportArgs {
    /// The model directory (imported, or trained by rnn).
    #[arg(long)]
    pub model: PathBuf,
    /// The target format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Also print one JSON object on stdout: model, format, output (the file written), bytes, not_exported
    /// (what the model directory holds outside the network, null when nothing).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &ExportArgs) -> CliResult {
    let model = rnn::io::model_inputs(&a.model);
    let inputs: Vec<&std::path::Path> = model.iter().map(|p| p.as_path()).collect();
    rnn::io::refuse_output(&a.output, a.force, &inputs)?;
    let mf = ModelFile::load(&a.model)?;
    match a.format {
        Format::Pytorch => export_pytorch(&mf)?.write(&a.output)?,
        // an error about the model file names the one in --model
        Format::Onnx => write_onnx(&mf, &a.output).map_err(|e| match e {
            rnn::Error::Data { path, reason }
                if path.as_os_str() == rnn::io::model_file::MODEL_FILE =>
            {
                rnn::Error::Data {
                    path: a.model.join(path),
                    reason,
                }
            }
            e => e,
        })?,
    }
    let note = outside_the_network(&mf);
    if !note.is_empty() {
        logln!("note: not in the export (outside the network): {note}");
    }
    logln!("wrote {}", a.output.display());
    if a.json {
        let bytes = std::fs::metadata(&a.output).map(|m| m.len()).ok();
        let j = serde_json::json!({
            "model": a.model, "format": a.format.to_possible_value().map(|v| v.get_name().to_string()),
            "output": a.output, "bytes": bytes, "not_exported": (!note.is_empty()).then_some(&note),
        });
        outln!("{j}")?;
    }
    Ok(())
}
