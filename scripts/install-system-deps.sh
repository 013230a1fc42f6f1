#!/usr/bin/env bash
# Installs Debian's headless Chromium (browser tests, the PDF pack) and poppler-utils (pdfinfo/pdftotext,
# to check the PDF in tests) when missing.
# Never fails the build: without root or apt the browser tests skip with a reason.
set -u
if command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: cannot install chromium (need root and apt-get); browser tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core poppler-utils >/dev/null 2>&1 \
  || echo "install-system-deps: apt-get install chromium failed; browser tests will be skipped" >&2
exit 0
