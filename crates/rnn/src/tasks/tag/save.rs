//! Saving and loading a tagger as a model directory (task `tag`).

use super::chars::CharEncoder;
use super::features::TaggerSpec;
use super::tagger::{table_offsets, Tagger};
use crate::io::model_file::{ModelFile, Task};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The task name written in tagger model files.
pub const TASK: Task = Task::Tag;
/// Metadata key holding the [`TaggerSpec`] as JSON.
pub const META_KEY: &str = "tagger";

impl Tagger {
    /// Saves the tagger as a model directory (task `tag`).
    pub fn save(&self, dir: &Path, meta: BTreeMap<String, String>) -> Result<()> {
        let mut extra = BTreeMap::new();
        for (f, &off) in self.spec.features.iter().zip(&self.offsets) {
            let n = f.vocab.len() * f.dim;
            extra.insert(
                format!("embed.{}.weight", f.kind.name()),
                (vec![f.vocab.len(), f.dim], self.emb[off..off + n].to_vec()),
            );
        }
        if let Some(g) = &self.spec.ngrams {
            extra.insert(
                "embed.ngram.weight".into(),
                (vec![g.buckets, g.dim], self.emb[self.ngram_off..].to_vec()),
            );
        }
        if let Some(c) = &self.chars {
            extra.extend(c.tensors());
        }
        if !self.crf.is_empty() {
            let mut at = 0;
            for (name, shape) in super::crf::param_names(self.spec.tags.len()) {
                let n: usize = shape.iter().product();
                extra.insert(name.into(), (shape, self.crf[at..at + n].to_vec()));
                at += n;
            }
        }
        let mut meta = meta;
        meta.insert(
            META_KEY.into(),
            serde_json::to_string(&self.spec).map_err(|e| Error::Config(e.to_string()))?,
        );
        ModelFile {
            task: TASK,
            model: self.model.clone(),
            extra,
            meta,
        }
        .save(dir)
    }

    /// Loads a tagger from a model directory; another task's model is an error.
    pub fn load(dir: &Path) -> Result<Self> {
        let mf = ModelFile::load_task(dir, TASK)?;
        Self::from_model_file(dir, mf)
    }

    /// A tagger from an already loaded model file.
    pub fn from_model_file(dir: &Path, mf: ModelFile) -> Result<Self> {
        let raw = mf.meta(dir, META_KEY)?;
        let bad = |why: String| Error::Metadata {
            path: dir.join(crate::io::model_file::MODEL_FILE),
            key: META_KEY.into(),
            value: raw.chars().take(60).collect(),
            expected: why,
        };
        let spec: TaggerSpec =
            serde_json::from_str(raw).map_err(|e| bad(format!("a tagger description ({e})")))?;
        let input = spec.input_size();
        let cfg = &mf.model.config;
        if cfg.input_size != input
            || cfg.output_size != spec.tags.len()
            || spec.features.iter().any(|f| f.vocab.is_empty())
            || spec
                .ngrams
                .as_ref()
                .is_some_and(|g| g.buckets == 0 || g.min_n == 0 || g.min_n > g.max_n)
        {
            return Err(bad(format!(
                "features and tags that match the network (input {}, output {})",
                cfg.input_size, cfg.output_size
            )));
        }
        let mut emb = Vec::with_capacity(table_offsets(&spec).1);
        for f in &spec.features {
            emb.extend_from_slice(mf.extra(
                dir,
                &format!("embed.{}.weight", f.kind.name()),
                &[f.vocab.len(), f.dim],
            )?);
        }
        if let Some(g) = &spec.ngrams {
            emb.extend_from_slice(mf.extra(dir, "embed.ngram.weight", &[g.buckets, g.dim])?);
        }
        let chars = match &spec.chars {
            None => None,
            Some(cs) => Some(CharEncoder::from_tensors(cs.clone(), |name, shape| {
                mf.extra(dir, name, shape).map(<[f32]>::to_vec)
            })?),
        };
        let mut crf = Vec::new();
        if spec.crf {
            for (name, shape) in super::crf::param_names(spec.tags.len()) {
                crf.extend_from_slice(mf.extra(dir, name, &shape)?);
            }
        }
        // no training counts: word dropout needs them, a loaded tagger only tags
        let mut t = Tagger::fresh(spec, emb, Vec::new(), mf.model, chars);
        t.crf = crf;
        Ok(t)
    }
}
