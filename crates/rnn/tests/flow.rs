//! Gradient flow through time (`rnn::nn::flow`) on cases with a known answer.

use rnn::nn::flow::{gradient_flow, gradient_flow_of};
use rnn::{Activation, Batch, CellKind, Input, Model, ModelConfig, State, Targets};

/// An Elman relu model (I = O = 3, H = 4) whose pre-activations are all
/// positive (inputs one-hot, U, b, V positive, W = w I >= 0), so f' = 1 and
/// ds_t/ds_{t-1} = W: the error of the last step shrinks (or grows) by
/// exactly w per step back, and the spectral radius is w.
fn relu_model(w: f64) -> Model<f64> {
    let mut cfg = ModelConfig::elman(3, 4, 3);
    cfg.cell = CellKind::Elman {
        activation: Activation::Relu,
    };
    let mut m = Model::<f64>::new(cfg, 0).unwrap();
    m.params.iter_mut().for_each(|p| *p = 0.1);
    let wh = m.param_mut("rnn.weight_hh_l0").unwrap();
    wh.iter_mut().for_each(|p| *p = 0.0);
    for j in 0..4 {
        wh[j * 4 + j] = w;
    }
    m
}

#[test]
fn relu_elman_error_scales_by_w_per_step() {
    let (steps, batch) = (10, 2);
    let ids: Vec<usize> = (0..steps * batch).map(|i| i % 3).collect();
    let y: Vec<usize> = (0..steps * batch).map(|i| (i + 1) % 3).collect();
    for w in [0.5, 1.5] {
        let m = relu_model(w);
        let f = gradient_flow(
            &m,
            Batch::new(Input::Ids(&ids), steps, batch),
            Targets::Classes(&y),
        )
        .unwrap();
        let g = &f.layers[0].grad_norm_by_step;
        assert_eq!(g.len(), steps);
        for t in 0..steps - 1 {
            // ||dE_T/ds_t|| = w ||dE_T/ds_{t+1}||
            assert!((g[t] / g[t + 1] - w).abs() < 1e-12, "w {w} t {t}: {g:?}");
        }
        assert!(
            (f.layers[0].spectral_radius - w).abs() < 1e-9,
            "{}",
            f.layers[0].spectral_radius
        );
        // 0.5^10 > 1e-3, so the error still reaches the first step; 1.5 grows
        assert_eq!(f.layers[0].reach, None);
        assert_eq!(f.layers[0].saturated, 0.0); // relu never saturates
        assert!(f.grad_norms["rnn.weight_hh_l0"] > 0.0);
    }
    // 0.25^5 < 1e-3 < 0.25^4: the error falls below 1e-3 of its size 5 steps back
    let f = gradient_flow(
        &relu_model(0.25),
        Batch::new(Input::Ids(&ids), steps, batch),
        Targets::Classes(&y),
    )
    .unwrap();
    assert_eq!(f.layers[0].reach, Some(5));
}

