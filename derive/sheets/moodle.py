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

A tolerance is absolute in Moodle; it is `tolerance` (relative, default 1 %) times the answer.
The question text is the exam level of the worksheet: the problem (its gates or its network
with the given arrays), the figure embedded as SVG (<img src="@@PLUGINFILE@@/…"> and
<file encoding="base64"> in the question text), and the exercise; math is written \\( … \\) and
\\[ … \\] for Moodle's MathJax filter. The general feedback is the answer key's worked solution.
Every number comes from the same Sheet records as the PDFs; nothing is derived here.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .. import files, i18n
from ..engine.steps import partial
from ..errors import LatexError
from ..i18n import N_, _
from ..render import escape, printer, svg
from ..render.tex import environment
from .sheet_items import key_equations, name, slash
from .sheet_view import shown, statement_description, variant_view

TOLERANCE = 0.01  # relative
ESSAY_KINDS = ("symbolic", "rule")
KIND_TITLES = {"forward": N_("forward pass"), "gates": N_("every gradient"), "symbolic": N_("a derivation"),
               "rule": N_("a rule in index form"), "numeric": N_("a gradient's value"),
               "update": N_("one step of descent")}  # translated with _() where a category is named


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


def number(x) -> str:
    """An answer as Moodle reads it: plain decimal, ten significant digits."""
    text = f"{float(x):.10g}"
    return "0" if text == "-0" else text


def absolute_tolerance(value: float, tolerance: float) -> str:
    return f"{max(abs(float(value)) * tolerance, 1e-12):.6g}"


def blank(value, tolerance: float) -> str:
    """One cloze NUMERICAL blank: {weight:NUMERICAL:=answer:tolerance}."""
    return f"{{1:NUMERICAL:={number(value)}:{absolute_tolerance(value, tolerance)}}}"


# ---------------------------------------------------------------- figures

def figure_sources(view) -> str | None:
    """The TikZ of the problem's figure for a quiz: the network, or the graph without boxes."""
    env = environment()
    if view["network"]:
        return env.get_template("_network_diagram.tex").render(nf=view["network"]["figure"])
    fig = view["answer_figure"]
    if fig is None:
        return None
    return env.get_template("_tikz_graph.tex").render(fig=fig["fig"], boxes=False, reaches=())


def svg_figure(tikz: str) -> str:
    return svg.svg_of_figure(tikz)


# ---------------------------------------------------------------- one question

def statement_html(variant, view) -> str:
    p = variant.problem
    parts = [f"<p><strong>{escape.html_rich(shown(p).title)}</strong></p>"]
    description = statement_description(variant)
    if description:
        parts.append(f"<p>{escape.html_rich(description)}</p>")
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


def exercise_html(e, tolerance: float) -> tuple[str, str]:
    """(the exercise's text with its cloze blanks, the Moodle question type)."""
    d = e.variant.derivation
    out = d.output
    a = e.answer
    if e.kind == "forward":
        rows = [f"{inline(name(line.node))} = {blank(line.value, tolerance)}" for line in a.lines]
        prompt = _("Compute the forward value of every gate.")
        return (f"<p>{prompt}</p>\n<p>" + "<br/>\n".join(rows) + "</p>", "cloze")
    if e.kind == "gates":
        rows = [f"{inline(slash(g.symbol))} = {blank(g.value, tolerance)}" for g in a.gradients if g.node != out]
        prompt = _("Compute the gradient of {output} with respect to every node, from the output back to the "
                   "inputs.").format(output=inline(name(out)))
        return (f"<p>{prompt}</p>\n<p>" + "<br/>\n".join(rows) + "</p>", "cloze")
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
        return (f"<p>{prompt}</p>", "numerical")
    if e.kind == "update":
        grad = slash(a.gradient_symbol)
        new = "{" + name(a.target) + "}'"
        eta = inline("\\eta = " + printer.number(a.eta))
        prompt = _("Take one step of gradient descent on {target} with the learning rate {eta}.").format(
            target=inline(name(a.target)), eta=eta)
        return (f"<p>{prompt}</p>\n<p>{inline(grad)} = {blank(a.gradient, tolerance)}<br/>\n"
                f"{inline(new)} = {blank(a.new_value, tolerance)}</p>", "cloze")
    raise ValueError(e.kind)


