"""PyTorch CPU comparison for LSTM and GRU, the same work as `rnn bench --cell`.

Same as ../shared/bench/torch_rnn.py (one-hot input of V classes, linear
readout, softmax cross-entropy at every step, full BPTT over T steps, one SGD
step per batch), with torch.nn.LSTM or torch.nn.GRU in place of torch.nn.RNN.
Usage: python bench/torch_cells.py CELL [threads] [configs]   e.g. lstm 1 SM
"""
import sys, time, torch

CONFIGS = {"S": (1, 65, 100, 25), "M": (32, 65, 256, 100), "L": (64, 65, 1024, 100)}
REPS = {"S": 200, "M": 10, "L": 2}


def bench(cell, B, V, H, T, threads, reps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    emb = torch.eye(V)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H)
    out = torch.nn.Linear(H, V)
    opt = torch.optim.SGD(list(rnn.parameters()) + list(out.parameters()), lr=0.01)
    lossf = torch.nn.CrossEntropyLoss()
    x_idx = torch.randint(0, V, (T, B))
    y = torch.randint(0, V, (T, B))

    def step():
        h, _ = rnn(emb[x_idx])
        loss = lossf(out(h).reshape(T * B, V), y.reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()

    def fwd():
        with torch.no_grad():
            h, _ = rnn(emb[x_idx]); out(h)

    res = {}
    for name, f in (("train", step), ("infer", fwd)):
        for _ in range(3): f()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps): f()
            times.append((time.perf_counter() - t0) / reps)
        times.sort()
        res[name] = B * T / times[2]
    return res


if __name__ == "__main__":
    cell = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    names = sys.argv[3] if len(sys.argv) > 3 else "SML"
    for name in names:
        B, V, H, T = CONFIGS[name]
        r = bench(cell, B, V, H, T, threads, REPS[name])
        print(f"torch cell={cell} threads={threads} {name} B={B} V={V} H={H} T={T} "
              f"train_tok_s={r['train']:.0f} infer_tok_s={r['infer']:.0f}", flush=True)
