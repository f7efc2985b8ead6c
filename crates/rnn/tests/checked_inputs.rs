//! Every misuse of the network's public entry points is an `Err` naming the
//! argument, never a panic or a silent result (issue 14, section 2). The
//! model is the one of the issue: Elman, I = 5 classes in, O = 5 out.

use rand::SeedableRng;
use rnn::nn::cell::CellKind;
use rnn::nn::many_to_one::ManyToOne;
use rnn::nn::model::dropout_masks;
use rnn::{
    Batch, Error, Inference, Input, Model, ModelConfig, OutputKind, Reduction, State, Targets,
};

const I: usize = 5;
const H: usize = 4;

fn elman() -> Model<f64> {
    Model::new(ModelConfig::elman(I, H, I), 3).unwrap()
}

fn lstm() -> Model<f64> {
    let cfg = ModelConfig {
        cell: CellKind::Lstm,
        ..ModelConfig::elman(I, H, I)
    };
    Model::new(cfg, 3).unwrap()
}

fn regression() -> Model<f64> {
    let cfg = ModelConfig {
        output: OutputKind::Identity,
        ..ModelConfig::elman(2, H, 1)
    };
    Model::new(cfg, 3).unwrap()
}

/// The error is an `Error::Argument` whose argument starts with `arg`, and
/// its message names that argument first.
fn names<T: std::fmt::Debug>(r: rnn::Result<T>, arg: &str) {
    let e = r.expect_err("a misuse must be an error");
    let msg = e.to_string();
    match &e {
        Error::Argument { arg: a, .. } => assert!(
            a.starts_with(arg),
            "expected argument {arg}, got {a}: {msg}"
        ),
        other => panic!("expected Error::Argument for {arg}, got {other:?}"),
    }
    assert!(msg.starts_with(arg), "{msg}");
    assert!(msg.contains("expected"), "{msg}");
}

// T = 3 steps, B = 2 sequences
const IDS: [usize; 6] = [0, 1, 2, 3, 4, 0];
const NEXT: [usize; 6] = [1, 2, 3, 4, 0, 1];

fn grads(m: &Model<f64>) -> Vec<f64> {
    vec![0.0; m.params.len()]
}

#[test]
fn class_id_not_below_input_size() {
    let m = elman();
    let ids = [0, 1, 2, 3, 5, 0]; // 5 >= I
    let b = Batch::new(Input::Ids(&ids), 3, 2);
    names(m.forward(b), "x[4]");
    names(m.infer(b, &mut Inference::new()), "x[4]");
    names(
        m.infer(b.split_across_threads(), &mut Inference::new()),
        "x[4]",
    );
    let mut g = grads(&m);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "x[4]",
    );
    names(
        m.loss_and_grads_parallel(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "x[4]",
    );
    assert!(g.iter().all(|&v| v == 0.0), "nothing computed on bad input");
}

#[test]
fn ids_shorter_than_t_times_b() {
    let m = elman();
    let b = Batch::new(Input::Ids(&IDS[..5]), 3, 2);
    names(m.forward(b), "x");
    let mut g = grads(&m);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "x",
    );
}

#[test]
fn ids_shorter_with_a_reused_inference() {
    let m = elman();
    let mut inf = Inference::new();
    m.infer(Batch::new(Input::Ids(&IDS), 3, 2), &mut inf)
        .unwrap();
    let before = inf.logits.clone();
    names(
        m.infer(Batch::new(Input::Ids(&IDS[..4]), 3, 2), &mut inf),
        "x",
    );
    assert_eq!(
        inf.logits, before,
        "a refused call leaves the buffers alone"
    );
}

#[test]
fn ids_longer_than_t_times_b() {
    let m = elman();
    names(m.forward(Batch::new(Input::Ids(&IDS), 2, 2)), "x");
}

