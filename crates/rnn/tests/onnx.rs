//! ONNX exports run by a pure-Rust ONNX runtime (tract) reproduce the
//! library's own inference (`rnn infer`) within 1e-4: the three PyTorch
//! fixtures (2-layer bidirectional LSTM, GRU, 2-layer relu Elman), Elman
//! models of every activation, a model without `bias_hh`, and a language
//! model trained here (class ids in).
//!
//! tract runs the `RNN`/`GRU`/`LSTM` operators only with constant, uniform
//! `sequence_lens` equal to `T`, so here every sequence has length `T` (the
//! input `lengths` is declared constant); the variable-length cases are
//! checked with onnxruntime by `tools/onnx_check/check.py`. tract's `RNN`
//! parser also ignores the `activations` attribute (it always computes
//! tanh), so these tests register a parser that builds tract's own `RNN`
//! body with the activation the attribute names.

use rnn::interop::onnx::export_onnx;
use rnn::interop::{import_state_dict, read_state_dict, ImportOptions, InferInput};
use rnn::io::model_file::{ModelFile, Task};
use rnn::io::TensorFile;
use rnn::{Activation, CellKind, Model, ModelConfig, State};
use std::path::{Path, PathBuf};
use tract_onnx::model::ParsingContext;
use tract_onnx::ops::rec::{common::CommonRec, rnn::RNN};
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, expand, InferenceOp, TypedOp};
use tract_onnx::tract_hir::tract_core::ops::{math, nn};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(name)
}

/// tract's `RNN` with the activation named by the node's `activations`
/// attribute (tract's own parser always uses tanh).
fn rnn_with_activations(
    _: &ParsingContext,
    pb: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let names: Vec<String> = pb
        .get_attr_opt_vec("activations")?
        .unwrap_or_else(|| vec!["Tanh".to_string()]);
    let op = |name: &str| -> TractResult<Box<dyn TypedOp>> {
        Ok(match name {
            "Tanh" => Box::new(math::tanh()),
            "Sigmoid" => Box::new(nn::sigmoid()),
            "Relu" => Box::new(nn::leaky_relu(0.0)),
            other => bail!("activation {other}"),
        })
    };
    // tract builds both directions from `fore`: the directions must agree
    if names.iter().any(|n| n != &names[0]) {
        bail!("different activations per direction: {names:?}");
    }
    let body = RNN {
        fore: op(&names[0])?,
        back: op(&names[0])?,
    };
    let common = CommonRec::from_node_and_options(pb, 3, 0, Box::new(body))?;
    Ok((expand(common), vec![]))
}

/// The inputs of one run: `x` `[T, B, I]` or `ids` `[T, B]`, and the
/// initial state.
struct Case {
    steps: usize,
    batch: usize,
    x: Vec<f32>,
    ids: Vec<usize>,
    state: State<f32>,
}

/// One output of the ONNX model: shape and values.
type Out = (Vec<usize>, Vec<f32>);

