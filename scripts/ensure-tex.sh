#!/bin/sh
# Make sure the TeX programs derive needs exist. Installs the Debian packages when running as root
# with apt; otherwise says exactly what to install and exits 0 so the .tex outputs are still written.
#   ensure-tex.sh       pdfLaTeX, latexmk, pdftotext/pdftoppm and dvisvgm (English documents, figures)
#   ensure-tex.sh ko    LuaLaTeX with luatexko and the Nanum fonts as well (Korean documents only)
PKGS="texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils dvisvgm"
KO_PKGS="texlive-lang-korean texlive-luatex fonts-nanum"
missing=""
for tool in latexmk pdflatex latex pdftotext pdftoppm dvisvgm; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ "${1:-}" = "ko" ]; then
  command -v lualatex >/dev/null 2>&1 || missing="$missing lualatex"
  { command -v kpsewhich >/dev/null 2>&1 && kpsewhich luatexko.sty >/dev/null 2>&1; } || missing="$missing luatexko.sty"
  ls /usr/share/fonts/truetype/nanum/NanumMyeongjo*.ttf >/dev/null 2>&1 || missing="$missing NanumMyeongjo"
  PKGS="$PKGS $KO_PKGS"
fi
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
