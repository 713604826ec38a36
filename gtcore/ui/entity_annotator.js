// The NER screen's span editor (Streamlit components v2, no build step). Loaded by gtcore/ui/entity_task.py.
//
// data: {text, labels: [{name, color, key}], entities: [{label, start, end}], readonly}
//   offsets are Unicode code points (Python str indices); the DOM counts UTF-16 units, converted here.
// state "entities": the worker's entities, same shape, sent on every change.
//
// Mouse: select text (drag, double-click a word), then press a label's key (1-9, 0) or click the label.
// Keyboard: focus the text (Tab or click), arrows move the caret, Shift+arrows extend the selection (by a
// character; with Ctrl/Alt by a word), a label key labels it. Tab / Shift+Tab step through the entities; with an
// entity selected a label key relabels it, Delete or Backspace removes it, Escape clears the selection.
// A selection across a line break is refused with a message; whitespace at its ends is trimmed.
const mounted = new WeakMap();

function codePointIndex(text) {
  // u16ToCp[u] = code point index of UTF-16 index u; cpToU16[c] = UTF-16 index of code point c
  const u16ToCp = new Array(text.length + 1);
  const cpToU16 = [];
  let cp = 0;
  for (let u = 0; u < text.length; ) {
    cpToU16.push(u);
    const code = text.codePointAt(u);
    const width = code > 0xffff ? 2 : 1;
    for (let k = 0; k < width; k++) u16ToCp[u + k] = cp;
    u += width;
    cp += 1;
  }
  cpToU16.push(text.length);
  u16ToCp[text.length] = cp;
  return { u16ToCp, cpToU16, length: cp };
}

