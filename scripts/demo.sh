#!/usr/bin/env bash
# Install hullscan into .venv and run a real scan.
#   scripts/demo.sh            offline: build the bundled sample image and a DB from the bundled
#                              feed slices (real Alpine secdb v3.4, real Debian tracker JSON slice)
#   scripts/demo.sh IMAGE.tar  scan your own `docker save` tar or OCI layout against the same DB
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
export HULLSCAN_CACHE_DIR="$PWD/build/demo-cache"
.venv/bin/python examples/sample-image/build.py build/sample-image.tar >/dev/null
.venv/bin/hullscan db build --only alpine --only debian \
  --source alpine=examples/feeds/alpine/v3.4 \
  --source debian=examples/feeds/debian/tracker-slice.json
target="${1:-build/sample-image.tar}"
.venv/bin/hullscan image --input "$target" --report json=build/report.json \
  --report gitlab=build/gl-container-scanning-report.json || status=$?
echo "JSON report: build/report.json; GitLab report: build/gl-container-scanning-report.json" >&2
exit "${status:-0}"
