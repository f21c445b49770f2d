"""Message catalogs and languages: every marked message is translated, the compiled catalog matches
its source, translations keep their placeholders and the glossary's terms, fuzzy entries are named,
the catalogs carry no line numbers and `make messages` keeps a reworded message's translation as
fuzzy; the language keys of problem files; the TeX engine a document needs."""
from __future__ import annotations

import gettext
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from derive import i18n, problems
from derive.errors import ProblemError
from derive.render import pdf

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "derive" / "locale"
PO = LOCALE / "ko" / "LC_MESSAGES" / "derive.po"
MO = PO.with_suffix(".mo")


def _catalog(path):
    with open(path, "rb") as f:
        return read_po(f)


def _ids(message):
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """What `make messages` would extract from the sources and templates today."""
    pot = tmp_path_factory.mktemp("pot") / "derive.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "-k", "ngettext:1,2",
                    "--add-location=file", "--no-wrap", "-o", str(pot), "."], cwd=ROOT, check=True)
    return _catalog(pot)


@pytest.fixture(scope="module")
def korean():
    return _catalog(PO)


def test_every_message_is_in_the_korean_catalog_and_translated(extracted, korean):
    messages = [m for m in extracted if m.id]
    assert len(messages) > 20
    missing = [m.id for m in messages if korean.get(m.id, context=m.context) is None]
    assert not missing, f"not in {PO.name} (run `make messages` and translate): {missing[:5]}"
    empty = [m.id for m in korean if m.id and not all(_strings(m))]
    assert not empty, f"untranslated: {empty[:5]}"


def test_no_fuzzy_translations(korean):
    """A reworded message keeps its old translation marked fuzzy, and the compiled catalog leaves
    it out (English shows instead) until a translator checks it and clears the flag."""
    text = PO.read_text(encoding="utf-8")  # Babel's reader drops the "#| msgid" (previous) comments
    previous = dict((now, was) for was, now in re.findall(r'^#\| msgid "(.*)"\n(?:#.*\n)*msgid "(.*)"', text, re.M))
    fuzzy = [f"{_ids(m)[0]!r} (was {previous.get(_ids(m)[0], '?')!r}, translated {_strings(m)[0]!r})"
             for m in korean if m.id and m.fuzzy]
    assert not fuzzy, (f"{len(fuzzy)} fuzzy translation(s) in {PO.name}, left out of the .mo until checked "
                       f"(fix the msgstr and delete the '#, fuzzy' flag, then `make messages`):\n  "
                       + "\n  ".join(fuzzy))


def test_catalogs_have_no_line_numbers():
    """Locations name the file only, so moving a line of code does not rewrite the catalogs."""
    for path in (LOCALE / "derive.pot", PO):
        numbered = re.findall(r"^#:.*:\d+", path.read_text(encoding="utf-8"), flags=re.M)
        assert not numbered, f"{path.name} has line numbers ({numbered[0]}): run `make messages`"


def _make_messages_command(step, pybabel, locale):
    """The `make messages` command of `step` ("update", "compile") as the Makefile writes it."""
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if f"pybabel -q {step} " in line:
            words = shlex.split(line.strip().replace("$(LOCALE)", str(locale)))
            return [str(pybabel), *words[1:]]
    raise AssertionError(f"no `pybabel {step}` in the Makefile's messages target")


