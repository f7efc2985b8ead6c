//! The batch-split entry points give the same loss, gradients and logits as
//! the sequential ones (the same sums in another order).

use rnn::cell::CellKind;
use rnn::layer::Input;
use rnn::loss::{OutputKind, Reduction, Targets};
use rnn::{Model, ModelConfig};

fn close(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn batch_split_matches_sequential() {
    rnn::linalg::set_threads(3);
    let (steps, batch) = (6, 5);
    for cell in [
        ModelConfig::elman(4, 7, 4).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for (output, lengths) in [
            (OutputKind::Softmax, None),
            (OutputKind::Identity, Some(vec![6, 2, 5, 1, 6])),
        ] {
            let config = ModelConfig {
                cell,
                output,
                num_layers: 2,
                bidirectional: true,
                ..ModelConfig::elman(4, 7, 4)
            };
            let model = Model::<f64>::new(config, 1).expect("valid config");
            let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + 3) % 4).collect();
            let classes: Vec<usize> = (0..steps * batch).map(|i| (i * 5 + 1) % 4).collect();
            let values: Vec<f64> = (0..steps * batch * 4)
                .map(|i| (i as f64 * 0.3).sin())
                .collect();
            let targets = match output {
                OutputKind::Softmax => Targets::Classes(&classes),
                OutputKind::Identity => Targets::Values(&values),
            };
            let l = lengths.as_deref();
            let mut g_seq = vec![0.0; model.params.len()];
            let (e_seq, fwd, _) = model.loss_and_grads(
                Input::Ids(&ids),
                targets,
                steps,
                batch,
                None,
                l,
                Reduction::Mean,
                &mut g_seq,
            );
            let mut g_par = vec![0.0; model.params.len()];
            let e_par = model.loss_and_grads_parallel(
                Input::Ids(&ids),
                targets,
                steps,
                batch,
                l,
                Reduction::Mean,
                &mut g_par,
            );
            assert!(
                (e_seq - e_par).abs() < 1e-12,
                "{cell:?}: loss {e_seq} vs {e_par}"
            );
            assert!(close(&g_seq, &g_par) < 1e-12, "{cell:?}: gradients differ");
            let logits = model.logits_parallel(Input::Ids(&ids), steps, batch, l);
            assert!(
                close(&fwd.logits, &logits) < 1e-12,
                "{cell:?}: logits differ"
            );
        }
    }
}
