"""Runs the shared PyTorch reference (torch_rnn.py) unchanged, optionally on
the process's CPU time instead of the wall clock, and optionally on a subset
of its configs. On a machine shared with other work, the wall clock counts
the time other processes ran; the CPU time does not (all threads summed), so
one-thread results of `rnn bench --clock cpu` and of this stay comparable.

Usage: python bench/torch_clock.py wall|cpu CONFIGS THREADS [CELL] [packed]
  CONFIGS: S, M, L or a combination like ML
  TORCH_RNN: the script (default ../shared/bench/torch_rnn.py from the repo root)
"""
import os, sys, time

clock, configs = sys.argv[1], sys.argv[2]
if clock == "cpu":
    time.perf_counter = time.process_time  # the script's only timer
elif clock != "wall":
    sys.exit(f"clock {clock!r}: expected wall or cpu")
script = os.environ.get("TORCH_RNN", "../shared/bench/torch_rnn.py")
src = open(script).read()
head, main = src.split('if __name__ == "__main__":')
sys.argv = [script] + sys.argv[3:]
env = {"__name__": "torch_rnn"}
exec(compile(head, script, "exec"), env)
env["CONFIGS"] = {k: v for k, v in env["CONFIGS"].items() if k in configs}
exec(compile("if True:" + main, script, "exec"), env)
