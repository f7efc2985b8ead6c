# Our defaults' backtest on the probe's blocks: for each series of probe_all.txt,
# seed 1 trained on the rows up to the end of each of the three blocks of
# max(TEST, 8) rows before the test block, scored on that block (--test blk).
import json, subprocess, os, math, sys
B = "/tmp/s34/rnn-new"
out = open("ours_bt.txt", "a")
done = {l.split()[0] + " " + l.split()[1] for l in open("ours_bt.txt")} if os.path.exists("ours_bt.txt") else set()
for line in open("probe_all.txt"):
    if " pick " not in line: continue
    k, name, col = line.split()[:3]
    full = next(l.split() for l in open(f"{k}.list") if l.split()[0].startswith(name) and l.split()[1].startswith(col))
    name, col, test = full[0], full[1], int(full[2]); extra = full[3:]
    if f"{k} {name}" in done: continue
    lines = open(f"{k}/{name}.csv").read().splitlines()
    hdr = 0 if col.isdigit() else 1
    n = len(lines) - hdr
    blk = max(test, 8); se = 0.0; ok = True
    for b in (1, 2, 3):
        a0 = n - test - b * blk
        path = f"/tmp/s34/bt/{k}-{name}-{b}.csv"; os.makedirs("/tmp/s34/bt", exist_ok=True)
        open(path, "w").write("\n".join(lines[: hdr + a0 + blk]) + "\n")
        o = f"/tmp/s34/bt/run-{k}-{name}-{b}"
        r = subprocess.run([B, "train", "forecast", "--data", path, "--target", col, "--test", str(blk), "--seed", "1", "--out", o, "--force", *extra], capture_output=True, text=True)
        if r.returncode: ok = False; print(k, name, b, r.stderr.strip()[-200:], file=sys.stderr); break
        e = subprocess.run([B, "eval", "--model", o, "--data", path, "--json"], capture_output=True, text=True)
        se += json.loads(e.stdout)["rmse"] ** 2 * blk
    print(k, name, col, math.sqrt(se / (3 * blk)) if ok else "nan", file=out, flush=True)
