#!/bin/bash
# defaults, seeds 1-5, every set of the README's tables, on main
A=/tmp/s26/wheels/aeon/datasets/data
R=/work/main/target/release/rnn
path() { case $1 in
  PLAID) echo /tmp/s27w/sktime/datasets/data/PLAID/PLAID_$2.ts;;
  Coffee|PigCVP) echo /tmp/s27/sets/$1_$2.ts;;
  *) echo $A/$1/$1_$2.ts;; esac; }
for s in UnitTest ItalyPowerDemand ArrowHead PickupGestureWiimoteZ Coffee GunPoint BasicMotions Covid3Month_disc JapaneseVowels PigCVP ACSF1 OSULeaf PLAID; do
  for k in 1 2 3 4 5; do
    /usr/bin/time -f "wall %e user %U sys %S" -o time-$s-$k.txt $R train classify --train $(path $s TRAIN) --out runs/$s-$k --seed $k --force 2> train-$s-$k.err
    $R eval --model runs/$s-$k --data $(path $s TEST) --json > eval-$s-$k.json 2> eval-$s-$k.err
    echo "$s $k $(cat time-$s-$k.txt) $(python3 -c "import json; j=json.load(open('eval-$s-$k.json')); print('accuracy', j['accuracy'], 'dtw', j['nn_dtw_accuracy'], 'ed', j['nn_euclidean_accuracy'], 'weights', j['weights'])")"
  done
done
