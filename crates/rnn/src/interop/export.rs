//! Out to PyTorch: a model directory's network and head as a `state_dict`
//! that `load_state_dict` accepts unchanged.

use crate::interop::import::{HAS_HEAD_KEY, NAMES_KEY, UNFOLDED_PREFIX};
use crate::io::model_file::{ModelFile, Task};
use crate::io::TensorWriter;
use crate::nn::cell::{Activation, CellKind};
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Metadata key of an export: what the model directory holds outside the
/// network and head, which the export does not carry.
pub const NOT_EXPORTED_KEY: &str = "not_exported";

/// What a model of `task` keeps outside its recurrent network and head
/// (empty when nothing).
pub fn outside_the_network(mf: &ModelFile) -> String {
    let mut parts: Vec<String> = match mf.task {
        Task::Tag => vec!["the tagger's input features (word, affix, shape, n-gram and character embeddings, lexicon) and its CRF transitions, if any".into()],
        Task::Forecast => vec!["the forecaster's transform, differencing and normalisation of the series, the base forecast (AR, naive or local level) the network corrects, and the ARMA model its forecasts are averaged with, if any".into()],
        Task::Classify => vec!["the classifier's input normalisation, frame grouping and class names, and its pooling over time (the head reads the pooled outputs, not each step's)".into()],
        _ => Vec::new(),
    };
    // a forecaster's ensemble: the other networks are member-1/, member-2/, ...
    let ensemble = (mf.task == Task::Forecast)
        .then(|| mf.meta.get(crate::tasks::forecast::META_KEY))
        .flatten()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|m| m["ensemble"].as_u64())
        .unwrap_or(1);
    if ensemble > 1 {
        parts.push(format!(
            "the ensemble's other {} (member-1{}/model.safetensors beside this one: export each with --model DIR/member-K)",
            match ensemble {
                2 => "network".to_string(),
                e => format!("{} networks", e - 1),
            },
            if ensemble > 2 { format!(" to member-{}", ensemble - 1) } else { String::new() }
        ));
    }
    // an imported embedding and the input weights it was folded into are
    // written back as the file had them
    let names: Vec<&str> = mf
        .extra
        .keys()
        .map(String::as_str)
        .filter(|n| !n.starts_with(UNFOLDED_PREFIX))
        .collect();
    if !names.is_empty() {
        parts.push(format!("tensors {}", names.join(", ")));
    }
    parts.join("; ")
}

/// The state_dict of a model directory: the network's and head's tensors
/// (float32) under the names it was imported with, or PyTorch's `rnn.*` /
/// `head.*` for a model trained here, so it loads into `nn.RNN`/`nn.LSTM`/
/// `nn.GRU` + `nn.Linear`. A sigmoid Elman model, which `nn.RNN` cannot
/// express, is refused. Metadata `not_exported` names what the directory
/// holds outside the network (a tagger's features, a forecaster's scaling).
pub fn export_pytorch(mf: &ModelFile) -> Result<TensorWriter> {
    mf.model.check_model_named()?;
    if mf.model.config.cell
        == (CellKind::Elman {
            activation: Activation::Sigmoid,
        })
    {
        return Err(Error::Value {
            what: "model cell".into(),
            value: "elman with sigmoid".into(),
            expected:
                "tanh or relu: nn.RNN has no sigmoid nonlinearity (ONNX export can express it)"
                    .into(),
        });
    }
    let names: Option<BTreeMap<String, String>> = match mf.meta.get(NAMES_KEY) {
        Some(s) => Some(serde_json::from_str(s).map_err(|e| Error::Metadata {
            path: crate::io::model_file::MODEL_FILE.into(),
            key: NAMES_KEY.into(),
            value: s.clone(),
            expected: format!("a JSON object of names ({e})"),
        })?),
        None => None,
    };
    let has_head = mf.meta.get(HAS_HEAD_KEY).map(String::as_str) != Some("false");
    let mut w = TensorWriter::new();
    for e in &mf.model.layout {
        let name = match &names {
            // an imported model: only the tensors the file had, under its names
            Some(map) => match map.get(&e.name) {
                Some(n) => n.clone(),
                None => continue,
            },
            None if e.name.starts_with("head.") && !has_head => continue,
            None => e.name.clone(),
        };
        // the file's [G*H, I] input weights, not their fold [G*H, V]: below
        if mf.extra.contains_key(&format!("{UNFOLDED_PREFIX}{name}")) {
            continue;
        }
        w.add::<f32>(name, &e.shape, &mf.model.params[e.range()]);
    }
    // what an embedding's fold replaced: the embedding and the input weights
    for (name, (shape, data)) in &mf.extra {
        if let Some(name) = name.strip_prefix(UNFOLDED_PREFIX) {
            w.add::<f32>(name.to_string(), shape, data);
        }
    }
    let outside = outside_the_network(mf);
    if !outside.is_empty() {
        w.meta(NOT_EXPORTED_KEY, outside);
    }
    w.meta("source_task", mf.task.as_str());
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, ModelConfig};

    /// A forecaster's other ensemble networks live in `member-K/`: the note
    /// names them (an export of `--ensemble 2` said nothing of the second).
    #[test]
    fn a_forecasters_other_networks_are_named_as_left_out() {
        let mut mf = ModelFile {
            task: Task::Forecast,
            model: Model::new(ModelConfig::elman(2, 3, 1), 1).unwrap(),
            extra: BTreeMap::new(),
            meta: BTreeMap::new(),
        };
        let note = |mf: &ModelFile| outside_the_network(mf);
        assert!(!note(&mf).contains("ensemble"), "{}", note(&mf));
        mf.meta
            .insert("forecast".into(), r#"{"ensemble": 1}"#.into());
        assert!(!note(&mf).contains("ensemble"), "{}", note(&mf));
        mf.meta
            .insert("forecast".into(), r#"{"ensemble": 2}"#.into());
        assert!(
            note(&mf).contains("the ensemble's other network (member-1/model.safetensors"),
            "{}",
            note(&mf)
        );
        mf.meta
            .insert("forecast".into(), r#"{"ensemble": 5}"#.into());
        assert!(
            note(&mf).contains("other 4 networks (member-1 to member-4/model.safetensors"),
            "{}",
            note(&mf)
        );
    }
}
