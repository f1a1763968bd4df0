#!/usr/bin/env bash
# System packages the services need (Pango, HarfBuzz and fonts for WeasyPrint's PDFs; LibreOffice
# to turn merged Word documents into PDFs, with python3-uno for its kept-alive converters, and
# util-linux's unshare to cut their network) and the tools the tests use (pdftotext, openssl;
# chromium for the browser tests, asked by `make test` only): installed from Debian's packages
# where missing (as root), otherwise the exact command to run is printed.
set -euo pipefail

needed=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils
        libreoffice-writer-nogui python3-uno openssl "$@")  # extra packages for one target (bench: wrk; test: chromium)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-packages: missing ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-packages: installing ${missing[*]} from Debian's packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