/// `dE_T/ds_t` for a one-layer model is also the gradient w.r.t. the initial
/// state of the run that restarts at step t+1 from s_t: an independent
/// computation through the public API, for every cell.
#[test]
fn carried_error_equals_the_restarted_runs_initial_state_gradient() {
    let (steps, batch, i, hs) = (7, 3, 4, 5);
    for cell in [
        CellKind::Lstm,
        CellKind::Gru,
        CellKind::Elman {
            activation: Activation::Tanh,
        },
    ] {
        let mut cfg = ModelConfig::elman(i, hs, i);
        cfg.cell = cell;
        let m = Model::<f64>::new(cfg, 3).unwrap();
        let ids: Vec<usize> = (0..steps * batch).map(|r| (r * 7 + 1) % i).collect();
        let y: Vec<usize> = (0..steps * batch).map(|r| (r * 5 + 2) % i).collect();
        let flow = gradient_flow(
            &m,
            Batch::new(Input::Ids(&ids), steps, batch),
            Targets::Classes(&y),
        )
        .unwrap();
        let fwd = m
            .forward(Batch::new(Input::Ids(&ids), steps, batch))
            .unwrap();
        let cache = &fwd.layers[0];
        for t in 0..steps - 1 {
            // the state after step t, and the run over steps t+1..T from it
            let state = State {
                h: cache.h[t * batch * hs..(t + 1) * batch * hs].to_vec(),
                c: if cell.has_memory() {
                    cache.c_prev[(t + 1) * batch * hs..(t + 2) * batch * hs].to_vec()
                } else {
                    Vec::new()
                },
            };
            let rest = steps - 1 - t;
            let ids_rest = &ids[(t + 1) * batch..];
            // E_T of the restarted run: softmax cross-entropy at its last step only
            let f2 = m
                .forward(Batch::new(Input::Ids(ids_rest), rest, batch).with_state(&state))
                .unwrap();
            let o = i;
            let mut dlogits = vec![0.0; rest * batch * o];
            for b in 0..batch {
                let row =
                    &f2.logits[((rest - 1) * batch + b) * o..((rest - 1) * batch + b + 1) * o];
                let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = row.iter().map(|v| (v - mx).exp()).sum();
                let target = y[(steps - 1) * batch + b];
                for k in 0..o {
                    // d(-log softmax_target)/do_k = p_k - [k = target]
                    dlogits[((rest - 1) * batch + b) * o + k] =
                        (row[k] - mx).exp() / z - f64::from(k == target);
                }
            }
            let mut g = vec![0.0; m.params.len()];
            let (d0, _) = m
                .backward(
                    &f2,
                    Input::Ids(ids_rest),
                    None,
                    &dlogits,
                    None,
                    &mut g,
                    false,
                )
                .unwrap();
            let want = d0.h.iter().map(|v| v * v).sum::<f64>().sqrt();
            let got = flow.layers[0].grad_norm_by_step[t];
            assert!(
                (got - want).abs() <= 1e-12 * want.max(1.0),
                "{cell:?} t {t}: {got} vs {want}"
            );
        }
    }
}

/// With W_hh = 0 the state-to-state Jacobian is diagonal or triangular and
/// its spectral radius is known. GRU: `h_t = (1-z) n + z h_{t-1}` and n no
/// longer depends on `h_{t-1}`, so `ds_t/ds_{t-1} = diag(z)`. LSTM:
/// `d(h,c)_t/d(h,c)_{t-1} = [[0, diag(o (1 - tanh^2 c) f)], [0, diag(f)]]`,
/// eigenvalues 0 and f.
#[test]
fn spectral_radius_of_gated_cells_without_recurrent_weights() {
    let (steps, batch, i, hs) = (5, 1, 3, 6);
    for cell in [CellKind::Gru, CellKind::Lstm] {
        let mut cfg = ModelConfig::elman(i, hs, i);
        cfg.cell = cell;
        let mut m = Model::<f64>::new(cfg, 11).unwrap();
        m.param_mut("rnn.weight_hh_l0")
            .unwrap()
            .iter_mut()
            .for_each(|p| *p = 0.0);
        let ids: Vec<usize> = (0..steps).map(|r| r % i).collect();
        let flow = gradient_flow(
            &m,
            Batch::new(Input::Ids(&ids), steps, batch),
            Targets::Classes(&ids),
        )
        .unwrap();
        let fwd = m
            .forward(Batch::new(Input::Ids(&ids), steps, batch))
            .unwrap();
        let cw = cell.cache_width() * hs;
        let last = &fwd.layers[0].gates[(steps - 1) * cw..steps * cw];
        // the gate that carries the state: z (GRU, second block), f (LSTM, second block)
        let carry = &last[hs..2 * hs];
        let want = carry.iter().cloned().fold(0.0, f64::max);
        let got = flow.layers[0].spectral_radius;
        // power iteration: exact up to (lambda_2/lambda_1)^k with k ~ 48, and
        // random gates can lie close together
        assert!(
            (got - want).abs() < 1e-3 * want,
            "{cell:?}: {got} vs {want}"
        );
    }
}

