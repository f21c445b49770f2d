"""The worksheets as a Moodle quiz: one Moodle XML file with the same seeded versions as the PDFs.

    quiz_xml(sheets, tolerance=TOLERANCE, figure=svg_figure) -> str   the whole quiz.xml
    write_quiz(sheets, out, tolerance=TOLERANCE, echo=None) -> Path   DIR/quiz.xml

Layout (Moodle's XML import format, as qformat_xml reads and writes it): per exercise number a
category `$course$/derive seed S/Exercise NN` holding that exercise's question in every version
("Exercise 3, version 2: …"), so a quiz can draw one random version per student. Question types:

    numeric   numerical: one <answer fraction="100"> with the proven value and a <tolerance>
    forward   cloze: one {1:NUMERICAL:=value:tolerance} blank per gate
    gates     cloze: one blank per gradient
    update    cloze: blanks for ∂f/∂w and for the new weight
    symbolic, rule   essay: a derivation, graded by the teacher (the key as grader information)

Every numeric question says how many significant digits to give; its tolerance (absolute in
Moodle) agrees with them and, for a descent step, is never wider than half the step
(moodle_text: `tolerance` is relative, default 1 %). The question text is the exam level of the
worksheet: the problem (its gates or its network with the given arrays), the exam figure (names
and empty boxes: no answer) embedded as SVG (<img src="@@PLUGINFILE@@/…"> and <file
encoding="base64">), and the exercise; math is written \\( … \\) and \\[ … \\] for Moodle's MathJax
filter. The general feedback is the answer key's worked solution with the filled figure. Titles
and descriptions are user text, made inert (moodle_text.user_html); question names are plain text.
Every number comes from the same Sheet records as the PDFs; nothing is derived here.
"""
from __future__ import annotations

import base64
import decimal
import html
import math
from pathlib import Path

from .. import files, i18n
from ..engine.steps import partial
from ..errors import LatexError
from ..i18n import N_, _, ngettext
from ..render import printer, svg
from ..render.tex import environment
from . import layer_view
from .moodle_text import Answer, defused, plain_text, relative, update_answers, user_html
from .sheet_items import key_equations, name, slash
from .sheet_view import shown, statement_description, variant_view

TOLERANCE = 0.01  # relative
ESSAY_KINDS = ("symbolic", "rule")
KIND_TITLES = {"forward": N_("forward pass"), "gates": N_("every gradient"), "symbolic": N_("a derivation"),
               "rule": N_("a rule in index form"), "numeric": N_("a gradient's value"),
               "update": N_("one step of descent"),
               "layer": N_("a layer's backward pass")}  # translated with _() where a category is named


# ---------------------------------------------------------------- text pieces

def cdata(text: str) -> str:
    """Text as Moodle writes it: in a CDATA section (split where it contains ']]>')."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def tagged(body: str) -> str:
    """A question text in a language other than English, marked as such for the browser
    (<div lang="ko">: screen readers and font choice); English stays as it is."""
    lang = i18n.current()
    return body if lang == "en" else f'<div lang="{lang}">\n{body}\n</div>'


def inline(tex: str) -> str:
    """Inline math for MathJax, HTML-escaped (the browser gives MathJax the unescaped text)."""
    return "\\(" + html.escape(tex, quote=False) + "\\)"


def display(tex: str) -> str:
    return "\\[" + html.escape(tex, quote=False) + "\\]"


def aligned(equations) -> str:
    """Rows (sheet_rows.Row lists) as one aligned display."""
    rows = [f"{r.left} &{r.right}" for eq in equations for r in eq]
    return display("\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}")


KEY_DIGITS = (10, 17)  # a key's significant digits: at least ten, at most what a double holds exactly


def number(x, band: float | None = None) -> str:
    """An answer as Moodle reads it: plain decimal, with enough significant digits that rounding
    it moves it by at most 1/20 of its band (ten at least; seventeen print the double exactly)."""
    x = float(x)
    digits = KEY_DIGITS[0]
    if band and x and math.isfinite(band):
        digits = min(max(math.ceil(-math.log10(band / abs(x))) + 2, KEY_DIGITS[0]), KEY_DIGITS[1])
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def band(answer: Answer) -> str:
    """An absolute tolerance as Moodle reads it (rounded down: never wider than the band)."""
    return format(decimal.Context(prec=6, rounding=decimal.ROUND_DOWN).create_decimal(repr(answer.band)), "g")


def blank(answer: Answer) -> str:
    """One cloze NUMERICAL blank: {weight:NUMERICAL:=answer:tolerance}."""
    return f"{{1:NUMERICAL:={number(answer.value, answer.band)}:{band(answer)}}}"


def digits_note(answers) -> tuple[str, bool]:
    """(the sentence saying how many significant digits to give, whether each blank needs its own
    note because they differ)."""
    digits = {a.digits for a in answers}
    if len(digits) > 1:
        return _("Give each number to the significant digits shown beside it; keep more digits while "
                 "you work."), True
    (d,) = digits
    if len(answers) == 1:
        return ngettext("Give your answer to {digits} significant digit; keep more digits while you work.",
                        "Give your answer to {digits} significant digits; keep more digits while you work.",
                        d).format(digits=d), False
    return ngettext("Give each number to {digits} significant digit; keep more digits while you work.",
                    "Give each number to {digits} significant digits; keep more digits while you work.",
                    d).format(digits=d), False


def blanks_html(labels, answers) -> str:
    """Lines `label = [blank]` and the sentence on significant digits."""
    note, each = digits_note(answers)
    lines = []
    for label, a in zip(labels, answers):
        extra = " " + ngettext("({digits} significant digit)", "({digits} significant digits)",
                               a.digits).format(digits=a.digits) if each else ""
        lines.append(f"{label} = {blank(a)}{extra}")
    return f"<p>{note}</p>\n<p>" + "<br/>\n".join(lines) + "</p>"


# ---------------------------------------------------------------- figures

def figure_sources(view, answers: bool = False) -> str | None:
    """The TikZ of a problem's figure for a quiz: the exam figure (names, the given values and
    empty boxes: nothing a question asks for) or, with `answers`, the key's filled figure for the
    general feedback. A network's figure shows its given values only: it is the same in both."""
    env = environment()
    if view["network"]:
        return env.get_template("_network_diagram.tex").render(nf=view["network"]["figure"])
    fig = view["answer_figure"] if answers else view["figure"]
    if fig is None:
        return None
    return env.get_template("_tikz_graph.tex").render(fig=fig["fig"], boxes=not answers,
                                                      reaches=fig["reaches"])


