//! Where each named parameter tensor lives in a model's flat buffer.

use crate::nn::model::config::ModelConfig;

/// One named parameter tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamEntry {
    /// PyTorch `state_dict` name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Offset of the first element in the flat buffer.
    pub offset: usize,
}

impl ParamEntry {
    /// Number of elements.
    pub fn len(&self) -> usize {
        // saturating: a shape from an unvalidated config never wraps around
        self.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }
    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The element range in the flat buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset.saturating_add(self.len())
    }
}

/// Lays out the parameters of `config`: per layer and direction
/// `weight_ih, weight_hh, bias_ih[, bias_hh]`, then `head.weight, head.bias`.
///
/// Sizes are computed with saturating arithmetic, so a config whose sizes
/// overflow never wraps around to a small layout; [`ModelConfig::validate`]
/// (called by [`crate::Model::new`]) refuses such a config with an error
/// naming the size.
///
/// ```
/// let layout = rnn::nn::model::param_layout(&rnn::ModelConfig::elman(3, 4, 2));
/// assert_eq!(layout[0].name, "rnn.weight_ih_l0");
/// assert_eq!(layout[0].shape, vec![4, 3]); // [G*H, I]
/// assert_eq!(layout.last().unwrap().range().end, 46); // = param_count()
/// ```
pub fn param_layout(config: &ModelConfig) -> Vec<ParamEntry> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut push = |name: String, shape: Vec<usize>| {
        let e = ParamEntry {
            name,
            shape,
            offset,
        };
        offset = offset.saturating_add(e.len());
        out.push(e);
    };
    let gh = config.cell.gates().saturating_mul(config.hidden_size);
    for k in 0..config.num_layers {
        for d in 0..config.directions() {
            let sfx = if d == 1 { "_reverse" } else { "" };
            let l = config.layer(k, d);
            push(format!("rnn.weight_ih_l{k}{sfx}"), vec![gh, l.input_size]);
            push(
                format!("rnn.weight_hh_l{k}{sfx}"),
                vec![gh, config.hidden_size],
            );
            push(format!("rnn.bias_ih_l{k}{sfx}"), vec![gh]);
            if config.bias_hh {
                push(format!("rnn.bias_hh_l{k}{sfx}"), vec![gh]);
            }
        }
    }
    let dh = config.directions().saturating_mul(config.hidden_size);
    push("head.weight".into(), vec![config.output_size, dh]);
    push("head.bias".into(), vec![config.output_size]);
    out
}
