// The practice page: a live "read as" preview while typing, the verdict on submit, hints by level.
// Everything shown from the server is set as text (textContent), except the MathML the server made.
(function () {
  "use strict";
  var setup = JSON.parse(document.getElementById("setup").textContent);
  var t = setup.texts;
  var box = document.getElementById("answer");
  var preview = document.getElementById("read-as");
  var out = document.getElementById("verdict");
  var timer = null, seq = 0;

  function post(path, body) {
    return fetch(path + "?lang=" + encodeURIComponent(setup.lang), {method: "POST", headers: {"Content-Type": "application/json"},
                        body: JSON.stringify(body), credentials: "same-origin"})
      .then(function (r) { return r.json(); });
  }
  function question() {
    return {problem: setup.problem, wrt: setup.wrt, answer: box.value, lang: setup.lang, student: setup.student};
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function mathOrText(node, data) {
    // the server's MathML (from derive's own reading, escaped by its XML writer) or plain text
    node.textContent = "";
    if (data.mathml) node.innerHTML = data.mathml; else node.textContent = data.read_as || "";
  }
  function read() {
    var mine = ++seq;
    if (!box.value.trim()) { preview.textContent = ""; preview.className = ""; return; }
    post("/api/read", question()).then(function (data) {
      if (mine !== seq) return;
      if (data.error) { preview.className = "unreadable"; preview.textContent = data.error; }
      else { preview.className = ""; mathOrText(preview, data); }
    }).catch(function () {});
  }
  box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(read, 250); });
  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); check(); }
  });

  function number(x) {
    if (Array.isArray(x)) return "[" + x.map(number).join(", ") + "]";
    return typeof x === "number" ? String(+x.toPrecision(8)) : String(x);
  }
  function show(v) {
    out.textContent = "";
    if (v.correct === null || v.correct === undefined) {
      out.className = "cannot";
      out.appendChild(el("p", "head", t.cannot));
      out.appendChild(el("p", "error", v.error || ""));
      return;
    }
    out.className = v.correct ? "correct" : "wrong";
    out.appendChild(el("p", "head", v.correct ? t.correct : t.wrong));
    var said = v.shown || v.diagnosis;  // the diagnoses a student is shown: the most specific one
    if (said && said.length) {
      var ul = el("ul", "diagnosis");
      said.forEach(function (d) { ul.appendChild(el("li", "", d)); });
      out.appendChild(ul);
    }
    (v.notes || []).forEach(function (n) { out.appendChild(el("p", "note", n)); });
    var cx = v.counterexample;
    if (cx) {
      var p = el("div", "counterexample");
      p.appendChild(el("b", "", t.counterexample + ": "));
      var where = [];
      if (cx.instance) Object.keys(cx.instance).forEach(function (k) { where.push(k + " = " + cx.instance[k]); });
      // a point of many values (a network's) shows only those the two numbers depend on, as the CLI does
      var values = cx.point && Object.keys(cx.point).length > 6 && cx.quantities ? cx.quantities : cx.point;
      if (values) Object.keys(values).forEach(function (k) { where.push(k + " = " + number(values[k])); });
      p.appendChild(el("span", "", t.expected + " " + number(cx.expected) + ", " + t.got + " " + number(cx.got)));
      if (where.length) p.appendChild(el("div", "point", t.at + " " + where.join(", ")));
      out.appendChild(p);
    }
    if (v.method) out.appendChild(el("p", "method", v.method));
  }
  function check() {
    if (!box.value.trim()) return;
    out.className = "waiting"; out.textContent = t.wait;
    post("/api/verify", question()).then(show).catch(function (e) {
      show({correct: null, error: String(e)});
    });
  }
  document.getElementById("answer-form").addEventListener("submit", function (e) { e.preventDefault(); check(); });

  var shown = 0;
  document.getElementById("hint").addEventListener("click", function () {
    var hints = document.querySelectorAll(".hint");
    if (!hints.length) { var n = document.querySelector(".no-hints"); if (n) n.hidden = false; return; }
    if (shown < hints.length) hints[shown++].hidden = false;
    if (shown >= hints.length) this.disabled = true;
  });
})();