def svg_figure(tikz: str) -> str:
    return svg.svg_of_figure(tikz)


# ---------------------------------------------------------------- one question

def statement_html(variant, view) -> str:
    p = variant.problem
    parts = [f"<p><strong>{user_html(shown(p).title)}</strong></p>"]
    if view.get("drill"):
        drill = view["drill"]
        parts.append("<p>" + _("The layer:") + " " + inline(", ".join([drill["forward"], *drill["options"]])) + "</p>")
        parts.append("<p>" + _("Given:") + "</p>\n" + "\n".join(f"<p>{display(a['tex'])}</p>"
                                                           for a in drill["arrays"]))
        return "\n".join(parts)
    description = statement_description(variant)
    if description:
        parts.append(f"<p>{user_html(description)}</p>")
    if view["network"]:
        net = view["network"]
        rows = [f"{r['left']} &{r['right']}" + (f" & {r['left2']} &{r['right2']}" if r["left2"] else "")
                for eq in net["equations"] for r in eq]
        parts.append("<p>" + _("The network, unit by unit:") + "</p>")
        parts.append("<p>" + display("\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}") + "</p>")
        lines = [display(",\\qquad ".join(a["tex"] for a in line)) for line in net["arrays"]]
        parts.append("<p>" + _("Given:") + "</p>\n" + "\n".join(f"<p>{line}</p>" for line in lines))
    else:
        rows = [f"{r['left']} &{r['right']}" for eq in view["steps"] for r in eq]
        parts.append("<p>" + _("The graph, gate by gate:") + "</p>")
        parts.append("<p>" + display("\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}") + "</p>")
        given = ", ".join(inline(f"{name(n)} = {printer.number(x)}") for n, x in variant.values.items())
        parts.append("<p>" + _("Given:") + f" {given}.</p>")
    return "\n".join(parts)


def answers_of(e, tolerance: float) -> list[Answer]:
    """The numeric answers of an exercise, in the order of its blanks (moodle_text tolerances)."""
    a = e.answer
    if e.kind == "layer":
        return [relative(v, tolerance) for _label, v in layer_view.answers(e)]
    out = e.variant.derivation.output
    if e.kind == "forward":
        return [relative(line.value, tolerance) for line in a.lines]
    if e.kind == "gates":
        return [relative(g.value, tolerance) for g in a.gradients if g.node != out]
    if e.kind == "numeric":
        return [relative(a.value, tolerance)]
    if e.kind == "update":
        return list(update_answers(a, tolerance))
    return []


