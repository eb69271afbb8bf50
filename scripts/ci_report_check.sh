#!/usr/bin/env bash
# CI step: build the `snakemake --report` page of a finished smoke-scale run (the copy the
# tests ran it in, $FIPBENCH_SMOKE_COPY, when it holds one; else a fresh run in a git
# worktree of HEAD), render it in headless Chromium (Debian's chromium, installed when
# missing) and check from the rendered DOM that every figure the workflow wrote and the
# claims table (every claim id with a verdict) are on the page. The page, the DOM and a
# screenshot are kept in ${1:-ci-artifacts}/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

artifacts=$(mkdir -p "${1:-ci-artifacts}" && cd "${1:-ci-artifacts}" && pwd)
work=$(mktemp -d)
trap 'git worktree remove --force "$work/run" 2>/dev/null || true; rm -rf "$work"' EXIT
run="${FIPBENCH_SMOKE_COPY:-}"
if [ -z "$run" ] || [ ! -f "$run/results/smoke/claims.md" ]; then
  run="$work/run"
  git worktree add --quiet --detach "$run" HEAD
fi

if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq chromium >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }
fi

start=$(date +%s)
(cd "$run" && snakemake --quiet --cores 2 --config scale=smoke \
   && snakemake --report "$artifacts/report-smoke.html" --config scale=smoke) > "$artifacts/report-smoke.log" 2>&1 \
  || { tail -40 "$artifacts/report-smoke.log"; exit 1; }
echo "smoke workflow (nothing to do when reused from $run) and report: $(( $(date +%s) - start )) s"

page="file://$artifacts/report-smoke.html"
browse() { timeout 120 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=15000 "$@" "$page" 2>/dev/null; }
browse --dump-dom > "$artifacts/report-smoke.dom.html"
browse --screenshot="$artifacts/report-smoke.png" --window-size=1400,1000 >/dev/null

python - "$artifacts/report-smoke.dom.html" "$run/results/smoke" config/claims.yaml <<'EOF'
"""The rendered page names every figure the smoke workflow wrote and carries the claims
table with a verdict for every claim id."""
import base64
import re
import sys
from pathlib import Path

import yaml

dom, results, claims_file = Path(sys.argv[1]).read_text(), Path(sys.argv[2]), Path(sys.argv[3])
figures = sorted(p.name for p in results.rglob("*.png"))
assert figures, f"the smoke workflow wrote no figures under {results}"
missing = [name for name in figures if name not in dom]
assert not missing, f"figures missing from the rendered report: {missing}"
embedded = re.search(r"claims\.md;base64,([A-Za-z0-9+/=]+)", dom)
assert embedded, "the claims table (claims.md) is not in the rendered report"
table = base64.b64decode(embedded.group(1)).decode()
ids = [claim["id"] for claim in yaml.safe_load(claims_file.read_text())["claims"]]
rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
unjudged = [i for i in ids if i not in rows or not re.search(r"\*\*[a-zA-Z ]+\*\*", rows[i])]
assert not unjudged, f"claims without a row and verdict in the report: {unjudged}"
print(f"report renders {len(figures)} figures and {len(ids)} claims with verdicts")
EOF
