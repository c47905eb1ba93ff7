#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver`) for
# the browser tests, which start their own chromedriver, and poppler's `pdfinfo`/`pdftotext`
# (Debian's `poppler-utils`), with which the tests read the PDFs Chromium prints page by page.
# Idempotent and quick when already installed.
set -euo pipefail
if command -v chromium > /dev/null && command -v chromedriver > /dev/null \
  && command -v pdfinfo > /dev/null && command -v pdftotext > /dev/null; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium chromium-driver poppler-utils > /dev/null
for tool in chromium chromedriver pdfinfo pdftotext; do
  command -v "$tool" > /dev/null || { echo "browser.sh: $tool missing from PATH after install" >&2; exit 1; }
done
echo "browser.sh: $(chromedriver --version)"
