#!/usr/bin/env bash
# Precision and recall of `kind: export_request` (README "Classification").
#
# Positives: the corpus files whose expectation says export_request, and the
# demo inbox's requests. Negatives: the corpus's other files, plus every
# file under the directories given as arguments: public test mail gathered
# from packages (none of it is an export request). Prints the figures and
# every misclassified file. Not part of CI.
#
#   scripts/classify_eval.sh DIR...
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CONCIERGE_BIN:-target/debug/concierge}
[ -x "$bin" ] || cargo build --quiet
python3 - "$bin" "$@" <<'PY'
import json, os, subprocess, sys
bin, dirs = sys.argv[1], sys.argv[2:]
def kind(paths):
    out = {}
    for i in range(0, len(paths), 200):
        chunk = paths[i:i + 200]
        r = subprocess.run([bin, "inspect", "--authserv-id", "mx.ochrehq.com", *chunk],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            d = json.loads(line)
            out[d["file"]] = d["kind"]
    return out
truth = {}
for f in sorted(os.listdir("tests/corpus")):
    if f.endswith(".eml"):
        exp = json.load(open(f"tests/corpus/{f[:-4]}.expected.json"))
        truth[f"tests/corpus/{f}"] = exp["kind"] == "export_request"
for root, _, files in os.walk("assets/demo"):
    for f in files:
        p = os.path.join(root, f)
        truth[p] = None  # decided below
neg = []
for d in dirs:
    for root, _, files in os.walk(d):
        neg += [os.path.join(root, f) for f in files]
for p in neg:
    truth[p] = False
got = kind(list(truth))
# The demo inbox, read by hand: 01-06 are requests (an agent's, a stranger's
# free-text one and a spoofed one included), 07-09 a follow-up, an
# out-of-office and a question about one report.
for p in [p for p, t in truth.items() if t is None]:
    truth[p] = os.path.basename(p)[:2] in {"01", "02", "03", "04", "05", "06"}
tp = sum(1 for p, t in truth.items() if t and got.get(p) == "export_request")
fn = [p for p, t in truth.items() if t and got.get(p) != "export_request"]
fp = [p for p, t in truth.items() if not t and got.get(p) == "export_request"]
n_pos = sum(1 for t in truth.values() if t)
n_neg = len(truth) - n_pos
print(f"messages: {len(truth)} ({n_pos} requests, {n_neg} other; {len(neg)} gathered)")
print(f"precision: {tp}/{tp + len(fp)} = {tp / max(1, tp + len(fp)):.3f}")
print(f"recall:    {tp}/{n_pos} = {tp / max(1, n_pos):.3f}")
for p in fp: print("false positive:", p)
for p in fn: print("false negative:", p, got.get(p))
PY
