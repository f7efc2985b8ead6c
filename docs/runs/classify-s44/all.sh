# Defaults, seeds 1-5, each set's five trainings then `rnn eval --json`
# (../classify-s33/run.sh); RNN: the binary (default target/release/rnn).
RNN=${RNN:-/work/main/target/release/rnn}
OUT=${OUT:-/tmp/c44/out}
for n in EyesOpenShut FingerMovements HandMovementDirection SelfRegulationSCP2 Blink; do
  echo "== $n $(date -u +%H:%M:%S)"
  bash /work/main/docs/runs/classify-s33/run.sh /tmp/fresh19/$n/${n}_TRAIN.ts /tmp/fresh19/$n/${n}_TEST.ts $n $OUT $RNN
done
echo "== done $(date -u +%H:%M:%S)"
