#!/usr/bin/env bash
# Opens `rnn visualize` pages in headless Chromium (Debian's `chromium`,
# installed by .ci/run when missing), a language model's and a tagger's:
# each page must load without a console message (errors, warnings, logs),
# its script must have run (the characters or tokens carry a colour), and
# a screenshot of each is saved (view.png, tags.png).
#
#   bash tools/visualize_check.sh [OUT_DIR]      (default target/visualize-check)
#
# It trains a tiny language model on README.md and a tiny tagger on the CLI
# tests' CoNLL fixture (a few seconds each) to have them.
set -euo pipefail
cd "$(dirname "$0")/.."
RNN=${RNN:-target/release/rnn}
OUT=${1:-target/visualize-check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
command -v chromium > /dev/null || { echo "visualize_check: chromium is not installed" >&2; exit 1; }
"$RNN" train lm --data README.md --out "$OUT/model" --hidden 32 --seq-len 32 --batch 8 \
    --steps 200 --eval-every 100 --quiet --threads 1 --force > /dev/null
"$RNN" visualize --model "$OUT/model" --text README.md -o "$OUT/view.html" --force
chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --enable-logging=stderr --v=0 "$@"; }
# check PAGE DOM_PATTERN SHOT: no console message, the script coloured the
# page (the DOM matches DOM_PATTERN), a screenshot
check() {
    chrome --dump-dom "file://$OUT/$1" > "$OUT/dom.html" 2> "$OUT/chromium.log"
    if grep -E 'CONSOLE' "$OUT/chromium.log"; then
        echo "visualize_check: $1 wrote to the console (above)" >&2
        exit 1
    fi
    if ! grep -q "$2" "$OUT/dom.html"; then
        echo "visualize_check: the script of $1 did not colour the text" >&2
        exit 1
    fi
    chrome --window-size=1200,900 --screenshot="$OUT/$3" "file://$OUT/${1%%#*}" 2>> "$OUT/chromium.log"
    test -s "$OUT/$3"
    echo "visualize_check: $1 rendered without console messages; screenshot $OUT/$3"
}
check view.html 'id="c0" title="next: [^"]*" style="background' view.png
# a tagger: tokens coloured by predicted tag; #0 colours them by unit 0
FIX=crates/rnn-cli/tests/data
"$RNN" train tag --train "$FIX/tiny.train.conll" --dev "$FIX/tiny.dev.conll" --out "$OUT/tagger" \
    --bidirectional --hidden 16 --emb 16 --epochs 20 --patience 20 --force 2> /dev/null
printf 'Apple Park is a great company\nI like eating apple\nThe Apple is big\n' > "$OUT/sample.txt"
"$RNN" visualize --model "$OUT/tagger" --text "$OUT/sample.txt" -o "$OUT/tags.html" --force
check 'tags.html#0' 'id="w0" class="t[0-9]*" data-tag="[^"]*" title="[^"]*" style="background' tags.png
