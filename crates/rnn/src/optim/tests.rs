//! The optimizers' tests: updates by hand, clipping, and the checks of their arguments.

use super::*;
use serde_json::json;

#[test]
fn unknown_arguments_and_names_are_errors() {
    assert!(OptimizerConfig::from_args("adam", &json!({"lr": 0.1, "momentum": 0.9})).is_err());
    assert!(OptimizerConfig::from_args("lbfgs", &json!({})).is_err());
    assert!(OptimizerConfig::from_args("sgd", &json!({"lr": -1.0})).is_err());
    let c = OptimizerConfig::from_args("AdamW", &json!({})).unwrap();
    assert_eq!(
        c,
        OptimizerConfig::AdamW {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false
        }
    );
}

#[test]
fn sgd_momentum_by_hand() {
    // θ0 = 1, g = 2 each step, lr 0.1, μ 0.9: b1 = 2, θ1 = 0.8; b2 = 0.9*2 + 2 = 3.8, θ2 = 0.8 - 0.38 = 0.42
    let cfg = OptimizerConfig::from_args("sgd", &json!({"lr": 0.1, "momentum": 0.9})).unwrap();
    let mut opt = Optimizer::<f64>::new(cfg, 1);
    let mut p = [1.0f64];
    opt.step(&mut p, &[2.0]).unwrap();
    assert!((p[0] - 0.8).abs() < 1e-15);
    opt.step(&mut p, &[2.0]).unwrap();
    assert!((p[0] - 0.42).abs() < 1e-15);
}

#[test]
fn adam_first_step_moves_by_lr() {
    // bias correction makes the first Adam step ±lr whatever the gradient's scale
    let cfg = OptimizerConfig::from_args("adam", &json!({"lr": 0.01})).unwrap();
    let mut opt = Optimizer::<f64>::new(cfg, 2);
    let mut p = [0.0f64, 0.0];
    opt.step(&mut p, &[1e3, -1e-3]).unwrap();
    assert!((p[0] + 0.01).abs() < 1e-9 && (p[1] - 0.01).abs() < 1e-6);
}

/// Past 2^31 steps the bias corrections stay those of β^t (β^t is 0 there:
/// the step is lr · m / (sqrt(v) + ε)), where `t as i32` wrapped negative,
/// β^t overflowed and the weights became NaN. At 2^31 - 1 and 2^31 with a
/// fresh state (m = (1 - β1) g, v = (1 - β2) g²) and g = 1: the step is
/// lr · 0.1 / (sqrt(0.001) + 1e-8) = 0.316... lr, the same on both sides.
#[test]
fn adam_past_two_to_the_31_steps_stays_finite() {
    let cfg = OptimizerConfig::from_args("adam", &json!({"lr": 0.01})).unwrap();
    let mut moves = Vec::new();
    for before in [i32::MAX as u64 - 1, i32::MAX as u64] {
        let mut opt = Optimizer::<f64>::new(cfg.clone(), 1);
        opt.steps = before;
        let mut p = [0.0f64];
        opt.step(&mut p, &[1.0]).unwrap();
        moves.push(-p[0]);
    }
    let want = 0.01 * 0.1 / (0.001f64.sqrt() + 1e-8);
    for m in moves {
        assert!((m - want).abs() < 1e-12, "{m} against {want}");
    }
}

#[test]
fn clipping() {
    let mut g = [3.0f64, 4.0];
    let n = clip_grad_norm(&mut g, 1.0).unwrap();
    assert_eq!(n, 5.0);
    assert!((g[0] - 3.0 / (5.0 + 1e-6)).abs() < 1e-15);
    let mut g = [3.0f64, -4.0, 0.5];
    clip_grad_value(&mut g, 1.0).unwrap();
    assert_eq!(g, [1.0, -1.0, 0.5]);
    // finite f64 gradients whose squares overflow: the norm is still theirs
    // (1e200 * sqrt 2), and they are scaled to it, not zeroed by 1 / inf
    let mut g = [1e200f64, 1e200];
    let n = clip_grad_norm(&mut g, 1.0).unwrap();
    assert!((n / (1e200 * 2f64.sqrt()) - 1.0).abs() < 1e-12, "{n}");
    assert!(
        (g[0] - 0.5f64.sqrt()).abs() < 1e-12 && g[0] == g[1],
        "{g:?}"
    );
}

