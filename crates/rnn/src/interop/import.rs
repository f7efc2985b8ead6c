//! From a PyTorch `state_dict` to a [`Model`]: find the recurrent module and
//! the head under the user's own names, infer the architecture from the
//! tensors' names and shapes, and remember the names so an export writes
//! them back.

use crate::interop::fold::{self, Found};
pub use crate::interop::state_dict::{read_state_dict, NamedTensor};
use crate::io::model_file::Task;
use crate::nn::cell::{Activation, CellKind};
use crate::nn::loss::OutputKind;
use crate::{Error, Model, ModelConfig, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// How to read a state_dict whose structure is not fully in its names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOptions {
    /// Elman's nonlinearity (a state_dict does not store it; PyTorch's default tanh).
    pub activation: Activation,
    /// The recurrent module's prefix (`lstm` for `lstm.weight_ih_l0`), when
    /// more than one module has recurrent weights.
    pub rnn_prefix: Option<String>,
    /// The head's prefix (`fc` for `fc.weight`), when more than one Linear is left.
    pub head_prefix: Option<String>,
    /// The input embedding's prefix (`embedding` for `embedding.weight`,
    /// an `nn.Embedding` before the recurrent module), when neither its
    /// shape nor its name tells it from a bias-free head.
    pub embedding_prefix: Option<String>,
}

/// A model read from a state_dict, with the names it came under.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The network and head, float32.
    pub model: Model<f32>,
    /// Our parameter name -> the state_dict's (only tensors the file had).
    pub names: BTreeMap<String, String>,
    /// Whether the file had a head (else `head.*` are zeros with `O = 1`).
    pub has_head: bool,
    /// Tensors of other modules left out: with [`ImportOptions::rnn_prefix`]
    /// or [`ImportOptions::head_prefix`] given, the modules not chosen
    /// (an encoder's embedding, a second decoder) are not imported.
    pub ignored: Vec<String>,
    /// The `nn.Embedding` weight (`[V, I]`) folded into the first layer's
    /// input weights, if the file had one: the model then reads token ids
    /// (one-hot of V classes), and its `weight_ih_l0` is `W_ih Emb^T`
    /// (`[G*H, V]`), which an export writes under the file's name.
    pub embedding: Option<String>,
    /// With an embedding folded: the file's own tensors the fold replaced
    /// (the embedding and each direction's `weight_ih_l0`), by their names
    /// in the file, kept so that an export writes the file's tensors back.
    pub unfolded: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// An LSTM with `proj_size` `P`: `P` and the projections' names (layer
    /// by layer, forward then reverse), kept with the file's tensors in
    /// [`Imported::unfolded`]. The model is the plain LSTM of `H` units the
    /// fold gives (see [`crate::interop::Projection`]).
    pub projection: Option<(usize, Vec<String>)>,
}

fn bad(what: &str, reason: String) -> Error {
    Error::Data {
        path: what.into(),
        reason,
    }
}

/// `(kind, layer, reverse)` of a recurrent parameter's name below its prefix
/// (`weight_ih_l1_reverse` -> `("weight_ih", 1, true)`).
pub(crate) fn parse_param(rest: &str) -> Option<(&'static str, usize, bool)> {
    for kind in ["weight_ih", "weight_hh", "weight_hr", "bias_ih", "bias_hh"] {
        if let Some(tail) = rest.strip_prefix(kind).and_then(|t| t.strip_prefix("_l")) {
            let (num, reverse) = match tail.strip_suffix("_reverse") {
                Some(n) => (n, true),
                None => (tail, false),
            };
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                return Some((kind, num.parse().ok()?, reverse));
            }
        }
    }
    None
}

/// What a module is, as far as its name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// An input embedding (`embedding`, `emb`, `tok_embeddings`, `wte`,
    /// `encoder` as in PyTorch's word-language-model example).
    Embedding,
    /// A head (`fc`, `head`, `out`, `decoder`, `classifier`, `proj`, ...).
    Head,
}

/// The role the last part of a module's prefix names (`model.embedding.`
/// -> embedding), if it names one and only one.
fn named_role(prefix: &str) -> Option<Role> {
    let last = prefix
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let emb = ["emb", "wte", "lookup", "encoder"]
        .iter()
        .any(|w| last.contains(w));
    let head = [
        "head", "fc", "out", "dec", "classif", "proj", "lin", "logit", "readout", "pred", "score",
        "cls",
    ]
    .iter()
    .any(|w| last.contains(w));
    match (emb, head) {
        (true, false) => Some(Role::Embedding),
        (false, true) => Some(Role::Head),
        _ => None,
    }
}