def exercise_html(e, tolerance: float) -> tuple[str, str]:
    """(the exercise's text with its cloze blanks, the Moodle question type)."""
    if e.kind == "layer":
        labels = [inline(label) for label, _v in layer_view.answers(e)]
        return f"<p>{html.escape(layer_view.prompt_text(), quote=False)}</p>\n" + \
            blanks_html(labels, answers_of(e, tolerance)), "cloze"
    d = e.variant.derivation
    out = d.output
    a = e.answer
    answers = answers_of(e, tolerance)
    if e.kind == "forward":
        labels = [inline(name(line.node)) for line in a.lines]
        prompt = _("Compute the forward value of every gate.")
        return f"<p>{prompt}</p>\n" + blanks_html(labels, answers), "cloze"
    if e.kind == "gates":
        labels = [inline(slash(g.symbol)) for g in a.gradients if g.node != out]
        prompt = _("Compute the gradient of {output} with respect to every node, from the output back to the "
                   "inputs.").format(output=inline(name(out)))
        return f"<p>{prompt}</p>\n" + blanks_html(labels, answers), "cloze"
    if e.kind == "symbolic":
        symbol = inline(slash(partial(out, e.target)))
        prompt = _("Derive {symbol} by the chain rule: first as a product of local gradients, each written in "
                   "the graph's own names, then as one expression.").format(symbol=symbol)
        return (f"<p>{prompt}</p>", "essay")
    if e.kind == "rule":
        prompt = _("Derive {lhs} in index form by the chain rule, then write it out for {element}.").format(
            lhs=inline(slash(a.rule.lhs)), element=inline(name(a.instance[1])))
        return (f"<p>{prompt}</p>", "essay")
    if e.kind == "numeric":
        prompt = _("Compute {symbol} at the given values.").format(symbol=inline(slash(a.symbol)))
        return f"<p>{prompt} {digits_note(answers)[0]}</p>", "numerical"
    if e.kind == "update":
        grad = slash(a.gradient_symbol)
        new = "{" + name(a.target) + "}'"
        eta = inline("\\eta = " + printer.number(a.eta))
        prompt = _("Take one step of gradient descent on {target} with the learning rate {eta}.").format(
            target=inline(name(a.target)), eta=eta)
        return f"<p>{prompt}</p>\n" + blanks_html([inline(grad), inline(new)], answers), "cloze"
    raise ValueError(e.kind)


def image_html(file_name: str, alt: str) -> str:
    return f'<p><img src="@@PLUGINFILE@@/{file_name}" alt="{html.escape(alt, quote=True)}" /></p>'


def file_xml(figure_file) -> str:
    file_name, svg_text = figure_file
    return (f'<file name="{file_name}" path="/" encoding="base64">'
            f'{base64.b64encode(svg_text.encode("utf-8")).decode("ascii")}</file>\n')


def question_xml(e, variant, view, seed: int, version: int, tolerance: float, figure_file,
                 answer_file=None) -> str:
    """One <question> element (Moodle XML) for exercise `e` of one version: `figure_file` is the
    exam figure (name, SVG) for the question text, `answer_file` the filled one for the feedback."""
    text, qtype = exercise_html(e, tolerance)
    body = statement_html(variant, view)
    files_xml = feedback_files = ""
    title = plain_text(shown(variant.problem).title)
    if figure_file is not None:
        body += "\n" + image_html(figure_file[0], _("Figure: {title}").format(title=title))
        files_xml = file_xml(figure_file)
    heading = _("Exercise {number}.").format(number=e.number)
    body = tagged(defused(body + f"\n<p><strong>{heading}</strong></p>\n{text}"))
    worked = defused(aligned(key_equations(e)))
    feedback = worked
    if answer_file is not None:
        feedback += "\n" + image_html(answer_file[0], _("Figure with every value and gradient: {title}").format(
            title=title))
        feedback_files = file_xml(answer_file)
    name_text = html.escape(_("Exercise {number}, version {version}: {title}").format(
        number=e.number, version=version, title=title), quote=False)
    out = [f'  <question type="{qtype}">',
           f"    <name>\n      <text>{cdata(name_text)}</text>\n    </name>",
           f'    <questiontext format="html">\n      <text>{cdata(body)}</text>\n{files_xml}    </questiontext>',
           f'    <generalfeedback format="html">\n      <text>{cdata(feedback)}</text>\n{feedback_files}'
           f'    </generalfeedback>']
    if qtype != "cloze":
        out.append("    <defaultgrade>1</defaultgrade>")
    out += ["    <penalty>0.3333333</penalty>", "    <hidden>0</hidden>",
            f"    <idnumber>derive-{seed}-v{version}-e{e.number}</idnumber>"]
    if qtype == "numerical":
        (answer,) = answers_of(e, tolerance)
        out += ['    <answer fraction="100" format="moodle_auto_format">',
                f"      <text>{number(answer.value, answer.band)}</text>",
                '      <feedback format="html">\n        <text></text>\n      </feedback>',
                f"      <tolerance>{band(answer)}</tolerance>",
                "    </answer>",
                "    <unitgradingtype>0</unitgradingtype>", "    <unitpenalty>0.1000000</unitpenalty>",
                "    <showunits>3</showunits>", "    <unitsleft>0</unitsleft>"]
    elif qtype == "essay":
        out += ["    <responseformat>editor</responseformat>", "    <responserequired>1</responserequired>",
                f"    <responsefieldlines>{6 + 2 * _length(e)}</responsefieldlines>",
                "    <attachments>0</attachments>", "    <attachmentsrequired>0</attachmentsrequired>",
                f'    <graderinfo format="html">\n      <text>{cdata(worked)}</text>\n    </graderinfo>',
                '    <responsetemplate format="html">\n      <text></text>\n    </responsetemplate>']
    out.append("  </question>")
    return "\n".join(out) + "\n"