/// A negative bound flipped the gradients' signs, a NaN one did not
/// clip: both are errors naming the bound, the gradients untouched.
#[test]
fn clipping_bounds_that_are_not_numbers_at_least_0() {
    for bad in [-1.0, f64::NAN, f64::NEG_INFINITY] {
        let mut g = [3.0f64, -4.0, 0.0];
        let e = clip_grad_norm(&mut g, bad).unwrap_err().to_string();
        assert!(e.starts_with("max_norm: expected a bound >= 0"), "{e}");
        let e = clip_grad_value(&mut g, bad).unwrap_err().to_string();
        assert!(e.starts_with("clip: expected a bound >= 0"), "{e}");
        assert_eq!(g, [3.0, -4.0, 0.0]);
    }
    let mut g = [3.0f64, -4.0];
    assert_eq!(clip_grad_norm(&mut g, f64::INFINITY).unwrap(), 5.0);
    clip_grad_value(&mut g, f64::INFINITY).unwrap();
    assert_eq!(g, [3.0, -4.0]);
}

/// Grads or params of another length, or a state built for another
/// size: an error before anything changes (an index panic, or an
/// update of a prefix, before).
#[test]
fn steps_that_do_not_fit_the_state_are_errors() {
    for name in ["sgd", "adagrad", "rmsprop", "adam", "adamw"] {
        // SGD with momentum, to have a state
        let cfg = OptimizerConfig::from_args(name, &json!({"lr": 0.1})).unwrap();
        let cfg = match cfg {
            OptimizerConfig::Sgd { .. } => {
                OptimizerConfig::from_args(name, &json!({"lr": 0.1, "momentum": 0.9})).unwrap()
            }
            c => c,
        };
        let mut opt = Optimizer::<f64>::new(cfg.clone(), 4);
        let mut p = [1.0f64; 4];
        let e = opt.step(&mut p, &[0.1; 2]).unwrap_err().to_string();
        assert!(
            e.starts_with("grads: expected one per parameter, 4 values"),
            "{e}"
        );
        let mut five = [1.0f64; 5];
        let e = opt.step(&mut five, &[0.1; 5]).unwrap_err().to_string();
        assert!(e.starts_with("params: expected 4 values"), "{e}");
        assert_eq!((p, five, opt.steps), ([1.0; 4], [1.0; 5], 0));
        opt.config.set_lr(f64::NAN);
        let e = opt.step(&mut p, &[0.1; 4]).unwrap_err().to_string();
        assert_eq!(e, "lr: expected a finite number >= 0, got NaN");
        let mut fresh = Optimizer::<f64>::new(cfg, 4);
        fresh.state.clear();
        if fresh.config.buffers() > 0 {
            assert!(fresh.step(&mut p, &[0.1; 4]).is_err());
        }
        assert_eq!(p, [1.0; 4]);
    }
    // SGD without momentum keeps no state: any length
    let cfg = OptimizerConfig::from_args("sgd", &json!({"lr": 0.5})).unwrap();
    let mut p = [1.0f64; 3];
    Optimizer::<f64>::new(cfg, 0)
        .step(&mut p, &[1.0; 3])
        .unwrap();
    assert_eq!(p, [0.5; 3]);
}

