//! `rnn infer`: a model's forward pass on tensors from a file, with
//! PyTorch's conventions (`pack_padded_sequence` semantics for lengths, the
//! final state of each sequence at its own end, zeros past each length).

use crate::interop::fold::{folded_embedding, Projection};
use crate::interop::import::{HAS_HEAD_KEY, IMPORTED_TASK};
use crate::io::model_file::ModelFile;
use crate::io::{TensorFile, TensorWriter};
use crate::nn::layer::Input;
use crate::{Batch, Error, Model, Result, State};
use std::path::Path;

/// The inputs of one call, checked against a model.
#[derive(Clone, Debug, PartialEq)]
pub struct InferInput {
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// Dense inputs `[T, B, I]` (empty when `ids` are given).
    pub x: Vec<f32>,
    /// Class ids `[T, B]` for one-hot models (empty when `x` is given).
    pub ids: Vec<usize>,
    /// Length of each sequence `[B]`, each in `1..=T` (`None`: all `T`).
    pub lengths: Option<Vec<usize>>,
    /// Initial state `h0` (and `c0` for the LSTM), `[L*D, B, H]` (`None`: zeros).
    pub state: Option<State<f32>>,
}

/// What one call computes.
#[derive(Clone, Debug, PartialEq)]
pub struct InferOutput {
    /// The top layer's outputs `[T, B, D*H]`, zero past each length.
    pub output: Vec<f32>,
    /// Final state of every layer and direction `[L*D, B, H]` (each
    /// sequence's own end); `c` for the LSTM, else empty.
    pub state: State<f32>,
    /// The head's outputs `[T, B, O]`, zero past each length (`None` for a
    /// model imported without a head).
    pub logits: Option<Vec<f32>>,
}

impl InferInput {
    /// Reads `x` `[T,B,I]` (any float) or `ids` `[T,B]` (integers), and the
    /// optional `lengths` `[B]`, `h0` and `c0` `[L*D,B,H]` from a safetensors
    /// file, checking every shape and value against `model`: each error names
    /// the file, the tensor, what was expected and what it holds.
    pub fn read(path: &Path, model: &Model<f32>) -> Result<Self> {
        Self::read_sized(path, model, model.config.hidden_size)
    }