def test_make_messages_keeps_a_reworded_translation_as_fuzzy(tmp_path, korean):
    """`make messages` on a template where one message is reworded: the .po keeps the old
    translation marked fuzzy (not silently dropped), and the compiled .mo leaves it out."""
    old = "Backpropagation, step by step"
    new = "Backpropagation, one step at a time"
    assert korean.get(old) is not None and korean.get(new) is None
    (tmp_path / "ko" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(PO, tmp_path / "ko" / "LC_MESSAGES" / "derive.po")
    pot = (LOCALE / "derive.pot").read_text(encoding="utf-8")
    assert f'msgid "{old}"' in pot
    (tmp_path / "derive.pot").write_text(pot.replace(f'msgid "{old}"', f'msgid "{new}"'), encoding="utf-8")
    pybabel = Path(sys.executable).with_name("pybabel")
    for step in ("update", "compile"):
        subprocess.run(_make_messages_command(step, pybabel, tmp_path), cwd=ROOT, check=True,
                       capture_output=True)
    updated = _catalog(tmp_path / "ko" / "LC_MESSAGES" / "derive.po")
    reworded = updated.get(new)
    assert reworded is not None and reworded.fuzzy and reworded.string == korean.get(old).string
    assert updated.get(old) is None
    assert f'#| msgid "{old}"' in (tmp_path / "ko" / "LC_MESSAGES" / "derive.po").read_text(encoding="utf-8")
    with open(tmp_path / "ko" / "LC_MESSAGES" / "derive.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert compiled.gettext(new) == new  # a fuzzy translation is not used
    assert compiled.gettext("Problems") == korean.get("Problems").string


def test_the_compiled_catalog_matches_its_source(korean):
    with open(MO, "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in korean:
        if not m.id or m.fuzzy:  # fuzzy entries are not compiled (test_no_fuzzy_translations names them)
            continue
        if isinstance(m.id, tuple):
            assert compiled.ngettext(m.id[0], m.id[1], 1) == m.string[0], "stale .mo: run `make messages`"
        elif m.context:
            assert compiled.pgettext(m.context, m.id) == m.string, f"stale .mo for {m.id!r}: run `make messages`"
        else:
            assert compiled.gettext(m.id) == m.string, f"stale .mo for {m.id!r}: run `make messages`"


def _placeholders(text, python: bool):
    """%(name)s (templates) and, in messages of Python code, {name} (str.format)."""
    found = re.findall(r"%\((\w+)\)[sd]", text)
    if python:
        found += re.findall(r"(?<!\{)\{(\w*)\}(?!\})", text)
    return sorted(found)


def _tex_commands(text):
    return sorted(re.findall(r"\\[A-Za-z]+", text))


def test_translations_keep_placeholders_and_markup(korean):
    for m in korean:
        if not m.id:
            continue
        source = _ids(m)[0]
        python = any(path.endswith(".py") for path, _ in m.locations)
        for string in _strings(m):
            assert _placeholders(string, python) == _placeholders(source, python), (source, string)
            assert string.count("{") - string.count("\\{") == string.count("}") - string.count("\\}"), string
            assert string.count("$") % 2 == source.count("$") % 2, string
            assert _tex_commands(string) == _tex_commands(source), (source, string)


def _glossary():
    """(English term, Korean term, checked): the seed table's terms are checked, the other table's
    are only consumed (so "hidden layer" is not read as "layer")."""
    rows, checked = [], True
    for line in (LOCALE / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("Terms the seeds do not use"):
            checked = "checked like the seed terms" in line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and line.startswith("|") and not set(cells[0]) <= set("-") and cells[0] != "English":
            english = re.sub(r"\s*\(.*?\)", "", cells[0])
            for term in english.split(","):
                rows.append((term.strip().lower(), cells[1], checked))
    return sorted(rows, key=lambda r: -len(r[0]))


def test_glossary_terms_are_used_consistently(korean):
    rows = _glossary()
    assert any(k == "역전파" for _, k, _ in rows) and any(k == "국소적 미분" for _, k, _ in rows)
    wrong = []
    for m in korean:
        if not m.id:
            continue
        source = re.sub(r"\\[A-Za-z]+|%\(\w+\)s|\{\w+\}|\$[^$]*\$", " ", _ids(m)[0]).lower()
        for english, hangul, checked in rows:
            pattern = re.compile(r"\b" + re.escape(english) + r"s?\b")
            if pattern.search(source):
                source = pattern.sub(" ", source)
                if checked and not all(hangul in s for s in _strings(m)):
                    wrong.append((english, hangul, _ids(m)[0][:60]))
    assert not wrong, f"glossary term not used ({len(wrong)}): {wrong[:8]}"


def test_gettext_in_python_follows_the_language():
    assert i18n._("Problems") == "Problems"
    with i18n.language("ko"):
        assert i18n._("Problems") == "문제"
        with i18n.language(None):
            assert i18n.current() == "ko"
    assert i18n.current() == "en"
    with pytest.raises(ValueError, match="unknown language"), i18n.language("xx"):
        pass


# ---------------------------------------------------------------- problem files


def test_lang_and_translations_keys():
    text = 'lang = "ko"\ntitle = "간단한 회로"\n[graph]\nf = "x * y"\n[values]\nx = 1\ny = 2\n'
    p = problems.loads(text)
    assert p.lang == "ko" and p.title == "간단한 회로"
    assert problems.language([p]) == "ko" and problems.language([p], "en") == "en"
    q = problems.load("circuit")
    assert q.lang == "en" and "[translations" not in q.title
    assert problems.language([p, q]) == "en"  # mixed: English
    ko = problems.localized(q, "ko")
    assert i18n.hangul(ko.title) and i18n.hangul(ko.description) and ko.values == q.values
    assert problems.localized(q, "en") == q


@pytest.mark.parametrize(("extra", "key", "expected"), [
    ('lang = "fr"\n', "lang", "expected one of"),
    ('lang = 3\n', "lang", "expected one of"),
    ('translations = "ko"\n', "translations", "expected tables"),
    ('[translations.fr]\ntitle = "x"\n', "[translations.fr]", "unknown language"),
    ('[translations.ko]\nsubtitle = "x"\n', "[translations.ko] subtitle", "unknown key"),
    ('[translations.ko]\ntitle = 3\n', "title", "expected a string"),
    ('[translations.ko]\ntitle = "a\\u001bb"\n', "title", "control character"),
])
def test_bad_language_keys_name_the_key(extra, key, expected):
    text = ('title = "t"\n' + (extra if not extra.startswith("[") else "")
            + '[graph]\nf = "x * y"\n[values]\nx = 1\ny = 2\n' + (extra if extra.startswith("[") else ""))
    with pytest.raises(ProblemError, match=re.escape(key) + ".*" + expected):
        problems.loads(text, "bad.toml")


def test_every_builtin_problem_has_a_korean_title():
    for name in problems.builtin_names():
        p = problems.localized(problems.load(name), "ko")
        assert i18n.hangul(p.title) and i18n.hangul(p.description), name


# ---------------------------------------------------------------- the TeX engine


def test_english_documents_stay_pdflatex_and_korean_ones_use_luatexko():
    english = pdf.document("Backpropagation")
    assert pdf.engine(english) == "pdflatex" and "fontenc" in english and "luatexko" not in english
    korean = pdf.document("역전파")
    assert pdf.engine(korean) == "lualatex" and "fontenc" not in korean
    assert "NanumMyeongjo" in korean


def test_missing_korean_tex_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf, "_kpse_finds", lambda name: False)
    with pytest.raises(pdf.LatexMissing, match="texlive-lang-korean texlive-luatex fonts-nanum"):
        pdf.compile_pdf(pdf.document("역전파"), tmp_path / "r.pdf")
    assert (tmp_path / "r.tex").exists()


def test_python_api_reports_in_korean(tmp_path):
    import derive
    from derive.errors import DeriveError
    solution = derive.load("circuit").solve()
    assert solution.report(tmp_path / "ko.md", lang="ko")
    text = (tmp_path / "ko.md").read_text(encoding="utf-8")
    with i18n.language("ko"):
        heading = i18n._("Backpropagation, step by step")
    korean_title = problems.localized(problems.load("circuit"), "ko").title
    assert heading != "Backpropagation, step by step" and heading in text and korean_title in text
    assert i18n.current() == "en"  # the language does not leak out of the call
    solution.report(tmp_path / "en.md")
    assert "Backpropagation, step by step" in (tmp_path / "en.md").read_text(encoding="utf-8")
    with pytest.raises(DeriveError, match="lang: expected one of en, ko"):
        solution.report(tmp_path / "x.md", lang="fr")


def test_python_api_verify_in_korean():
    import derive
    solution = derive.load("mlp_222").solve()
    english = derive.verify(solution, wrt="w_kj", answer="2(o_k - t_k) o_k(1-o_k) h_j")
    korean = derive.verify(solution, wrt="w_kj", answer="2(o_k - t_k) o_k(1-o_k) h_j", lang="ko")
    assert not english.correct and not korean.correct
    assert not any(i18n.hangul(d) for d in english.diagnosis) and all(i18n.hangul(d) for d in korean.diagnosis)
    assert i18n.hangul(korean._repr_markdown_()) and not i18n.hangul(english._repr_markdown_())
    assert i18n.current() == "en"
    from derive.errors import DeriveError
    with pytest.raises(DeriveError, match="lang: expected one of en, ko"):
        derive.verify(solution, wrt="w_kj", answer="h_j", lang="kr")