#[test]
fn dense_x_longer_or_shorter() {
    let m = elman();
    let long = vec![0.1; 3 * 2 * I + 1];
    let short = vec![0.1; 3 * 2 * I - 1];
    names(m.forward(Batch::new(Input::Dense(&long), 3, 2)), "x");
    names(m.forward(Batch::new(Input::Dense(&short), 3, 2)), "x");
    names(
        m.infer(
            Batch::new(Input::Dense(&short), 3, 2),
            &mut Inference::new(),
        ),
        "x",
    );
}

#[test]
fn a_length_of_zero() {
    let m = elman();
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_lengths(&[3, 0]);
    let mut g = grads(&m);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT), Reduction::Mean, &mut g),
        "lengths[1]",
    );
    names(m.forward(b), "lengths[1]");
}

#[test]
fn a_length_past_t() {
    let m = elman();
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_lengths(&[4, 2]);
    names(m.forward(b), "lengths[0]");
    names(m.infer(b, &mut Inference::new()), "lengths[0]");
}

#[test]
fn lengths_not_one_per_sequence() {
    let m = elman();
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_lengths(&[3]);
    names(m.forward(b), "lengths");
}

#[test]
fn zero_steps() {
    let m = elman();
    names(m.forward(Batch::new(Input::Ids(&[]), 0, 2)), "steps");
    names(
        m.infer(Batch::new(Input::Ids(&[]), 0, 2), &mut Inference::new()),
        "steps",
    );
}

#[test]
fn zero_batch() {
    let m = elman();
    names(m.forward(Batch::new(Input::Ids(&[]), 3, 0)), "batch");
    let mut g = grads(&m);
    names(
        m.loss_and_grads_parallel(
            Batch::new(Input::Ids(&[]), 3, 0),
            Targets::Classes(&[]),
            Reduction::Mean,
            &mut g,
        ),
        "batch",
    );
}

#[test]
fn steps_times_batch_overflows() {
    let m = elman();
    names(
        m.forward(Batch::new(Input::Ids(&IDS), usize::MAX / 2, 3)),
        "steps * batch",
    );
}

#[test]
fn target_class_not_below_output_size() {
    let m = elman();
    let y = [1, 2, 3, 4, 0, 7]; // 7 >= O
    let mut g = grads(&m);
    let b = Batch::new(Input::Ids(&IDS), 3, 2);
    names(
        m.loss_and_grads(b, Targets::Classes(&y), Reduction::Sum, &mut g),
        "targets[5]",
    );
    names(
        m.loss_and_grads_parallel(b, Targets::Classes(&y), Reduction::Sum, &mut g),
        "targets[5]",
    );
}

#[test]
fn targets_of_the_wrong_length_or_kind() {
    let m = elman();
    let mut g = grads(&m);
    let b = Batch::new(Input::Ids(&IDS), 3, 2);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT[..5]), Reduction::Sum, &mut g),
        "targets",
    );
    names(
        m.loss_and_grads(b, Targets::Values(&[0.0; 30]), Reduction::Sum, &mut g),
        "targets",
    );
    let r = regression();
    let x = [0.1; 3 * 2 * 2];
    let mut g = grads(&r);
    names(
        r.loss_and_grads(
            Batch::new(Input::Dense(&x), 3, 2),
            Targets::Values(&[0.0; 5]),
            Reduction::Sum,
            &mut g,
        ),
        "targets",
    );
}

#[test]
fn nan_in_regression_targets() {
    let r = regression();
    let x = [0.1; 3 * 2 * 2];
    let mut y = [0.5; 6];
    y[4] = f64::NAN;
    let mut g = grads(&r);
    names(
        r.loss_and_grads(
            Batch::new(Input::Dense(&x), 3, 2),
            Targets::Values(&y),
            Reduction::Sum,
            &mut g,
        ),
        "targets[4]",
    );
    // at a padding position the target is never read: accepted
    let b = Batch::new(Input::Dense(&x), 3, 2).with_lengths(&[3, 2]);
    y[4] = 0.5;
    y[5] = f64::NAN; // t = 2, b = 1: padding
    let (e, _, _) = r
        .loss_and_grads(b, Targets::Values(&y), Reduction::Sum, &mut g)
        .unwrap();
    assert!(e.is_finite());
}