function graphemeStops(text) {
  // UTF-16 indices where a user-perceived character starts (and the end)
  const stops = new Set([0, text.length]);
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    for (const seg of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) stops.add(seg.index);
  } else {
    for (let u = 0; u < text.length; u += text.codePointAt(u) > 0xffff ? 2 : 1) stops.add(u);
  }
  return [...stops].sort((a, b) => a - b);
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  let st = mounted.get(parentElement);
  if (!st) {
    st = { entities: null, selected: -1, sel: null, caret: 0, anchor: null, textKey: null };
    mounted.set(parentElement, st);
  }
  const root = parentElement.querySelector(".gt-ner");
  const box = root.querySelector(".gt-ner-text");
  const list = root.querySelector(".gt-ner-list");
  const bar = root.querySelector(".gt-ner-labels");
  const note = root.querySelector(".gt-ner-note");
  const text = String(data.text || "");
  const labels = data.labels || [];
  const index = codePointIndex(text);
  const stops = graphemeStops(text);
  const textKey = data.ident + "\u0000" + text;
  if (st.textKey !== textKey || st.entities === null) {
    st.textKey = textKey;
    st.entities = (data.entities || []).map((e) => ({ label: e.label, start: e.start, end: e.end }));
    st.selected = -1;
    st.sel = null;
    st.caret = 0;
    st.anchor = null;
  }
  const colorOf = (name) => (labels.find((l) => l.name === name) || { color: "#888888" }).color;
  const say = (msg) => { note.textContent = msg || ""; note.style.display = msg ? "block" : "none"; };
  const send = () => setStateValue("entities", st.entities.map((e) => ({ label: e.label, start: e.start, end: e.end })));

  function uOf(cp) { return index.cpToU16[Math.max(0, Math.min(cp, index.length))]; }

  function render() {
    // segment the text at every entity boundary and the selection; each piece lists the entities covering it
    const cuts = new Set([0, index.length]);
    st.entities.forEach((e) => { cuts.add(e.start); cuts.add(e.end); });
    if (st.sel) { cuts.add(st.sel[0]); cuts.add(st.sel[1]); }
    const points = [...cuts].filter((c) => c >= 0 && c <= index.length).sort((a, b) => a - b);
    box.textContent = "";
    for (let k = 0; k + 1 < points.length; k++) {
      const a = points[k], b = points[k + 1];
      const piece = document.createElement("span");
      piece.textContent = text.slice(uOf(a), uOf(b));
      piece.dataset.start = a;
      const covering = st.entities.map((e, i) => [e, i]).filter(([e]) => e.start <= a && e.end >= b);
      if (covering.length) {
        const [top, topIndex] = covering[covering.length - 1];
        piece.className = "gt-ner-ent" + (covering.some(([, i]) => i === st.selected) ? " gt-ner-on" : "");
        piece.style.backgroundColor = colorOf(top.label) + "40";
        piece.style.boxShadow = covering.map(([e], d) => `inset 0 -${3 * (d + 1)}px 0 0 ${colorOf(e.label)}`).join(", ");
        piece.title = covering.map(([e]) => e.label).join(" + ");
        piece.onclick = (ev) => { if (!window.getSelection().toString()) { st.selected = topIndex; st.sel = null; render(); ev.stopPropagation(); } };
      }
      if (st.sel && a >= st.sel[0] && b <= st.sel[1]) piece.classList.add("gt-ner-sel");
      box.appendChild(piece);
    }
    list.textContent = "";
    st.entities.forEach((e, i) => {
      const chip = document.createElement("span");
      chip.className = "gt-ner-chip" + (i === st.selected ? " gt-ner-on" : "");
      chip.style.borderColor = colorOf(e.label);
      const name = document.createElement("b");
      name.textContent = e.label;
      name.style.color = colorOf(e.label);
      const what = document.createElement("span");
      what.textContent = " " + text.slice(uOf(e.start), uOf(e.end)) + ` (${e.start}-${e.end}) `;
      const del = document.createElement("button");
      del.type = "button";
      del.className = "gt-ner-del";
      del.textContent = "×";
      del.title = "Remove (Delete)";
      del.onclick = (ev) => { ev.stopPropagation(); remove(i); };
      chip.append(name, what, del);
      chip.onclick = () => { st.selected = i; st.sel = null; render(); box.focus(); };
      list.appendChild(chip);
    });
    if (!st.entities.length) list.textContent = "No entities yet.";
    bar.textContent = "";
    labels.forEach((l, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "gt-ner-label";
      b.style.borderColor = l.color;
      b.textContent = (l.key ? l.key + " · " : "") + l.name;
      b.onmousedown = (ev) => ev.preventDefault(); // keep the text selection
      b.onclick = () => apply(i);
      bar.appendChild(b);
    });
  }

  function selectionFromDom() {
    const s = window.getSelection();
    if (!s || s.rangeCount === 0 || s.isCollapsed) return null;
    const r = s.getRangeAt(0);
    if (!box.contains(r.startContainer) || !box.contains(r.endContainer)) return null;
    const at = (node, off) => {
      let u = 0;
      const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        if (n === node) return u + off;
        u += n.length;
      }
      if (node === box) { // an offset counted in child nodes
        let v = 0;
        for (let c = 0; c < off && c < box.childNodes.length; c++) v += box.childNodes[c].textContent.length;
        return v;
      }
      return null;
    };
    const a = at(r.startContainer, r.startOffset), b = at(r.endContainer, r.endOffset);
    if (a === null || b === null || a === b) return null;
    return [index.u16ToCp[Math.min(a, b)], index.u16ToCp[Math.max(a, b)]];
  }

  function trimmed(sel) {
    let [a, b] = sel;
    const cps = Array.from(text);
    while (a < b && /\s/u.test(cps[a]) && cps[a] !== "\n") a++;
    while (b > a && /\s/u.test(cps[b - 1]) && cps[b - 1] !== "\n") b--;
    return [a, b];
  }

  function apply(labelIndex) {
    const label = labels[labelIndex];
    if (!label || data.readonly) return;
    if (st.selected >= 0 && !st.sel) { // relabel the selected entity
      const e = st.entities[st.selected];
      if (st.entities.some((x, i) => i !== st.selected && x.start === e.start && x.end === e.end && x.label === label.name)) {
        say("That span already has the label " + label.name + ".");
        return;
      }
      e.label = label.name;
      say("");
      render(); send();
      return;
    }
    const sel = st.sel || selectionFromDom();
    if (!sel) { say("Select some text first (drag over it, or Shift+arrow keys), then press a label's key."); return; }
    const [a, b] = trimmed(sel);
    const piece = text.slice(uOf(a), uOf(b));
    if (a >= b) { say("The selection holds only spaces."); return; }
    if (piece.includes("\n") || piece.includes("\r")) { say("An entity cannot cross a line break: select within one line."); return; }
    if (st.entities.some((x) => x.start === a && x.end === b && x.label === label.name)) { say("That span already has the label " + label.name + "."); return; }
    st.entities.push({ label: label.name, start: a, end: b });
    st.selected = st.entities.length - 1;
    st.sel = null;
    window.getSelection().removeAllRanges();
    say("");
    render(); send();
  }

  function remove(i) {
    if (data.readonly) return;
    st.entities.splice(i, 1);
    st.selected = -1;
    render(); send();
  }

  function step(u, dir, word) {
    // the next grapheme stop from UTF-16 index u; by word: past the next run of letters, digits and marks
    const next = (x) => (dir > 0 ? (stops.find((s) => s > x) ?? text.length) : ([...stops].reverse().find((s) => s < x) ?? 0));
    if (!word) return next(u);
    const wordAt = (x) => {
      const y = next(x);
      return /[\p{L}\p{N}\p{M}_]/u.test(dir > 0 ? text.slice(x, y) : text.slice(y, x));
    };
    const more = (x) => (dir > 0 ? x < text.length : x > 0);
    let x = u;
    while (more(x) && !wordAt(x)) x = next(x);
    while (more(x) && wordAt(x)) x = next(x);
    return x;
  }

  box.onmouseup = () => {
    const sel = selectionFromDom();
    if (sel) { st.sel = null; st.selected = -1; st.anchor = uOf(sel[0]); st.caret = uOf(sel[1]); say(""); }
  };
  box.onkeydown = (ev) => {
    const key = ev.key;
    const digit = /^[0-9]$/.test(key) && !ev.ctrlKey && !ev.metaKey && !ev.altKey;
    if (digit) {
      const i = key === "0" ? 9 : Number(key) - 1;
      ev.preventDefault(); ev.stopPropagation();
      apply(i);
      return;
    }
    if (key === "ArrowRight" || key === "ArrowLeft") {
      ev.preventDefault(); ev.stopPropagation();
      const dir = key === "ArrowRight" ? 1 : -1;
      const moved = step(st.caret, dir, ev.ctrlKey || ev.altKey);
      if (ev.shiftKey) {
        if (st.anchor === null || !st.sel) st.anchor = st.caret;
        st.caret = moved;
        const a = Math.min(st.anchor, st.caret), b = Math.max(st.anchor, st.caret);
        st.sel = a < b ? [index.u16ToCp[a], index.u16ToCp[b]] : null;
      } else {
        st.caret = moved; st.anchor = null; st.sel = null;
      }
      st.selected = -1;
      window.getSelection().removeAllRanges();
      say(st.sel ? "Selected: “" + text.slice(uOf(st.sel[0]), uOf(st.sel[1])) + "”. Press a label's key." : "");
      render();
      return;
    }
    if (key === "Tab" && st.entities.length) {
      ev.preventDefault(); ev.stopPropagation();
      const n = st.entities.length;
      st.selected = ev.shiftKey ? (st.selected <= 0 ? n - 1 : st.selected - 1) : (st.selected + 1) % n;
      st.sel = null;
      render();
      return;
    }
    if ((key === "Delete" || key === "Backspace") && st.selected >= 0) {
      ev.preventDefault(); ev.stopPropagation();
      remove(st.selected);
      return;
    }
    if (key === "Escape") {
      st.sel = null; st.selected = -1; st.anchor = null;
      window.getSelection().removeAllRanges();
      say(""); render();
      ev.stopPropagation();
    }
  };
  box.setAttribute("dir", "auto");
  render();
}
