#!/bin/sh
# Make sure latexmk, pdflatex, pdftotext and dvisvgm (SVG figures) exist. Installs the Debian TeX Live packages
# when running as root with apt; otherwise says exactly what to install and exits 0 so the
# .tex outputs are still written.
PKGS="texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils dvisvgm"
missing=""
for tool in latexmk pdflatex latex pdftotext pdftoppm dvisvgm; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "derive: installing TeX Live (missing:$missing) — about a minute" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $PKGS >/dev/null \
    && exit 0
  echo "derive: apt-get install failed; install these packages by hand: $PKGS" >&2
  exit 0
fi
echo "derive: PDF tools missing ($missing). Install: sudo apt-get install --no-install-recommends $PKGS" >&2
echo "derive: the .tex files are still written; only the PDF step is skipped." >&2
exit 0
