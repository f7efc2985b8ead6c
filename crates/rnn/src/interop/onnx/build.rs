//! The whole graph: inputs, the one-hot of class ids, the layers, the mask of
//! valid positions, the head, the outputs and the model's metadata.

use super::graph::{Attr, Dim, Elem, Graph};
use super::proto::tensor_proto::DataType;
use super::proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto};
use super::recurrent::{layer, LayerIn};
use super::{takes_ids, IR_VERSION, OPSET};
use crate::interop::export::{outside_the_network, NOT_EXPORTED_KEY};
use crate::interop::import::HAS_HEAD_KEY;
use crate::io::model_file::ModelFile;
use crate::Result;

const T: Dim = Dim::Named("T");
const B: Dim = Dim::Named("B");

/// The ONNX model of `mf`'s network and head.
pub(super) fn model_proto(mf: &ModelFile) -> Result<ModelProto> {
    let model = &mf.model;
    model.check_model_named()?;
    // ONNX's LSTM has no projection: its Y and Y_h would be the
    // unprojected m, not PyTorch's h (a graph would need a MatMul per
    // direction and layer between LSTM nodes)
    if mf.meta.contains_key(crate::interop::PROJECTION_KEY) {
        return Err(crate::Error::Data {
            path: crate::io::model_file::MODEL_FILE.into(),
            reason: "an LSTM imported with proj_size cannot be written as ONNX, whose LSTM operator has no projection (`rnn export --format pytorch` and `rnn infer` take it)".into(),
        });
    }
    let cfg = &model.config;
    let (h, nd, nl) = (cfg.hidden_size, cfg.directions(), cfg.num_layers);
    let state = [Dim::Fixed(nl * nd), B, Dim::Fixed(h)];
    let mut g = Graph::default();

    // inputs
    let ids = takes_ids(mf);
    let x = if ids {
        g.input("ids", Elem::I64, &[T, B]);
        // [T, B] class ids -> [T, B, I] one-hot rows
        let depth = g.i64("onehot.depth", &[], &[cfg.input_size as i64]);
        let values = g.f32("onehot.values", &[2], &[0.0, 1.0]);
        g.node("OneHot", &["ids", &depth, &values], &["x"], vec![]);
        "ids"
    } else {
        g.input("x", Elem::F32, &[T, B, Dim::Fixed(cfg.input_size)]);
        "x"
    };
    g.input("lengths", Elem::I64, &[B]);
    g.input("h0", Elem::F32, &state);
    let mem = cfg.cell.has_memory();
    if mem {
        g.input("c0", Elem::F32, &state);
    }
    g.node(
        "Cast",
        &["lengths"],
        &["sequence_lens"],
        vec![("to", Attr::Int(DataType::Int32 as i64))],
    );

    // the layers
    let mut feed = "x".to_string();
    let (mut hs, mut cs) = (Vec::new(), Vec::new());
    for k in 0..nl {
        let inp = LayerIn {
            x: &feed,
            seq_lens: "sequence_lens",
            h0: "h0",
            c0: mem.then_some("c0"),
        };
        let out = layer(&mut g, model, k, &inp)?;
        feed = out.y;
        hs.push(out.h);
        cs.extend(out.c);
    }

    // valid[t, b] = t < lengths[b], as [T, B, 1] floats
    let shape = "in.shape";
    g.node("Shape", &[x], &[shape], vec![]);
    let zero = g.i64("const.zero", &[], &[0]);
    let one = g.i64("const.one", &[], &[1]);
    g.node(
        "Gather",
        &[shape, &zero],
        &["in.T"],
        vec![("axis", Attr::Int(0))],
    );
    g.node("Range", &[&zero, "in.T", &one], &["mask.steps"], vec![]);
    let ax1 = g.i64("const.axis1", &[1], &[1]);
    let ax2 = g.i64("const.axis2", &[1], &[2]);
    g.node(
        "Unsqueeze",
        &["mask.steps", &ax1],
        &["mask.steps_t"],
        vec![],
    );
    g.node("Less", &["mask.steps_t", "lengths"], &["mask.bool"], vec![]);
    let to_f = vec![("to", Attr::Int(DataType::Float as i64))];
    g.node("Cast", &["mask.bool"], &["mask.float"], to_f);
    g.node("Unsqueeze", &["mask.float", &ax2], &["mask"], vec![]);

    // outputs: zeros past each length, as pad_packed_sequence
    let dh = Dim::Fixed(nd * h);
    g.node("Mul", &[&feed, "mask"], &["output"], vec![]);
    g.output("output", Elem::F32, &[T, B, dh]);
    let concat = |g: &mut Graph, parts: &[String], name: &str| {
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        g.node("Concat", &parts, &[name], vec![("axis", Attr::Int(0))]);
        g.output(name, Elem::F32, &state);
    };
    concat(&mut g, &hs, "h_n");
    if mem {
        concat(&mut g, &cs, "c_n");
    }
    let has_head = mf.meta.get(HAS_HEAD_KEY).map(String::as_str) != Some("false");
    if has_head {
        // logits = output V^T + c   [T, B, D*H] x [D*H, O]
        let (v, c) = model.head();
        let (o, dhn) = (cfg.output_size, nd * h);
        let mut vt = vec![0.0; dhn * o];
        for (i, row) in v.chunks_exact(dhn).enumerate() {
            for (j, &val) in row.iter().enumerate() {
                vt[j * o + i] = val;
            }
        }
        let vt = g.f32("head.weight_t", &[dhn, o], &vt);
        let c = g.f32("head.bias", &[o], c);
        g.node("MatMul", &["output", &vt], &["head.product"], vec![]);
        g.node("Add", &["head.product", &c], &["head.affine"], vec![]);
        g.node("Mul", &["head.affine", "mask"], &["logits"], vec![]);
        g.output("logits", Elem::F32, &[T, B, Dim::Fixed(o)]);
    }

    let doc = doc_string(mf, ids, has_head);
    let mut meta = vec![("source_task".to_string(), mf.task.to_string())];
    let outside = outside_the_network(mf);
    if !outside.is_empty() {
        meta.push((NOT_EXPORTED_KEY.to_string(), outside));
    }
    if let Some(v) = mf.meta.get("vocab").filter(|_| ids) {
        // a language model's characters, in id order (a JSON string)
        meta.push(("vocab".to_string(), v.clone()));
    }
    Ok(ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("rnn".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(doc.clone()),
        graph: Some(g.build("rnn", doc)),
        metadata_props: meta
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k),
                value: Some(v),
            })
            .collect(),
        ..Default::default()
    })
}

