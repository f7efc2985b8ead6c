#!/usr/bin/env bash
# Opens an `rnn visualize` page in headless Chromium (Debian's `chromium`,
# installed by .ci/run when missing): the page must load without a console
# message (errors, warnings, logs), its script must have run (the characters
# carry a colour), and a screenshot is saved.
#
#   bash tools/visualize_check.sh [OUT_DIR]      (default target/visualize-check)
#
# It trains a tiny language model on README.md (a few seconds) to have one.
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
chrome --dump-dom "file://$OUT/view.html" > "$OUT/dom.html" 2> "$OUT/chromium.log"
if grep -E 'CONSOLE' "$OUT/chromium.log"; then
    echo "visualize_check: the page wrote to the console (above)" >&2
    exit 1
fi
if ! grep -q 'id="c0" title="next: [^"]*" style="background' "$OUT/dom.html"; then
    echo "visualize_check: the page's script did not colour the text" >&2
    exit 1
fi
chrome --window-size=1200,900 --screenshot="$OUT/view.png" "file://$OUT/view.html" 2>> "$OUT/chromium.log"
test -s "$OUT/view.png"
echo "visualize_check: rendered without console messages; screenshot $OUT/view.png"
