#!/usr/bin/env bash
# Soak test of interrupted training (issue 16): a small `rnn train lm` run is
# killed with SIGKILL at random moments KILLS times (default 20) and resumed
# each time; at the end its model and train-state files must be
# byte-identical to those of an uninterrupted run, and no temporary file may
# be left in the run directory.
#
#   tools/soak.sh [KILLS] [SEED]      (builds target/release/rnn if needed)
#
# Exit 0 when every check passes, 1 otherwise. Takes about a minute.
set -euo pipefail

kills=${1:-20}
seed=${2:-$RANDOM}
root=$(cd "$(dirname "$0")/.." && pwd)
rnn=$root/target/release/rnn
[ -x "$rnn" ] || cargo build --release -p rnn-cli --manifest-path "$root/Cargo.toml" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/rnn-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
RANDOM=$seed

# a text of ~60 kB; the run: a few hundred small steps, a checkpoint every 5
python3 - "$work/text.txt" <<'EOF' 2>/dev/null || yes "the cat sat on the mat and the dog ran after it. " | head -c 60000 > "$work/text.txt"
import random, sys
random.seed(1)
words = "the cat sat on a mat and dog ran after it while bird sang in tree".split()
open(sys.argv[1], "w").write(" ".join(random.choice(words) for _ in range(12000)) + "\n")
EOF
flags=(--data "$work/text.txt" --hidden 32 --layers 2 --cell lstm --seq-len 16 --batch 8
       --steps 400 --eval-every 5 --seed 7 --threads 1 --quiet)

start=$(date +%s.%N)
"$rnn" train lm --out "$work/whole" "${flags[@]}" > /dev/null
whole_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
echo "uninterrupted run: ${whole_s}s (seed $seed)"

run=$work/killed
resumes=0 fresh=0
for i in $(seq 1 "$kills"); do
    if [ -f "$run/train_state.safetensors" ]; then
        mode=(--resume "$run"); resumes=$((resumes + 1))
    else
        mode=(--out "$run" --force); fresh=$((fresh + 1))
    fi
    "$rnn" train lm "${mode[@]}" "${flags[@]}" > /dev/null 2>&1 &
    pid=$!
    # a random moment, on average 1/(2 KILLS) of the run's length after the
    # (re)start, so the kills fall over the first half of the run or so and
    # each one meets a run still going (the final resume finishes it)
    delay=$(awk -v w="$whole_s" -v r=$RANDOM -v k="$kills" 'BEGIN { printf "%.3f", w * r / 32767 / k }')
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        step=$(python3 -c "
import json,struct,sys
b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]
print(json.loads(json.loads(b[8:8+n])['__metadata__']['position'])['step'])" "$run/train_state.safetensors" 2>/dev/null || echo none)
        echo "kill $i after ${delay}s: checkpoint at step $step"
    else
        wait "$pid" || true
        echo "kill $i after ${delay}s: the run had already finished"
    fi
done
"$rnn" train lm --resume "$run" "${flags[@]}" > /dev/null
echo "$kills kills: $resumes resumed from a checkpoint, $fresh started afresh; final resume done"

status=0
for f in model.safetensors train_state.safetensors; do
    if cmp -s "$work/whole/$f" "$run/$f"; then
        echo "$f: byte-identical ($(sha256sum < "$run/$f" | cut -c1-16))"
    else
        echo "$f: DIFFERS from the uninterrupted run"; status=1
    fi
done
left=$(find "$run" -name '*.tmp.*' | wc -l)
echo "temporary files left: $left"
[ "$left" -eq 0 ] || status=1
[ $status -eq 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $status