/// What the model takes and gives, for people reading the file.
fn doc_string(mf: &ModelFile, ids: bool, has_head: bool) -> String {
    let cfg = &mf.model.config;
    let (nd, h) = (cfg.directions(), cfg.hidden_size);
    let state = format!("[{}, B, {h}]", cfg.num_layers * nd);
    let mut s = format!(
        "{} {} layer(s), {} direction(s), hidden {h}, exported by rnn. Inputs (all required): ",
        cfg.cell.name(),
        cfg.num_layers,
        nd
    );
    s += &if ids {
        format!("ids [T, B] int64 class ids in 0..{}", cfg.input_size)
    } else {
        format!("x [T, B, {}] float32", cfg.input_size)
    };
    s += &format!(
        "; lengths [B] int64, each in 1..=T (all T for unpadded batches); h0 {state} float32 (zeros for PyTorch's default)"
    );
    if cfg.cell.has_memory() {
        s += &format!("; c0 {state} float32");
    }
    s += &format!(
        ". Outputs: output [T, B, {}] (zeros past each length); h_n {state} (each sequence's state at its own end)",
        nd * h
    );
    if cfg.cell.has_memory() {
        s += "; c_n";
    }
    if has_head {
        s += &format!(
            "; logits [T, B, {}] (zeros past each length)",
            cfg.output_size
        );
    }
    s + "."
}
