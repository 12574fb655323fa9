#!/usr/bin/env bash
# System packages the test suite needs (Debian): pdftotext for PDF checks, Pango/HarfBuzz and fonts for
# WeasyPrint letters and reports (DejaVu; WenQuanYi Micro Hei for Chinese and Japanese), the PostgreSQL
# client/server for the second test pass, and Chromium for the browser tests (Playwright drives Debian's
# /usr/bin/chromium; it never downloads a browser).
# As root it installs what is missing; otherwise it prints the apt-get line and carries on.
set -uo pipefail
need_apt=()
command -v pg_isready >/dev/null || need_apt+=(postgresql)
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-wqy-microhei; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
[ ${#need_apt[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
else
  echo "missing system packages: sudo apt-get install ${need_apt[*]}" >&2
fi
