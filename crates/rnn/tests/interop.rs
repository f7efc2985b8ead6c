//! PyTorch state_dicts in: both file forms of each fixture (saved by PyTorch
//! 2.15 under the user's own module names) import to the same model, and
//! `InferInput::run` reproduces PyTorch's float32 outputs within 1e-5.

use rnn::interop::{import_state_dict, read_state_dict, ImportOptions, InferInput};
use rnn::io::TensorFile;
use rnn::Activation;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(name)
}

fn info(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap())
        .unwrap()
}

fn options(name: &str) -> ImportOptions {
    let act = match info(name)["activation"].as_str() {
        Some("relu") => Activation::Relu,
        _ => Activation::Tanh,
    };
    ImportOptions {
        activation: act,
        ..Default::default()
    }
}

/// max |got - want| over the positions `keep` allows, [T, B, W] layout.
fn max_err(got: &[f32], want: &[f64], keep: impl Fn(usize) -> bool) -> f64 {
    assert_eq!(got.len(), want.len());
    (0..got.len())
        .filter(|&i| keep(i))
        .map(|i| (got[i] as f64 - want[i]).abs())
        .fold(0.0, f64::max)
}

#[test]
fn both_file_forms_import_and_match_pytorch() {
    for name in ["lstm_2layer_bidir", "gru_1layer", "elman_relu_2layer"] {
        let meta = info(name);
        let mut models = Vec::new();
        for ext in ["safetensors", "pt"] {
            let path = fixture(&format!("{name}.{ext}"));
            let sd = read_state_dict(&path).unwrap();
            let imp = import_state_dict(&sd, &path.display().to_string(), &options(name)).unwrap();
            let cfg = &imp.model.config;
            assert_eq!(
                cfg.hidden_size as u64,
                meta["hidden"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                cfg.num_layers as u64,
                meta["layers"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                cfg.bidirectional,
                meta["bidirectional"].as_bool().unwrap(),
                "{name}"
            );
            assert_eq!(
                cfg.cell.name(),
                if meta["cell"] == "rnn" {
                    "elman"
                } else {
                    meta["cell"].as_str().unwrap()
                }
            );
            let rnn_prefix = meta["rnn_prefix"].as_str().unwrap();
            assert_eq!(
                imp.names["rnn.weight_ih_l0"],
                format!("{rnn_prefix}.weight_ih_l0")
            );
            assert_eq!(
                imp.names["head.weight"],
                format!("{}.weight", meta["head_prefix"].as_str().unwrap())
            );
            models.push(imp.model);
        }
        // the two forms hold the same numbers
        assert_eq!(
            models[0].params, models[1].params,
            "{name}: .pt and .safetensors differ"
        );

        let model = &models[1];
        let input =
            InferInput::read(&fixture(&format!("{name}.input.safetensors")), model).unwrap();
        let out = input.run(model, true).unwrap();
        let want = TensorFile::read(fixture(&format!("{name}.expected.safetensors"))).unwrap();
        let (b, o) = (input.batch, model.config.output_size);
        let lengths = input.lengths.clone().unwrap();
        let valid = |i: usize, width: usize| (i / width) / b < lengths[(i / width) % b];
        let e_out = max_err(&out.output, &want.f64("output").unwrap().data, |_| true);
        let e_h = max_err(&out.state.h, &want.f64("h_n").unwrap().data, |_| true);
        let e_logits = max_err(
            out.logits.as_ref().unwrap(),
            &want.f64("logits").unwrap().data,
            |i| valid(i, o),
        );
        assert!(
            e_out < 1e-5 && e_h < 1e-5 && e_logits < 1e-5,
            "{name}: output {e_out:e}, h_n {e_h:e}, logits {e_logits:e}"
        );
        if model.config.cell.has_memory() {
            let e_c = max_err(&out.state.c, &want.f64("c_n").unwrap().data, |_| true);
            assert!(e_c < 1e-5, "{name}: c_n {e_c:e}");
        }
    }
}

#[test]
fn a_pickle_that_calls_os_system_is_refused_and_nothing_runs() {
    // A torch.save-shaped zip whose data.pkl is `os.system("touch MARKER")`.
    let dir = std::env::temp_dir().join(format!("rnn-evil-pt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("MARKER");
    let cmd = format!("touch {}", marker.display());
    let mut pkl = vec![0x80, 2];
    pkl.extend_from_slice(b"cos\nsystem\n");
    pkl.push(b'X');
    pkl.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    pkl.extend_from_slice(cmd.as_bytes());
    pkl.extend_from_slice(&[0x85, b'R', b'.']);
    let path = dir.join("evil.pt");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("evil/data.pkl", opts).unwrap();
        z.write_all(&pkl).unwrap();
        z.start_file("evil/byteorder", opts).unwrap();
        z.write_all(b"little").unwrap();
        z.finish().unwrap();
    }
    let err = read_state_dict(&path).unwrap_err().to_string();
    assert!(err.contains("refused to load global 'os.system'"), "{err}");
    assert!(!err.contains('\n'));
    assert!(!err.contains("a class of your own code"), "{err}");
    assert!(!marker.exists());
    std::fs::remove_dir_all(&dir).unwrap();
    // torch.save(model) of a whole module: its class is named, with what to save instead
    let whole = pt_archive("whole", b"\x80\x02c__main__\nNet\n)\x81.", false);
    let err = read_state_dict(&whole).unwrap_err().to_string();
    assert!(
        err.contains("refused to load global '__main__.Net'")
            && err.contains("a class of your own code")
            && err.contains("save model.state_dict() instead"),
        "{err}"
    );
    std::fs::remove_dir_all(whole.parent().unwrap()).unwrap();
}

/// A torch.save-shaped zip around `pkl` (stored entries), with one 4-byte
/// float storage `0` when `storage`.
fn pt_archive(name: &str, pkl: &[u8], storage: bool) -> std::path::PathBuf {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("rnn-pt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pt"));
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("m/data.pkl", opts).unwrap();
    z.write_all(pkl).unwrap();
    z.start_file("m/byteorder", opts).unwrap();
    z.write_all(b"little").unwrap();
    if storage {
        z.start_file("m/data/0", opts).unwrap();
        z.write_all(&1.5f32.to_le_bytes()).unwrap();
    }
    z.finish().unwrap();
    path
}

#[test]
fn a_pickle_that_doubles_itself_through_its_memo_is_refused_not_run_out_of_memory() {
    // 40 nested lists, each holding two memo reads of the one before:
    // `]` (empty list) `q i` (memoise as i), then for each level `] h i-1
    // h i-1 e q i` (a new list, APPENDS of two copies of level i-1). Each
    // memo read is a deep copy, so level i holds 2^i values: 485 bytes
    // asked for 2^40 (the import aborted after 16 s under an 8 GB cap).
    let mut pkl = vec![0x80, 2, b']', b'q', 0];
    for i in 1u8..=40 {
        pkl.extend_from_slice(&[b']', b'(', b'h', i - 1, b'h', i - 1, b'e', b'q', i]);
    }
    pkl.push(b'.');
    let path = pt_archive("laughs", &pkl, false);
    let t0 = std::time::Instant::now();
    let e = read_state_dict(&path).unwrap_err().to_string();
    assert!(e.contains("memo reads copy more than"), "{e}");
    assert!(!e.contains('\n'));
    // refused at the budget (4 million values), not after the memory ran out
    assert!(t0.elapsed().as_secs() < 20, "{:?}", t0.elapsed());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_tensor_repeating_one_stored_value_past_memory_is_refused() {
    // {'w': _rebuild_tensor_v2(storage('0', FloatStorage), 0, (2^40,), (0,))}:
    // a stride of 0 over a 4-byte storage, every element inside it, 8 TB
    // of f64 once gathered (the import aborted on the allocation)
    let mut pkl = vec![0x80, 2, b'}', b'(', b'X', 1, 0, 0, 0, b'w'];
    pkl.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    pkl.extend_from_slice(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ");
    pkl.extend_from_slice(&[b'K', 0]); // offset 0
    pkl.extend_from_slice(&[0x8a, 6, 0, 0, 0, 0, 0, 1, 0x85]); // (2^40,)
    pkl.extend_from_slice(&[b'K', 0, 0x85]); // (0,)
    pkl.extend_from_slice(b"tRu.");
    let path = pt_archive("stride0", &pkl, true);
    let e = read_state_dict(&path).unwrap_err().to_string();
    assert!(
        e.contains("tensor 'w' of shape [1099511627776]") && e.contains("memory"),
        "{e}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn an_elman_activation_for_a_gated_cell_is_refused_not_dropped() {
    let sd = read_state_dict(&fixture("gru_1layer.safetensors")).unwrap();
    let opts = ImportOptions {
        activation: rnn::nn::cell::Activation::Relu,
        ..ImportOptions::default()
    };
    let e = import_state_dict(&sd, "gru", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--activation: expected tanh or no --activation"),
        "{e}"
    );
    assert!(e.ends_with("got relu for the GRU in gru"), "{e}");
}

/// A finite f64 value past f32's range is refused at import, naming our
/// parameter and the file's: it imported as an infinity that saved, and
/// every command then refused the model (the library sweep of session 53).
#[test]
fn a_value_past_f32s_range_is_refused_at_import() {
    let mut sd = read_state_dict(&fixture("gru_1layer.safetensors")).unwrap();
    let t = sd
        .iter_mut()
        .find(|t| t.name.ends_with("weight_hh_l0"))
        .unwrap();
    let theirs = t.name.clone();
    t.data[2] = 1e39;
    let e = import_state_dict(&sd, "gru", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    let want = format!(
        "gru: rnn.weight_hh_l0 (the file's '{theirs}') element 2 is inf: the file's values are beyond the range of 32-bit floats (±3.4e38) the model computes in"
    );
    assert_eq!(e, want);
}

#[test]
fn bad_infer_inputs_name_the_tensor() {
    let sd = read_state_dict(&fixture("gru_1layer.safetensors")).unwrap();
    let model = import_state_dict(&sd, "gru", &ImportOptions::default())
        .unwrap()
        .model;
    let dir = std::env::temp_dir().join(format!("rnn-infer-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let case = |name: &str, build: &dyn Fn(&mut rnn::io::TensorWriter)| {
        let mut w = rnn::io::TensorWriter::new();
        build(&mut w);
        let p = dir.join(format!("{name}.safetensors"));
        w.write(&p).unwrap();
        InferInput::read(&p, &model).unwrap_err().to_string()
    };
    let x = vec![0.0f32; 3 * 2 * 5];
    let e = case("wrong_i", &|w| w.add::<f32>("x", &[3, 2, 4], &x[..24]));
    assert!(e.contains("'x'") && e.contains("[T, B, 5]"), "{e}");
    let e = case("long", &|w| {
        w.add::<f32>("x", &[3, 2, 5], &x);
        w.add_i64("lengths", &[2], &[3, 4]);
    });
    assert!(
        e.contains("'lengths' element 1") && e.contains("1..=3"),
        "{e}"
    );
    let e = case("h0", &|w| {
        w.add::<f32>("x", &[3, 2, 5], &x);
        w.add::<f32>("h0", &[1, 3, 6], &[0.0; 18]);
    });
    assert!(e.contains("'h0'") && e.contains("[1, 2, 6]"), "{e}");
    let e = case("c0", &|w| {
        w.add::<f32>("x", &[3, 2, 5], &x);
        w.add::<f32>("c0", &[1, 2, 6], &[0.0; 12]);
    });
    assert!(e.contains("c0") && e.contains("only LSTM"), "{e}");
    let e = case("ids", &|w| w.add_i64("ids", &[2, 1], &[0, 5]));
    assert!(e.contains("'ids' element 1") && e.contains("0..5"), "{e}");
    // PyTorch's own name for the initial state is not ours: refused, not
    // left out (the call would run from a zero state)
    let e = case("h_0", &|w| {
        w.add::<f32>("x", &[3, 2, 5], &x);
        w.add::<f32>("h_0", &[1, 2, 6], &[0.0; 12]);
    });
    assert!(
        e.contains("unexpected tensor 'h_0'") && e.contains("'h0'"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_then_export_gives_the_same_tensors_bit_for_bit() {
    for name in ["lstm_2layer_bidir", "gru_1layer", "elman_relu_2layer"] {
        let path = fixture(&format!("{name}.safetensors"));
        let imp =
            import_state_dict(&read_state_dict(&path).unwrap(), name, &options(name)).unwrap();
        let mf = imp.to_model_file().unwrap();
        let bytes = rnn::interop::export_pytorch(&mf)
            .unwrap()
            .to_bytes()
            .unwrap();
        let back = TensorFile::from_bytes("export".into(), bytes).unwrap();
        let orig = safetensors::SafeTensors::deserialize(&std::fs::read(&path).unwrap())
            .unwrap()
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
            .collect::<Vec<_>>();
        let mut got = back.names();
        got.sort();
        let mut want: Vec<String> = orig.iter().map(|t| t.0.clone()).collect();
        want.sort();
        assert_eq!(got, want, "{name}: names");
        for (n, shape, data) in orig {
            let t = back.f64(&n).unwrap();
            assert_eq!(t.shape, shape, "{name} {n}");
            let bits: Vec<u8> = t
                .data
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect();
            assert_eq!(bits, data, "{name} {n}: not bit-exact");
        }
    }
}

#[test]
fn a_sigmoid_elman_is_refused_by_the_pytorch_export() {
    let cfg = rnn::ModelConfig {
        cell: rnn::CellKind::Elman {
            activation: Activation::Sigmoid,
        },
        ..rnn::ModelConfig::elman(3, 4, 2)
    };
    let mf = rnn::io::model_file::ModelFile {
        task: rnn::Task::Lm,
        model: rnn::Model::new(cfg, 0).unwrap(),
        extra: Default::default(),
        meta: Default::default(),
    };
    let e = rnn::interop::export_pytorch(&mf).unwrap_err().to_string();
    assert!(e.contains("sigmoid") && e.contains("nn.RNN"), "{e}");
}

#[test]
fn a_model_trained_here_exports_and_reimports_to_the_same_model() {
    for cell in [
        rnn::CellKind::Lstm,
        rnn::CellKind::Gru,
        rnn::CellKind::Elman {
            activation: Activation::Relu,
        },
    ] {
        let cfg = rnn::ModelConfig {
            cell,
            num_layers: 2,
            ..rnn::ModelConfig::elman(7, 5, 7)
        };
        let mf = rnn::io::model_file::ModelFile {
            task: rnn::Task::Lm,
            model: rnn::Model::new(cfg.clone(), 3).unwrap(),
            extra: Default::default(),
            meta: Default::default(),
        };
        let w = rnn::interop::export_pytorch(&mf).unwrap();
        let back = TensorFile::from_bytes("sd".into(), w.to_bytes().unwrap()).unwrap();
        assert!(back.has("rnn.weight_hh_l1") && back.has("head.weight"));
        let sd: Vec<rnn::interop::NamedTensor> = back
            .names()
            .into_iter()
            .map(|n| {
                let t = back.f64(&n).unwrap();
                rnn::interop::NamedTensor {
                    name: n,
                    shape: t.shape,
                    data: t.data,
                }
            })
            .collect();
        // the nonlinearity a state_dict does not store: Elman's alone
        let activation = match cell {
            rnn::CellKind::Elman { activation } => activation,
            _ => Activation::default(),
        };
        let opts = ImportOptions {
            activation,
            ..Default::default()
        };
        let again = import_state_dict(&sd, "sd", &opts).unwrap();
        assert_eq!(again.model.config, cfg);
        assert_eq!(again.model.params, mf.model.params);
        // a tensor holding fewer values than its shape is refused by name
        // (its missing values were imported as zeros)
        let mut short = sd.clone();
        let t = short
            .iter_mut()
            .find(|t| t.name == "rnn.weight_ih_l0")
            .unwrap();
        t.data.truncate(2);
        let e = import_state_dict(&short, "sd", &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor 'rnn.weight_ih_l0' of shape") && e.contains("holds 2 values"),
            "{e}"
        );
    }
}

/// Imports `file` (a fixture) with `opts` and checks
/// `InferInput::run_file` on its model file against the fixture `name`'s
/// PyTorch outputs (1e-5, logits at valid positions); returns the import.
fn matches_pytorch(file: &str, name: &str, opts: &ImportOptions) -> rnn::interop::Imported {
    let path = fixture(file);
    let imp = import_state_dict(&read_state_dict(&path).unwrap(), file, opts).unwrap();
    let model = &imp.model;
    let mf = imp.to_model_file().unwrap();
    let input = InferInput::read_for(&fixture(&format!("{name}.input.safetensors")), &mf).unwrap();
    let out = input.run_file(&mf).unwrap();
    let want = TensorFile::read(fixture(&format!("{name}.expected.safetensors"))).unwrap();
    let (b, o) = (input.batch, model.config.output_size);
    let lengths = input.lengths.clone().unwrap();
    let valid = |i: usize| (i / o) / b < lengths[(i / o) % b];
    let mut errs = vec![
        max_err(&out.output, &want.f64("output").unwrap().data, |_| true),
        max_err(&out.state.h, &want.f64("h_n").unwrap().data, |_| true),
    ];
    // a model without a head has no logits, and PyTorch's file none either
    assert_eq!(out.logits.is_some(), want.has("logits"), "{file}: logits");
    if let Some(logits) = &out.logits {
        errs.push(max_err(logits, &want.f64("logits").unwrap().data, valid));
    }
    if model.config.cell.has_memory() {
        errs.push(max_err(
            &out.state.c,
            &want.f64("c_n").unwrap().data,
            |_| true,
        ));
    }
    assert!(errs.iter().all(|&e| e < 1e-5), "{file}: {errs:?}");
    imp
}

#[test]
fn saved_forms_beyond_a_state_dict_import_and_match_pytorch() {
    let plain = ImportOptions::default();
    // a checkpoint dict (epoch, model_state_dict, optimizer_state_dict with
    // Adam's tensors keyed by integers, loss): the one state_dict in it,
    // under its own names
    let imp = matches_pytorch("checkpoint_lstm.pt", "checkpoint_lstm", &plain);
    assert_eq!(imp.names["rnn.weight_ih_l0"], "lstm.weight_ih_l0");
    assert_eq!(imp.names["head.bias"], "fc.bias");
    // the legacy format (torch.save(..., _use_new_zipfile_serialization=False))
    let imp = matches_pytorch("legacy_gru.pt", "legacy_gru", &plain);
    assert_eq!(imp.model.config.num_layers, 2);
    // two state_dicts in one checkpoint: each name prefixed by its key
    let ema = ImportOptions {
        rnn_prefix: Some("ema.lstm".into()),
        head_prefix: Some("ema.fc".into()),
        ..Default::default()
    };
    let imp = matches_pytorch("checkpoint_two.pt", "checkpoint_two", &ema);
    assert_eq!(imp.names["rnn.weight_hh_l0"], "ema.lstm.weight_hh_l0");
    assert_eq!(imp.ignored.len(), 6, "{:?}", imp.ignored); // the other model's

    // an nn.Embedding before the GRU: folded into the input weights, the
    // model reads token ids; both file forms
    for file in ["embedding_gru.pt", "embedding_gru.safetensors"] {
        let imp = matches_pytorch(file, "embedding_gru", &plain);
        assert_eq!(imp.embedding.as_deref(), Some("emb.weight"));
        assert_eq!(imp.model.config.input_size, 9);
        assert!(imp.ignored.is_empty());
    }
    // PyTorch's word_language_model with tied weights (encoder.weight is
    // decoder.weight): the encoder is the embedding, the decoder the head
    let imp = matches_pytorch("word_lm_tied.pt", "word_lm_tied", &plain);
    assert_eq!(imp.embedding.as_deref(), Some("encoder.weight"));
    assert_eq!(imp.names["head.weight"], "decoder.weight");
}

#[test]
fn checkpoints_holding_more_than_numbers_import_and_match_pytorch() {
    let plain = ImportOptions::default();
    // PyTorch's general-checkpoint recipe with the loss as a 0-d tensor, a
    // NumPy scalar and array, a torch.Size and the RNG state (uint8) beside
    // the model, whose state_dict holds a bool mask and an int64 buffer:
    // the non-float tensors are left out, as from a safetensors file
    let imp = matches_pytorch("checkpoint_mixed.pt", "checkpoint_mixed", &plain);
    assert_eq!(imp.names["rnn.weight_hh_l0"], "gru.weight_hh_l0");
    assert!(imp.ignored.is_empty(), "{:?}", imp.ignored);
    let sd = read_state_dict(&fixture("checkpoint_mixed.pt")).unwrap();
    assert!(
        sd.iter().all(|t| t.name != "pad_mask" && t.name != "steps"),
        "{:?}",
        sd.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    // a state_dict two levels down ({"checkpoint": {"model": sd, "step": 9}})
    let imp = matches_pytorch("checkpoint_nested.pt", "checkpoint_nested", &plain);
    assert_eq!(imp.names["head.weight"], "head.weight");
}

#[test]
fn an_embedding_is_not_taken_for_a_head_nor_lost_to_save_model() {
    let plain = ImportOptions::default();
    // `embedding.weight` [7, 4] before an LSTM(4, 4), no head: its shape is
    // also a bias-free head's; its name decides
    let imp = matches_pytorch("encoder_no_head.safetensors", "encoder_no_head", &plain);
    assert_eq!(imp.embedding.as_deref(), Some("embedding.weight"));
    assert!(!imp.has_head);
    assert_eq!(imp.model.config.input_size, 7);
    // the same tensors under a name that says nothing: refused, naming both flags
    let sd: Vec<_> = read_state_dict(&fixture("encoder_no_head.safetensors"))
        .unwrap()
        .into_iter()
        .map(|mut t| {
            t.name = t.name.replace("embedding.", "table.");
            t
        })
        .collect();
    let e = import_state_dict(&sd, "enc", &plain)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'table' ([7, 4]: an embedding of 7 tokens, or a bias-free head")
            && e.contains("--embedding-prefix table")
            && e.contains("--head-prefix table"),
        "{e}"
    );
    let named = ImportOptions {
        embedding_prefix: Some("table".into()),
        ..Default::default()
    };
    let imp = import_state_dict(&sd, "enc", &named).unwrap();
    assert_eq!(imp.embedding.as_deref(), Some("table.weight"));
    let as_head = ImportOptions {
        head_prefix: Some("table".into()),
        ..Default::default()
    };
    let imp = import_state_dict(&sd, "enc", &as_head).unwrap();
    assert!(imp.embedding.is_none() && imp.has_head);
    // a tied word LM written by safetensors.torch.save_model: the tensor
    // once, as `decoder.weight`, and `encoder.weight -> decoder.weight` in
    // the metadata; the alias is restored and the embedding folded
    let imp = matches_pytorch("tied_save_model.safetensors", "tied_save_model", &plain);
    assert_eq!(imp.embedding.as_deref(), Some("encoder.weight"));
    assert_eq!(imp.names["head.weight"], "decoder.weight");
}

#[test]
fn infer_refuses_ids_for_a_model_imported_without_embedding_and_half_an_lstm_state() {
    let dir = std::env::temp_dir().join(format!("rnn-infer-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let load = |file: &str| {
        let sd = read_state_dict(&fixture(file)).unwrap();
        let imp = import_state_dict(&sd, file, &ImportOptions::default()).unwrap();
        let out = dir.join(file);
        imp.to_model_file().unwrap().save(&out).unwrap();
        rnn::io::model_file::ModelFile::load(&out).unwrap()
    };
    let write = |name: &str, build: &dyn Fn(&mut rnn::io::TensorWriter)| {
        let mut w = rnn::io::TensorWriter::new();
        build(&mut w);
        let p = dir.join(format!("{name}.safetensors"));
        w.write(&p).unwrap();
        p
    };
    // an LSTM of 3 inputs: ids 0..3 would pass as one-hot rows of x
    let lstm = load("checkpoint_lstm.pt");
    let ids = write("ids", &|w| w.add_i64("ids", &[2, 1], &[0, 2]));
    let e = InferInput::read_for(&ids, &lstm).unwrap_err().to_string();
    assert!(
        e.contains("imported without an nn.Embedding") && e.contains("'x' [T, B, 3]"),
        "{e}"
    );
    // with its embedding the same ids are the model's input
    let emb = load("embedding_gru.pt");
    assert!(InferInput::read_for(&ids, &emb).is_ok());
    // h0 without c0: PyTorch refuses (h0,) for an LSTM
    let h0 = write("h0_only", &|w| {
        w.add::<f32>("x", &[2, 1, 3], &[0.5; 6]);
        w.add::<f32>("h0", &[1, 1, 4], &[0.1; 4]);
    });
    let e = InferInput::read_for(&h0, &lstm).unwrap_err().to_string();
    assert!(e.contains("has 'h0' but not 'c0'"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_models_in_a_checkpoint_are_named_and_torchscript_is_refused() {
    let sd = read_state_dict(&fixture("checkpoint_two.pt")).unwrap();
    let e = import_state_dict(&sd, "two", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'model.lstm'") && e.contains("'ema.lstm'") && e.contains("--rnn-prefix"),
        "{e}"
    );
    let e = read_state_dict(&fixture("torchscript.pt"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TorchScript") && e.contains("state_dict()"),
        "{e}"
    );
}

/// An LSTM with proj_size (refused before session 50): two layers, both
/// directions, and after an embedding; its outputs, states and logits are
/// PyTorch's (`matches_pytorch`, h0 given: lifted to the unprojected state),
/// its export is the file's tensors bit for bit, and ONNX refuses it.
#[test]
fn an_lstm_with_a_projection_matches_pytorch_and_exports_as_the_file_had_it() {
    let plain = ImportOptions::default();
    for (file, name) in [
        ("lstm_proj_bidir.pt", "lstm_proj_bidir"),
        ("lstm_proj_bidir.safetensors", "lstm_proj_bidir"),
        ("embedding_lstm_proj.pt", "embedding_lstm_proj"),
        // W_hr of rank 2 < P = 3, h0 given: no m0 has W_hr m0 = h0
        ("lstm_proj_rankdef.safetensors", "lstm_proj_rankdef"),
    ] {
        let imp = matches_pytorch(file, name, &plain);
        let (p, names) = imp.projection.clone().unwrap();
        assert_eq!(p, if name == "lstm_proj_bidir" { 2 } else { 3 }, "{file}");
        let want_names: &[&str] = if name == "lstm_proj_bidir" {
            &[
                "lstm.weight_hr_l0",
                "lstm.weight_hr_l0_reverse",
                "lstm.weight_hr_l1",
                "lstm.weight_hr_l1_reverse",
            ]
        } else {
            &["lstm.weight_hr_l0"]
        };
        assert_eq!(names, want_names, "{file}");
        assert_eq!(
            imp.embedding.is_some(),
            name == "embedding_lstm_proj",
            "{file}"
        );
        let mf = exports_as_the_file_had_it(file, &imp);
        let e = rnn::interop::export_onnx(&mf).unwrap_err().to_string();
        assert!(
            e.contains("proj_size") && e.contains("no projection"),
            "{e}"
        );
    }
    // the embedded model given one-hot rows 'x' [T, B, V] in place of its
    // ids: the same outputs (the rows go through the embedding)
    let imp = import_state_dict(
        &read_state_dict(&fixture("embedding_lstm_proj.pt")).unwrap(),
        "e",
        &plain,
    )
    .unwrap();
    let mf = imp.to_model_file().unwrap();
    let by_ids =
        InferInput::read_for(&fixture("embedding_lstm_proj.input.safetensors"), &mf).unwrap();
    let v = mf.model.config.input_size;
    let mut x = vec![0f32; by_ids.ids.len() * v];
    by_ids
        .ids
        .iter()
        .enumerate()
        .for_each(|(r, &id)| x[r * v + id] = 1.0);
    let by_rows = InferInput {
        x,
        ids: Vec::new(),
        ..by_ids.clone()
    };
    let (a, b) = (
        by_ids.run_file(&mf).unwrap(),
        by_rows.run_file(&mf).unwrap(),
    );
    assert_eq!(a.output.len(), b.output.len());
    assert!(a
        .output
        .iter()
        .zip(&b.output)
        .all(|(p, q)| (p - q).abs() < 1e-6));
    // a state of the wrong width (read for the H-wide folded model) is refused
    let c = by_ids.state.as_ref().unwrap().c.clone();
    let h = vec![0f32; c.len()]; // H = 5 wide, not P = 3
    let wide = InferInput {
        state: Some(rnn::State { h, c }),
        ..by_ids.clone()
    };
    let e = wide.run_file(&mf).unwrap_err().to_string();
    assert!(e.starts_with("input.state: expected h0 [1, 2, 3]"), "{e}");
    // the state_dict of a one-layer projected LSTM and its head
    let sd = read_state_dict(&fixture("lstm_proj.safetensors")).unwrap();
    let imp = import_state_dict(&sd, "proj", &plain).unwrap();
    assert_eq!(
        (imp.model.config.hidden_size, imp.projection.unwrap().0),
        (6, 2)
    );
    // a projection whose shape does not fit the weights that read it
    let mut bad = sd.clone();
    let hr = bad
        .iter_mut()
        .find(|t| t.name == "rnn.weight_hr_l0")
        .unwrap();
    (hr.shape, hr.data) = (vec![3, 6], vec![0.1; 18]);
    let e = import_state_dict(&bad, "proj", &plain)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'rnn.weight_hh_l0' has shape [24, 2], expected [24, 3]"),
        "{e}"
    );
    // and one that is not finite
    let mut nan = sd.clone();
    nan.iter_mut()
        .find(|t| t.name == "rnn.weight_hr_l0")
        .unwrap()
        .data[4] = f64::NAN;
    let e = import_state_dict(&nan, "proj", &plain)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tensor 'rnn.weight_hr_l0' element 4 is NaN"),
        "{e}"
    );
    // a layer without its projection, and a projection without its layer
    let two = read_state_dict(&fixture("lstm_proj_bidir.safetensors")).unwrap();
    let gap: Vec<_> = two
        .iter()
        .filter(|t| t.name != "lstm.weight_hr_l1")
        .cloned()
        .collect();
    let e = import_state_dict(&gap, "gap", &plain)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no projection 'lstm.weight_hr_l1' for 'lstm.weight_hh_l1'"),
        "{e}"
    );
    let mut stray = sd.clone();
    let mut rev = stray
        .iter()
        .find(|t| t.name == "rnn.weight_hr_l0")
        .unwrap()
        .clone();
    rev.name = "rnn.weight_hr_l0_reverse".into();
    stray.push(rev);
    let e = import_state_dict(&stray, "stray", &plain)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'rnn.weight_hr_l0_reverse' projects a layer or direction that has no recurrent weights"), "{e}");
}

/// Saves `imp` (imported from the fixture `file`) as a model directory,
/// loads it back and checks that its PyTorch export holds the file's
/// tensors, names and values bit for bit; returns the loaded model file.
fn exports_as_the_file_had_it(
    file: &str,
    imp: &rnn::interop::Imported,
) -> rnn::io::model_file::ModelFile {
    let sd = read_state_dict(&fixture(file)).unwrap();
    let dir = std::env::temp_dir().join(format!("rnn-fold-{}-{file}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    imp.to_model_file().unwrap().save(&dir).unwrap();
    let mf = rnn::io::model_file::ModelFile::load(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = rnn::interop::export_pytorch(&mf)
        .unwrap()
        .to_bytes()
        .unwrap();
    let back = TensorFile::from_bytes("export".into(), bytes).unwrap();
    let mut got = back.names();
    got.sort();
    let mut want: Vec<String> = sd.iter().map(|t| t.name.clone()).collect();
    want.sort();
    assert_eq!(got, want, "{file}: names");
    for t in &sd {
        let b = back.f64(&t.name).unwrap();
        assert_eq!(b.shape, t.shape, "{file} {}", t.name);
        assert_eq!(b.data, t.data, "{file} {}: not the file's values", t.name);
    }
    mf
}

#[test]
fn an_embedding_folded_on_import_exports_as_the_file_had_it() {
    for file in ["embedding_gru.safetensors", "word_lm_tied.pt"] {
        let sd = read_state_dict(&fixture(file)).unwrap();
        let imp = import_state_dict(&sd, file, &ImportOptions::default()).unwrap();
        // through the model file on disk and back
        exports_as_the_file_had_it(file, &imp);
    }
}
