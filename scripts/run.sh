#!/usr/bin/env bash
# Install Meguri into .venv, migrate, load demo data once, and serve it on
# http://127.0.0.1:5000 with a background job worker, on the embedded defaults
# (SQLite, embedded search, invoice payments, console mail, SQLite job queue).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

export FLASK_APP=wsgi
# Plain http on the loopback: the session cookie cannot be Secure here.
export MEGURI_SECURE_COOKIES="${MEGURI_SECURE_COOKIES:-0}"
.venv/bin/flask db upgrade
.venv/bin/flask demo load --if-empty
.venv/bin/flask search drain   # index what the outbox holds before the first visitor

.venv/bin/flask worker &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM
echo "Meguri: http://127.0.0.1:5000  (demo sign-in: demo1@meguri.example / meguri-demo-2026)"
.venv/bin/gunicorn --workers 2 --bind 127.0.0.1:5000 --access-logfile - wsgi:app
