"""How `rnn tag` does on raw text: detokenise a tagged file's sentences as
people write them (closing marks and clitics against the word before, opening
marks against the word after), tag that text with `rnn tag --tokenize MODE`
for both modes, and score against the gold tokens by character spans (the
text without spaces is the same under every tokenisation): a gold token is
right when a predicted token covers the same characters with the same tag; an
entity (B-/I- tags) when a predicted one covers the same characters with the
same type.
Usage: python3 detok.py RNN_BINARY MODEL_DIR TAGGED_FILE (CoNLL or TSV, tag last)"""
import subprocess, sys
rnn, model, test = sys.argv[1:4]
sents = []
for block in open(test, encoding="utf-8").read().split("\n\n"):
    rows = [l.split("\t") for l in block.splitlines() if l.strip()]
    if rows:
        sents.append(([r[0] for r in rows], [r[-1] for r in rows]))
CLOSE = set(".,;:!?)]}%…") | {"'s", "n't", "'re", "'ve", "'ll", "'d", "'m"}
OPEN = set("([{$")
def detok(tokens):
    out, glue, quote_open = "", False, False
    for t in tokens:
        if t == '"':  # quotes alternate: opening, closing
            if quote_open:
                out += t
            else:
                out += (" " if out else "") + t
            glue, quote_open = not quote_open, not quote_open
            continue
        attach = out and not glue and (t in CLOSE or t.lower() in CLOSE)
        out += t if attach else (" " if out and not glue else "") + t
        glue = t in OPEN
    return out
def spans(tokens):
    at, out = 0, []
    for t in tokens:
        out.append((at, at + len(t)))
        at += len(t)
    return out
def entities(tokens, tags):
    ents, cur = [], None
    for (a, b), tag in zip(spans(tokens), tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (cur is None or cur[0] != tag[2:])):
            if cur: ents.append(tuple(cur))
            cur = [tag[2:], a, b]
        elif tag.startswith("I-"):
            cur[2] = b
        else:
            if cur: ents.append(tuple(cur))
            cur = None
    if cur: ents.append(tuple(cur))
    return ents
chunked = any(t.startswith(("B-", "I-")) for _, tags in sents for t in tags)
raw = [detok(t) for t, _ in sents]
changed = sum(r.split() != t for r, (t, _) in zip(raw, sents))
print(f"{test}: {len(sents)} sentences, {changed} whose raw form is not their tokens joined by spaces")
for mode in ("whitespace", "vocabulary"):
    out = subprocess.run([rnn, "tag", "--model", model, "--tokenize", mode, "--format", "plain"],
                         input="\n".join(raw) + "\n", capture_output=True, text=True, check=True).stdout
    pred = [[l.split("\t") for l in b.splitlines()] for b in out.strip("\n").split("\n\n")]
    assert len(pred) == len(sents), (len(pred), len(sents))
    tp = fp = fn = same = right = total = 0
    for (gt, gtags), p in zip(sents, pred):
        ptoks, ptags = [x[0] for x in p], [x[1] for x in p]
        same += ptoks == gt
        got = dict(zip(spans(ptoks), ptags))
        right += sum(got.get(s) == t for s, t in zip(spans(gt), gtags))
        total += len(gt)
        g, q = set(entities(gt, gtags)), set(entities(ptoks, ptags))
        tp += len(g & q); fp += len(q - g); fn += len(g - q)
    line = f"--tokenize {mode}: tokens as gold in {same}/{len(sents)} sentences; gold tokens right {100 * right / total:.2f} %"
    if chunked:
        pr, rc = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        line += f"; entities precision {100 * pr:.2f} recall {100 * rc:.2f} F1 {100 * 2 * pr * rc / max(pr + rc, 1e-12):.2f}"
    print(line)