#[test]
fn hidden_size_two_to_the_63() {
    let r = Model::<f32>::new(ModelConfig::elman(I, 1 << 63, I), 0);
    names(r, "config.hidden_size");
    names(
        Model::<f64>::zeros(ModelConfig::elman(I, 1 << 63, I)),
        "config.hidden_size",
    );
}

#[test]
fn other_size_overflows_in_model_new() {
    names(
        Model::<f32>::new(ModelConfig::elman(usize::MAX, 4, I), 0),
        "config.input_size",
    );
    names(
        Model::<f32>::new(ModelConfig::elman(I, 4, usize::MAX), 0),
        "config.output_size",
    );
    let deep = ModelConfig {
        num_layers: usize::MAX,
        ..ModelConfig::elman(I, 4, I)
    };
    names(Model::<f32>::new(deep, 0), "config.num_layers");
    let lstm = ModelConfig {
        cell: CellKind::Lstm,
        bidirectional: true,
        ..ModelConfig::elman(I, usize::MAX / 4 + 1, I)
    };
    names(Model::<f32>::new(lstm, 0), "config.hidden_size");
}

#[test]
fn parameter_count_that_cannot_be_allocated() {
    // 2^30 * 2^30 weights: no overflow, but no machine holds them
    let r = Model::<f64>::zeros(ModelConfig::elman(1 << 30, 1 << 30, 2));
    names(r, "config");
}

#[test]
fn wrong_h0_shape() {
    let m = elman();
    let s = State {
        h: vec![0.0; 2 * H - 1],
        c: Vec::new(),
    };
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_state(&s);
    names(m.forward(b), "state.h");
    names(m.infer(b, &mut Inference::new()), "state.h");
}

#[test]
fn wrong_c0_shape_for_the_lstm() {
    let m = lstm();
    let s = State {
        h: vec![0.0; 2 * H],
        c: vec![0.0; 3 * H],
    };
    names(
        m.forward(Batch::new(Input::Ids(&IDS), 3, 2).with_state(&s)),
        "state.c",
    );
}

#[test]
fn c0_given_to_a_non_lstm() {
    let m = elman();
    let s = State {
        h: vec![0.0; 2 * H],
        c: vec![0.0; 2 * H],
    };
    names(
        m.forward(Batch::new(Input::Ids(&IDS), 3, 2).with_state(&s)),
        "state.c",
    );
}

#[test]
fn grads_buffer_of_the_wrong_length() {
    let m = elman();
    let mut g = vec![0.0; m.params.len() - 1];
    let b = Batch::new(Input::Ids(&IDS), 3, 2);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "grads",
    );
    names(
        m.loss_and_grads_parallel(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "grads",
    );
    let fwd = m.forward(b).unwrap();
    let dl = vec![0.0; fwd.logits.len()];
    names(
        m.backward(&fwd, b.x, None, &dl, None, &mut g, false),
        "grads",
    );
}

#[test]
fn masks_of_the_wrong_shape() {
    let cfg = ModelConfig {
        num_layers: 2,
        ..ModelConfig::elman(I, H, I)
    };
    let m = Model::<f64>::new(cfg.clone(), 1).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let b = Batch::new(Input::Ids(&IDS), 3, 2);
    let mut g = grads(&m);
    // masks for T = 2 instead of 3
    let short: Vec<Vec<f64>> = dropout_masks(&cfg, 0.5, 2, 2, &mut rng).unwrap();
    names(m.forward(b.with_dropout(&short)), "masks[0]");
    names(
        m.loss_and_grads(
            b.with_dropout(&short),
            Targets::Classes(&NEXT),
            Reduction::Sum,
            &mut g,
        ),
        "masks[0]",
    );
    // one mask for two layers
    let good: Vec<Vec<f64>> = dropout_masks(&cfg, 0.5, 3, 2, &mut rng).unwrap();
    names(
        m.loss_and_grads_parallel(
            b.with_dropout(&good[..1]),
            Targets::Classes(&NEXT),
            Reduction::Sum,
            &mut g,
        ),
        "masks",
    );
    // a NaN entry (it made every output NaN), named by mask and position
    let mut nan = good.clone();
    nan[1][5] = f64::NAN;
    names(m.forward(b.with_dropout(&nan)), "masks[1][5]");
    // p outside [0, 1) is refused where the masks are drawn
    for p in [f64::NAN, -1.0, 1.0] {
        let e = dropout_masks::<f64, _>(&cfg, p, 3, 2, &mut rng).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("dropout p: expected a probability in [0, 1)"),
            "{e}"
        );
    }
}

