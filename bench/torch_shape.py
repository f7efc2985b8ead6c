"""Runs the PyTorch reference benchmark (../shared/bench/torch_rnn.py, its
`bench` function unchanged) at a shape of your own, the counterpart of
`rnn bench --batch B --vocab V --hidden H --steps T`:

    ~/.torchenv/bin/python bench/torch_shape.py THREADS CELL B V H T [packed]

CELL is rnn, lstm or gru. The repetitions per timing follow the same rule as
`rnn bench` (`BenchConfig::reps_for`: round(2.1e9 / (B T H (H + V))), between
1 and 200). The printed line has the shape of the script's, with `custom` for
the config name. Note that the script feeds one-hot rows of `torch.eye(V)`
into the RNN (a dense input product), where `rnn bench` gathers columns by id:
at a large V this is work PyTorch does and we do not. TORCH_RNN names the
script when it is not at ../shared/bench/torch_rnn.py.
"""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
path = os.environ.get("TORCH_RNN") or os.path.join(here, "..", "..", "shared", "bench", "torch_rnn.py")
if len(sys.argv) < 7:
    sys.exit(__doc__)
threads, cell = int(sys.argv[1]), sys.argv[2]
B, V, H, T = (int(a) for a in sys.argv[3:7])
packed = len(sys.argv) > 7 and sys.argv[7] == "packed"

spec = importlib.util.spec_from_file_location("torch_rnn", path)
torch_rnn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(torch_rnn)

reps = min(200, max(1, round(2.1e9 / (B * T * H * (H + V)))))
r = torch_rnn.bench(B, V, H, T, threads, reps, cell, packed)
print(f"torch threads={threads} cell={cell}{' packed' if packed else ''} custom B={B} V={V} H={H} T={T} "
      f"train_tok_s={r['train']:.0f} infer_tok_s={r['infer']:.0f}")
