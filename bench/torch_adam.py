# PyTorch's Adam step time over 3,163,416 f32 values (the Brown tagger's
# embeddings), with the dense and the sparse gradients that
# crates/rnn/examples/optimizer_rate.rs draws, timed the same way (the mean
# over steps 1,000-1,999 of the step call alone):
#   ~/.torchenv/bin/python bench/torch_adam.py THREADS
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
n = 3_163_416
i = torch.arange(n)
p = torch.nn.Parameter(torch.zeros(n))
for mode in ["dense", "sparse"]:
    p.data = ((i % 1000).float() * 1e-3 - 0.5); opt = torch.optim.Adam([p], lr=2e-3)
    spent = 0.0  # seconds over 1,000 steps: milliseconds a step
    for s in range(2000):
        if mode == "dense":
            g = ((i + s) % 13).float() * 1e-4 - 6e-4
        else:
            g = torch.where((i // 64 + s) % 900 == 0, torch.tensor(1e-3), torch.tensor(0.0))
        p.grad = g
        t0 = time.perf_counter(); opt.step(); t1 = time.perf_counter()
        if s >= 1000: spent += t1 - t0
    print(f"{mode} gradients: {spent:.2f} ms a step (torch {torch.__version__}, threads {torch.get_num_threads()})")
