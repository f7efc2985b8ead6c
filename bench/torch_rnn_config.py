"""Runs one config of the PyTorch reference benchmark (../shared/bench/torch_rnn.py),
unchanged, so its peak memory can be measured alone:

    /usr/bin/time -v ~/.torchenv/bin/python bench/torch_rnn_config.py L 1

Usage: torch_rnn_config.py CONFIG [threads] [path/to/torch_rnn.py]
"""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
default = os.path.join(here, "..", "..", "shared", "bench", "torch_rnn.py")
name = sys.argv[1] if len(sys.argv) > 1 else "L"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
path = sys.argv[3] if len(sys.argv) > 3 else default

spec = importlib.util.spec_from_file_location("torch_rnn", path)
torch_rnn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(torch_rnn)

B, V, H, T = torch_rnn.CONFIGS[name]
reps = {"S": 200, "M": 10, "L": 2}[name]
r = torch_rnn.bench(B, V, H, T, threads, reps)
print(f"torch threads={threads} {name} B={B} V={V} H={H} T={T} "
      f"train_tok_s={r['train']:.0f} infer_tok_s={r['infer']:.0f}")
