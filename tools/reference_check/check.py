#!/usr/bin/env python3
"""Recomputes every PyTorch reference case and optimizer trajectory in
crates/rnn/tests/fixtures/reference with `rnn reference` / `rnn trajectory` and prints
the largest relative error per case (the tests assert 1e-9; this shows the figures).

Usage (repository root, after cargo build --release; numpy and safetensors as in
tools/onnx_check/requirements.txt): python3 tools/reference_check/check.py
"""
import glob
import subprocess

import numpy as np
from safetensors.numpy import load_file
R='target/release/rnn'
worst=0
for kind, pat in [('reference','crates/rnn/tests/fixtures/reference/*.safetensors'),('reference','crates/rnn/tests/fixtures/reference/stack/*.safetensors'),('trajectory','crates/rnn/tests/fixtures/reference/trajectories/*.safetensors')]:
    for case in sorted(glob.glob(pat)):
        subprocess.run([R,kind,case,'-o','/tmp/refout.safetensors'],check=True,capture_output=True)
        exp=load_file(case); got=load_file('/tmp/refout.safetensors')
        errs=[]
        for k,v in got.items():
            for cand in (k,'expected.'+k,'expected_'+k):
                if cand in exp and exp[cand].shape==v.shape:
                    e=exp[cand].astype(np.float64); d=np.abs(v-e).max()/max(np.abs(e).max(),1e-300); errs.append(d); break
        w=max(errs) if errs else float('nan'); worst=max(worst,w) if errs else worst
        print(f"{kind} {case.split('/')[-1]}: {len(errs)} tensors compared, max rel err {w:.2e}")
print(f"worst {worst:.2e}")
