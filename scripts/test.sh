#!/usr/bin/env bash
# Lint, type-check, then run the suite on SQLite and again on PostgreSQL.
# PostgreSQL: BREACH_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test); each run creates
# and drops its own uniquely named database. Under CI=true an unreachable PostgreSQL fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
status=0
run() { echo; echo "==> $*"; "$@" || status=1; }

run "$BIN/ruff" check app tests bench
run "$BIN/mypy"
for backend in sqlite postgres; do
  echo; echo "==> pytest on $backend"
  BREACH_TEST_DB=$backend "$BIN/python" -m pytest -p no:cacheprovider "$@"
  rc=$?
  if [ $rc -eq 5 ]; then echo "no tests ran on $backend"; status=1
  elif [ $rc -ne 0 ]; then echo "pytest on $backend failed (exit $rc)"; status=1
  else echo "pytest on $backend passed"; fi
done
echo
[ $status -eq 0 ] && echo "all checks passed (sqlite and postgres)" || echo "SOME CHECKS FAILED"
exit $status