    /// [`InferInput::read`] with states `[L*D, B, width]` (`width` = `P`
    /// for an LSTM with a projection).
    fn read_sized(path: &Path, model: &Model<f32>, width: usize) -> Result<Self> {
        let f = TensorFile::read(path)?;
        let cfg = &model.config;
        // a misspelt name (PyTorch's own `h_0`, `lens`) would otherwise be
        // left out silently and the call run from a zero state
        const KNOWN: [&str; 5] = ["x", "ids", "lengths", "h0", "c0"];
        if let Some(other) = f.names().into_iter().find(|n| !KNOWN.contains(&n.as_str())) {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "unexpected tensor '{other}' (an input file holds 'x' or 'ids', and optionally 'lengths', 'h0', 'c0')"
                ),
            });
        }
        let (has_x, has_ids) = (f.has("x"), f.has("ids"));
        let (steps, batch, x, ids) = match (has_x, has_ids) {
            (true, true) | (false, false) => {
                return Err(Error::Data {
                    path: path.to_path_buf(),
                    reason: "expected exactly one of the tensors 'x' [T,B,I] (dense inputs) or 'ids' [T,B] (class ids)".into(),
                })
            }
            (true, false) => {
                let t = f.f64("x")?;
                if t.shape.len() != 3 || t.shape[2] != cfg.input_size || t.shape[0] == 0 || t.shape[1] == 0 {
                    return Err(f.bad_shape("x", &t.shape, format!("[T, B, {}] with T, B >= 1", cfg.input_size)));
                }
                f.check_finite("x", &t.data, "a finite input")?;
                (t.shape[0], t.shape[1], t.data.iter().map(|&v| v as f32).collect(), Vec::new())
            }
            (false, true) => {
                let (shape, v) = f.i64("ids")?;
                if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
                    return Err(f.bad_shape("ids", &shape, "[T, B] with T, B >= 1".into()));
                }
                let mut ids = Vec::with_capacity(v.len());
                for (i, &id) in v.iter().enumerate() {
                    if id < 0 || id as u64 >= cfg.input_size as u64 {
                        return Err(Error::Value {
                            what: format!("{}: tensor 'ids' element {i}", path.display()),
                            value: id.to_string(),
                            expected: format!("a class id in 0..{}", cfg.input_size),
                        });
                    }
                    ids.push(id as usize);
                }
                (shape[0], shape[1], Vec::new(), ids)
            }
        };
        let lengths = if f.has("lengths") {
            let (shape, v) = f.i64("lengths")?;
            if shape != [batch] {
                return Err(f.bad_shape("lengths", &shape, format!("[{batch}] (B)")));
            }
            if let Some(i) = v.iter().position(|&n| n < 1 || n as u64 > steps as u64) {
                return Err(Error::Value {
                    what: format!("{}: tensor 'lengths' element {i}", path.display()),
                    value: v[i].to_string(),
                    expected: format!("a length in 1..={steps} (T)"),
                });
            }
            Some(v.iter().map(|&n| n as usize).collect())
        } else {
            None
        };
        let ld = cfg.num_layers * cfg.directions();
        let read_state = |name: &str, w: usize| -> Result<Option<Vec<f32>>> {
            let want = [ld, batch, w];
            if !f.has(name) {
                return Ok(None);
            }
            let t = f.f64(name)?;
            if t.shape != want {
                return Err(f.bad_shape(
                    name,
                    &t.shape,
                    format!(
                        "{want:?} (L*D, B, {})",
                        if w == cfg.hidden_size { "H" } else { "P" }
                    ),
                ));
            }
            f.check_finite(name, &t.data, "a finite state")?;
            Ok(Some(t.data.iter().map(|&v| v as f32).collect()))
        };
        let h0 = read_state("h0", width)?;
        let c0 = read_state("c0", cfg.hidden_size)?;
        let mem = cfg.cell.has_memory();
        // PyTorch's LSTM takes its state as (h0, c0), both or neither: a
        // missing half is an error there, not zeros
        if mem && h0.is_some() != c0.is_some() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "has '{}' but not '{}': an LSTM's initial state is h0 and c0 [L*D, B, H], both or neither (neither: zeros)",
                    if h0.is_some() { "h0" } else { "c0" },
                    if h0.is_some() { "c0" } else { "h0" },
                ),
            });
        }
        if c0.is_some() && !mem {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "has 'c0', but {} {} model has no cell state (only LSTM does)",
                    if cfg.cell.name().starts_with('e') {
                        "an"
                    } else {
                        "a"
                    },
                    cfg.cell.name()
                ),
            });
        }
        let state = if h0.is_none() && c0.is_none() {
            None
        } else {
            let zeros = |w: usize| vec![0.0; ld * batch * w];
            Some(State {
                h: h0.unwrap_or_else(|| zeros(width)),
                c: if mem {
                    c0.unwrap_or_else(|| zeros(cfg.hidden_size))
                } else {
                    Vec::new()
                },
            })
        };
        Ok(InferInput {
            steps,
            batch,
            x,
            ids,
            lengths,
            state,
        })
    }

    /// [`InferInput::read`] for the network of a model file (run it with
    /// [`InferInput::run_file`]), which also refuses token `ids` for a
    /// model imported without an `nn.Embedding`: such a model reads float
    /// inputs `x`, and ids read as one-hot rows of `x` would run (and give
    /// numbers) only by accident of the input size. For an LSTM imported
    /// with a projection, `h0` is `[L*D, B, P]`, as PyTorch's.
    pub fn read_for(path: &Path, file: &ModelFile) -> Result<Self> {
        let width = Projection::size_of(file).unwrap_or(file.model.config.hidden_size);
        let input = Self::read_sized(path, &file.model, width)?;
        if file.task == IMPORTED_TASK && !folded_embedding(file) && !input.ids.is_empty() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "has token 'ids', but the model was imported without an nn.Embedding: it reads float inputs 'x' [T, B, {}] (give one-hot rows in 'x' if that is what the ids stand for)",
                    file.model.config.input_size
                ),
            });
        }
        Ok(input)
    }

    /// Runs the network of a model file on inputs read by
    /// [`InferInput::read_for`], with the head unless it was imported
    /// without one. An LSTM imported with a projection gives PyTorch's
    /// `output` and `h_n` (`[.., D*P]`, `[L*D, B, P]`), layer by layer from
    /// the file's tensors ([`Projection`]).
    pub fn run_file(&self, file: &ModelFile) -> Result<InferOutput> {
        let with_head = file.meta.get(HAS_HEAD_KEY).map(String::as_str) != Some("false");
        match Projection::of(file)? {
            Some(p) => crate::interop::projected::run(self, &file.model, &p, with_head),
            None => self.run(&file.model, with_head),
        }
    }

    /// Runs `model` forward on these inputs (`with_head`: also the logits).
    pub fn run(&self, model: &Model<f32>, with_head: bool) -> Result<InferOutput> {
        // both given: the ids ran and `x` was dropped without a word (the
        // library sweep of session 53, finding 16)
        if !self.ids.is_empty() && !self.x.is_empty() {
            return Err(Error::argument(
                "InferInput",
                "float inputs `x` or token `ids`, one of the two",
                format!("{} values of x and {} ids", self.x.len(), self.ids.len()),
            ));
        }
        let input = if self.ids.is_empty() {
            Input::Dense(&self.x)
        } else {
            Input::Ids(&self.ids)
        };
        let mut batch = Batch::new(input, self.steps, self.batch);
        if let Some(s) = &self.state {
            batch = batch.with_state(s);
        }
        if let Some(l) = &self.lengths {
            batch = batch.with_lengths(l);
        }
        let fwd = model.forward(batch)?;
        let top = model.config.num_layers - 1;
        crate::error::finite_outputs(model.output_of(&fwd, top), |k| format!("output {k}"))?;
        crate::error::finite_outputs(&fwd.logits, |k| format!("logit {k}"))?;
        Ok(InferOutput {
            output: model.output_of(&fwd, top).to_vec(),
            state: model.final_state(&fwd),
            logits: with_head.then(|| fwd.logits.clone()),
        })
    }
}

