//! `rnn import`: a PyTorch state_dict (`.safetensors` or `.pt`) into a model directory.

use crate::error::CliResult;
use clap::Args;
use rnn::interop::{import_file, ImportOptions};
use rnn::io::{prepare_run_dir, OutMode};
use rnn::Activation;
use std::path::PathBuf;

/// Import a PyTorch nn.RNN / nn.LSTM (with or without proj_size) / nn.GRU
/// (+ nn.Linear head, + an nn.Embedding before it) state_dict, or a
/// checkpoint holding one.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn import model.pt --out runs/imported\n  \
                  rnn import sd.safetensors --out runs/elman --activation relu --rnn-prefix encoder.rnn --head-prefix fc\n  \
                  rnn import model.pt --out runs/imported --json   # what was imported, as one object"
)]
pub struct ImportArgs {
    /// The state_dict: `.safetensors` (safetensors.torch.save_file) or `.pt`/`.pth` (torch.save of a state_dict, or of a checkpoint dict holding one such as {"epoch": .., "model_state_dict": .., "optimizer_state_dict": ..}; zip or legacy format; read without running it).
    pub file: PathBuf,
    /// The model directory to write (model.safetensors, with the original tensor names).
    #[arg(long)]
    pub out: PathBuf,
    /// Elman's nonlinearity, which a state_dict does not store [default:
    /// tanh, as nn.RNN's, said so on stderr].
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    /// The recurrent module's prefix, when several modules have recurrent
    /// weights. With it (or --head-prefix) the tensors of modules not chosen
    /// are left out, and listed in a note on stderr.
    #[arg(long)]
    pub rnn_prefix: Option<String>,
    /// The head's prefix, when several Linear layers are left (the others are
    /// then left out, as with --rnn-prefix).
    #[arg(long)]
    pub head_prefix: Option<String>,
    /// The input embedding's prefix (an nn.Embedding before the recurrent
    /// module), when neither its shape nor its name tells it from a
    /// bias-free head (`embedding.weight` is found by its name).
    #[arg(long)]
    pub embedding_prefix: Option<String>,
    /// Replace a model or run already in --out.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of the line: model (the file written), cell, activation (Elman's, else
    /// null), layers, hidden, input, bidirectional, head (its outputs, null without one), embedding (its
    /// name, null without one), proj_size (an LSTM's projection, null without one), tensors, ignored.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &ImportArgs) -> CliResult {
    let opts = ImportOptions {
        activation: a.activation.unwrap_or(Activation::Tanh),
        rnn_prefix: a.rnn_prefix.clone(),
        head_prefix: a.head_prefix.clone(),
        embedding_prefix: a.embedding_prefix.clone(),
    };
    let imported = import_file(&a.file, &opts)?;
    let proj = imported.projection.as_ref();
    if !imported.ignored.is_empty() {
        logln!(
            "note: left out {} tensor{} of modules not chosen: {}",
            imported.ignored.len(),
            if imported.ignored.len() == 1 { "" } else { "s" },
            imported.ignored.join(", ")
        );
    }
    if let Some((p, _)) = proj {
        logln!(
            "note: the LSTM's projections (proj_size {p}) are folded into the weights that read them: `rnn infer` gives PyTorch's output and h_n [.., {p}], `rnn export` the file's tensors"
        );
    }
    if let Some(e) = &imported.embedding {
        logln!(
            "note: the embedding '{e}' is folded into the first layer's input weights: the model reads token ids (one-hot of {} classes; `rnn infer` takes them as ids [T,B] int64)",
            imported.model.config.input_size
        );
    }
    let existed = a.out.exists();
    prepare_run_dir(
        &a.out,
        if a.force {
            OutMode::Replace
        } else {
            OutMode::New
        },
    )?;
    let saved = imported.to_model_file().and_then(|f| f.save(&a.out));
    super::train::settle(Some(&a.out), existed, saved.map_err(Into::into))?;
    let c = &imported.model.config;
    let file = a.out.join(rnn::io::model_file::MODEL_FILE);
    // the file's tensors taken: the network's and head's, the embedding and the projections
    let tensors = imported.names.len()
        + usize::from(imported.embedding.is_some())
        + proj.map_or(0, |p| p.1.len());
    let activation = match c.cell {
        rnn::CellKind::Elman { activation } => {
            if a.activation.is_none() {
                logln!(
                    "note: a state_dict does not record an Elman network's nonlinearity: tanh assumed (nn.RNN's default); give --activation relu for nn.RNN(nonlinearity='relu')"
                );
            }
            Some(activation.name())
        }
        _ => None,
    };
    if a.json {
        let j = serde_json::json!({
            "model": file, "cell": c.cell.name(), "activation": activation, "layers": c.num_layers,
            "hidden": c.hidden_size, "input": c.input_size, "bidirectional": c.bidirectional,
            "head": imported.has_head.then_some(c.output_size), "embedding": imported.embedding,
            "proj_size": proj.map(|p| p.0), "tensors": tensors, "ignored": imported.ignored,
        });
        return Ok(outln!("{j}")?);
    }
    let cell = match activation {
        Some(act) => format!("elman ({act})"),
        None => c.cell.name().to_string(),
    };
    outln!(
        "imported {} {} layer(s) x {} hidden{}{}, input {}, {}; {} tensors -> {}",
        cell,
        c.num_layers,
        c.hidden_size,
        proj.map_or(String::new(), |p| format!(" projected to {}", p.0)),
        if c.bidirectional {
            ", bidirectional"
        } else {
            ""
        },
        c.input_size,
        if imported.has_head {
            format!("head {}", c.output_size)
        } else {
            "no head".into()
        },
        tensors,
        file.display()
    )?;
    Ok(())
}
