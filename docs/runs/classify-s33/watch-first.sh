R=/work/main/target/release/rnn
for s in 1 2 3 4 5; do
  /usr/bin/time -f "%e s wall %U+%S cpu" $R train classify --train watch/Watch_TRAIN.ts --out w$s --seed $s 2>w$s.err >/dev/null
  tail -1 w$s.err
  $R eval --model w$s --data watch/Watch_TEST.ts --json > w$s.json
  python3 -c "import json;d=json.load(open('w$s.json'));print($s,d['accuracy'],{k:v for k,v in d.items() if 'nn' in k or 'major' in k})"
done