fn with_dot(p: &str) -> String {
    let p = p.trim_end_matches('.');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}.")
    }
}

/// Builds a model from the tensors of a state_dict (`what` names the source
/// in errors). The recurrent module is the one with `weight_ih_l0` (its cell
/// from `weight_hh_l0`'s rows: G*H with G = 1 Elman, 3 GRU, 4 LSTM; layers,
/// directions and biases from the names); the head is the one Linear left
/// (`X.weight` `[O, D*H]`, optional `X.bias` `[O]`). Ambiguity, leftover or
/// misshapen tensors are errors naming the keys and the option to use.
pub fn import_state_dict(
    tensors: &[NamedTensor],
    what: &str,
    opts: &ImportOptions,
) -> Result<Imported> {
    // the fields are public: a tensor built by hand may hold other than its
    // shape's count of values (those missing were read as zeros)
    for t in tensors {
        let want = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if want != Some(t.data.len()) {
            return Err(bad(
                what,
                format!(
                    "tensor '{}' of shape {:?} holds {} values, expected {}",
                    t.name,
                    t.shape,
                    t.data.len(),
                    want.map_or("more than usize counts".into(), |n| n.to_string())
                ),
            ));
        }
    }
    let by_name: BTreeMap<&str, &NamedTensor> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    // 1. the recurrent module's prefix
    let prefix = match &opts.rnn_prefix {
        Some(p) => {
            let p = with_dot(p);
            if !by_name.contains_key(format!("{p}weight_ih_l0").as_str()) {
                let found: Vec<String> = tensors
                    .iter()
                    .filter_map(|t| t.name.strip_suffix("weight_ih_l0"))
                    .map(|f| format!("'{}'", f.trim_end_matches('.')))
                    .collect();
                return Err(bad(
                    what,
                    format!(
                        "no tensor '{p}weight_ih_l0' (--rnn-prefix {}); {}",
                        p.trim_end_matches('.'),
                        if found.is_empty() {
                            "no tensor of the file ends in 'weight_ih_l0' (an nn.RNN, nn.LSTM or nn.GRU state_dict)".to_string()
                        } else {
                            format!("the file's recurrent modules: {}", found.join(", "))
                        }
                    ),
                ));
            }
            p
        }
        None => {
            let found: Vec<String> = tensors
                .iter()
                .filter_map(|t| t.name.strip_suffix("weight_ih_l0").map(String::from))
                .collect();
            match found.as_slice() {
                [p] => p.clone(),
                [] => {
                    return Err(bad(
                        what,
                        "no recurrent module: no tensor named '...weight_ih_l0' (an nn.RNN, nn.LSTM or nn.GRU state_dict)".into(),
                    ))
                }
                many => {
                    return Err(bad(
                        what,
                        format!(
                            "several recurrent modules ({}); choose one with --rnn-prefix",
                            many.iter().map(|p| format!("'{}'", p.trim_end_matches('.'))).collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            }
        }
    };
    // an LSTM's projections (proj_size), folded into the weights that read
    // the projected state (`fold`); the head's below, once it is known
    let original = tensors;
    let projected = Found::find(original, &prefix, what)?;
    let folded = projected.as_ref().map(|f| f.fold(original, &prefix));
    let tensors: &[NamedTensor] = folded.as_ref().map_or(original, |f| &f.0);
    let by_name: BTreeMap<&str, &NamedTensor> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    // 2. its parameters
    let mut params: BTreeMap<(usize, bool, &str), &NamedTensor> = BTreeMap::new();
    let mut leftover: Vec<&NamedTensor> = Vec::new();
    for t in tensors {
        match t.name.strip_prefix(prefix.as_str()).and_then(parse_param) {
            Some((kind, k, rev)) => {
                params.insert((k, rev, kind), t);
            }
            None => leftover.push(t),
        }
    }
    let get = |k: usize, rev: bool, kind: &str| params.get(&(k, rev, kind)).copied();
    let w_hh0 = get(0, false, "weight_hh")
        .ok_or_else(|| bad(what, format!("no tensor '{prefix}weight_hh_l0'")))?;
    if w_hh0.shape.len() != 2 || w_hh0.shape[1] == 0 || w_hh0.shape[0] % w_hh0.shape[1] != 0 {
        return Err(bad(
            what,
            format!(
                "'{}' has shape {:?}, expected [G*H, H]",
                w_hh0.name, w_hh0.shape
            ),
        ));
    }
    let hidden = w_hh0.shape[1];
    let cell = match w_hh0.shape[0] / hidden {
        1 => CellKind::Elman {
            activation: opts.activation,
        },
        // the nonlinearity is an Elman option: one asked for a gated cell
        // would be left out silently
        3 | 4 if opts.activation != Activation::default() => {
            return Err(Error::Argument {
                arg: "--activation".into(),
                expected: "tanh or no --activation for a GRU or LSTM state_dict (the nonlinearity is an Elman option)".into(),
                got: format!(
                    "{} for the {} in {what}",
                    opts.activation.name(),
                    if w_hh0.shape[0] / hidden == 3 { "GRU" } else { "LSTM" }
                ),
            });
        }
        3 => CellKind::Gru,
        4 => CellKind::Lstm,
        g => {
            return Err(bad(
                what,
                format!(
                    "'{}' has {} rows for {hidden} hidden units: {g} gate blocks, expected 1 (RNN), 3 (GRU) or 4 (LSTM)",
                    w_hh0.name, w_hh0.shape[0]
                ),
            ))
        }
    };
    let layers = params.keys().map(|k| k.0).max().unwrap_or(0) + 1;
    let bidirectional = params.keys().any(|k| k.1);
    let has_bias = get(0, false, "bias_ih").is_some();
    let input_size = get(0, false, "weight_ih")
        .and_then(|t| t.shape.get(1).copied())
        .unwrap_or(0);
    // 3. the head: the one Linear left; and an input embedding
    // (`nn.Embedding` before the recurrent module): a leftover `X.weight`
    // [V, I] with no other tensor under `X.`, folded into the first
    // layer's input weights below (a lookup of row v then `W_ih` is `W_ih`
    // times the one-hot of v with `W_ih Emb^T` in place of `W_ih`)
    let dirs = if bidirectional { 2 } else { 1 };
    // what the head reads: D*H outputs, or D*P with a projection
    let head_in = dirs * projected.as_ref().map_or(hidden, |f| f.size);
    let alone = |p: &str| leftover.iter().filter(|u| u.name.starts_with(p)).count() == 1;
    let embeds = |t: &NamedTensor| {
        t.shape.len() == 2
            && t.shape[0] > 0
            && t.shape[1] == input_size
            && t.name
                .strip_suffix("weight")
                .is_some_and(|p| (p.is_empty() || p.ends_with('.')) && alone(p))
    };
    let heads = |p: &str| {
        by_name
            .get(format!("{p}weight").as_str())
            .is_some_and(|w| w.shape.len() == 2 && w.shape[1] == head_in)
    };
    // the leftover modules with a `X.weight`: what could be a head or an embedding
    let found: Vec<String> = leftover
        .iter()
        .filter_map(|t| t.name.strip_suffix("weight").map(String::from))
        .filter(|p| p.is_empty() || p.ends_with('.'))
        .collect();
    let emb_of = |p: &str| {
        by_name
            .get(format!("{p}weight").as_str())
            .copied()
            .filter(|t| embeds(t))
    };
    // what each candidate is, for the errors: its shape and what it fits
    let describe = |p: &str| {
        let name = format!("'{}'", p.trim_end_matches('.'));
        let Some(w) = by_name.get(format!("{p}weight").as_str()) else {
            return name;
        };
        let role = match w.shape.as_slice() {
            [_] => "a 1-D weight: a LayerNorm's or BatchNorm's, or a loss's class weights".to_string(),
            [o, i] if heads(p) && emb_of(p).is_some() => format!(
                "[{o}, {i}]: an embedding of {o} tokens, or a bias-free head on the RNN's outputs"
            ),
            [o, i] if heads(p) => format!("[{o}, {i}]: a Linear head on the RNN's outputs"),
            [v, i] if emb_of(p).is_some() => format!("[{v}, {i}]: an embedding of {v} tokens"),
            [o, i] => format!(
                "[{o}, {i}]: a Linear that neither reads the RNN's {head_in} outputs nor gives its {input_size} inputs"
            ),
            other => format!("shape {other:?}"),
        };
        format!("{name} ({role})")
    };
    let several = |found: &[String]| {
        bad(
            what,
            format!(
                "several modules besides the recurrent module '{}': {}; rnn imports an nn.Embedding before the recurrent module and one nn.Linear head after it: name the head with --head-prefix (and the embedding with --embedding-prefix); the others are then left out, which is right only if they do not act on the network's outputs (a loss weight, another task's head), not for a LayerNorm, a second Linear of an MLP head or an input projection",
                prefix.trim_end_matches('.'),
                found.iter().map(|p| describe(p)).collect::<Vec<_>>().join(", ")
            ),
        )
    };
    let mut embedding: Option<&NamedTensor> = None;
    if let Some(p) = &opts.embedding_prefix {
        let p = with_dot(p);
        embedding = Some(emb_of(&p).ok_or_else(|| {
            bad(
                what,
                format!(
                    "--embedding-prefix {}: expected a tensor '{p}weight' of shape [V, {input_size}] (the recurrent module's input size) and no other tensor under '{p}', found {}",
                    p.trim_end_matches('.'),
                    by_name
                        .get(format!("{p}weight").as_str())
                        .map_or("no such tensor".to_string(), |t| format!("shape {:?}", t.shape))
                ),
            )
        })?);
    }
    let head_prefix = match &opts.head_prefix {
        Some(p) => {
            let p = with_dot(p);
            if embedding.is_none() {
                let cands: Vec<&NamedTensor> = leftover
                    .iter()
                    .copied()
                    .filter(|t| embeds(t) && !t.name.starts_with(p.as_str()))
                    .collect();
                if let [e] = cands.as_slice() {
                    embedding = Some(*e);
                }
            }
            Some(p)
        }
        None if embedding.is_some() => {
            let emb = embedding.map(|e| e.name.as_str());
            let rest: Vec<String> = found
                .iter()
                .filter(|p| Some(format!("{p}weight").as_str()) != emb)
                .cloned()
                .collect();
            match rest.as_slice() {
                [] => None,
                [p] if heads(p) => Some(p.clone()),
                _ => return Err(several(&rest)),
            }
        }
        None => {
            // the ways to read the candidates as (embedding, head)
            let readings: Vec<(Option<&NamedTensor>, Option<String>)> = match found.as_slice() {
                [] => vec![(None, None)],
                [p] => {
                    let mut r = Vec::new();
                    if emb_of(p).is_some() {
                        r.push((emb_of(p), None));
                    }
                    if heads(p) || emb_of(p).is_none() {
                        r.push((None, Some(p.clone())));
                    }
                    r
                }
                [a, b] => [(a, b), (b, a)]
                    .into_iter()
                    .filter(|(e, h)| emb_of(e).is_some() && heads(h))
                    .map(|(e, h)| (emb_of(e), Some(h.clone())))
                    .collect(),
                _ => Vec::new(),
            };
            // where the shapes allow more than one reading, the names
            // decide (`embedding.weight` [V, I] with I = H and no bias is
            // also a bias-free head's shape): a reading is dropped when a
            // name says the other role
            let readings = if readings.len() > 1 {
                // one candidate: the reading its name says; two: the
                // readings no name contradicts
                let says = |role: Role, p: &str| match named_role(p) {
                    Some(r) => r == role,
                    None => found.len() > 1,
                };
                let fits = |(e, h): &(Option<&NamedTensor>, Option<String>)| {
                    e.is_none_or(|e| {
                        says(
                            Role::Embedding,
                            e.name.strip_suffix("weight").unwrap_or(&e.name),
                        )
                    }) && h.as_ref().is_none_or(|h| says(Role::Head, h))
                };
                let kept: Vec<_> = readings.iter().filter(|r| fits(r)).cloned().collect();
                if kept.len() == 1 {
                    kept
                } else {
                    readings
                }
            } else {
                readings
            };
            match readings.as_slice() {
                [(e, h)] => {
                    embedding = *e;
                    h.clone()
                }
                [_, _] if found.len() == 1 => {
                    let p = found[0].trim_end_matches('.');
                    return Err(bad(
                        what,
                        format!(
                            "{}: neither its shape nor its name says which; give --embedding-prefix {p} (an nn.Embedding before the recurrent module) or --head-prefix {p} (an nn.Linear after it)",
                            describe(&found[0])
                        ),
                    ));
                }
                _ => return Err(several(&found)),
            }
        }
    };
    let head_w = head_prefix
        .as_ref()
        .map(|p| {
            by_name
                .get(format!("{p}weight").as_str())
                .copied()
                .ok_or_else(|| bad(what, format!("no tensor '{p}weight' (--head-prefix)")))
        })
        .transpose()?;
    let head_b = head_prefix
        .as_ref()
        .and_then(|p| by_name.get(format!("{p}bias").as_str()).copied());
    let used_head: Vec<&str> = [head_w, head_b, embedding]
        .iter()
        .flatten()
        .map(|t| t.name.as_str())
        .collect();
    let rest: Vec<&str> = leftover
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !used_head.contains(n))
        .collect();
    let chosen = opts.rnn_prefix.is_some() || opts.head_prefix.is_some();
    if !rest.is_empty() && !chosen {
        return Err(bad(
            what,
            format!(
                "tensors left over that are neither the recurrent module '{}' nor the head: {} (name the modules to import with --rnn-prefix and --head-prefix, and the others are left out; or save only the RNN and its Linear head)",
                prefix.trim_end_matches('.'),
                rest.join(", ")
            ),
        ));
    }
    let ignored: Vec<String> = rest.iter().map(|n| n.to_string()).collect();
    // every tensor taken must be finite
    let finite = |t: &NamedTensor| match t.data.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(bad(
            what,
            format!("tensor '{}' element {i} is {}", t.name, t.data[i]),
        )),
        None => Ok(()),
    };
    if let Some(e) = embedding {
        finite(e)?;
    }
    let output_size = head_w.map_or(1, |w| w.shape.first().copied().unwrap_or(0));
    let config = ModelConfig {
        cell,
        // with an embedding, the token ids' one-hot (V classes)
        input_size: embedding.map_or(input_size, |e| e.shape[0]),
        hidden_size: hidden,
        num_layers: layers,
        bidirectional,
        output_size,
        output: OutputKind::Softmax,
        bias_hh: has_bias,
    };
    let mut model = Model::<f32>::zeros(config)?;
    let mut names = BTreeMap::new();
    // 4. copy every tensor, checking its shape against the layout
    let layout = model.layout.clone();
    for e in &layout {
        let theirs: Option<&NamedTensor> = if let Some(rest) = e.name.strip_prefix("rnn.") {
            let (kind, k, rev) =
                parse_param(rest).ok_or_else(|| bad(what, format!("internal name {}", e.name)))?;
            let t = get(k, rev, kind);
            if t.is_none() && (kind.starts_with("weight") || has_bias) {
                let sfx = if rev { "_reverse" } else { "" };
                return Err(bad(
                    what,
                    format!("missing tensor '{prefix}{kind}_l{k}{sfx}' ({layers} layer(s), {dirs} direction(s) inferred from the names)"),
                ));
            }
            t
        } else if e.name == "head.weight" {
            head_w
        } else {
            head_b
        };
        // an absent bias stays zeros
        let Some(t) = theirs else { continue };
        // the first layer's input weights with an embedding: theirs are
        // [G*H, I], ours [G*H, V] = W_ih Emb^T (Emb: [V, I])
        let folded = embedding.filter(|_| e.name.starts_with("rnn.weight_ih_l0"));
        // the head with a projection: theirs [O, D*P], ours [O, D*H]
        let head_fold = projected.as_ref().filter(|_| e.name == "head.weight");
        let want: Vec<usize> = match (folded, head_fold) {
            (Some(_), _) => vec![e.shape[0], input_size],
            (_, Some(_)) => vec![e.shape[0], head_in],
            _ => e.shape.clone(),
        };
        if t.shape != want {
            return Err(bad(
                what,
                format!(
                    "tensor '{}' has shape {:?}, expected {:?} for {}",
                    t.name, t.shape, want, e.name
                ),
            ));
        }
        finite(t)?;
        let dst = &mut model.params[e.range()];
        let copy = |dst: &mut [f32], src: &[f64]| {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s as f32;
            }
        };
        match (folded, head_fold) {
            // W'[r, v] = sum_k W_ih[r, k] Emb[v, k]: [G*H, I] x [V, I]^T
            (Some(emb), _) => {
                let v = emb.shape[0];
                let dims = (e.shape[0], input_size);
                fold::product_rows(&t.data, dims, &emb.data, v, true, |r, rows| {
                    copy(&mut dst[r * v..], rows)
                });
            }
            // V' = V blockdiag(W_hr of the top layer's directions)
            (_, Some(f)) => copy(dst, &f.fold_columns(&t.data, e.shape[0], layers - 1)),
            _ => copy(dst, &t.data),
        }
        names.insert(e.name.clone(), t.name.clone());
    }
    // the file's tensors must all have been used
    let used: Vec<&String> = names
        .values()
        .chain(&ignored)
        .chain(embedding.map(|e| &e.name))
        .collect();
    if let Some(t) = tensors.iter().find(|t| !used.contains(&&t.name)) {
        return Err(bad(
            what,
            format!(
                "tensor '{}' does not fit a {layers}-layer {} model",
                t.name,
                cell.name()
            ),
        ));
    }
    let mut unfolded = BTreeMap::new();
    let keep = |t: &NamedTensor| {
        (
            t.shape.clone(),
            t.data.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
        )
    };
    // with a projection: the file's tensors the fold replaced, and its head
    if let Some((_, replaced)) = &folded {
        for t in original.iter().filter(|t| replaced.contains(&t.name)) {
            unfolded.insert(t.name.clone(), keep(t));
        }
        if let Some(w) = head_w {
            unfolded.insert(w.name.clone(), keep(w));
        }
    }
    if let Some(emb) = embedding {
        unfolded.insert(emb.name.clone(), keep(emb));
        for rev in [false, true] {
            if let Some(t) = get(0, rev, "weight_ih") {
                unfolded.insert(t.name.clone(), keep(t));
            }
        }
    }
    super::state_dict::check_representable(&model, &names, &unfolded, what)?;
    Ok(Imported {
        model,
        names,
        has_head: head_w.is_some(),
        ignored,
        embedding: embedding.map(|e| e.name.clone()),
        unfolded,
        projection: projected.map(|f| (f.size, f.names())),
    })
}

/// The task name of a model directory made by [`import_file`].
pub const IMPORTED_TASK: Task = Task::Imported;
/// Metadata key: JSON object, our parameter name -> the state_dict's.
pub const NAMES_KEY: &str = "pytorch_names";
/// Metadata key: `"false"` when the state_dict had no head.
pub const HAS_HEAD_KEY: &str = "has_head";
/// Prefix of the extra tensors of an imported model that hold the file's
/// own tensors an embedding's fold replaced ([`Imported::unfolded`]).
pub const UNFOLDED_PREFIX: &str = "pytorch_unfolded.";

impl Imported {
    /// The model file of an imported model (task [`IMPORTED_TASK`]), with
    /// the original names and whether it has a head in its metadata.
    pub fn to_model_file(&self) -> Result<crate::io::model_file::ModelFile> {
        let names = serde_json::to_string(&self.names).map_err(|e| Error::Config(e.to_string()))?;
        let mut meta = BTreeMap::new();
        meta.insert(NAMES_KEY.to_string(), names);
        meta.insert(HAS_HEAD_KEY.to_string(), self.has_head.to_string());
        if let Some((size, w_hr)) = &self.projection {
            let j = serde_json::json!({
                "proj_size": size, "weight_hr": w_hr, "embedding": self.embedding,
            });
            meta.insert(fold::PROJECTION_KEY.to_string(), j.to_string());
        }
        let extra = self
            .unfolded
            .iter()
            .map(|(name, t)| (format!("{UNFOLDED_PREFIX}{name}"), t.clone()))
            .collect();
        Ok(crate::io::model_file::ModelFile {
            task: IMPORTED_TASK,
            model: self.model.clone(),
            extra,
            meta,
        })
    }
}

/// Reads a state_dict file and builds the model ([`read_state_dict`] then
/// [`import_state_dict`]); errors name the file.
///
/// ```no_run
/// use rnn::interop::{import_file, ImportOptions};
/// let imported = import_file("lstm.pt".as_ref(), &ImportOptions::default())?;
/// imported.to_model_file()?.save("runs/imported".as_ref())?;
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn import_file(path: &Path, opts: &ImportOptions) -> Result<Imported> {
    let sd = read_state_dict(path)?;
    import_state_dict(&sd, &path.display().to_string(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[usize]) -> NamedTensor {
        NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            data: vec![0.5; shape.iter().product()],
        }
    }

    fn gru(prefix: &str) -> Vec<NamedTensor> {
        vec![
            t(&format!("{prefix}weight_ih_l0"), &[18, 5]),
            t(&format!("{prefix}weight_hh_l0"), &[18, 6]),
            t(&format!("{prefix}bias_ih_l0"), &[18]),
            t(&format!("{prefix}bias_hh_l0"), &[18]),
        ]
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_param("weight_ih_l1_reverse"),
            Some(("weight_ih", 1, true))
        );
        assert_eq!(parse_param("bias_hh_l0"), Some(("bias_hh", 0, false)));
        assert_eq!(parse_param("weight_hr_l0"), Some(("weight_hr", 0, false))); // LSTM projections
        assert_eq!(parse_param("weight_ih_lx"), None);
    }

    #[test]
    fn a_gru_and_its_head_are_found_under_any_names() {
        let mut sd = gru("enc.gru.");
        sd.push(t("classifier.weight", &[3, 6]));
        sd.push(t("classifier.bias", &[3]));
        let m = import_state_dict(&sd, "x", &ImportOptions::default()).unwrap();
        assert_eq!(m.model.config.cell, CellKind::Gru);
        assert_eq!(
            (m.model.config.hidden_size, m.model.config.input_size),
            (6, 5)
        );
        assert_eq!(m.names["rnn.weight_hh_l0"], "enc.gru.weight_hh_l0");
        assert_eq!(m.names["head.bias"], "classifier.bias");
        assert!(m.has_head);
    }

    #[test]
    fn ambiguity_and_leftovers_name_keys_and_flags() {
        let mut two = gru("a.");
        two.extend(gru("b."));
        let e = import_state_dict(&two, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'a', 'b'") && e.contains("--rnn-prefix"), "{e}");
        let mut extra = gru("g.");
        extra.push(t("fc.weight", &[3, 6]));
        extra.push(t("norm.running_mean", &[6]));
        let e = import_state_dict(&extra, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("norm.running_mean"), "{e}");
        let mut heads = gru("g.");
        heads.push(t("fc.weight", &[3, 6]));
        heads.push(t("out.weight", &[3, 6]));
        let e = import_state_dict(&heads, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--head-prefix"), "{e}");
        let opts = ImportOptions {
            head_prefix: Some("out".into()),
            ..Default::default()
        };
        // the module chosen, the other Linear is left out and listed
        let m = import_state_dict(&heads, "x", &opts).unwrap();
        assert_eq!(m.ignored, ["fc.weight"]);
        assert_eq!(m.names["head.weight"], "out.weight");
        // two recurrent modules: the advice to choose one now works, the
        // other module's tensors left out (QA lm 7)
        two.push(t("fc.weight", &[3, 6]));
        let opts = ImportOptions {
            rnn_prefix: Some("a".into()),
            ..Default::default()
        };
        let m = import_state_dict(&two, "x", &opts).unwrap();
        assert_eq!(m.names["rnn.weight_ih_l0"], "a.weight_ih_l0");
        assert_eq!(m.names["head.weight"], "fc.weight");
        assert_eq!(m.ignored.len(), 4); // b.weight_ih_l0, b.weight_hh_l0, the biases
        assert!(
            m.ignored.iter().all(|n| n.starts_with("b.")),
            "{:?}",
            m.ignored
        );
        // without a choice the leftover is an error whose advice works
        let e = import_state_dict(&extra, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("name the modules to import with --rnn-prefix and --head-prefix"),
            "{e}"
        );
    }

    #[test]
    fn shapes_are_checked() {
        let mut sd = gru("g.");
        sd[0] = t("g.weight_ih_l0", &[18, 4]);
        sd.push(t("fc.weight", &[3, 7])); // D*H = 6
        let e = import_state_dict(&sd, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("fc.weight") && e.contains("[3, 7]"), "{e}");
        let five = vec![t("r.weight_ih_l0", &[10, 3]), t("r.weight_hh_l0", &[10, 2])];
        let e = import_state_dict(&five, "x", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 gate blocks"), "{e}");
    }
}