/// A tensor of an [`InferOutput`]: its name, shape and values.
pub type OutputTensor<'a> = (&'static str, Vec<usize>, &'a [f32]);

impl InferOutput {
    /// Writes `output`, `h_n`, `c_n` (LSTM) and `logits` (with a head) as
    /// float32 tensors, atomically (`output` and `h_n` as wide as they are:
    /// `P` wide for an LSTM with a projection, else `H`).
    pub fn write(&self, path: &Path, model: &Model<f32>, steps: usize, batch: usize) -> Result<()> {
        let mut w = TensorWriter::new();
        for (name, shape, data) in self.tensors(model, steps, batch)? {
            w.add::<f32>(name, &shape, data);
        }
        w.write(path)
    }

    /// The tensors [`InferOutput::write`] writes: name, shape and values
    /// (`c_n` for the LSTM, `logits` with a head). An error naming `steps`
    /// and `batch` when a tensor's values do not fill its shape (they are
    /// not the `T` and `B` of the run that gave this output).
    pub fn tensors(
        &self,
        model: &Model<f32>,
        steps: usize,
        batch: usize,
    ) -> Result<Vec<OutputTensor<'_>>> {
        let cfg = &model.config;
        let ld = cfg.num_layers * cfg.directions();
        let width = |n: usize, rows: usize| n / rows.max(1);
        let mut out = vec![
            (
                "output",
                vec![steps, batch, width(self.output.len(), steps * batch)],
                &self.output[..],
            ),
            (
                "h_n",
                vec![ld, batch, width(self.state.h.len(), ld * batch)],
                &self.state.h[..],
            ),
        ];
        if !self.state.c.is_empty() {
            out.push(("c_n", vec![ld, batch, cfg.hidden_size], &self.state.c[..]));
        }
        if let Some(l) = &self.logits {
            out.push(("logits", vec![steps, batch, cfg.output_size], &l[..]));
        }
        // an output of T = 2, B = 1 described with the two swapped gave
        // h_n [1, 2, 1] for a model of 2 units, Ok (session 53's sweep)
        let widths_agree = out[1].1[2] * cfg.directions() == out[0].1[2];
        if let Some((name, shape, data)) = out
            .iter()
            .find(|(_, shape, data)| shape.iter().product::<usize>() != data.len() || !widths_agree)
        {
            return Err(Error::argument(
                "steps, batch",
                format!(
                    "the T and B of the run that gave this output ('{name}' has {} values)",
                    data.len()
                ),
                format!("T = {steps}, B = {batch}: shape {shape:?}"),
            ));
        }
        Ok(out)
    }
}
