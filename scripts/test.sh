#!/usr/bin/env bash
# Install everything the test suite needs (Python packages into .venv; Debian's
# chromium, a Japanese font and poppler-utils for the browser and PDF tests) and
# run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || need+=(fonts-ipafont-gothic)
command -v pdftotext >/dev/null || need+=(poppler-utils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt

set +e
# On every core (pytest-xdist; MEGURI_TEST_WORKERS=0 runs in one process): each worker has
# its own SQLite files and PostgreSQL database, and a module's tests stay on one worker so
# its module-scoped fixtures (the demo load, a server) are made once. How each test gets a
# clean database: tests/README.md.
.venv/bin/python -m pytest -n "${MEGURI_TEST_WORKERS:-auto}" --dist loadscope "$@"
status=$?
set -e
# pytest's 5 means "no tests collected": that is a failure of the suite, not a pass.
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
