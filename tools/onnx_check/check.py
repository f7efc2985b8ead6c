#!/usr/bin/env python3
"""Runs `rnn export --format onnx` models with onnxruntime, variable lengths
included, and compares every output with `rnn infer` on the same inputs.

The Rust tests run the exports with tract, which only takes sequence_lens
equal to T; this script covers the rest: padded batches (each sequence its own
length, the reverse direction starting at its own end), random initial
states, class-id inputs, and every Elman activation. Each export is also
checked by onnx.checker (full_check: types and shapes inferred) first.

Usage (from the repository root, after `cargo build --release`):

    python3 -m venv /tmp/onnx-check && /tmp/onnx-check/bin/pip install -r tools/onnx_check/requirements.txt
    /tmp/onnx-check/bin/python tools/onnx_check/check.py [--rnn target/release/rnn]

Exit status 0 when every output of every case is within --tol (1e-4) of
`rnn infer`, 1 otherwise.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates/rnn/tests/fixtures/interop"
TEXT = "the cat sat on the mat. the dog ran to the cat. a mat, a cat, a dog.\n" * 30


def rnn(binary, *args):
    r = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"rnn {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


def model_dims(sess):
    """(L*D, H) from the declared shape of h0, and whether the model takes ids."""
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    return shapes["h0"][0], shapes["h0"][2], "ids" in shapes


def random_inputs(sess, input_size, t, lengths, seed):
    """A padded batch: x (or ids), lengths, random h0 (and c0)."""
    rng = np.random.default_rng(seed)
    ld, h, takes_ids = model_dims(sess)
    b = len(lengths)
    feeds = {}
    if takes_ids:
        feeds["ids"] = rng.integers(0, input_size, size=(t, b), dtype=np.int64)
    else:
        feeds["x"] = rng.standard_normal((t, b, input_size)).astype(np.float32)
    feeds["lengths"] = np.asarray(lengths, dtype=np.int64)
    feeds["h0"] = (0.5 * rng.standard_normal((ld, b, h))).astype(np.float32)
    if "c0" in {i.name for i in sess.get_inputs()}:
        feeds["c0"] = (0.5 * rng.standard_normal((ld, b, h))).astype(np.float32)
    return feeds


def compare(binary, work, name, model_dir, onnx_path, feeds, tol, rows):
    """Runs `rnn infer` and onnxruntime on `feeds`; appends a result row."""
    inp, out = work / f"{name}.in.safetensors", work / f"{name}.out.safetensors"
    save_file(feeds, str(inp))
    rnn(binary, "infer", "--model", model_dir, "--input", inp, "-o", out)
    want = load_file(str(out))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, feeds)))
    diffs = {}
    for k in names:
        if got[k].shape != want[k].shape:
            diffs[k] = float("inf")
        else:
            diffs[k] = float(np.max(np.abs(got[k].astype(np.float64) - want[k])))
    worst = max(diffs.values())
    rows.append((name, feeds["lengths"].tolist(), diffs, worst <= tol))
    return got


def export(binary, model_dir, onnx_path):
    r = rnn(binary, "export", "--model", model_dir, "--format", "onnx", "-o", onnx_path)
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    ops = sorted({n.op_type for n in model.graph.node if n.op_type in ("RNN", "GRU", "LSTM")})
    note = [l for l in r.stderr.splitlines() if l.startswith("note:")]
    meta = {p.key: p.value for p in model.metadata_props}
    return ops, note, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rnn", default=ROOT / "target/release/rnn", type=Path)
    ap.add_argument("--tol", default=1e-4, type=float)
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnn-onnx-check-") as tmp:
        work = Path(tmp)
        models = []  # (name, model dir, input size)
        for name in ["lstm_2layer_bidir", "gru_1layer", "elman_relu_2layer"]:
            info = json.loads((FIXTURES / f"{name}.json").read_text())
            d = work / name
            extra = ["--activation", info["activation"]] if info.get("activation") else []
            rnn(args.rnn, "import", FIXTURES / f"{name}.pt", "--out", d, *extra)
            models.append((name, d, info["input"]))
        text = work / "text.txt"
        text.write_text(TEXT)
        for cell, act, layers in [("lstm", "tanh", 2), ("gru", "tanh", 1), ("elman", "sigmoid", 2), ("elman", "relu", 1)]:
            name = f"lm_{cell}_{act}" if cell == "elman" else f"lm_{cell}"
            d = work / name
            rnn(args.rnn, "train", "lm", "--data", text, "--out", d, "--cell", cell,
                "--activation", act, "--layers", layers, "--hidden", 12, "--seq-len", 16,
                "--batch", 8, "--steps", 30)
            models.append((name, d, None))  # the input size is the vocabulary's
        # a bidirectional tagger and a 2-layer forecaster: their networks
        # (features and scaling stay outside, named in the export's note)
        data = ROOT / "crates/rnn-cli/tests/data"
        rnn(args.rnn, "train", "tag", "--train", data / "tiny.train.conll", "--dev", data / "tiny.dev.conll",
            "--out", work / "tagger", "--bidirectional", "--cell", "gru", "--hidden", 8, "--epochs", 2)
        models.append(("tagger_gru_bidir", work / "tagger", None))
        csv = work / "series.csv"
        csv.write_text("t,y\n" + "".join(f"{i},{np.sin(i / 5) + 0.01 * i:.5f}\n" for i in range(160)))
        rnn(args.rnn, "train", "forecast", "--data", csv, "--target", "y", "--window", 8, "--test", 16,
            "--out", work / "forecaster", "--cell", "lstm", "--layers", 2, "--hidden", 8, "--epochs", 5)
        models.append(("forecaster_lstm", work / "forecaster", None))

        for name, d, input_size in models:
            path = work / f"{name}.onnx"
            ops, note, meta = export(args.rnn, d, path)
            print(f"{name}: {'+'.join(ops)}, metadata keys {sorted(meta)}" + (f"; {note[0]}" if note else ""))
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            if input_size is None:
                x = [i for i in sess.get_inputs() if i.name == "x"]
                input_size = x[0].shape[2] if x else len(json.loads(meta["vocab"]))
            if name in ("lstm_2layer_bidir", "gru_1layer", "elman_relu_2layer"):
                # the fixture's own inputs, and PyTorch's outputs as a second reference
                feeds = {k: v for k, v in load_file(str(FIXTURES / f"{name}.input.safetensors")).items()}
                got = compare(args.rnn, work, f"{name} (fixture)", d, path, feeds, args.tol, rows)
                want = load_file(str(FIXTURES / f"{name}.expected.safetensors"))
                lengths = feeds["lengths"]
                valid = np.arange(want["logits"].shape[0])[:, None] < lengths[None, :]
                d_torch = max(
                    float(np.max(np.abs(got["output"] - want["output"]))),
                    float(np.max(np.abs(got["h_n"] - want["h_n"]))),
                    float(np.max(np.abs(got["logits"] - want["logits"])[valid])),
                )
                ok = d_torch <= args.tol
                rows.append((f"{name} vs PyTorch", lengths.tolist(), {"all": d_torch}, ok))
            for i, lengths in enumerate([[9, 4, 1, 7], [5, 5], [1]]):
                t = max(lengths) + (1 if i == 0 else 0)  # padding past the longest too
                feeds = random_inputs(sess, input_size, t, lengths, seed=17 + i)
                compare(args.rnn, work, f"{name} #{i + 1}", d, path, feeds, args.tol, rows)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'case':<{width}}  {'lengths':<14} max |onnxruntime - rnn infer| per output")
    for name, lengths, diffs, ok in rows:
        ds = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        print(f"{name:<{width}}  {str(lengths):<14} {ds}  {'ok' if ok else 'FAIL'}")
    failed = sum(not r[3] for r in rows)
    worst = max(max(r[2].values()) for r in rows)
    print(f"\n{len(rows) - failed} passed, {failed} failed (tolerance {args.tol:g}; largest difference {worst:.2e})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
