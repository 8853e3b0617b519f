/* seqlabel evaluation report: the utterance table (sort, filter, pages) and the utterance view.
 *
 * Data come from <script type="application/json"> elements written by seqlabel.scoring.html
 * (fetch() is refused on file:// pages). Alignments are the scorer's: each utterance carries its
 * op string over "CSDI" (correct, substitution, deletion, insertion) and the token sequences;
 * this file only walks them. Every transcript is put into the page as text (textContent), never
 * as HTML.
 */
(function () {
  "use strict";

  var D = JSON.parse(document.getElementById("seq-data").textContent);
  var U = D.u;
  var N = U.id.length;
  var NSYS = D.sys.length;
  var COMPARE = D.mode === "compare";
  var HAS_WORDS = !!U.wref;
  var byId = new Map();
  U.id.forEach(function (id, i) { byId.set(id, i); });

  // ---- per-utterance numbers, from the alignments -------------------------------------------
  function tokens(s) { return s === "" ? [] : s.split(" "); }
  function display(toks, words) {
    if (D.unit === "char" && !words) {
      return toks.map(function (t) { return t === D.boundary ? " " : t; }).join("");
    }
    return toks.join(" ");
  }
  function countOps(ops) {
    var c = { C: 0, S: 0, D: 0, I: 0 };
    for (var k = 0; k < ops.length; k++) { c[ops[k]]++; }
    return c;
  }
  function rate(errors, refLen) {
    if (refLen === 0) { return errors === 0 ? 0 : Infinity; }
    return errors / refLen;
  }

  var refLen = new Int32Array(N);
  var refText = new Array(N);
  var stats = [];  // per system: {S, D, I, E: Int32Array, rate, wrate: Float64Array}
  for (var i = 0; i < N; i++) {
    var r = tokens(U.ref[i]);
    refLen[i] = r.length;
    refText[i] = display(r).toLowerCase();
  }
  D.sys.forEach(function (sys) {
    var st = { S: new Int32Array(N), D: new Int32Array(N), I: new Int32Array(N), E: new Int32Array(N),
               rate: new Float64Array(N), wrate: new Float64Array(N), text: new Array(N) };
    for (var i = 0; i < N; i++) {
      var c = countOps(sys.ops[i]);
      st.S[i] = c.S; st.D[i] = c.D; st.I[i] = c.I; st.E[i] = c.S + c.D + c.I;
      st.rate[i] = rate(st.E[i], refLen[i]);
      if (HAS_WORDS) {
        var w = countOps(sys.wops[i]);
        st.wrate[i] = rate(w.S + w.D + w.I, tokens(U.wref[i]).length);
      }
      st.text[i] = display(tokens(sys.hyp[i])).toLowerCase();
    }
    stats.push(st);
  });

  // ---- small DOM helpers --------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; } else if (k === "cls") { node.className = attrs[k]; }
        else { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function pct(x) { return isFinite(x) ? (100 * x).toFixed(2) : "inf"; }
  function fmtDur(d) { return d === null || d === undefined ? "" : d.toFixed(2); }

  // ---- the table ----------------------------------------------------------------------------
  var cols = [
    { key: "id", label: "id", value: function (i) { return U.id[i]; } },
    { key: "spk", label: D.speakerLabel.toLowerCase(), value: function (i) { return D.speakers[U.spk[i]]; } },
    { key: "len", label: "ref", num: true, value: function (i) { return refLen[i]; } },
    { key: "dur", label: "s", num: true, value: function (i) { return U.dur[i] === null ? -1 : U.dur[i]; },
      show: function (i) { return fmtDur(U.dur[i]); } }
  ];
  if (COMPARE) {
    cols.push({ key: "errA", label: "err A", num: true, value: function (i) { return stats[0].E[i]; } });
    cols.push({ key: "errB", label: "err B", num: true, value: function (i) { return stats[1].E[i]; } });
    cols.push({ key: "delta", label: "B\u2212A", num: true, value: function (i) { return stats[1].E[i] - stats[0].E[i]; },
                show: function (i) { var d = stats[1].E[i] - stats[0].E[i]; return (d > 0 ? "+" : "") + d; } });
    cols.push({ key: "rateA", label: D.rateName + " A", num: true, value: function (i) { return stats[0].rate[i]; },
                show: function (i) { return pct(stats[0].rate[i]); } });
    cols.push({ key: "rateB", label: D.rateName + " B", num: true, value: function (i) { return stats[1].rate[i]; },
                show: function (i) { return pct(stats[1].rate[i]); } });
  } else {
    cols.push({ key: "sub", label: "sub", num: true, value: function (i) { return stats[0].S[i]; } });
    cols.push({ key: "del", label: "del", num: true, value: function (i) { return stats[0].D[i]; } });
    cols.push({ key: "ins", label: "ins", num: true, value: function (i) { return stats[0].I[i]; } });
    cols.push({ key: "rate", label: D.rateName + " %", num: true, value: function (i) { return stats[0].rate[i]; },
                show: function (i) { return pct(stats[0].rate[i]); } });
    if (HAS_WORDS) {
      cols.push({ key: "wrate", label: "WER %", num: true, value: function (i) { return stats[0].wrate[i]; },
                  show: function (i) { return pct(stats[0].wrate[i]); } });
    }
    if (D.sys[0].conf) {
      cols.push({ key: "conf", label: "conf", num: true,
                  value: function (i) { var c = D.sys[0].conf[i]; return c === null ? -1 : c; },
                  show: function (i) { var c = D.sys[0].conf[i]; return c === null ? "" : (100 * c).toFixed(0); } });
    }
  }
  cols.push({ key: "text", label: "reference / hypothesis" + (COMPARE ? " (B)" : ""), nosort: true });

  var state = { sort: COMPARE ? "delta" : "rate", dir: -1, q: "", spk: -1, change: "", errorsOnly: false,
                minLen: 0, page: 0, size: 50, rows: [] };

  function filtered() {
    var q = state.q.toLowerCase();
    var out = [];
    for (var i = 0; i < N; i++) {
      if (state.spk >= 0 && U.spk[i] !== state.spk) { continue; }
      if (refLen[i] < state.minLen) { continue; }
      if (state.errorsOnly && !stats.some(function (st) { return st.E[i] > 0; })) { continue; }
      if (state.change) {
        var d = stats[1].E[i] - stats[0].E[i];
        if ((state.change === "better" && d >= 0) || (state.change === "worse" && d <= 0) ||
            (state.change === "same" && d !== 0)) { continue; }
      }
      if (q && U.id[i].toLowerCase().indexOf(q) < 0 && refText[i].indexOf(q) < 0 &&
          !stats.some(function (st) { return st.text[i].indexOf(q) >= 0; })) { continue; }
      out.push(i);
    }
    var col = cols.filter(function (c) { return c.key === state.sort; })[0];
    if (col) {
      var dir = state.dir;
      out.sort(function (a, b) {
        var va = col.value(a), vb = col.value(b);
        if (va < vb) { return -dir; }
        if (va > vb) { return dir; }
        return a - b;
      });
    }
    return out;
  }

  function renderHead() {
    var head = $("utt-head");
    head.textContent = "";
    cols.forEach(function (c) {
      var th = el("th", { text: c.label, cls: (c.num ? "num" : "") + (c.nosort ? "" : " sortable"), "data-key": c.key });
      if (c.key === state.sort) { th.classList.add(state.dir > 0 ? "asc" : "desc"); }
      if (!c.nosort) {
        th.addEventListener("click", function () {
          if (state.sort === c.key) { state.dir = -state.dir; } else { state.sort = c.key; state.dir = c.num ? -1 : 1; }
          state.page = 0;
          update();
        });
      }
      head.appendChild(th);
    });
  }

  function transcriptCell(i) {
    var last = NSYS - 1;
    return el("td", { cls: "text" }, [
      el("div", { cls: "ref", text: display(tokens(U.ref[i])) }),
      el("div", { cls: "hyp", text: display(tokens(D.sys[last].hyp[i])) })
    ]);
  }

  function renderBody() {
    var body = $("utt-body");
    body.textContent = "";
    var start = state.page * state.size;
    var frag = document.createDocumentFragment();
    state.rows.slice(start, start + state.size).forEach(function (i) {
      var tr = el("tr", { "data-i": String(i) });
      cols.forEach(function (c) {
        if (c.key === "text") { tr.appendChild(transcriptCell(i)); return; }
        if (c.key === "id") {
          tr.appendChild(el("td", {}, [el("a", { href: "#utt=" + encodeURIComponent(U.id[i]), text: U.id[i] })]));
          return;
        }
        var shown = c.show ? c.show(i) : String(c.value(i));
        var td = el("td", { cls: c.num ? "num" : "", text: shown, "data-key": c.key });
        if (c.key === "delta") { td.classList.add(stats[1].E[i] < stats[0].E[i] ? "better" : stats[1].E[i] > stats[0].E[i] ? "worse" : "same"); }
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.appendChild(frag);
    var pages = Math.max(1, Math.ceil(state.rows.length / state.size));
    $("page-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("count").textContent = state.rows.length + " of " + N + " utterances";
    $("prev-page").disabled = state.page === 0;
    $("next-page").disabled = state.page >= pages - 1;
  }

  function update() {
    state.rows = filtered();
    renderHead();
    renderBody();
  }

  function setupFilters() {
    var sel = $("speaker");
    D.speakers.forEach(function (s, k) { sel.appendChild(el("option", { value: String(k), text: s })); });
    function onChange() {
      state.q = $("q").value.trim();
      state.spk = sel.value === "" ? -1 : Number(sel.value);
      state.errorsOnly = $("errors-only").checked;
      state.minLen = Number($("min-len").value) || 0;
      state.size = Number($("page-size").value);
      if (COMPARE) { state.change = $("change").value; }
      state.page = 0;
      update();
    }
    ["q", "speaker", "errors-only", "min-len", "page-size", "change"].forEach(function (id) {
      var node = $(id);
      if (node) { node.addEventListener("input", onChange); node.addEventListener("change", onChange); }
    });
    $("prev-page").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); renderBody(); });
    $("next-page").addEventListener("click", function () { state.page += 1; renderBody(); });
    document.querySelectorAll(".speaker-link").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        var k = D.speakers.indexOf(a.getAttribute("data-speaker"));
        sel.value = String(k);
        onChange();
        $("utterances").scrollIntoView();
      });
    });
    document.querySelectorAll(".change-link").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        $("change").value = a.getAttribute("data-change");
        onChange();
        $("utterances").scrollIntoView();
      });
    });
  }

  // ---- details, loaded on demand ------------------------------------------------------------
  var chunks = {};
  var waiting = {};
  window.SEQ_CHUNK = function (k, data) {
    chunks[k] = data;
    (waiting[k] || []).forEach(function (f) { f(data); });
    delete waiting[k];
  };
  function loadChunk(k) {
    return new Promise(function (resolve, reject) {
      if (chunks[k]) { resolve(chunks[k]); return; }
      var inline = $("seq-chunk-" + k);
      if (inline) { chunks[k] = JSON.parse(inline.textContent); resolve(chunks[k]); return; }
      if (waiting[k]) { waiting[k].push(resolve); return; }
      waiting[k] = [resolve];
      var s = document.createElement("script");
      s.src = "data/chunk-" + String(k).padStart(4, "0") + ".js";
      s.onerror = function () { reject(new Error("cannot load " + s.src)); };
      document.body.appendChild(s);
    });
  }
  function details(i) {
    if (!D.chunks) { return Promise.resolve(null); }
    return loadChunk(Math.floor(i / D.chunkSize)).then(function (c) { return c.u[i % D.chunkSize]; });
  }

  // ---- the utterance view -------------------------------------------------------------------
  function alignment(ref, hyp, ops, detail, words, seek) {
    var box = el("div", { cls: "align" + (words ? " words" : "") });
    var a = 0, b = 0;
    for (var k = 0; k < ops.length; k++) {
      var op = ops[k];
      var r = op === "I" ? null : ref[a++];
      var hk = op === "D" ? -1 : b++;
      var h = hk < 0 ? null : hyp[hk];
      var col = el("span", { cls: "col op-" + op, "data-op": op });
      col.appendChild(el("span", { cls: "r", text: r === null ? "*" : shown(r, words) }));
      col.appendChild(el("span", { cls: "h", text: h === null ? "*" : shown(h, words) }));
      if (detail && !words && hk >= 0 && detail.c.length > hk) {
        var c = detail.c[hk];
        var bar = el("span", { cls: "conf" + (c < 50 ? " low" : ""), title: "confidence " + c + "%" });
        bar.appendChild(el("span", { style: "width:" + c + "%" }));
        col.appendChild(bar);
        col.setAttribute("title", "confidence " + c + "%" + (detail.fs ? ", at " + (detail.t[hk] * detail.fs).toFixed(2) + " s" : ""));
        if (seek && detail.fs) {
          col.classList.add("seekable");
          col.addEventListener("click", seek.bind(null, detail.t[hk] * detail.fs));
        }
      }
      box.appendChild(col);
    }
    return box;
  }
  function shown(t, words) { return !words && D.unit === "char" && t === D.boundary ? "\u2423" : t; }

  function countsTable(sysIndex, i) {
    var st = stats[sysIndex];
    var c = countOps(D.sys[sysIndex].ops[i]);
    var row = function (name, field, value) { return el("td", { cls: "num op-" + name, "data-field": field, text: String(value) }); };
    return el("table", { cls: "counts" }, [
      el("thead", {}, [el("tr", {}, ["ref", "correct", "sub", "del", "ins", "errors", D.rateName].map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", {}, [el("tr", {}, [
        el("td", { cls: "num", "data-field": "ref", text: String(refLen[i]) }), row("C", "correct", c.C), row("S", "sub", c.S),
        row("D", "del", c.D), row("I", "ins", c.I), el("td", { cls: "num", "data-field": "errors", text: String(st.E[i]) }),
        el("td", { cls: "num", "data-field": "rate", text: pct(st.rate[i]) + "%" })])])
    ]);
  }

  function posteriorgram(p, fs, seek) {
    var R = p.rows.length, T = p.T;
    var wrap = el("div", { cls: "posteriorgram" });
    if (!R || !T) { return wrap; }
    var scale = Math.max(1, Math.min(8, Math.floor(1000 / T)));
    var img = el("img", { src: "data:image/png;base64," + p.png, alt: "posteriorgram", width: String(T * scale),
                          height: String(R * 14) });
    var labels = el("div", { cls: "labels" });
    p.rows.forEach(function (lab) { labels.appendChild(el("div", { text: lab })); });
    if (seek && fs) {
      img.addEventListener("click", function (ev) { seek(Math.floor(ev.offsetX / scale) * fs); });
      img.classList.add("seekable");
    }
    wrap.appendChild(labels);
    wrap.appendChild(img);
    var caption = T + " output frames" + (fs ? " (" + (T * fs).toFixed(2) + " s)" : "") + ", " + R +
      " classes with a posterior \u2265 " + D.minPosterior;
    return el("figure", {}, [wrap, el("figcaption", { text: caption })]);
  }

  function strokesSvg(strokes) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    var maxX = 1, maxY = 1;
    strokes.forEach(function (s) { for (var k = 0; k < s.length; k += 2) { maxX = Math.max(maxX, s[k]); maxY = Math.max(maxY, s[k + 1]); } });
    svg.setAttribute("viewBox", "-10 -10 " + (maxX + 20) + " " + (maxY + 20));
    svg.setAttribute("class", "strokes");
    strokes.forEach(function (s) {
      var pts = [];
      for (var k = 0; k < s.length; k += 2) { pts.push(s[k] + "," + s[k + 1]); }
      var line = document.createElementNS(ns, pts.length > 1 ? "polyline" : "circle");
      if (pts.length > 1) { line.setAttribute("points", pts.join(" ")); }
      else { line.setAttribute("cx", s[0]); line.setAttribute("cy", s[1]); line.setAttribute("r", "4"); }
      svg.appendChild(line);
    });
    return svg;
  }

  function mediaBlock(i) {
    var box = $("utt-media");
    box.textContent = "";
    var kind = U.mk[i], src = U.src[i];
    var player = null;
    if (kind === "audio" && src) {
      player = el("audio", { controls: "", preload: "metadata", src: src, id: "utt-audio" });
      box.appendChild(player);
    } else if (kind === "image" && src) {
      var img = el("img", { src: src, alt: "input of " + U.id[i], id: "utt-image" });
      img.addEventListener("load", function () {  // small line images are shown at least 64 pixels high
        if (img.naturalHeight < 64) { img.style.height = "64px"; img.classList.add("pixelated"); }
      });
      box.appendChild(img);
    } else if (kind === "none" && !U.note[i]) {
      box.appendChild(el("p", { cls: "note", text: "input: features only (nothing to show)" }));
    }
    if (U.note[i]) { box.appendChild(el("p", { cls: "note", text: U.note[i] })); }
    return player;
  }

  function showUtterance(i) {
    $("index-view").hidden = true;
    $("utt-view").hidden = false;
    document.body.removeAttribute("data-ready");
    var order = state.rows.indexOf(i) >= 0 ? state.rows : filteredAll();
    var pos = order.indexOf(i);
    $("utt-position").textContent = (pos + 1) + " / " + order.length;
    setNav("prev-utt", order[pos - 1]);
    setNav("next-utt", order[pos + 1]);
    $("utt-title").textContent = U.id[i];
    $("utt-meta").textContent = D.speakerLabel + " " + D.speakers[U.spk[i]] + " \u00b7 " + refLen[i] + " reference tokens" +
      (U.dur[i] !== null ? " \u00b7 " + fmtDur(U.dur[i]) + " s" : "");
    var player = mediaBlock(i);
    var seek = player ? function (t) { player.currentTime = t; player.play().catch(function () {}); } : null;
    var box = $("utt-systems");
    box.textContent = "";
    var parts = D.sys.map(function (sys, s) {
      var part = el("section", { cls: "system", "data-sys": String(s) });
      if (COMPARE) { part.appendChild(el("h3", { text: "ABCDEFGH"[s] + ": " + D.labels[s] })); }
      part.appendChild(el("p", { cls: "transcript" }, [
        el("span", { cls: "label", text: "REF " }), el("span", { cls: "ref-text", text: display(tokens(U.ref[i])) }), el("br"),
        el("span", { cls: "label", text: "HYP " }), el("span", { cls: "hyp-text", text: display(tokens(sys.hyp[i])) })]));
      part.appendChild(countsTable(s, i));
      box.appendChild(part);
      return part;
    });
    var fill = function (det) {
      parts.forEach(function (part, s) {
        var sd = det && det.s ? det.s[s] : null;
        var sys = D.sys[s];
        part.appendChild(el("h4", { text: D.rateName + " alignment (REF above HYP)" }));
        part.appendChild(alignment(tokens(U.ref[i]), tokens(sys.hyp[i]), sys.ops[i], sd, false, seek));
        if (HAS_WORDS) {
          part.appendChild(el("h4", { text: "WER alignment" }));
          part.appendChild(alignment(tokens(U.wref[i]), tokens(sys.whyp[i]), sys.wops[i], null, true, null));
        }
        if (sd && sd.p) {
          part.appendChild(el("h4", { text: "posteriorgram" }));
          part.appendChild(posteriorgram(sd.p, sd.fs, seek));
        }
      });
      if (det && det.k) { $("utt-media").prepend(strokesSvg(det.k)); }
      document.body.setAttribute("data-ready", "utt");
    };
    details(i).then(fill, function (err) {
      $("utt-media").appendChild(el("p", { cls: "note", text: String(err) }));
      fill(null);
    });
    window.scrollTo(0, 0);
  }
  function filteredAll() { var all = []; for (var i = 0; i < N; i++) { all.push(i); } return all; }
  function setNav(id, i) {
    var a = $(id);
    if (i === undefined) { a.removeAttribute("href"); a.classList.add("disabled"); }
    else { a.setAttribute("href", "#utt=" + encodeURIComponent(U.id[i])); a.classList.remove("disabled"); }
  }

  function route() {
    var m = /^#utt=(.*)$/.exec(location.hash);
    var i = m ? byId.get(decodeURIComponent(m[1])) : undefined;
    if (i !== undefined) { showUtterance(i); return; }
    $("utt-view").hidden = true;
    $("index-view").hidden = false;
    document.body.setAttribute("data-ready", "index");
  }

  document.addEventListener("keydown", function (ev) {
    if ($("utt-view").hidden || ev.target.tagName === "INPUT") { return; }
    var target = { ArrowLeft: "prev-utt", ArrowRight: "next-utt", Escape: "back" }[ev.key];
    if (target && $(target).getAttribute("href")) { location.hash = $(target).getAttribute("href"); }
  });
  $("back").addEventListener("click", function (ev) { ev.preventDefault(); location.hash = ""; });
  window.addEventListener("hashchange", route);
  setupFilters();
  update();
  route();
})();
