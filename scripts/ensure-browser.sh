#!/bin/sh
# Make sure headless Chromium and its WebDriver exist for the browser tests of `derive serve`
# (tests/serve/test_browser.py). Installs Debian's chromium and chromium-driver when running as root
# with apt; otherwise says what to install and exits 0 (the browser tests then skip, saying why).
PKGS="chromium chromium-driver"
missing=""
for tool in chromium chromedriver; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "derive: installing Chromium for the browser tests (missing:$missing)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $PKGS >/dev/null \
    && exit 0
  echo "derive: apt-get install failed; install these packages by hand: $PKGS" >&2
  exit 0
fi
echo "derive: Chromium missing ($missing); the browser tests will skip. Install: sudo apt-get install --no-install-recommends $PKGS" >&2
exit 0