#[test]
fn saturation_counts_tanh_outputs_near_one() {
    let mut m = Model::<f64>::new(ModelConfig::elman(2, 3, 2), 0).unwrap();
    let ids = [0usize, 1, 0, 1];
    let b = || Batch::new(Input::Ids(&ids), 4, 1);
    m.params.iter_mut().for_each(|p| *p = 0.0);
    assert_eq!(
        gradient_flow(&m, b(), Targets::Classes(&ids))
            .unwrap()
            .layers[0]
            .saturated,
        0.0
    );
    m.params.iter_mut().for_each(|p| *p = 10.0); // every pre-activation >= 20: tanh = 1
    assert_eq!(
        gradient_flow(&m, b(), Targets::Classes(&ids))
            .unwrap()
            .layers[0]
            .saturated,
        1.0
    );
}

#[test]
fn stacked_bidirectional_models_have_one_entry_per_layer_and_direction() {
    let mut cfg = ModelConfig::elman(3, 4, 3);
    cfg.cell = CellKind::Lstm;
    cfg.num_layers = 2;
    cfg.bidirectional = true;
    let m = Model::<f32>::new(cfg, 1).unwrap();
    let ids = [0usize, 1, 2, 0, 1, 2];
    let f = gradient_flow(
        &m,
        Batch::new(Input::Ids(&ids), 3, 2).with_lengths(&[3, 2]),
        Targets::Classes(&ids),
    )
    .unwrap();
    let at: Vec<(usize, usize)> = f.layers.iter().map(|l| (l.layer, l.direction)).collect();
    assert_eq!(at, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    assert!(f
        .layers
        .iter()
        .all(|l| l.spectral_radius.is_finite() && l.grad_norm_by_step.len() == 3));
    // a bad batch is an error, not a panic
    assert!(gradient_flow(
        &m,
        Batch::new(Input::Ids(&ids), 3, 2).with_lengths(&[4, 2]),
        Targets::Classes(&ids)
    )
    .is_err());
}

/// A bidirectional Elman relu model on dense positive inputs (a tagger's
/// case): every pre-activation is positive, so f' = 1 and each direction's
/// error shrinks by exactly its own W = w I per step back. The forward
/// direction (w = 0.5) carries E_T from t = T towards t = 0; the backward one
/// (w = 0.25) reads the sequence from its end, so its last step is t = 0 and
/// it carries E_0 towards t = T.
#[test]
fn bidirectional_directions_carry_their_own_last_steps_error() {
    let (steps, batch, i) = (10, 2, 3);
    let mut cfg = ModelConfig::elman(i, 4, 3);
    cfg.cell = CellKind::Elman {
        activation: Activation::Relu,
    };
    cfg.bidirectional = true;
    let mut m = Model::<f64>::new(cfg, 0).unwrap();
    m.params.iter_mut().for_each(|p| *p = 0.1);
    for (name, w) in [
        ("rnn.weight_hh_l0", 0.5),
        ("rnn.weight_hh_l0_reverse", 0.25),
    ] {
        let wh = m.param_mut(name).unwrap();
        wh.iter_mut().for_each(|p| *p = 0.0);
        for j in 0..4 {
            wh[j * 4 + j] = w;
        }
    }
    let x: Vec<f64> = (0..steps * batch * i)
        .map(|r| 0.2 + (r % 5) as f64 / 10.0)
        .collect();
    let y: Vec<usize> = (0..steps * batch).map(|r| r % 3).collect();
    let data = Batch::new(Input::Dense(&x), steps, batch);
    let f = gradient_flow(&m, data, Targets::Classes(&y)).unwrap();
    let (fw, bw) = (&f.layers[0], &f.layers[1]);
    assert_eq!((fw.direction, fw.from_step), (0, steps - 1));
    assert_eq!((bw.direction, bw.from_step), (1, 0));
    for t in 0..steps - 1 {
        let (gf, gb) = (&fw.grad_norm_by_step, &bw.grad_norm_by_step);
        assert!(
            (gf[t] / gf[t + 1] - 0.5).abs() < 1e-12,
            "forward t {t}: {gf:?}"
        );
        assert!(
            (gb[t + 1] / gb[t] - 0.25).abs() < 1e-12,
            "backward t {t}: {gb:?}"
        );
    }
    // 0.5^9 > 1e-3: reaches t = 0; 0.25^5 < 1e-3 < 0.25^4: 5 steps after t = 0
    assert_eq!((fw.reach, bw.reach), (None, Some(5)));
    assert!((fw.spectral_radius - 0.5).abs() < 1e-9);
    assert!((bw.spectral_radius - 0.25).abs() < 1e-9);
    let back = bw.by_steps_back();
    assert_eq!(back, bw.grad_norm_by_step);
    assert_eq!(fw.by_steps_back()[0], fw.grad_norm_by_step[steps - 1]);
    let report = f.report();
    assert!(
        report.contains("layer 0 direction 1: |dE_0/ds_t| "),
        "{report}"
    );

    // the same with the caller's forward pass and gradient norms, counting
    // only the first sequence: the carried errors are that sequence's alone
    let fwd = m.forward(data).unwrap();
    let counted: Vec<bool> = (0..steps * batch).map(|r| r % batch == 0).collect();
    let of = gradient_flow_of(
        &m,
        data,
        &fwd,
        Targets::Classes(&y),
        Some(&counted),
        Default::default(),
    )
    .unwrap();
    let x0: Vec<f64> = (0..steps)
        .flat_map(|t| x[t * batch * i..][..i].to_vec())
        .collect();
    let y0: Vec<usize> = (0..steps).map(|t| y[t * batch]).collect();
    let alone = gradient_flow(
        &m,
        Batch::new(Input::Dense(&x0), steps, 1),
        Targets::Classes(&y0),
    )
    .unwrap();
    for (a, b) in of.layers.iter().zip(&alone.layers) {
        for (p, q) in a.grad_norm_by_step.iter().zip(&b.grad_norm_by_step) {
            assert!((p - q).abs() <= 1e-12 * q, "{p} vs {q}");
        }
    }
    assert!(of.grad_norms.is_empty());
    // a counted mask of the wrong size is an error naming it
    let e = gradient_flow_of(
        &m,
        data,
        &fwd,
        Targets::Classes(&y),
        Some(&[true]),
        Default::default(),
    );
    assert!(e.unwrap_err().to_string().starts_with("counted: "));
}

/// A tagger's flow on a case with a known answer: a bidirectional relu
/// Elman tagger whose embeddings and weights are positive (its 0/1 flags
/// are too), so every pre-activation is positive and each direction's error
/// shrinks by its own W = w I per step back: 0.5 forward from the last
/// token, 0.25 backward from the first. The batch is the longest sentences
/// cut to the shortest of them (4 tokens).
#[test]
fn tagger_flow_scales_by_each_directions_w() {
    use rnn::tasks::tag::{Sentence, Tagger, TaggerOptions};
    let s = |w: &str, t: &str| Sentence {
        tokens: w.split(' ').map(String::from).collect(),
        tags: t.split(' ').map(String::from).collect(),
        line: 1,
    };
    let data = vec![
        s("I like eating apple pie", "O O O B-fruit O"),
        s("Apple", "B-corp"),
        s("The Apple is great", "O B-corp O O"),
    ];
    let mut rnn = ModelConfig::elman(1, 5, 1);
    rnn.cell = CellKind::Elman {
        activation: Activation::Relu,
    };
    rnn.bidirectional = true;
    let opts = TaggerOptions {
        rnn,
        ..TaggerOptions::default()
    };
    let mut tagger = Tagger::new(&data, &opts, 1).unwrap();
    tagger.emb.iter_mut().for_each(|v| *v = 0.05);
    tagger.model.params.iter_mut().for_each(|p| *p = 0.02);
    for (name, w) in [
        ("rnn.weight_hh_l0", 0.5),
        ("rnn.weight_hh_l0_reverse", 0.25),
    ] {
        let wh = tagger.model.param_mut(name).unwrap();
        wh.iter_mut().for_each(|p| *p = 0.0);
        for j in 0..5 {
            wh[j * 5 + j] = w;
        }
    }
    let f = tagger.diagnose(&data, "data").unwrap();
    assert_eq!(f.steps, 4);
    let (fw, bw) = (&f.layers[0], &f.layers[1]);
    assert_eq!((fw.from_step, bw.from_step), (3, 0));
    for t in 0..3 {
        let (gf, gb) = (&fw.grad_norm_by_step, &bw.grad_norm_by_step);
        assert!(
            (gf[t] / gf[t + 1] - 0.5).abs() < 1e-5,
            "forward t {t}: {gf:?}"
        );
        assert!(
            (gb[t + 1] / gb[t] - 0.25).abs() < 1e-5,
            "backward t {t}: {gb:?}"
        );
    }
    assert!((fw.spectral_radius - 0.5).abs() < 1e-5);
    assert!((bw.spectral_radius - 0.25).abs() < 1e-5);
    // every trained tensor, by its name in the model file
    for name in [
        "rnn.weight_ih_l0_reverse",
        "head.weight",
        "embed.word.weight",
        "embed.shape.weight",
    ] {
        assert!(f.grad_norms[name] > 0.0, "{name}: {:?}", f.grad_norms);
    }
}

/// Many-to-one (forecasters, classifiers): a bidirectional relu Elman model
/// on positive dense inputs, f' = 1 everywhere, W = w I per direction (0.5
/// forward, 0.25 backward). Read from the final states (`last`), the loss
/// enters each direction at its own last step only and shrinks by exactly
/// w per step back; read from the mean of the outputs, it enters every step
/// with the same `g / T`, so `dE/ds_t` is `g / T` times `sum_k w^k` over the
/// steps from t to the direction's last step.
#[test]
fn many_to_one_flow_follows_w_from_the_readout() {
    use rnn::nn::flow::gradient_flow_many_to_one;
    use rnn::nn::many_to_one::ManyToOne;
    use rnn::nn::pool::Pool;
    use rnn::OutputKind;
    let (steps, batch, i, hs) = (8, 3, 2, 4);
    let (wf, wb) = (0.5, 0.25);
    for output in [OutputKind::Softmax, OutputKind::Identity] {
        let mut cfg = ModelConfig::elman(i, hs, 2);
        cfg.cell = CellKind::Elman {
            activation: Activation::Relu,
        };
        cfg.bidirectional = true;
        cfg.output = output;
        let mut m = Model::<f64>::new(cfg, 0).unwrap();
        m.params.iter_mut().for_each(|p| *p = 0.1);
        // a readout whose rows differ (equal rows give a softmax no gradient)
        let v = m.param_mut("head.weight").unwrap();
        v.iter_mut()
            .enumerate()
            .for_each(|(j, p)| *p = 0.05 + 0.03 * j as f64);
        for (name, w) in [("rnn.weight_hh_l0", wf), ("rnn.weight_hh_l0_reverse", wb)] {
            let wh = m.param_mut(name).unwrap();
            wh.iter_mut().for_each(|p| *p = 0.0);
            for j in 0..hs {
                wh[j * hs + j] = w;
            }
        }
        let x: Vec<f64> = (0..steps * batch * i)
            .map(|r| 0.2 + (r % 5) as f64 / 10.0)
            .collect();
        let (classes, values) = ([1usize, 0, 1], [0.3, -0.2, 0.1, 0.5, -0.4, 0.0]);
        let targets = match output {
            OutputKind::Softmax => Targets::Classes(&classes),
            OutputKind::Identity => Targets::Values(&values),
        };
        let data = Batch::new(Input::Dense(&x), steps, batch);
        for pool in [Pool::Last, Pool::Mean] {
            let f =
                gradient_flow_many_to_one(&ManyToOne::with_pool(&m, pool), data, targets).unwrap();
            let (fw, bw) = (&f.layers[0], &f.layers[1]);
            assert_eq!((fw.from_step, bw.from_step), (steps - 1, 0));
            let (gf, gb) = (&fw.grad_norm_by_step, &bw.grad_norm_by_step);
            let sum = |w: f64, n: usize| (0..=n).map(|k| w.powi(k as i32)).sum::<f64>();
            for t in 0..steps {
                // the norm n steps back relative to the norm at the last step
                let (want_f, want_b) = match pool {
                    Pool::Last => (wf.powi((steps - 1 - t) as i32), wb.powi(t as i32)),
                    _ => (sum(wf, steps - 1 - t), sum(wb, t)),
                };
                let (got_f, got_b) = (gf[t] / gf[steps - 1], gb[t] / gb[0]);
                assert!(
                    (got_f - want_f).abs() < 1e-12 * want_f,
                    "{pool} {output:?} forward t {t}: {got_f} vs {want_f}"
                );
                assert!(
                    (got_b - want_b).abs() < 1e-12 * want_b,
                    "{pool} {output:?} backward t {t}: {got_b} vs {want_b}"
                );
            }
            assert!((fw.spectral_radius - wf).abs() < 1e-9);
            assert!((bw.spectral_radius - wb).abs() < 1e-9);
            // 0.25^5 < 1e-3 < 0.25^4 read from the final state; pooled, the
            // error enters every step and never falls that low
            let want_reach = match pool {
                Pool::Last => (None, Some(5)),
                _ => (None, None),
            };
            assert_eq!((fw.reach, bw.reach), want_reach, "{pool}");
            assert!(f.grad_norms["head.weight"] > 0.0 && f.grad_norms["rnn.weight_hh_l0"] > 0.0);
        }
    }
}

/// A classifier's loss (read from the final state) carried back to step t
/// is the gradient of that loss with respect to the initial state of the
/// run that restarts at step t+1 from s_t, here by central differences
/// through the public many-to-one loss: an independent computation, for
/// every cell (for the LSTM the state perturbed is h, c held).
#[test]
fn many_to_one_carried_error_equals_the_restarted_runs_initial_state_gradient() {
    use rnn::nn::flow::gradient_flow_many_to_one;
    use rnn::nn::many_to_one::ManyToOne;
    use rnn::Reduction;
    let (steps, batch, i, hs, classes) = (6, 2, 3, 4, 3);
    for cell in [
        CellKind::Lstm,
        CellKind::Gru,
        CellKind::Elman {
            activation: Activation::Tanh,
        },
    ] {
        let mut cfg = ModelConfig::elman(i, hs, classes);
        cfg.cell = cell;
        let m = Model::<f64>::new(cfg, 5).unwrap();
        let x: Vec<f64> = (0..steps * batch * i)
            .map(|r| ((r * 7 + 3) % 11) as f64 / 5.0 - 1.0)
            .collect();
        let y = [2usize, 0];
        let head = ManyToOne::new(&m);
        let flow = gradient_flow_many_to_one(
            &head,
            Batch::new(Input::Dense(&x), steps, batch),
            Targets::Classes(&y),
        )
        .unwrap();
        let fwd = m
            .forward(Batch::new(Input::Dense(&x), steps, batch))
            .unwrap();
        let cache = &fwd.layers[0];
        let mut scratch = vec![0.0; m.params.len()];
        for t in 0..steps - 1 {
            let h = cache.h[t * batch * hs..(t + 1) * batch * hs].to_vec();
            let c = if cell.has_memory() {
                cache.c_prev[(t + 1) * batch * hs..(t + 2) * batch * hs].to_vec()
            } else {
                Vec::new()
            };
            let rest = steps - 1 - t;
            let x_rest = &x[(t + 1) * batch * i..];
            let mut loss_from = |h: Vec<f64>| {
                let state = State { h, c: c.clone() };
                let data = Batch::new(Input::Dense(x_rest), rest, batch).with_state(&state);
                head.loss_and_grads_batch(data, Targets::Classes(&y), Reduction::Sum, &mut scratch)
                    .unwrap()
                    .0
            };
            let eps = 1e-6;
            let mut sq = 0.0;
            for j in 0..h.len() {
                let (mut up, mut down) = (h.clone(), h.clone());
                up[j] += eps;
                down[j] -= eps;
                let d = (loss_from(up) - loss_from(down)) / (2.0 * eps);
                sq += d * d;
            }
            let want = sq.sqrt();
            let got = flow.layers[0].grad_norm_by_step[t];
            assert!(
                (got - want).abs() <= 1e-7 * want.max(1e-3),
                "{cell:?} t {t}: {got} vs {want}"
            );
        }
    }
}
