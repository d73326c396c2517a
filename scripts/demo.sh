#!/usr/bin/env bash
# Install hullscan into .venv and run a real scan.
#   scripts/demo.sh                offline: the bundled sample image (Alpine 3.4 from a real apk
#                                  database, 3 layers) against a DB built from the bundled slices
#                                  of the real Alpine secdb and Debian tracker feeds
#   scripts/demo.sh IMAGE          online: build the DB from every official feed, then scan IMAGE
#                                  (a registry reference such as alpine:3.19, an image in the
#                                  local Docker daemon, or a `docker save` tar / OCI layout path)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
reports=(--report json=build/report.json --report gitlab=build/gl-container-scanning-report.json)
if [ $# -eq 0 ]; then
  export HULLSCAN_CACHE_DIR="$PWD/build/demo-cache"
  .venv/bin/python examples/sample-image/build.py build/sample-image.tar >/dev/null
  .venv/bin/hullscan db build --only alpine --only debian \
    --source alpine=examples/feeds/alpine/v3.4 \
    --source debian=examples/feeds/debian/tracker-slice.json
  .venv/bin/hullscan image --input build/sample-image.tar "${reports[@]}" || status=$?
else
  .venv/bin/hullscan db build
  if [ -e "$1" ]; then
    .venv/bin/hullscan image --input "$1" "${reports[@]}" || status=$?
  else
    .venv/bin/hullscan image "$1" "${reports[@]}" || status=$?
  fi
fi
echo "JSON report: build/report.json; GitLab report: build/gl-container-scanning-report.json" >&2
exit "${status:-0}"
