//! `rnn import` and `rnn infer` from outside: a PyTorch `.pt` file in, the
//! outputs PyTorch computed out, and one-line errors for bad input.

mod common;
use common::{assert_bad_input, rnn, tmp};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rnn/tests/fixtures/interop")
        .join(name)
}

/// Runs `rnn ARGS`, which must succeed; its stdout.
fn run_ok(args: &[&str]) -> String {
    let out = rnn(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rnn infer` of `model` on the fixture `name`'s inputs writes (to `res`)
/// the tensors `names` as PyTorch computed them: same shapes, within 1e-5.
fn infer_matches(model: &std::path::Path, name: &str, names: &[&str], res: &std::path::Path) {
    let input = fixture(&format!("{name}.input.safetensors"));
    run_ok(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "-o",
        res.to_str().unwrap(),
    ]);
    let got = rnn::io::TensorFile::read(res).unwrap();
    let want = rnn::io::TensorFile::read(fixture(&format!("{name}.expected.safetensors"))).unwrap();
    for t in names {
        let (g, w) = (got.f64(t).unwrap(), want.f64(t).unwrap());
        assert_eq!(g.shape, w.shape, "{t}");
        let err = g
            .data
            .iter()
            .zip(&w.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // both are zero past each length
        assert!(err < 1e-5, "{name} {t}: {err:e}");
    }
}

/// `rnn import --json`: what was imported as one object (the same figures
/// as the line), with the embedding's name and Elman's nonlinearity.
#[test]
fn import_json_says_what_was_imported() {
    let dir = tmp("import-json");
    let run = |file: &str, out: &str, extra: &[&str]| {
        let (f, o) = (fixture(file), dir.join(out));
        let mut args = vec![
            "import",
            f.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let r = rnn(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(v["model"], o.join("model.safetensors").to_str().unwrap());
        v
    };
    let v = run("gru_1layer.pt", "gru", &[]);
    assert_eq!(
        (
            &v["cell"],
            &v["layers"],
            &v["hidden"],
            &v["input"],
            &v["head"]
        ),
        (&"gru".into(), &1.into(), &6.into(), &5.into(), &3.into()),
        "{v}"
    );
    assert!(v["embedding"].is_null() && v["activation"].is_null(), "{v}");
    assert_eq!(v["bidirectional"], false);
    let v = run("elman_relu_2layer.pt", "elman", &["--activation", "relu"]);
    assert_eq!(
        (&v["cell"], &v["activation"], &v["layers"]),
        (&"elman".into(), &"relu".into(), &2.into()),
        "{v}"
    );
    let v = run("embedding_gru.pt", "emb", &[]);
    assert!(
        v["embedding"].as_str().is_some_and(|e| e.contains("emb")),
        "{v}"
    );
    assert!(v["tensors"].as_u64().unwrap() >= 5, "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_then_infer_reproduces_pytorch() {
    let dir = tmp("interop-cli");
    let model = dir.join("gru");
    let pt = fixture("gru_1layer.pt");
    let line = run_ok(&[
        "import",
        pt.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        line.starts_with("imported gru 1 layer(s) x 6 hidden, input 5, head 3"),
        "{line}"
    );
    let res = dir.join("out.safetensors");
    infer_matches(&model, "gru_1layer", &["output", "h_n", "logits"], &res);
    // a second import into the same directory is refused; --force replaces
    let again = rnn(&[
        "import",
        pt.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_bad_input(&again, "--force");
    let forced = rnn(&[
        "import",
        pt.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success());
    // input of another width
    let lstm_in = fixture("lstm_2layer_bidir.input.safetensors");
    let bad = rnn(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--input",
        lstm_in.to_str().unwrap(),
        "-o",
        dir.join("never-written.safetensors").to_str().unwrap(),
    ]);
    assert_bad_input(&bad, "tensor 'x' has shape [7, 3, 6]");
    // not a state_dict at all
    let data = fixture("gru_1layer.json");
    let bad = rnn(&[
        "import",
        data.to_str().unwrap(),
        "--out",
        dir.join("x").to_str().unwrap(),
    ]);
    assert_bad_input(&bad, "gru_1layer.json");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_onnx_writes_the_library_export_and_names_what_stays_behind() {
    let dir = tmp("export-onnx");
    let model = dir.join("lstm");
    let pt = fixture("lstm_2layer_bidir.pt");
    let m = model.to_str().unwrap();
    assert!(rnn(&["import", pt.to_str().unwrap(), "--out", m])
        .status
        .success());
    let onnx = dir.join("lstm.onnx");
    let o = onnx.to_str().unwrap();
    let out = rnn(&["export", "--model", m, "--format", "onnx", "-o", o]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // the file is the library's export of the directory, byte for byte
    let mut mf = rnn::io::model_file::ModelFile::load(&model).unwrap();
    assert_eq!(
        std::fs::read(&onnx).unwrap(),
        rnn::interop::export_onnx(&mf).unwrap()
    );
    // an imported model has nothing outside its network; a forecaster does
    assert!(!err.contains("note:"), "{err}");
    // the ONNX file back into import: named as ONNX, which import does not
    // read ("this file is neither" before; the CLI sweep of session 55)
    assert_bad_input(
        &rnn(&["import", o, "--out", dir.join("back").to_str().unwrap()]),
        "(an ONNX model? rnn import reads a PyTorch state_dict saved by torch.save, a .pt zip, or by safetensors; ONNX is written by rnn export, not read)",
    );
    // the output exists now: a second export is refused (exit 2, the file
    // untouched), and --force replaces it; an output that is one of the
    // command's own input files is refused, --force or not
    let before = std::fs::read(&onnx).unwrap();
    let again = rnn(&["export", "--model", m, "--format", "pytorch", "-o", o]);
    assert_bad_input(
        &again,
        &format!("{o}: already exists (use --force to replace it)"),
    );
    assert_eq!(std::fs::read(&onnx).unwrap(), before);
    let forced = rnn(&[
        "export", "--model", m, "--format", "pytorch", "-o", o, "--force",
    ]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_ne!(std::fs::read(&onnx).unwrap(), before);
    let input = dir.join("input.safetensors");
    std::fs::copy(fixture("lstm_2layer_bidir.input.safetensors"), &input).unwrap();
    let i = input.to_str().unwrap();
    let onto = rnn(&["infer", "--model", m, "--input", i, "-o", i, "--force"]);
    assert_bad_input(&onto, "is an input of this command");
    // nor, even with --force, the model it exports or runs
    let own = model.join("model.safetensors");
    let kept = std::fs::read(&own).unwrap();
    let own = own.to_str().unwrap();
    for args in [
        vec![
            "export", "--model", m, "--format", "pytorch", "-o", own, "--force",
        ],
        vec!["infer", "--model", m, "--input", i, "-o", own, "--force"],
    ] {
        assert_bad_input(&rnn(&args), "is an input of this command");
    }
    assert_eq!(
        std::fs::read(model.join("model.safetensors")).unwrap(),
        kept
    );
    assert_eq!(
        std::fs::read(&input).unwrap(),
        std::fs::read(fixture("lstm_2layer_bidir.input.safetensors")).unwrap()
    );
    mf.task = rnn::io::model_file::Task::Forecast;
    let fc = dir.join("fc");
    mf.save(&fc).unwrap();
    let o = dir.join("fc.onnx");
    let out = rnn(&[
        "export",
        "--model",
        fc.to_str().unwrap(),
        "--format",
        "onnx",
        "-o",
        o.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    let note = "note: not in the export (outside the network): the forecaster's transform";
    assert!(out.status.success() && err.contains(note), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An imported model has no task around its network: `rnn eval` says so and
/// points to `rnn infer` (one line, exit 2).
#[test]
fn eval_of_an_imported_model_is_a_usage_error() {
    let dir = tmp("eval-imported");
    rnn::io::model_file::ModelFile {
        task: rnn::Task::Imported,
        model: rnn::Model::new(rnn::ModelConfig::elman(3, 2, 3), 0).unwrap(),
        extra: Default::default(),
        meta: Default::default(),
    }
    .save(&dir)
    .unwrap();
    let data = dir.join("none.txt");
    let out = rnn(&[
        "eval",
        "--model",
        dir.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_bad_input(
        &out,
        "rnn eval: imported models have no task to evaluate; use rnn infer",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_chosen_module_is_imported_and_the_others_are_left_out_with_a_note() {
    // an encoder GRU, a decoder GRU and a Linear head, as a seq2seq
    // state_dict holds them: the error advises --rnn-prefix, which works
    let dir = tmp("interop-choose");
    let mut w = rnn::io::TensorWriter::new();
    for m in ["enc", "dec"] {
        let v = |n: usize| vec![0.01f32; n];
        w.add::<f32>(&format!("{m}.weight_ih_l0"), &[18, 5], &v(90));
        w.add::<f32>(&format!("{m}.weight_hh_l0"), &[18, 6], &v(108));
        w.add::<f32>(&format!("{m}.bias_ih_l0"), &[18], &v(18));
        w.add::<f32>(&format!("{m}.bias_hh_l0"), &[18], &v(18));
    }
    w.add::<f32>("fc.weight", &[3, 6], &[0.5; 18]);
    let file = dir.join("seq2seq.safetensors");
    std::fs::write(&file, w.to_bytes().unwrap()).unwrap();
    let (f, out) = (file.to_str().unwrap(), dir.join("m"));
    let o = out.to_str().unwrap();
    assert_bad_input(
        &rnn(&["import", f, "--out", o]),
        "several recurrent modules ('dec', 'enc'); choose one with --rnn-prefix",
    );
    let r = rnn(&["import", f, "--out", o, "--rnn-prefix", "enc"]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert_eq!(
        err.trim_end(),
        "note: left out 4 tensors of modules not chosen: dec.bias_hh_l0, dec.bias_ih_l0, dec.weight_hh_l0, dec.weight_ih_l0"
    );
    let line = String::from_utf8_lossy(&r.stdout);
    assert!(
        line.starts_with("imported gru 1 layer(s) x 6 hidden, input 5, head 3; 5 tensors"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A state_dict does not record an Elman network's nonlinearity: without
/// --activation the import says tanh was assumed (the ReLU fixture then
/// gives other outputs than PyTorch's), and the summary names the
/// nonlinearity either way.
#[test]
fn an_elman_import_names_its_nonlinearity() {
    let dir = tmp("import-elman");
    let sd = fixture("elman_relu_2layer.safetensors");
    let (assumed, relu) = (dir.join("assumed"), dir.join("relu"));
    let out = rnn(&[
        "import",
        sd.to_str().unwrap(),
        "--out",
        assumed.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("imported elman (tanh) 2 layer(s)"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "note: a state_dict does not record an Elman network's nonlinearity: tanh assumed"
        ),
        "{stderr}"
    );
    let out = rnn(&[
        "import",
        sd.to_str().unwrap(),
        "--out",
        relu.to_str().unwrap(),
        "--activation",
        "relu",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("imported elman (relu) 2 layer(s)"),
        "{stdout}"
    );
    assert!(!stderr.contains("assumed"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file that is neither a torch.save zip nor safetensors is named as
/// such; integer tensors of a state_dict (BatchNorm's
/// `num_batches_tracked`) are no weights and do not stop an import.
#[test]
fn import_names_a_file_of_neither_kind_and_skips_integer_tensors() {
    let dir = tmp("import-kinds");
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.pt");
    std::fs::write(&junk, "hello\n").unwrap();
    let out = dir.join("m");
    assert_bad_input(
        &rnn(&[
            "import",
            junk.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        "this file is neither",
    );
    // the GRU fixture with an int64 tensor added
    let src = std::fs::read(fixture("gru_1layer.safetensors")).unwrap();
    let n = u64::from_le_bytes(src[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&src[8..8 + n]).unwrap();
    let end = src.len() - 8 - n;
    header["bn.num_batches_tracked"] =
        serde_json::json!({"dtype": "I64", "shape": [], "data_offsets": [end, end + 8]});
    let mut h = serde_json::to_vec(&header).unwrap();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(&h);
    bytes.extend(&src[8 + n..]);
    bytes.extend(7i64.to_le_bytes());
    let sd = dir.join("gru_bn.safetensors");
    std::fs::write(&sd, bytes).unwrap();
    let o = rnn(&[
        "import",
        sd.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("imported gru 1 layer(s)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An LSTM with proj_size from outside: `rnn import` says so (line and
/// `--json`), `rnn infer` writes PyTorch's tensors with their shapes (`h_n`
/// `[L*D, B, P]`, `c_n` `[L*D, B, H]`), given `h0` `[L*D, B, P]`, and an
/// ONNX export is refused on one line naming the model file.
#[test]
fn a_projected_lstm_imports_infers_as_pytorch_and_refuses_onnx() {
    let dir = tmp("interop-proj");
    let model = dir.join("proj");
    let pt = fixture("lstm_proj_bidir.pt");
    let (p, m) = (pt.to_str().unwrap(), model.to_str().unwrap());
    let line = run_ok(&["import", p, "--out", m]);
    assert!(
        line.starts_with("imported lstm 2 layer(s) x 6 hidden projected to 2, bidirectional, input 3, head 3; 22 tensors"),
        "{line}"
    );
    let j = run_ok(&["import", p, "--out", m, "--force", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(
        (&v["proj_size"], &v["hidden"], &v["tensors"]),
        (&2.into(), &6.into(), &22.into()),
        "{v}"
    );
    let res = dir.join("out.safetensors");
    infer_matches(
        &model,
        "lstm_proj_bidir",
        &["output", "h_n", "c_n", "logits"],
        &res,
    );
    let got = rnn::io::TensorFile::read(&res).unwrap();
    assert_eq!(got.f64("h_n").unwrap().shape, [4, 3, 2]);
    // --json: the tensors written and their shapes; an export's file
    let input = fixture("lstm_proj_bidir.input.safetensors");
    let (i, r) = (input.to_str().unwrap(), res.to_str().unwrap());
    let j = run_ok(&[
        "infer", "--model", m, "--input", i, "-o", r, "--force", "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let shapes = serde_json::json!({"output": [5, 3, 4], "h_n": [4, 3, 2], "c_n": [4, 3, 6], "logits": [5, 3, 3]});
    assert_eq!(
        (&v["tensors"], &v["steps"], &v["task"]),
        (&shapes, &5.into(), &"imported".into()),
        "{v}"
    );
    let sd = dir.join("sd.safetensors");
    let j = run_ok(&[
        "export",
        "--model",
        m,
        "--format",
        "pytorch",
        "-o",
        sd.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(
        (&v["format"], &v["not_exported"]),
        (&"pytorch".into(), &serde_json::Value::Null),
        "{v}"
    );
    assert_eq!(
        v["bytes"].as_u64(),
        Some(std::fs::metadata(&sd).unwrap().len()),
        "{v}"
    );
    let onnx = dir.join("proj.onnx");
    let bad = rnn(&[
        "export",
        "--model",
        m,
        "--format",
        "onnx",
        "-o",
        onnx.to_str().unwrap(),
    ]);
    assert_bad_input(
        &bad,
        "proj/model.safetensors: an LSTM imported with proj_size cannot be written as ONNX",
    );
    assert!(!onnx.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
