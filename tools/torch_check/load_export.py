#!/usr/bin/env python3
"""Loads `rnn export --format pytorch` state_dicts into plain nn.LSTM +
nn.Linear modules with load_state_dict (strict) and runs them, comparing with
`rnn infer`: an imported PyTorch model (its own names back) and a language
model trained by rnn (names rnn.* and head.*, class ids in as one-hot rows).

Usage (from the repository root, after `cargo build --release`):

    python3 -m venv /tmp/torch-check && /tmp/torch-check/bin/pip install -r tools/torch_check/requirements.txt
    /tmp/torch-check/bin/python tools/torch_check/load_export.py [--rnn target/release/rnn]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as load_np, save_file as save_np
from safetensors.torch import load_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates/rnn/tests/fixtures/interop"


def rnn(binary, *args):
    r = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"rnn {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r


class Net(torch.nn.Module):
    """A recurrent module and a Linear head under the caller's names."""

    def __init__(self, rnn_name, head_name, rnn_module, head):
        super().__init__()
        self.rnn_name, self.head_name = rnn_name, head_name
        setattr(self, rnn_name, rnn_module)
        setattr(self, head_name, head)

    def forward(self, x, lengths, h0, c0):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, (h_n, c_n) = getattr(self, self.rnn_name)(packed, (h0, c0))
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
        return out, h_n, c_n, getattr(self, self.head_name)(out)


def check(name, net, feeds, want, x):
    lengths = torch.from_numpy(feeds["lengths"])
    with torch.no_grad():
        out, h_n, c_n, logits = net(x, lengths, torch.from_numpy(feeds["h0"]), torch.from_numpy(feeds["c0"]))
    valid = (np.arange(x.shape[0])[:, None] < feeds["lengths"][None, :])[..., None]
    d = {
        "output": np.abs(out.numpy() - want["output"]).max(),
        "h_n": np.abs(h_n.numpy() - want["h_n"]).max(),
        "c_n": np.abs(c_n.numpy() - want["c_n"]).max(),
        "logits": np.abs(np.where(valid, logits.numpy() - want["logits"], 0)).max(),
    }
    print(f"{name}: max |torch - rnn infer| " + ", ".join(f"{k} {v:.1e}" for k, v in d.items()))
    return max(d.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rnn", default=ROOT / "target/release/rnn", type=Path)
    args = ap.parse_args()
    print(f"torch {torch.__version__}")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="rnn-torch-check-") as tmp:
        w = Path(tmp)
        # 1. an imported nn.LSTM: the export carries its names (lstm., fc.) back
        name = "lstm_2layer_bidir"
        info = json.loads((FIXTURES / f"{name}.json").read_text())
        rnn(args.rnn, "import", FIXTURES / f"{name}.pt", "--out", w / "imp")
        rnn(args.rnn, "export", "--model", w / "imp", "--format", "pytorch", "-o", w / "imp.safetensors")
        net = Net(info["rnn_prefix"], info["head_prefix"],
                  torch.nn.LSTM(info["input"], info["hidden"], num_layers=info["layers"], bidirectional=info["bidirectional"]),
                  torch.nn.Linear(2 * info["hidden"], info["classes"]))
        print(net.load_state_dict(load_file(str(w / "imp.safetensors"))))
        inp = FIXTURES / f"{name}.input.safetensors"
        rnn(args.rnn, "infer", "--model", w / "imp", "--input", inp, "-o", w / "imp.out.safetensors")
        feeds = load_np(str(inp))
        worst = max(worst, check(name, net, feeds, load_np(str(w / "imp.out.safetensors")), torch.from_numpy(feeds["x"])))

        # 2. a language model trained here: rnn.* and head.*, ids as one-hot rows
        text = w / "text.txt"
        text.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 40)
        rnn(args.rnn, "train", "lm", "--data", text, "--out", w / "lm", "--cell", "lstm", "--layers", 2,
            "--hidden", 16, "--seq-len", 16, "--batch", 8, "--steps", 30)
        rnn(args.rnn, "export", "--model", w / "lm", "--format", "pytorch", "-o", w / "lm.safetensors")
        sd = load_file(str(w / "lm.safetensors"))
        vocab = sd["rnn.weight_ih_l0"].shape[1]
        net = Net("rnn", "head", torch.nn.LSTM(vocab, 16, num_layers=2), torch.nn.Linear(16, vocab))
        print(net.load_state_dict(sd))
        rng = np.random.default_rng(3)
        t, lengths = 12, np.array([12, 5, 9], dtype=np.int64)
        feeds = {
            "ids": rng.integers(0, vocab, size=(t, 3), dtype=np.int64),
            "lengths": lengths,
            "h0": (0.5 * rng.standard_normal((2, 3, 16))).astype(np.float32),
            "c0": (0.5 * rng.standard_normal((2, 3, 16))).astype(np.float32),
        }
        save_np(feeds, str(w / "lm.in.safetensors"))
        rnn(args.rnn, "infer", "--model", w / "lm", "--input", w / "lm.in.safetensors", "-o", w / "lm.out.safetensors")
        x = torch.nn.functional.one_hot(torch.from_numpy(feeds["ids"]), vocab).float()
        worst = max(worst, check("lm (trained here)", net, feeds, load_np(str(w / "lm.out.safetensors")), x))
    print(f"largest difference {worst:.2e}: {'ok' if worst <= 1e-4 else 'FAIL'} (tolerance 1e-4)")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