#[test]
fn backward_with_mismatched_upstream_gradients() {
    let m = elman();
    let b = Batch::new(Input::Ids(&IDS), 3, 2);
    let fwd = m.forward(b).unwrap();
    let mut g = grads(&m);
    let dl = vec![0.0; fwd.logits.len() - 1];
    names(
        m.backward(&fwd, b.x, None, &dl, None, &mut g, false),
        "dlogits",
    );
    let dl = vec![0.0; fwd.logits.len()];
    let ds = State {
        h: vec![0.0; 3],
        c: Vec::new(),
    };
    names(
        m.backward(&fwd, b.x, None, &dl, Some(&ds), &mut g, false),
        "dstate_n.h",
    );
    // a forward pass of another model
    let other = Model::<f64>::new(ModelConfig::elman(I, H + 1, I), 0).unwrap();
    let theirs = other.forward(b).unwrap();
    names(
        m.backward(&theirs, b.x, None, &dl, None, &mut g, false),
        "fwd",
    );
}

#[test]
fn many_to_one_misuses() {
    let r = regression();
    let head = ManyToOne::new(&r);
    let x = [0.1; 3 * 2 * 2]; // [T = 3, B = 2, I = 2]
    names(head.predict(Input::Dense(&x[..11]), 3, 2, None), "x");
    names(
        head.predict(Input::Dense(&x), 3, 2, Some(&[0, 3])),
        "lengths[0]",
    );
    let mut g = grads(&r);
    names(
        head.loss_and_grads(
            Input::Dense(&x),
            Targets::Values(&[0.1, 0.2, 0.3]), // [B, O] = 2 values
            3,
            2,
            None,
            Reduction::Mean,
            &mut g,
        ),
        "targets",
    );
    let fwd = r.forward(Batch::new(Input::Dense(&x), 3, 2)).unwrap();
    names(head.last_outputs(&fwd, Some(&[1, 4])), "lengths[1]");
}

#[test]
fn nan_or_inf_in_dense_inputs() {
    let m = regression(); // I = 2, O = 1
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = [0.5; 3 * 2 * 2]; // [T = 3, B = 2, I = 2]
        x[7] = bad;
        let b = Batch::new(Input::Dense(&x), 3, 2);
        let want = format!("x[7]: expected a finite value, got {bad:?}");
        assert_eq!(m.forward(b).unwrap_err().to_string(), want);
        names(m.infer(b, &mut Inference::new()), "x[7]");
        names(m.prepare().infer(b, &mut Inference::new()), "x[7]");
        let y = [0.0; 3 * 2];
        let mut g = grads(&m);
        names(
            m.loss_and_grads(b, Targets::Values(&y), Reduction::Sum, &mut g),
            "x[7]",
        );
        names(
            m.loss_and_grads_parallel(b, Targets::Values(&y), Reduction::Sum, &mut g),
            "x[7]",
        );
        names(
            m.loss_and_grads_shard(b, Targets::Values(&y), Reduction::Sum, (0, 1), &mut g),
            "x[7]",
        );
        let head = ManyToOne::new(&m);
        names(head.predict(Input::Dense(&x), 3, 2, None), "x[7]");
        names(
            head.loss_and_grads(
                Input::Dense(&x),
                Targets::Values(&[0.0; 2]),
                3,
                2,
                None,
                Reduction::Sum,
                &mut g,
            ),
            "x[7]",
        );
        assert!(g.iter().all(|&v| v == 0.0), "nothing computed on bad input");
    }
}

