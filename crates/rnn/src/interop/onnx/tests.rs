//! The exported protobuf read back: inputs and outputs by name, type and
//! shape, the recurrent nodes' attributes, and the metadata. (The numbers
//! are checked by running the exports: tests/onnx.rs, tools/onnx_check.)

use super::export_onnx;
use super::proto::tensor_shape_proto::dimension::Value;
use super::proto::{type_proto, GraphProto, ModelProto, NodeProto, ValueInfoProto};
use crate::interop::import::HAS_HEAD_KEY;
use crate::io::model_file::{ModelFile, Task};
use crate::{Activation, CellKind, Model, ModelConfig};
use prost::Message;

fn exported(task: Task, cfg: ModelConfig, meta: &[(&str, &str)]) -> ModelProto {
    let mf = ModelFile {
        task,
        model: Model::new(cfg, 1).unwrap(),
        extra: Default::default(),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    ModelProto::decode(export_onnx(&mf).unwrap().as_slice()).unwrap()
}

/// `name: elem [dims]` with named dimensions by name.
fn describe(v: &ValueInfoProto) -> String {
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.clone())
    else {
        panic!("{v:?}")
    };
    let dims: Vec<String> = t
        .shape
        .unwrap()
        .dim
        .iter()
        .map(|d| match d.value.clone().unwrap() {
            Value::DimValue(n) => n.to_string(),
            Value::DimParam(s) => s,
        })
        .collect();
    let elem = match t.elem_type.unwrap() {
        1 => "f32",
        7 => "i64",
        e => panic!("type {e}"),
    };
    format!("{}: {elem} [{}]", v.name.clone().unwrap(), dims.join(", "))
}

fn signature(g: &GraphProto) -> (Vec<String>, Vec<String>) {
    (
        g.input.iter().map(describe).collect(),
        g.output.iter().map(describe).collect(),
    )
}

fn recurrent(g: &GraphProto) -> Vec<&NodeProto> {
    g.node
        .iter()
        .filter(|n| matches!(n.op_type.as_deref(), Some("RNN" | "GRU" | "LSTM")))
        .collect()
}

fn attr_str(n: &NodeProto, name: &str) -> Vec<String> {
    let a = n
        .attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no attribute {name}"));
    let bytes: Vec<Vec<u8>> = match &a.s {
        Some(s) => vec![s.clone()],
        None => a.strings.clone(),
    };
    bytes
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

fn meta(m: &ModelProto, key: &str) -> Option<String> {
    m.metadata_props
        .iter()
        .find(|p| p.key.as_deref() == Some(key))
        .and_then(|p| p.value.clone())
}

#[test]
fn an_lstm_language_model_takes_ids_and_all_states() {
    let cfg = ModelConfig {
        cell: CellKind::Lstm,
        num_layers: 2,
        ..ModelConfig::elman(7, 5, 7)
    };
    let m = exported(Task::Lm, cfg, &[("vocab", "\"abcdefg\"")]);
    assert_eq!(
        (m.ir_version, m.opset_import[0].version),
        (Some(7), Some(14))
    );
    let g = m.graph.as_ref().unwrap();
    let (ins, outs) = signature(g);
    assert_eq!(
        ins,
        [
            "ids: i64 [T, B]",
            "lengths: i64 [B]",
            "h0: f32 [2, B, 5]",
            "c0: f32 [2, B, 5]"
        ]
    );
    assert_eq!(
        outs,
        [
            "output: f32 [T, B, 5]",
            "h_n: f32 [2, B, 5]",
            "c_n: f32 [2, B, 5]",
            "logits: f32 [T, B, 7]"
        ]
    );
    let nodes = recurrent(g);
    assert_eq!(nodes.len(), 2, "one node per layer");
    assert_eq!(attr_str(nodes[1], "direction"), ["forward"]);
    // X, W, R, B, sequence_lens, initial_h, initial_c
    assert_eq!(nodes[1].input.len(), 7);
    assert_eq!(nodes[1].input[4], "sequence_lens");
    assert_eq!(meta(&m, "vocab").as_deref(), Some("\"abcdefg\""));
    assert_eq!(meta(&m, "source_task").as_deref(), Some("lm"));
    assert_eq!(meta(&m, "not_exported"), None);
}

#[test]
fn a_bidirectional_relu_elman_names_its_activation_per_direction() {
    let cfg = ModelConfig {
        cell: CellKind::Elman {
            activation: Activation::Relu,
        },
        bidirectional: true,
        ..ModelConfig::elman(3, 4, 2)
    };
    let m = exported(Task::Forecast, cfg, &[]);
    let g = m.graph.as_ref().unwrap();
    let n = recurrent(g)[0];
    assert_eq!(n.op_type.as_deref(), Some("RNN"));
    assert_eq!(attr_str(n, "activations"), ["Relu", "Relu"]);
    assert_eq!(attr_str(n, "direction"), ["bidirectional"]);
    assert_eq!(signature(g).0[0], "x: f32 [T, B, 3]");
    // a forecaster's scaling lives outside the network: named, not dropped
    let note = meta(&m, "not_exported").unwrap();
    assert!(note.contains("forecaster's transform"), "{note}");
}

#[test]
fn a_gru_resets_after_the_product_and_a_headless_import_has_no_logits() {
    let cfg = ModelConfig {
        cell: CellKind::Gru,
        ..ModelConfig::elman(3, 4, 2)
    };
    let m = exported(Task::Imported, cfg, &[(HAS_HEAD_KEY, "false")]);
    let g = m.graph.as_ref().unwrap();
    let n = recurrent(g)[0];
    let lbr = n
        .attribute
        .iter()
        .find(|a| a.name.as_deref() == Some("linear_before_reset"))
        .unwrap();
    assert_eq!(lbr.i, Some(1));
    let (ins, outs) = signature(g);
    assert_eq!(ins.len(), 3, "x, lengths, h0: {ins:?}");
    assert_eq!(outs, ["output: f32 [T, B, 4]", "h_n: f32 [1, B, 4]"]);
}