/// Runs the ONNX export `bytes` of `model` with tract, every length `T`.
/// Returns the outputs in the graph's order: output, h_n, [c_n], [logits].
fn run_tract(bytes: &[u8], model: &Model<f32>, case: &Case) -> Vec<Out> {
    let cfg = &model.config;
    let (t, b) = (case.steps, case.batch);
    let ld = cfg.num_layers * cfg.directions();
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("RNN", rnn_with_activations);
    let mut m = onnx.model_for_read(&mut &bytes[..]).unwrap();
    let first: Tensor = if case.ids.is_empty() {
        Tensor::from_shape(&[t, b, cfg.input_size], &case.x).unwrap()
    } else {
        let ids: Vec<i64> = case.ids.iter().map(|&i| i as i64).collect();
        Tensor::from_shape(&[t, b], &ids).unwrap()
    };
    let lengths = Tensor::from_shape(&[b], &vec![t as i64; b]).unwrap();
    let mut inputs = vec![first, lengths];
    inputs.push(Tensor::from_shape(&[ld, b, cfg.hidden_size], &case.state.h).unwrap());
    if cfg.cell.has_memory() {
        inputs.push(Tensor::from_shape(&[ld, b, cfg.hidden_size], &case.state.c).unwrap());
    }
    for (i, v) in inputs.iter().enumerate() {
        let fact = if i == 1 {
            // tract needs sequence_lens known (and uniform) when it plans
            InferenceFact::from(v.clone())
        } else {
            InferenceFact::dt_shape(v.datum_type(), v.shape())
        };
        m.set_input_fact(i, fact).unwrap();
    }
    let plan = m.into_optimized().unwrap().into_runnable().unwrap();
    let outs = plan
        .run(inputs.into_iter().map(|t| t.into_tvalue()).collect())
        .unwrap();
    outs.iter()
        .map(|o| {
            let v = o.to_plain_array_view::<f32>().unwrap();
            (v.shape().to_vec(), v.iter().copied().collect())
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
}

/// Exports `mf`, runs it with tract and with the library's inference (all
/// lengths `T`), and returns the largest difference over every output.
fn compare(what: &str, mf: &ModelFile, case: &Case) -> f64 {
    let bytes = export_onnx(mf).unwrap();
    let model = &mf.model;
    let cfg = &model.config;
    let got = run_tract(&bytes, model, case);
    let want = InferInput {
        steps: case.steps,
        batch: case.batch,
        x: case.x.clone(),
        ids: case.ids.clone(),
        lengths: None,
        state: Some(case.state.clone()),
    }
    .run(model, true)
    .unwrap();
    let (t, b, h) = (case.steps, case.batch, cfg.hidden_size);
    let ld = cfg.num_layers * cfg.directions();
    let mut expected: Vec<(&str, Vec<usize>, &[f32])> = vec![
        ("output", vec![t, b, cfg.directions() * h], &want.output),
        ("h_n", vec![ld, b, h], &want.state.h),
    ];
    if cfg.cell.has_memory() {
        expected.push(("c_n", vec![ld, b, h], &want.state.c));
    }
    let logits = want.logits.unwrap();
    let has_head = mf.meta.get("has_head").map(String::as_str) != Some("false");
    if has_head {
        expected.push(("logits", vec![t, b, cfg.output_size], &logits));
    }
    assert_eq!(got.len(), expected.len(), "{what}: number of outputs");
    let mut worst = 0.0f64;
    for ((name, shape, want), (gshape, gval)) in expected.iter().zip(&got) {
        assert_eq!(gshape, shape, "{what}: shape of {name}");
        let d = max_diff(gval, want);
        assert!(d < 1e-4, "{what}: {name} differs by {d:e}");
        worst = worst.max(d);
    }
    eprintln!("{what}: max |onnx - infer| = {worst:.2e}");
    worst
}

fn imported(name: &str, activation: Activation) -> ModelFile {
    let path = fixture(&format!("{name}.safetensors"));
    let opts = ImportOptions {
        activation,
        ..Default::default()
    };
    import_state_dict(&read_state_dict(&path).unwrap(), name, &opts)
        .unwrap()
        .to_model_file()
        .unwrap()
}

/// `t` steps of `b` class ids spread over the model's classes, and random
/// initial states (a memory for the LSTM).
fn ids_case(mf: &ModelFile, t: usize, b: usize) -> Case {
    let cfg = &mf.model.config;
    let v = cfg.input_size;
    let ld = cfg.num_layers * cfg.directions() * b * cfg.hidden_size;
    Case {
        steps: t,
        batch: b,
        x: Vec::new(),
        ids: (0..t * b).map(|i| (i * 5 + 3) % v).collect(),
        state: State {
            h: values(ld, 1),
            c: if cfg.cell.has_memory() {
                values(ld, 2)
            } else {
                Vec::new()
            },
        },
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn the_pytorch_fixtures_run_in_onnx_as_in_infer() {
    for (name, act) in [
        ("lstm_2layer_bidir", Activation::Tanh),
        ("gru_1layer", Activation::Tanh),
        ("elman_relu_2layer", Activation::Relu),
    ] {
        let mf = imported(name, act);
        let inp =
            InferInput::read(&fixture(&format!("{name}.input.safetensors")), &mf.model).unwrap();
        let case = Case {
            steps: inp.steps,
            batch: inp.batch,
            x: inp.x,
            ids: Vec::new(),
            state: inp.state.unwrap(),
        };
        compare(name, &mf, &case);
    }
}

#[test]
fn the_gru_fixture_in_onnx_matches_pytorch() {
    // its lengths are all T, so PyTorch's outputs are the reference as they are
    let mf = imported("gru_1layer", Activation::Tanh);
    let inp = InferInput::read(&fixture("gru_1layer.input.safetensors"), &mf.model).unwrap();
    assert!(inp
        .lengths
        .as_ref()
        .unwrap()
        .iter()
        .all(|&l| l == inp.steps));
    let case = Case {
        steps: inp.steps,
        batch: inp.batch,
        x: inp.x,
        ids: Vec::new(),
        state: inp.state.unwrap(),
    };
    let got = run_tract(&export_onnx(&mf).unwrap(), &mf.model, &case);
    let want = TensorFile::read(fixture("gru_1layer.expected.safetensors")).unwrap();
    for (i, name) in ["output", "h_n", "logits"].iter().enumerate() {
        let w: Vec<f32> = want
            .f64(name)
            .unwrap()
            .data
            .iter()
            .map(|&v| v as f32)
            .collect();
        let d = max_diff(&got[i].1, &w);
        assert!(d < 1e-4, "{name}: {d:e}");
    }
}

#[test]
fn every_elman_activation_and_a_single_bias_export() {
    let elman = |activation| CellKind::Elman { activation };
    let cases = [
        ("elman tanh", elman(Activation::Tanh), 1, false, true),
        ("elman relu bidir", elman(Activation::Relu), 2, true, true),
        (
            "elman sigmoid 2-layer",
            elman(Activation::Sigmoid),
            2,
            false,
            true,
        ),
        ("lstm bidir, no bias_hh", CellKind::Lstm, 1, true, false),
        (
            "gru 2-layer bidir, no bias_hh",
            CellKind::Gru,
            2,
            true,
            false,
        ),
    ];
    for (i, (what, cell, layers, bidir, bias_hh)) in cases.into_iter().enumerate() {
        let cfg = ModelConfig {
            cell,
            num_layers: layers,
            bidirectional: bidir,
            bias_hh,
            ..ModelConfig::elman(3, 5, 4)
        };
        let model = Model::new(cfg.clone(), i as u64).unwrap();
        let (t, b) = (6, 3);
        let ld = layers * cfg.directions() * b * 5;
        let case = Case {
            steps: t,
            batch: b,
            x: values(t * b * 3, 10 + i as u64),
            ids: Vec::new(),
            state: State {
                h: values(ld, 20 + i as u64),
                c: if cell.has_memory() {
                    values(ld, 30 + i as u64)
                } else {
                    Vec::new()
                },
            },
        };
        let mf = ModelFile {
            task: Task::Forecast,
            model,
            extra: Default::default(),
            meta: Default::default(),
        };
        compare(what, &mf, &case);
    }
}

#[test]
fn a_language_model_trained_here_exports_with_ids_in() {
    use rnn::tasks::lm::{Corpus, TrainConfig, Trainer};
    use rnn::tasks::Budget;
    let dir = std::env::temp_dir().join(format!("rnn-onnx-lm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text: String = "the cat sat on the mat. the dog ran. ".repeat(40);
    let cfg = TrainConfig {
        hidden: 10,
        layers: 2,
        cell: rnn::nn::cell::CellName::Lstm,
        seq_len: 8,
        batch: 4,
        eval_every: 5,
        ..TrainConfig::default()
    };
    let mut tr = Trainer::new(cfg, &Corpus::new("t.txt", text), &dir).unwrap();
    tr.fit(Budget::Steps(10), &mut ()).unwrap();
    let mf = ModelFile::load(&dir).unwrap();
    assert_eq!(mf.task, Task::Lm);
    compare("lm (ids)", &mf, &ids_case(&mf, 7, 2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_imported_embedding_exports_with_ids_in() {
    // embedding_gru: nn.Embedding(9, 4) folded into a 2-layer bidirectional
    // GRU's input weights on import; the export reads ids as the model does
    let mf = imported("embedding_gru", Activation::Tanh);
    assert!(rnn::interop::onnx::takes_ids(&mf));
    assert_eq!(mf.model.config.input_size, 9);
    compare("imported embedding (ids)", &mf, &ids_case(&mf, 5, 3));
}