#[test]
fn nan_or_inf_in_the_initial_state() {
    let m = lstm();
    let ld_b_h = 2 * H; // [L*D = 1, B = 2, H]
    let mut s = State {
        h: vec![0.1; ld_b_h],
        c: vec![0.1; ld_b_h],
    };
    s.h[3] = f64::NAN;
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_state(&s);
    assert_eq!(
        m.forward(b).unwrap_err().to_string(),
        "state.h[3]: expected a finite value, got NaN"
    );
    names(m.infer(b, &mut Inference::new()), "state.h[3]");
    s.h[3] = 0.1;
    s.c[5] = f64::INFINITY;
    let b = Batch::new(Input::Ids(&IDS), 3, 2).with_state(&s);
    names(m.forward(b), "state.c[5]");
    let mut g = grads(&m);
    names(
        m.loss_and_grads(b, Targets::Classes(&NEXT), Reduction::Sum, &mut g),
        "state.c[5]",
    );
}

/// A model edited through its public fields so that `params`, `layout`
/// and `config` disagree: every checked entry point is an error naming the
/// field, `param` is `None`, never a panic.
#[test]
fn models_whose_fields_disagree() {
    type Edit = Box<dyn Fn(&mut Model<f64>)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("model.params", Box::new(|m| m.params.truncate(5))),
        ("model.params", Box::new(|m| m.params.clear())),
        ("model.params", Box::new(|m| m.params.push(0.0))),
        ("model.layout", Box::new(|m| m.config.hidden_size = 8)),
        ("model.layout", Box::new(|m| m.config.cell = CellKind::Lstm)),
        ("model.layout", Box::new(|m| m.config.num_layers = 2)),
        ("model.layout", Box::new(|m| m.config.bidirectional = true)),
        ("model.layout", Box::new(|m| m.config.input_size = 100)),
        ("model.layout", Box::new(|m| m.config.output_size = 7)),
        ("model.layout", Box::new(|m| m.layout.clear())),
        ("model.layout[1]", Box::new(|m| m.layout[1].offset += 1)),
        (
            "model.layout[4]",
            Box::new(|m| m.layout[4].shape = vec![I, 2 * H]),
        ),
        ("hidden size", Box::new(|m| m.config.hidden_size = 0)),
    ];
    for (arg, edit) in edits {
        let mut m = elman();
        edit(&mut m);
        let b = Batch::new(Input::Ids(&[0]), 1, 1);
        let err = m.forward(b).unwrap_err().to_string();
        assert!(err.starts_with(arg), "{arg}: {err}");
        assert!(m.infer(b, &mut Inference::new()).is_err(), "{arg}");
        assert!(
            m.prepare().infer(b, &mut Inference::new()).is_err(),
            "{arg}"
        );
        let mut g = vec![0.0; m.params.len()];
        assert!(m
            .loss_and_grads(b, Targets::Classes(&[0]), Reduction::Sum, &mut g)
            .is_err());
        assert!(m
            .loss_and_grads_parallel(b, Targets::Classes(&[0]), Reduction::Sum, &mut g)
            .is_err());
        let head = ManyToOne::with_pool(&m, rnn::nn::pool::Pool::Mean);
        assert!(head
            .loss_and_grads(
                Input::Ids(&[0]),
                Targets::Classes(&[0]),
                1,
                1,
                None,
                Reduction::Sum,
                &mut g
            )
            .is_err());
        // `param` reads the layout: a range outside `params` is None
        let _ = m.param("rnn.weight_hh_l0");
        let _ = m.param("head.bias");
    }
    let mut m = elman();
    m.params.truncate(5);
    assert_eq!(m.param("rnn.weight_hh_l0"), None);
    assert!(m.param_mut("head.bias").is_none());
    assert!(elman().param("rnn.weight_hh_l0").is_some());
}