def _length(e) -> int:
    return len(e.answer.chain.factors) if e.kind == "symbolic" else len(e.answer.rule.factors)


def category_xml(path: str) -> str:
    return (f'  <question type="category">\n    <category>\n      <text>{cdata(path)}</text>\n'
            f"    </category>\n  </question>\n")


# ---------------------------------------------------------------- the quiz

class Figures:
    """TikZ -> SVG through `figure`, each picture made once; without latex/dvisvgm the quiz is
    written without figures (said once), and a figure with Hangul labels is left out (the SVG
    route, latex + dvisvgm, cannot set Hangul)."""

    def __init__(self, figure, echo):
        self.figure, self.echo, self.cache = figure, echo, {}

    def file(self, tikz: str | None, file_name: str, title: str):
        """(file name, SVG text) or None."""
        if tikz is None or self.figure is None:
            return None
        if tikz not in self.cache:
            try:
                self.cache[tikz] = self.figure(tikz)
            except svg.SvgToolsMissing as err:
                if self.echo:
                    self.echo(f"no figures in the quiz: {err}")
                self.figure, self.cache[tikz] = None, None
            except LatexError as err:
                if not i18n.hangul(tikz):
                    raise
                if self.echo:
                    self.echo(f"no figure for {title}: its labels are Korean and the SVG figures are made "
                              f"with latex ({err})")
                self.cache[tikz] = None
        svg_text = self.cache[tikz]
        return None if svg_text is None else (file_name, svg_text)


def quiz_xml(sheets, tolerance: float = TOLERANCE, figure=svg_figure, echo=None) -> str:
    """The Moodle XML of every version's exercises (see the module docstring).

    `figure` turns a TikZ picture into SVG text (None: no figures). Without latex/dvisvgm the
    quiz is written without figures and `echo` says so once."""
    if not sheets:
        raise ValueError("no sheets")
    if not (0 < tolerance < 1):
        raise ValueError(f"the relative tolerance must be between 0 and 1, got {tolerance}")
    seed = sheets[0].seed
    by_number: dict[int, list] = {}
    svgs = Figures(figure, echo)
    for sheet in sheets:
        for variant_index, variant in enumerate(sheet.variants, 1):
            exercises = [e for e in sheet.exercises if e.variant is variant]
            view = variant_view(variant, exercises, "exam")
            title = shown(variant.problem).title
            exam = svgs.file(figure_sources(view), f"figure-v{sheet.version}-p{variant_index}.svg", title)
            filled = figure_sources(view, answers=True)
            key = None if view["network"] else svgs.file(filled, f"answer-v{sheet.version}-p{variant_index}.svg",
                                                         title)
            for e in exercises:
                by_number.setdefault(e.number, []).append(
                    question_xml(e, variant, view, seed, sheet.version, tolerance, exam, key))
        if echo:
            echo(f"version {sheet.version}: {len(sheet.exercises)} questions")
    width = len(str(max(by_number)))
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    for n in sorted(by_number):
        kind = next(e.kind for e in sheets[0].exercises if e.number == n)
        exercise = _("Exercise {number} ({kind})").format(number=f"{n:0{width}d}", kind=_(KIND_TITLES[kind]))
        folder = _("derive seed {seed}").format(seed=seed)
        parts.append(category_xml(f"$course$/{folder}/{exercise}"))
        parts += by_number[n]
    parts.append("</quiz>\n")
    return "".join(parts)


def write_quiz(sheets, out, tolerance: float = TOLERANCE, echo=None) -> Path:
    """DIR/quiz.xml, written atomically."""
    text = quiz_xml(sheets, tolerance, echo=echo)
    return files.write_atomic(Path(files.ensure_dir(out)) / "quiz.xml", text)

