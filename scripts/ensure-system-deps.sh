#!/usr/bin/env bash
# Installs the system programs the tests run for real (a Mosquitto broker; a CJK font and
# pdftotext for the energy report's PDF; Chromium for the browser tests) when they are missing:
# with apt-get when run as root, otherwise it says what to install and fails.
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
# Chinese text in the energy report's PDF needs a CJK font; pdftotext checks what was written.
fonts=$(fc-list 2>/dev/null || true)
grep -qi -e "wenquanyi" -e "noto sans cjk" <<<"$fonts" || missing+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
# The web UI is tested in headless Chromium, driven by Playwright (which cannot fetch its own).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get (needed by the tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi

echo "The tests need these programs, which are not installed: ${missing[*]}" >&2
echo "On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
echo "On macOS (Homebrew): brew install ${missing[*]}" >&2
exit 1