fn backward_of(m: &Model<f64>, fwd: &rnn::nn::model::Forward<f64>) -> rnn::Result<()> {
    let mut g = grads(m);
    let dl = vec![0.1; fwd.steps * fwd.batch * m.config.output_size];
    let x = vec![0; fwd.steps * fwd.batch];
    m.backward(fwd, Input::Ids(&x), None, &dl, None, &mut g, false)
        .map(|_| ())
}

/// A `Forward` of another model (another cell, depth or direction), or
/// one whose public caches were edited, is an error for `backward`.
#[test]
fn backward_with_a_forward_of_another_model() {
    let with = |cfg: ModelConfig| Model::<f64>::new(cfg, 1).unwrap();
    let base = ModelConfig::elman(I, H, I);
    let two = with(ModelConfig {
        num_layers: 2,
        ..base.clone()
    });
    let bi = with(ModelConfig {
        bidirectional: true,
        ..base.clone()
    });
    let gru = with(ModelConfig {
        cell: CellKind::Gru,
        ..base.clone()
    });
    let b = Batch::new(Input::Ids(&[0, 1]), 1, 2);
    let fwd = |m: &Model<f64>| m.forward(b).unwrap();
    names(backward_of(&bi, &fwd(&two)), "fwd");
    names(backward_of(&two, &fwd(&bi)), "fwd");
    names(backward_of(&lstm(), &fwd(&elman())), "fwd");
    names(backward_of(&elman(), &fwd(&lstm())), "fwd");
    names(backward_of(&elman(), &fwd(&gru)), "fwd");
    names(backward_of(&gru, &fwd(&lstm())), "fwd");
    for edit in [
        |f: &mut rnn::nn::model::Forward<f64>| f.layers[0].h0.clear(),
        |f: &mut rnn::nn::model::Forward<f64>| f.layers[0].gates.clear(),
        |f: &mut rnn::nn::model::Forward<f64>| f.layers[0].c_prev.clear(),
        |f: &mut rnn::nn::model::Forward<f64>| f.layers[0].h_n.pop().map(|_| ()).unwrap(),
        |f: &mut rnn::nn::model::Forward<f64>| f.logits.clear(),
    ] {
        let mut f = fwd(&lstm());
        edit(&mut f);
        names(backward_of(&lstm(), &f), "fwd");
    }
    // the forward of the model itself still goes through
    backward_of(&lstm(), &fwd(&lstm())).unwrap();
    backward_of(&bi, &fwd(&bi)).unwrap();
}

/// Saving or exporting a model whose fields disagree is an error naming
/// the field, and nothing is written (it panicked while writing before).
#[test]
fn writers_refuse_a_model_whose_fields_disagree() {
    use rnn::io::model_file::ModelFile;
    let dir = std::env::temp_dir().join(format!("rnn-checked-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = |edit: fn(&mut Model<f32>)| {
        let mut model = Model::<f32>::new(ModelConfig::elman(I, H, I), 1).unwrap();
        edit(&mut model);
        ModelFile {
            task: rnn::Task::Lm,
            model,
            extra: Default::default(),
            meta: Default::default(),
        }
    };
    for (arg, edit) in [
        (
            "model.params",
            (|m| m.params.truncate(5)) as fn(&mut Model<f32>),
        ),
        ("model.layout[1]", |m| m.layout[1].name = "rnn.other".into()),
    ] {
        let mf = file(edit);
        let e = mf.save(&dir).unwrap_err().to_string();
        assert!(e.starts_with(arg), "{e}");
        assert!(!dir.exists(), "nothing written");
        assert!(rnn::interop::export_pytorch(&mf)
            .unwrap_err()
            .to_string()
            .starts_with(arg));
        assert!(rnn::interop::export_onnx(&mf)
            .unwrap_err()
            .to_string()
            .starts_with(arg));
    }
    file(|_| {}).save(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