def question_xml(e, variant, view, seed: int, version: int, tolerance: float, figure_file) -> str:
    """One <question> element (Moodle XML) for exercise `e` of one version."""
    text, qtype = exercise_html(e, tolerance)
    body = statement_html(variant, view)
    files_xml = ""
    problem_title = shown(variant.problem).title
    if figure_file is not None:
        file_name, svg_text = figure_file
        alt = html.escape(_("Figure: {title}").format(title=problem_title.replace("$", "")), quote=True)
        body += f'\n<p><img src="@@PLUGINFILE@@/{file_name}" alt="{alt}" /></p>'
        files_xml = (f'<file name="{file_name}" path="/" encoding="base64">'
                     f'{base64.b64encode(svg_text.encode("utf-8")).decode("ascii")}</file>\n')
    heading = _("Exercise {number}.").format(number=e.number)
    body += f"\n<p><strong>{heading}</strong></p>\n{text}"
    body = tagged(body)
    feedback = aligned(key_equations(e))
    title = _("Exercise {number}, version {version}: {title}").format(number=e.number, version=version,
                                                                       title=problem_title)
    out = [f'  <question type="{qtype}">',
           f"    <name>\n      <text>{cdata(title)}</text>\n    </name>",
           f'    <questiontext format="html">\n      <text>{cdata(body)}</text>\n{files_xml}    </questiontext>',
           f'    <generalfeedback format="html">\n      <text>{cdata(feedback)}</text>\n    </generalfeedback>']
    if qtype != "cloze":
        out.append("    <defaultgrade>1</defaultgrade>")
    out += ["    <penalty>0.3333333</penalty>", "    <hidden>0</hidden>",
            f"    <idnumber>derive-{seed}-v{version}-e{e.number}</idnumber>"]
    if qtype == "numerical":
        out += ['    <answer fraction="100" format="moodle_auto_format">',
                f"      <text>{number(e.answer.value)}</text>",
                '      <feedback format="html">\n        <text></text>\n      </feedback>',
                f"      <tolerance>{absolute_tolerance(e.answer.value, tolerance)}</tolerance>",
                "    </answer>",
                "    <unitgradingtype>0</unitgradingtype>", "    <unitpenalty>0.1000000</unitpenalty>",
                "    <showunits>3</showunits>", "    <unitsleft>0</unitsleft>"]
    elif qtype == "essay":
        out += ["    <responseformat>editor</responseformat>", "    <responserequired>1</responserequired>",
                f"    <responsefieldlines>{6 + 2 * _length(e)}</responsefieldlines>",
                "    <attachments>0</attachments>", "    <attachmentsrequired>0</attachmentsrequired>",
                f'    <graderinfo format="html">\n      <text>{cdata(feedback)}</text>\n    </graderinfo>',
                '    <responsetemplate format="html">\n      <text></text>\n    </responsetemplate>']
    out.append("  </question>")
    return "\n".join(out) + "\n"


def _length(e) -> int:
    return len(e.answer.chain.factors) if e.kind == "symbolic" else len(e.answer.rule.factors)


def category_xml(path: str) -> str:
    return (f'  <question type="category">\n    <category>\n      <text>{cdata(path)}</text>\n'
            f"    </category>\n  </question>\n")


# ---------------------------------------------------------------- the quiz

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
    cache: dict[str, str | None] = {}
    for sheet in sheets:
        for variant_index, variant in enumerate(sheet.variants, 1):
            exercises = [e for e in sheet.exercises if e.variant is variant]
            view = variant_view(variant, exercises, "exam")
            figure_file = None
            tikz = figure_sources(view) if figure is not None else None
            if tikz is not None:
                if tikz not in cache:
                    try:
                        cache[tikz] = figure(tikz)
                    except svg.SvgToolsMissing as err:
                        if echo:
                            echo(f"no figures in the quiz: {err}")
                        figure, cache[tikz] = None, None
                    except LatexError as err:
                        if not i18n.hangul(tikz):
                            raise
                        # the SVG route (latex + dvisvgm) cannot set Hangul: this figure is left out
                        if echo:
                            echo(f"no figure for {shown(variant.problem).title}: its labels are Korean and the "
                                 f"SVG figures are made with latex ({err})")
                        cache[tikz] = None
                if cache[tikz] is not None:
                    figure_file = (f"figure-v{sheet.version}-p{variant_index}.svg", cache[tikz])
            for e in exercises:
                by_number.setdefault(e.number, []).append(
                    question_xml(e, variant, view, seed, sheet.version, tolerance, figure_file))
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

