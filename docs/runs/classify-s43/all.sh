for n in TecatorFat SpliceDNA SpokenDigitsMFCC SelfRegulationSCP1; do
  echo "== $n $(date -u +%H:%M:%S)"
  bash /work/main/docs/runs/classify-s33/run.sh /tmp/fresh19/$n/${n}_TRAIN.ts /tmp/fresh19/$n/${n}_TEST.ts $n /tmp/c43/out /tmp/c43/rnn
done
echo "== done $(date -u +%H:%M:%S)"