/// The ranges that made a step NaN or meaningless are refused, naming
/// the argument and its value (NaN and inf as such, not JSON's null).
#[test]
fn arguments_out_of_range_are_refused() {
    let err = |name: &str, args: serde_json::Value| {
        OptimizerConfig::from_args(name, &args)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("adam", json!({"eps": 0.0})),
        "optimizer argument eps = 0: expected a finite number > 0"
    );
    assert!(err("adamw", json!({"eps": 0.0})).contains("eps = 0"));
    assert!(err("rmsprop", json!({"eps": 0.0})).contains("eps = 0"));
    assert!(
        err("rmsprop", json!({"alpha": 5.0})).contains("alpha = 5: expected a number in [0, 1]")
    );
    assert!(err("sgd", json!({"dampening": 5.0, "momentum": 0.9})).contains("dampening = 5"));
    OptimizerConfig::from_args("rmsprop", &json!({"alpha": 1.0})).unwrap();
    OptimizerConfig::from_args("sgd", &json!({"dampening": 1.0, "momentum": 0.9})).unwrap();
    for (name, lr) in [
        (OptimizerName::Sgd, f64::NAN),
        (OptimizerName::Adam, f64::INFINITY),
    ] {
        let e = name.config(lr, None).unwrap_err().to_string();
        assert!(e.contains(&format!("lr = {lr}: expected")), "{e}");
        assert!(!e.contains("null"), "{e}");
    }
    let mut c = OptimizerConfig::from_args("adam", &json!({})).unwrap();
    c.set_lr(f64::INFINITY);
    assert!(c.validate().unwrap_err().to_string().contains("lr = inf"));
}

/// Each decaying optimizer state, one gradient then many steps without:
/// `m` (Adam, × 0.9 a step), SGD's momentum (× 0.9) and RMSprop's averages
/// (× 0.99) fall toward the subnormal numbers, whose arithmetic is one to two
/// orders of magnitude slower on x86 (a tagger's embedding: 11.4 ms an Adam
/// step became 102.7 ms, `examples/optimizer_rate.rs`). Read as 0 below
/// `flush_below`, no state value is
/// ever subnormal; the weights still follow the f64 run of the same steps
/// (where the flush lies at 3.7e-301) to f32's rounding.
#[test]
fn decaying_state_never_becomes_subnormal() {
    let configs = [
        ("sgd", json!({"lr": 0.1, "momentum": 0.9})),
        ("sgd", json!({"lr": 0.1, "momentum": 0.9, "nesterov": true})),
        (
            "rmsprop",
            json!({"lr": 1e-3, "momentum": 0.5, "centered": true}),
        ),
        ("rmsprop", json!({"lr": 1e-3})),
        ("adam", json!({"lr": 1e-3})),
        // no weight decay: f32's rounding of 1 - 1e-5, applied 15,000 times,
        // would part the weights by 2e-4 with nothing flushed
        (
            "adamw",
            json!({"lr": 1e-3, "amsgrad": true, "weight_decay": 0.0}),
        ),
    ];
    for (name, args) in configs {
        let cfg = OptimizerConfig::from_args(name, &args).unwrap();
        let mut opt32 = Optimizer::<f32>::new(cfg.clone(), 3);
        let mut opt64 = Optimizer::<f64>::new(cfg, 3);
        let (mut p32, mut p64) = ([0.5f32, -0.25, 0.0], [0.5f64, -0.25, 0.0]);
        // gradients of three sizes: v starts at 1e-3 g^2, down to 1e-33
        // (subnormal after ~11,000 steps at β2 0.999, ~1,400 at α 0.99)
        let g0 = [1.0, -1e-9, 1e-15];
        let mut subnormal_seen = 0;
        for t in 0..15_000 {
            let g = if t == 0 { g0 } else { [0.0; 3] };
            opt32.step(&mut p32, &g.map(|x| x as f32)).unwrap();
            opt64.step(&mut p64, &g).unwrap();
            subnormal_seen += opt32
                .state
                .iter()
                .flatten()
                .filter(|x| x.is_subnormal())
                .count();
        }
        assert_eq!(subnormal_seen, 0, "{name} {args}");
        // the flushed state reached 0 (else this tests nothing)
        assert!(opt32.state.iter().flatten().any(|&x| x == 0.0), "{name}");
        for (a, b) in p32.iter().zip(&p64) {
            let tol = 1e-5 * b.abs().max(1e-3);
            assert!(
                (f64::from(*a) - b).abs() <= tol,
                "{name}: f32 {a} against f64 {b}"
            );
        }
    }
}
