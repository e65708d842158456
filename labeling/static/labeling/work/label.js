/* Quorum labeling page: claims, shows and submits tasks through the work-queue API.
   One shared shell; one small module per task type (classify, ner, bbox). No build step.
   The first half (helpers, editors, read-only views) is shared: the review page loads this
   file with `mode: "review"` in its config and drives the editors from review.js. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("lab-config").textContent);
  const P = cfg.project;
  const TYPE = P.task_type;
  const LABELS = P.labels;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const SVGNS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    return node;
  };
  const byKey = {};
  LABELS.forEach((l) => { if (l.hotkey) byKey[l.hotkey.toLowerCase()] = l; });
  const colorOf = (name) => (LABELS.find((l) => l.name === name) || { color: "#555555" }).color;

  /* ---- messages ---------------------------------------------------------------------------- */
  /* The status line answers the person's last action (`say`). An outcome the page learns by itself
     (the answer was not saved, the time ran out, the image did not load) is `tell`: it stays until
     the person acts (a key or a click), and nothing the page does on its own replaces it. */
  let held = false;
  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("is-error", !!isError);
  }
  function say(text, isError) { status(text, isError); held = false; }
  function tell(text, isError) { status(text, isError); held = true; }
  const isHeld = () => held;
  ["keydown", "pointerdown"].forEach((t) => document.addEventListener(t, () => { held = false; }, { capture: true }));
  function banner(text) {
    const b = $("banner");
    b.hidden = !text;
    b.textContent = text || "";
  }

  /* ---- API --------------------------------------------------------------------------------- */
  async function api(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, ok: r.ok, data: data, date: Date.parse(r.headers.get("Date") || "") };
  }
  /* Retry on lost connection or server trouble with growing delays; the person's work stays. */
  function withRetry(call) {
    let delay = 1000;
    return new Promise((resolve) => {
      const attempt = () => call().then((res) => {
        if (res.status >= 500 || res.status === 429) throw new Error("status " + res.status);
        banner("");
        resolve(res);
      }).catch(() => {
        banner("Connection lost. Your work is kept on this page; trying again in " +
          Math.round(delay / 1000) + " s.");
        setTimeout(attempt, delay);
        delay = Math.min(delay * 2, 30000);
      });
      attempt();
    });
  }
  const leaseUrl = (id, verb) => cfg.urls.lease + id + "/" + verb + "/";
  /* A lease's deadline on this machine's clock, from the server's Date header (skew-proof). */
  function deadline(lease, res) {
    const serverNow = isNaN(res.date) ? Date.now() : res.date;
    return Date.now() + Math.min(Date.parse(lease.expires_at) - serverNow, P.lease_seconds * 1000);
  }

  /* ---- instructions panel ------------------------------------------------------------------ */
  let shownVersion = null;
  function showInstructions(instructions) {
    if (instructions && instructions.version !== shownVersion) {
      shownVersion = instructions.version;
      $("instructions-body").innerHTML = instructions.html;
      $("instructions-version").textContent = "(version " + shownVersion + ")";
    } else if (!instructions) {
      $("instructions-body").textContent = "This project has no instructions yet.";
    }
  }
  const PANEL_KEY = "quorum.work.instructions";
  function setPanel(open) {
    $("instructions").hidden = !open;
    $("toggle-instructions").setAttribute("aria-expanded", String(open));
    $("lab").classList.toggle("instructions-closed", !open);
    try { localStorage.setItem(PANEL_KEY, open ? "open" : "closed"); } catch (e) { /* private mode */ }
  }
  let stored = null;
  try { stored = localStorage.getItem(PANEL_KEY); } catch (e) { stored = null; }
  setPanel(stored !== "closed");
  $("toggle-instructions").addEventListener("click", () => setPanel($("instructions").hidden));

  /* ---- label buttons (shared) -------------------------------------------------------------- */
  const labelButtons = {};
  LABELS.forEach((l, i) => {
    const b = el("button", { type: "button", class: "label-btn", "aria-pressed": "false", "data-label": l.name,
      style: "--c:" + l.color });
    if (l.hotkey) b.append(el("kbd", { "aria-hidden": "true" }, l.hotkey));
    b.append(el("span", {}, " " + l.name));
    if (l.hotkey) b.setAttribute("aria-keyshortcuts", l.hotkey);
    b.addEventListener("click", () => mod.pick(l));
    labelButtons[l.name] = b;
    $("labels").append(b);
    void i;
  });
  const pressed = (names) => {
    for (const n in labelButtons) labelButtons[n].setAttribute("aria-pressed", String(names.has(n)));
  };

  /* ---- classification (single and multi label) --------------------------------------------- */
  const classify = {
    sel: new Set(),
    load(task, pre) {
      const c = $("content");
      c.replaceChildren();
      if (task.data.image) c.append(el("img", { src: task.data.image, alt: "Task image", class: "cls-img" }));
      if (task.data.text) c.append(el("p", { class: "lab-text", id: "task-text" }, task.data.text));
      this.sel = new Set(pre ? (pre.labels || (pre.label ? [pre.label] : [])) : []);
      pressed(this.sel);
      $("hint").textContent = TYPE === "multi_label"
        ? "Press a label's key to switch it on or off" + (P.max_labels ? " (at most " + P.max_labels + ")" : "") + "; Enter submits."
        : "Press a label's key to choose it; Enter submits.";
    },
    pick(l) {
      if (TYPE === "multi_label") {
        if (this.sel.has(l.name)) this.sel.delete(l.name);
        else if (P.max_labels && this.sel.size >= P.max_labels) {
          say("You can choose at most " + P.max_labels + " labels; switch one off first.", true);
          return;
        } else this.sel.add(l.name);
      } else this.sel = new Set([l.name]);
      pressed(this.sel);
      say(this.sel.size ? "Chosen: " + Array.from(this.sel).join(", ") : "No label chosen.");
    },
    key() { return false; },
    problem() { return this.sel.size ? null : "Choose a label first (press its key)."; },
    result() {
      const names = LABELS.map((l) => l.name).filter((n) => this.sel.has(n));
      return TYPE === "multi_label" ? { labels: names } : { label: names[0] };
    },
  };

  /* ---- named entities ---------------------------------------------------------------------- */
  /* Offsets are code points (as the server stores them), but the caret, selections and spans only
     ever stop between whole characters (grapheme clusters): 👩‍👩‍👧 is five code points and one
     character, and nobody can tag its invisible joiner. The server refuses such offsets too. */
  const WORD = /[\p{L}\p{N}\p{M}_]+(?:['’\-.][\p{L}\p{N}\p{M}_]+)*|\S/gu;
  const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  const ner = {
    cps: [], tokens: [], spans: [], caret: 0, anchor: null, mouse: null, box: null, first: null, last: null,
    load(task, pre) {
      const text = task.data.text || "";
      this.cps = Array.from(text);
      /* UTF-16 index -> code point index, for the regex matches and the segments */
      const u2c = new Int32Array(text.length + 1);
      let u = 0;
      this.cps.forEach((ch, i) => { for (let k = 0; k < ch.length; k++) u2c[u + k] = i; u += ch.length; });
      u2c[text.length] = this.cps.length;
      /* first[i] / last[i]: where the character holding code point i starts and ends */
      this.first = new Int32Array(this.cps.length);
      this.last = new Int32Array(this.cps.length);
      for (const g of GRAPHEMES.segment(text)) {
        const a = u2c[g.index], b = u2c[g.index + g.segment.length];
        for (let i = a; i < b; i++) { this.first[i] = a; this.last[i] = b; }
      }
      this.tokens = [];
      for (const m of text.matchAll(WORD)) {
        const s = this.first[u2c[m.index]], e = this.last[u2c[m.index + m[0].length] - 1];
        const prev = this.tokens[this.tokens.length - 1];
        if (prev && s < prev.e) prev.e = Math.max(prev.e, e); /* pieces of one character: one token */
        else this.tokens.push({ s: s, e: e });
      }
      this.spans = pre && pre.spans ? pre.spans.map((s) => ({ start: s.start, end: s.end, label: s.label })) : [];
      this.caret = 0;
      this.anchor = null;
      this.mouse = null;
      const c = $("content");
      c.replaceChildren();
      this.box = el("div", { class: "ner-text", id: "task-text", tabindex: "0", role: "group",
        "aria-roledescription": "text to tag",
        "aria-label": "Task text. Left and right arrows move between words, Shift with arrows extends the selection, a label key tags it, Backspace removes the entity at the caret." });
      this.box.addEventListener("mouseup", (e) => this.mouseup(e));
      this.box.addEventListener("click", (e) => {
        const tag = e.target.closest(".ner-tag");
        if (tag) this.remove(Number(tag.dataset.span));
      });
      const list = el("p", { class: "help", id: "ner-summary", "aria-live": "polite" });
      c.append(this.box, list);
      $("hint").textContent = "Select words with the mouse, or with the arrow keys (Shift extends); press a label key to tag; click a tag or press Backspace to remove.";
      this.render();
      this.box.focus({ preventScroll: true });
    },
    range() {
      if (this.mouse) return this.mouse;
      if (!this.tokens.length) return null;
      const a = this.anchor === null ? this.caret : this.anchor;
      const lo = Math.min(a, this.caret), hi = Math.max(a, this.caret);
      return { s: this.tokens[lo].s, e: this.tokens[hi].e };
    },
    words(s, e) { return this.cps.slice(s, e).join(""); },
    render() {
      const r = this.range();
      const cut = new Set([0, this.cps.length]);
      this.tokens.forEach((t) => { cut.add(t.s); cut.add(t.e); });
      this.spans.forEach((s) => { cut.add(s.start); cut.add(s.end); });
      if (r) { cut.add(r.s); cut.add(r.e); }
      const points = Array.from(cut).sort((a, b) => a - b);
      const frag = document.createDocumentFragment();
      const order = this.spans.map((s, i) => i).sort((a, b) => this.spans[a].end - this.spans[b].end || this.spans[b].start - this.spans[a].start);
      for (let i = 0; i + 1 < points.length; i++) {
        const a = points[i], b = points[i + 1];
        const seg = el("span", { class: "seg", "data-s": a, "data-e": b }, this.words(a, b));
        const cover = this.spans.filter((s) => s.start <= a && b <= s.end);
        if (cover.length) {
          const inner = cover.reduce((x, y) => (y.end - y.start < x.end - x.start ? y : x));
          seg.classList.add("ent");
          seg.style.setProperty("--c", colorOf(inner.label));
          if (cover.length > 1) seg.classList.add("ent-multi");
        }
        if (r && r.s <= a && b <= r.e) seg.classList.add("sel");
        frag.append(seg);
        order.forEach((k) => {
          const s = this.spans[k];
          if (s.end !== b) return;
          const tag = el("button", { type: "button", class: "ner-tag", "data-span": k, style: "--c:" + colorOf(s.label),
            "aria-label": "Remove " + s.label + ": " + this.words(s.start, s.end) });
          tag.append(el("span", { "aria-hidden": "true" }, s.label + " ×"));
          frag.append(tag);
        });
      }
      this.box.replaceChildren(frag);
      const sum = $("ner-summary");
      if (sum) {
        sum.textContent = this.spans.length
          ? "Entities: " + this.spans.slice().sort((x, y) => x.start - y.start).map((s) => this.words(s.start, s.end) + " (" + s.label + ")").join(", ")
          : "No entities tagged yet.";
      }
    },
    tokenAt(cp) {
      let best = 0;
      this.tokens.forEach((t, i) => { if (t.s <= cp) best = i; });
      return best;
    },
    mouseup(e) {
      const sel = window.getSelection();
      if (e.target.closest(".ner-tag")) return;
      if (!sel || sel.isCollapsed) {
        const seg = e.target.closest(".seg");
        if (!seg) return;
        const at = Number(seg.dataset.s);
        if (seg.classList.contains("ent")) {
          const hits = this.spans.map((s, i) => [s, i]).filter(([s]) => s.start <= at && at < s.end);
          hits.sort((x, y) => (x[0].end - x[0].start) - (y[0].end - y[0].start));
          this.remove(hits[0][1]);
          return;
        }
        this.mouse = null; this.anchor = null; this.caret = this.tokenAt(at);
        this.render();
        return;
      }
      const pos = (node, off) => {
        const seg = (node.nodeType === 3 ? node.parentNode : node).closest && (node.nodeType === 3 ? node.parentNode : node).closest(".seg");
        if (!seg) return null;
        if (node.nodeType !== 3) return off === 0 ? Number(seg.dataset.s) : Number(seg.dataset.e);
        return Number(seg.dataset.s) + Array.from(node.textContent.slice(0, off)).length;
      };
      let a = pos(sel.anchorNode, sel.anchorOffset), b = pos(sel.focusNode, sel.focusOffset);
      sel.removeAllRanges();
      if (a === null || b === null) return;
      let s = Math.min(a, b), end = Math.max(a, b);
      while (s < end && /\s/u.test(this.cps[s])) s++;
      while (end > s && /\s/u.test(this.cps[end - 1])) end--;
      if (s >= end) return;
      s = this.first[s]; end = this.last[end - 1]; /* never half a character */
      this.mouse = { s: s, e: end };
      this.anchor = null;
      this.caret = this.tokenAt(end - 1);
      this.render();
      say("Selected “" + this.words(s, end) + "”. Press a label key to tag it.");
      this.box.focus({ preventScroll: true });
    },
    move(delta, extend) {
      if (!this.tokens.length) return;
      if (extend && this.anchor === null) this.anchor = this.caret;
      if (!extend) this.anchor = null;
      this.mouse = null;
      this.caret = Math.max(0, Math.min(this.tokens.length - 1, this.caret + delta));
      this.render();
      const r = this.range();
      say("Selected “" + this.words(r.s, r.e) + "”.");
    },
    pick(l) {
      const r = this.range();
      if (!r) return;
      const same = this.spans.find((s) => s.start === r.s && s.end === r.e);
      if (same && same.label === l.name) { say("That is already tagged " + l.name + "."); return; }
      if (same && !P.allow_overlapping_spans) {
        same.label = l.name;
      } else {
        const clash = this.spans.find((s) => s.start < r.e && r.s < s.end);
        if (clash && !P.allow_overlapping_spans) {
          say("“" + this.words(r.s, r.e) + "” overlaps “" + this.words(clash.start, clash.end) + "” (" + clash.label +
            "). This project does not allow overlapping entities: remove that one first (Backspace).", true);
          return;
        }
        this.spans.push({ start: r.s, end: r.e, label: l.name });
      }
      this.mouse = null;
      this.anchor = null;
      this.caret = this.tokenAt(r.e - 1);
      this.render();
      say("Tagged “" + this.words(r.s, r.e) + "” as " + l.name + ".");
    },
    remove(k) {
      const s = this.spans[k];
      if (!s) return;
      this.spans.splice(k, 1);
      this.render();
      say("Removed " + s.label + " “" + this.words(s.start, s.end) + "”.");
      this.box.focus({ preventScroll: true });
    },
    key(e) {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        this.move(e.key === "ArrowRight" ? 1 : -1, e.shiftKey);
        return true;
      }
      if (e.key === "Home" || e.key === "End") {
        this.move(e.key === "End" ? this.tokens.length : -this.tokens.length, e.shiftKey);
        return true;
      }
      if (e.key === "Escape") { this.anchor = null; this.mouse = null; this.render(); return true; }
      if (e.key === "Backspace" || e.key === "Delete") {
        const r = this.range();
        if (!r) return true;
        const hits = this.spans.map((s, i) => [s, i]).filter(([s]) => s.start < r.e && r.s < s.end);
        if (!hits.length) { say("There is no entity here to remove."); return true; }
        hits.sort((x, y) => (x[0].end - x[0].start) - (y[0].end - y[0].start));
        this.remove(hits[0][1]);
        return true;
      }
      return false;
    },
    problem() { return null; },
    result() {
      return { spans: this.spans.slice().sort((a, b) => a.start - b.start || a.end - b.end)
        .map((s) => ({ start: s.start, end: s.end, label: s.label })) };
    },
  };

  /* ---- bounding boxes ---------------------------------------------------------------------- */
  const bbox = {
    boxes: [], selected: -1, label: LABELS[0], W: 1, H: 1, svg: null, img: null, image: "loading", drag: null,
    load(task, pre) {
      this.W = task.data.width; this.H = task.data.height;
      this.boxes = pre && pre.boxes ? pre.boxes.map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, label: b.label })) : [];
      this.selected = -1;
      const c = $("content");
      c.replaceChildren();
      const stage = el("div", { class: "bb-stage", "data-image": "loading" });
      /* Until the image shows, the stage keeps the image's shape (not the 70×10 px of a broken image)
         and no box can be drawn or saved: boxes on an image nobody saw are not labels. */
      stage.style.aspectRatio = this.W + " / " + this.H;
      stage.style.width = "min(100%, " + this.W + "px)";
      this.image = "loading";
      this.img = el("img", { src: task.data.image, alt: "Image to label", draggable: "false", id: "task-image",
        width: this.W, height: this.H });
      const img = this.img;
      img.addEventListener("load", () => {
        if (this.img !== img) return;
        this.image = "loaded";
        stage.dataset.image = "loaded";
        stage.style.aspectRatio = "";
        stage.style.width = "";
      });
      img.addEventListener("error", () => {
        if (this.img !== img) return;
        this.image = "failed";
        stage.dataset.image = "failed";
        img.hidden = true;
        stage.prepend(el("p", { class: "bb-missing", id: "bb-missing" },
          "The image did not load, so no box can be drawn or saved. Reload the page to try again, or skip this task."));
        tell("The image of this task did not load (" + task.data.image + "). Boxes cannot be saved without it: reload the page or skip this task.", true);
      });
      this.svg = svg("svg", { viewBox: "0 0 " + this.W + " " + this.H, preserveAspectRatio: "none", class: "bb-layer",
        role: "group", "aria-label": "Boxes on the image; drag on the image to draw a box" });
      stage.append(this.img, this.svg);
      const list = el("ol", { class: "bb-list", id: "bb-list", "aria-label": "Boxes" });
      c.append(stage, list);
      this.svg.addEventListener("pointerdown", (e) => this.down(e));
      this.svg.addEventListener("pointermove", (e) => this.moveTo(e));
      this.svg.addEventListener("pointerup", (e) => this.up(e));
      pressed(new Set([this.label.name]));
      $("hint").textContent = "Drag on the image to draw a box; drag a box or its handles to move or resize it; a label key sets the label of the selected box and of the next ones; Delete removes the selected box.";
      this.render();
    },
    point(e) {
      const r = this.svg.getBoundingClientRect();
      return { x: (e.clientX - r.left) * this.W / r.width, y: (e.clientY - r.top) * this.H / r.height };
    },
    clamp(b) {
      const x1 = Math.max(0, Math.min(this.W, Math.min(b.x, b.x + b.w)));
      const y1 = Math.max(0, Math.min(this.H, Math.min(b.y, b.y + b.h)));
      const x2 = Math.max(0, Math.min(this.W, Math.max(b.x, b.x + b.w)));
      const y2 = Math.max(0, Math.min(this.H, Math.max(b.y, b.y + b.h)));
      return { x: Math.round(x1), y: Math.round(y1), w: Math.round(x2) - Math.round(x1), h: Math.round(y2) - Math.round(y1), label: b.label };
    },
    down(e) {
      if (e.button !== 0) return;
      e.preventDefault();
      if (this.image !== "loaded") { say(this.problem(), true); return; }
      const p = this.point(e);
      const t = e.target;
      const k = t.closest("[data-box]") ? Number(t.closest("[data-box]").dataset.box) : -1;
      if (t.dataset.handle && k >= 0) {
        this.drag = { mode: "resize", k: k, h: t.dataset.handle, orig: Object.assign({}, this.boxes[k]), p: p };
      } else if (k >= 0) {
        this.selected = k;
        this.drag = { mode: "move", k: k, orig: Object.assign({}, this.boxes[k]), p: p };
      } else {
        this.selected = -1;
        this.drag = { mode: "draw", p: p, box: { x: p.x, y: p.y, w: 0, h: 0, label: this.label.name } };
      }
      this.svg.setPointerCapture(e.pointerId);
      this.render();
    },
    moveTo(e) {
      const d = this.drag;
      if (!d) return;
      const p = this.point(e);
      const dx = p.x - d.p.x, dy = p.y - d.p.y;
      if (d.mode === "draw") {
        d.box.w = dx; d.box.h = dy;
      } else if (d.mode === "move") {
        const o = d.orig;
        this.boxes[d.k] = Object.assign({}, o, {
          x: Math.round(Math.max(0, Math.min(this.W - o.w, o.x + dx))),
          y: Math.round(Math.max(0, Math.min(this.H - o.h, o.y + dy))) });
      } else {
        const o = d.orig, b = { x: o.x, y: o.y, w: o.w, h: o.h, label: o.label };
        if (d.h.includes("w")) { b.x = o.x + dx; b.w = o.w - dx; }
        if (d.h.includes("e")) b.w = o.w + dx;
        if (d.h.includes("n")) { b.y = o.y + dy; b.h = o.h - dy; }
        if (d.h.includes("s")) b.h = o.h + dy;
        const c = this.clamp(b);
        if (c.w >= 1 && c.h >= 1) this.boxes[d.k] = c;
      }
      this.render();
    },
    up() {
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      if (d.mode === "draw") {
        const b = this.clamp(d.box);
        const r = this.svg.getBoundingClientRect();
        if (b.w * r.width / this.W >= 4 && b.h * r.height / this.H >= 4) {
          this.boxes.push(b);
          this.selected = this.boxes.length - 1;
          say("Drew a " + b.label + " box.");
        }
      }
      this.render();
    },
    pick(l) {
      this.label = l;
      pressed(new Set([l.name]));
      if (this.selected >= 0) {
        this.boxes[this.selected].label = l.name;
        say("The selected box is now " + l.name + "; new boxes will be " + l.name + ".");
      } else say("New boxes will be " + l.name + ".");
      this.render();
    },
    removeAt(k) {
      const b = this.boxes[k];
      if (!b) return;
      this.boxes.splice(k, 1);
      this.selected = -1;
      say("Removed the " + b.label + " box.");
      this.render();
    },
    key(e) {
      if (e.key === "Delete" || e.key === "Backspace") {
        if (this.selected >= 0) this.removeAt(this.selected); else say("Select a box first (click it or Tab to it).");
        return true;
      }
      if (e.key === "Escape") { this.selected = -1; this.render(); return true; }
      const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (arrows[e.key] && this.selected >= 0) {
        const step = e.shiftKey ? 10 : 1, b = this.boxes[this.selected];
        b.x = Math.max(0, Math.min(this.W - b.w, b.x + arrows[e.key][0] * step));
        b.y = Math.max(0, Math.min(this.H - b.h, b.y + arrows[e.key][1] * step));
        this.render();
        return true;
      }
      return false;
    },
    render() {
      const layer = this.svg;
      const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.box : undefined;
      layer.replaceChildren();
      const all = this.boxes.slice();
      if (this.drag && this.drag.mode === "draw") all.push(this.clamp(this.drag.box));
      const hs = Math.max(this.W, this.H) / 90;
      all.forEach((b, k) => {
        const c = colorOf(b.label);
        const drawing = k >= this.boxes.length;
        const g = svg("g", { "data-box": drawing ? "" : k, class: "bb-box" + (k === this.selected ? " is-selected" : ""),
          tabindex: drawing ? "-1" : "0", role: "img",
          "aria-label": b.label + " box at " + b.x + ", " + b.y + ", " + b.w + " by " + b.h + " pixels" + (k === this.selected ? ", selected" : "") });
        g.append(svg("rect", { x: b.x, y: b.y, width: b.w, height: b.h, fill: c, "fill-opacity": "0.12", stroke: c,
          "stroke-width": k === this.selected ? 3 : 2, "vector-effect": "non-scaling-stroke",
          "stroke-dasharray": k === this.selected ? "6 3" : "none" }));
        const label = svg("text", { x: b.x + hs * 0.3, y: b.y + hs * 1.6, class: "bb-label", "font-size": hs * 1.5, fill: "#fff",
          stroke: c, "stroke-width": hs * 0.5, "paint-order": "stroke" });
        label.textContent = b.label;
        g.append(label);
        if (k === this.selected && !drawing) {
          const pts = { nw: [0, 0], n: [0.5, 0], ne: [1, 0], e: [1, 0.5], se: [1, 1], s: [0.5, 1], sw: [0, 1], w: [0, 0.5] };
          for (const h in pts) {
            g.append(svg("rect", { x: b.x + b.w * pts[h][0] - hs / 2, y: b.y + b.h * pts[h][1] - hs / 2, width: hs, height: hs,
              "data-handle": h, class: "bb-handle bb-" + h, fill: "#fff", stroke: "#111", "vector-effect": "non-scaling-stroke" }));
          }
        }
        if (!drawing) g.addEventListener("focus", () => { if (this.selected !== k) { this.selected = k; this.render(); } });
        layer.append(g);
      });
      if (focused !== undefined && focused !== "") {
        const again = layer.querySelector('[data-box="' + focused + '"]');
        if (again) again.focus({ preventScroll: true });
      }
      const list = $("bb-list");
      list.replaceChildren();
      this.boxes.forEach((b, k) => {
        const li = el("li", {}, b.label + " at (" + b.x + ", " + b.y + "), " + b.w + " × " + b.h + " px ");
        const rm = el("button", { type: "button", class: "link", "aria-label": "Remove " + b.label + " box " + (k + 1) }, "Remove");
        rm.addEventListener("click", () => this.removeAt(k));
        li.append(rm);
        list.append(li);
      });
      if (!this.boxes.length) list.append(el("li", { class: "muted bb-none" }, "No boxes yet."));
    },
    problem() {
      if (this.image === "failed") return "Not saved: the image did not load, so boxes cannot be placed on it. Reload the page to try again, or skip this task.";
      if (this.image !== "loaded") return "Not saved yet: the image is still loading. Submit again once it shows.";
      return null;
    },
    result() { return { boxes: this.boxes.map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, label: b.label })) }; },
  };

  const mod = TYPE === "ner" ? ner : TYPE === "bbox" ? bbox : classify;

  /* ---- read-only views of a result (the review page, gold feedback) ------------------------ */
  function chipsView(names) {
    const list = el("ul", { class: "chips" });
    names.forEach((n) => list.append(el("li", { class: "chip", style: "--c:" + colorOf(n), "data-label": n }, n)));
    if (!names.length) list.append(el("li", { class: "muted" }, "No label."));
    return list;
  }
  function nerView(text, spans) {
    const cps = Array.from(text);
    const words = (s, e) => cps.slice(s, e).join("");
    const cut = new Set([0, cps.length]);
    spans.forEach((s) => { cut.add(s.start); cut.add(s.end); });
    const points = Array.from(cut).sort((a, b) => a - b);
    const box = el("p", { class: "ner-text ro" });
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i], b = points[i + 1];
      const seg = el("span", { class: "seg" }, words(a, b));
      const cover = spans.filter((s) => s.start <= a && b <= s.end);
      if (cover.length) {
        const inner = cover.reduce((x, y) => (y.end - y.start < x.end - x.start ? y : x));
        seg.classList.add("ent");
        seg.style.setProperty("--c", colorOf(inner.label));
        if (cover.length > 1) seg.classList.add("ent-multi");
      }
      box.append(seg);
      spans.filter((s) => s.end === b).sort((x, y) => y.start - x.start).forEach((s) =>
        box.append(el("span", { class: "ner-tag", style: "--c:" + colorOf(s.label) }, s.label)));
    }
    const sorted = spans.slice().sort((x, y) => x.start - y.start || x.end - y.end);
    const summary = el("p", { class: "help ro-summary" }, sorted.length
      ? "Entities: " + sorted.map((s) => "“" + words(s.start, s.end) + "” (" + s.label + ")").join(", ")
      : "No entities.");
    const wrap = el("div", { class: "ro-view" });
    wrap.append(box, summary);
    return wrap;
  }
  function boxView(task, boxes) {
    const W = task.data.width, H = task.data.height;
    const stage = el("div", { class: "bb-stage ro" });
    stage.append(el("img", { src: task.data.image, alt: "Task image", draggable: "false" }));
    const layer = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", class: "bb-layer",
      "aria-hidden": "true" });
    const hs = Math.max(W, H) / 90;
    boxes.forEach((b) => {
      const c = colorOf(b.label);
      layer.append(svg("rect", { x: b.x, y: b.y, width: b.w, height: b.h, fill: c, "fill-opacity": "0.12", stroke: c,
        "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
      const label = svg("text", { x: b.x + hs * 0.3, y: b.y + hs * 1.6, class: "bb-label", "font-size": hs * 1.5,
        fill: "#fff", stroke: c, "stroke-width": hs * 0.5, "paint-order": "stroke" });
      label.textContent = b.label;
      layer.append(label);
    });
    stage.append(layer);
    const list = el("ol", { class: "bb-list" });
    boxes.forEach((b) => list.append(el("li", {}, b.label + " at (" + b.x + ", " + b.y + "), " + b.w + " × " + b.h + " px")));
    if (!boxes.length) list.append(el("li", { class: "muted bb-none" }, "No boxes."));
    const wrap = el("div", { class: "ro-view" });
    wrap.append(stage, list);
    return wrap;
  }
  /* A result as a person reads it: label chips, the text with its entities, the image with its boxes. */
  function readable(task, result) {
    if (TYPE === "ner") return nerView(task.data.text || "", (result && result.spans) || []);
    if (TYPE === "bbox") return boxView(task, (result && result.boxes) || []);
    return chipsView(result ? (result.labels || (result.label ? [result.label] : [])) : []);
  }
  /* What a classification task shows (its text or image); span and box views include it. */
  function taskContent(task) {
    const frag = document.createDocumentFragment();
    if (task.data.image) frag.append(el("img", { src: task.data.image, alt: "Task image", class: "cls-img" }));
    if (task.data.text) frag.append(el("p", { class: "lab-text" }, task.data.text));
    return frag;
  }

  window.QuorumLab = { cfg: cfg, P: P, TYPE: TYPE, LABELS: LABELS, csrf: csrf, $: $, el: el, say: say, tell: tell,
    banner: banner, api: api, withRetry: withRetry, leaseUrl: leaseUrl, deadline: deadline, byKey: byKey,
    mod: mod, readable: readable, taskContent: taskContent, showInstructions: showInstructions };
  if (cfg.mode === "review") return; /* review.js drives the review page */

  /* ---- attempt mode: a training module or a test, item by item ------------------------------ */
  /* The same page and editors; the page's data attributes point at the attempt's endpoints
     (next item, answer, abandon) instead of the queue's claim and submit. The server keeps the
     time limit: the countdown only shows it, and after it the server closes the attempt. */
  if ($("lab").dataset.mode === "attempt") { runAttempt($("lab").dataset); return; }
  function runAttempt(U) {
    const A = { cur: null, busy: false, feedback: null, deadline: null, over: false, late: false };
    $("skip").hidden = true;
    async function get(url) {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      let data = null;
      try { data = await r.json(); } catch (e) { data = null; }
      return { status: r.status, ok: r.ok, data: data, date: Date.parse(r.headers.get("Date") || "") };
    }
    function setDeadline(attempt, res) {
      if (!attempt.deadline) { A.deadline = null; return; }
      const serverNow = isNaN(res.date) ? Date.now() : res.date;
      A.deadline = Date.now() + (Date.parse(attempt.deadline) - serverNow);
    }
    const STATES = { passed: "Passed", failed: "Not passed", timed_out: "Time ran out", abandoned: "Given up" };
    function outcome(attempt) {
      let text = (STATES[attempt.state] || "Over") + ". Your score: " + Math.round((attempt.score || 0) * 100) + "%.";
      if (attempt.level_granted) text += " Level " + attempt.level_granted + " reached.";
      return text;
    }
    function finish(attempt, text) {
      A.cur = null;
      A.over = true;
      $("loading").hidden = true;
      $("task").hidden = true;
      $("nowork").hidden = false;
      $("nowork").dataset.reason = attempt ? attempt.state : "over";
      $("nowork-heading").textContent = "This attempt is over";
      $("nowork-message").textContent = text;
      $("retry").hidden = true;
      $("abandon").hidden = true;
      $("countdown").textContent = "--:--";
    }
    function loadNext() {
      $("loading").hidden = false;
      return withRetry(() => get(U.nextUrl)).then((res) => {
        $("loading").hidden = true;
        if (!res.ok) return finish(null, (res.data && res.data.message) || "This attempt is over.");
        const d = res.data;
        setDeadline(d.attempt, res);
        if (!d.task) return finish(d.attempt, outcome(d.attempt));
        A.cur = d.task;
        $("nowork").hidden = true;
        $("task").hidden = false;
        $("task").dataset.taskId = d.task.id;
        $("suggested").hidden = true;
        $("done-count").textContent = (d.position - 1) + " of " + d.total;
        mod.load(d.task, null);
        showInstructions(d.instructions);
        tick();
        return null;
      });
    }
    function submit() {
      if (A.busy || !A.cur || A.feedback) return;
      const problem = mod.problem();
      if (problem) { say(problem, true); return; }
      const task = A.cur;
      const body = { task_id: task.id, result: mod.result() };
      A.busy = true;
      $("submit").setAttribute("aria-busy", "true");
      withRetry(() => api(U.answerUrl, body)).then((res) => {
        A.busy = false;
        $("submit").removeAttribute("aria-busy");
        const d = res.data || {};
        if (!res.ok) {
          if (res.status === 409) return finish(null, d.message || "This attempt is over.");
          say(d.message || "The server refused this answer.", true);
          return null;
        }
        $("done-count").textContent = d.answered + " of " + d.attempt.items;
        if (d.feedback) return showAttemptFeedback(d.feedback, task, d.attempt);
        if (d.attempt.state !== "open") return finish(d.attempt, outcome(d.attempt));
        say("Saved. Next item.");
        return loadNext();
      });
    }
    /* Training: the gold-feedback box of the page, after each answer, until the person continues. */
    function showAttemptFeedback(fb, task, attempt) {
      A.cur = null;
      A.feedback = attempt;
      $("task").dataset.feedback = fb.correct ? "correct" : "incorrect";
      $("lab-actions").hidden = true;
      $("labels").inert = true;
      $("feedback").classList.toggle("is-correct", !!fb.correct);
      $("feedback-verdict").textContent = fb.correct
        ? "Correct." : "Not quite (score " + Math.round((fb.score || 0) * 100) + "%).";
      $("feedback-expected").replaceChildren(readable(task, fb.expected));
      $("feedback-explanation").textContent = fb.explanation || "";
      $("feedback-explanation-wrap").hidden = !fb.explanation;
      $("feedback").hidden = false;
      say("Saved. Read the feedback, then press Enter to continue.");
      $("feedback-continue").focus({ preventScroll: true });
      return null;
    }
    function continueAfterFeedback() {
      const attempt = A.feedback;
      if (!attempt) return;
      A.feedback = null;
      $("feedback").hidden = true;
      $("lab-actions").hidden = false;
      $("labels").inert = false;
      delete $("task").dataset.feedback;
      say("");
      if (attempt.state !== "open") finish(attempt, outcome(attempt));
      else loadNext();
    }
    function tick() {
      if (A.over) return;
      if (A.deadline === null) { $("countdown").textContent = "no limit"; return; }
      const left = Math.max(0, A.deadline - Date.now());
      const secs = Math.ceil(left / 1000);
      $("countdown").textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
      $("countdown").parentNode.classList.toggle("is-low", left <= 60000);
      if (left <= 0 && !A.busy && !A.late) { A.late = true; loadNext(); } /* the server says it is over */
    }
    setInterval(tick, 1000);
    $("submit").addEventListener("click", submit);
    $("feedback-continue").addEventListener("click", continueAfterFeedback);
    $("abandon").addEventListener("click", () => {
      if (A.over || !window.confirm("Give up this attempt? It counts as one of your attempts.")) return;
      api(U.abandonUrl).then((res) => finish(res.ok ? res.data : null,
        res.ok ? outcome(res.data) : (res.data && res.data.message) || "This attempt is over."));
    });
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (A.feedback) {
        if (e.key === "Enter") { e.preventDefault(); continueAfterFeedback(); }
        return;
      }
      if (!A.cur || $("task").hidden) return;
      const t = e.target;
      if (t.closest && t.closest("input, textarea, select")) return;
      if (e.key === "Enter") {
        if (t.closest && t.closest("button, a") && !t.closest(".label-btn")) return;
        e.preventDefault();
        submit();
        return;
      }
      if (mod.key(e)) { e.preventDefault(); return; }
      const l = e.key.length === 1 ? byKey[e.key.toLowerCase()] : null;
      if (l) { e.preventDefault(); mod.pick(l); }
    });
    loadNext();
  }

  /* ---- the labeling page ------------------------------------------------------------------- */
  const timings = (window.quorumTimings = []);
  /* Rework mode: the person's rejected task, claimed by its rework slot and started from their answer. */
  const REWORK = cfg.rework || null;
  const S = { cur: null, next: null, busy: false, prefetching: null, feedback: null,
    lastActivity: 0, lastBeat: 0, beating: false, warned: false, done: 0, t0: null };
  /* The last part of a lease: heartbeats are due and the countdown warns. A quarter of the lease, at
     most a minute: a fixed minute would warn on every task of a project with one-minute leases. */
  const LOW_MS = Math.min(60000, P.lease_seconds * 250);
  const WARNING = (LOW_MS >= 60000 ? "Less than a minute" : "Less than " + Math.round(LOW_MS / 1000) + " seconds") +
    " left on this task. Keep working (a key, a click) to keep it.";

  const claimCall = (prefetch) => REWORK
    ? api(cfg.urls.rework_claim)
    : api(cfg.urls.claim + (prefetch ? "?prefetch=1" : ""));

  /* ---- claiming and showing ---------------------------------------------------------------- */
  function claimAndShow() {
    $("loading").hidden = false;
    return withRetry(() => claimCall(false)).then((res) => {
      $("loading").hidden = true;
      if (!res.ok) return noWork(res);
      res.data.deadline = deadline(res.data.lease, res);
      show(res.data);
      prefetch();
    });
  }

  /* Reserve the next task now, so it shows at once after submit; `data-ahead` tells tests.
     `S.prefetching` is the reservation on its way: the page waits for it rather than claim again
     (a claim in between would get the same task back, as if the person had held it before). */
  function prefetch() {
    const mark = (v) => { $("task").dataset.ahead = v; };
    if (REWORK) return mark("none"); /* a rework is one task; the page leaves after it */
    if (S.next) return mark("ready");
    if (S.prefetching || !S.cur || document.visibilityState === "hidden") return;
    const current = S.cur.lease.id;
    mark("pending");
    S.prefetching = claimCall(true).then((res) => {
      S.prefetching = null;
      if (!res.ok || res.data.lease.id === current || (S.cur && res.data.lease.id === S.cur.lease.id)) {
        return mark("none");
      }
      res.data.deadline = deadline(res.data.lease, res);
      S.next = res.data;
      if (res.data.task.data.image) new Image().src = res.data.task.data.image;
      mark("ready");
      if (document.visibilityState === "hidden") releaseAhead(); /* the person left meanwhile */
    }).catch(() => { S.prefetching = null; mark("none"); });
  }

  function releaseAhead() {
    if (!S.next) return;
    const form = new FormData();
    form.append("csrfmiddlewaretoken", csrf);
    navigator.sendBeacon(cfg.urls.release_beacon.replace("/0/", "/" + S.next.lease.id + "/"), form);
    S.next = null;
  }
  window.addEventListener("pagehide", releaseAhead);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") releaseAhead(); else prefetch();
  });

  function show(claim) {
    S.cur = claim;
    S.lastBeat = Date.now();
    S.warned = false;
    $("nowork").hidden = true;
    $("task").hidden = false;
    $("task").dataset.taskId = claim.task.id;
    $("task").dataset.leaseId = claim.lease.id;
    $("suggested").hidden = !claim.task.pre_annotation || !!REWORK;
    closeSkip();
    const start = REWORK && REWORK.item && REWORK.item.your_result;
    mod.load(claim.task, start || claim.task.pre_annotation);
    showInstructions(claim.instructions);
    tick();
    /* Only news when nothing else is waiting to be read: after a refused answer the person must
       learn that it was not saved, not that the next task is one they held. */
    if (claim.resumed && !isHeld()) tell("You already held this task (in another tab or before a reload); here it is again.");
  }

  function advance(started) {
    S.cur = null;
    return (S.prefetching || Promise.resolve()).then(() => {
      const n = S.next;
      S.next = null;
      if (n && n.deadline - Date.now() > 5000) {
        show(n);
        begin(n);
        if (started !== null) {
          requestAnimationFrame(() => timings.push(performance.now() - started));
        }
        prefetch();
        return null;
      }
      /* A reserved task about to run out is given back before claiming again: a claim that ran
         before the release would get it back, and the release would then take it away. */
      const release = n ? api(leaseUrl(n.lease.id, "release")).catch(() => null) : Promise.resolve(null);
      return release.then(() => claimAndShow());
    });
  }

  /* The page shows a task it held in reserve, whatever ended the one before (submit, skip, expiry,
     release, another tab): the server extends its lease and counts its active time from now, not
     from its reservation. Refused, it is handled as a refused heartbeat. */
  function begin(claim) {
    /* Its submit waits for this answer: sent side by side, a quick submit could reach the server
       first, and the start would then be refused for a task already handed in. */
    claim.starting = api(leaseUrl(claim.lease.id, "start")).then((res) => {
      if (S.cur !== claim) return;
      if (res.ok) claim.deadline = deadline(res.data, res);
      else if (!S.busy && res.status < 500) afterRefusal(res, "heartbeat");
    }).catch(() => { /* offline: its next heartbeat counts the gap, at most the idle cap */ });
  }

  const REASONS = {
    nothing_left: "This project has no tasks left to label. Thank you!",
    all_leased: "Every remaining task is being worked on by someone else right now. Try again in a few minutes.",
    all_done_by_you: "You have already worked on every remaining task of this project.",
  };
  function noWork(res) {
    const d = res.data || {};
    const reason = (d.extra && d.extra.reason) || "";
    let text = REASONS[reason] || d.message || "There is no task for you in this project right now.";
    if (d.code === "not_qualified") text = (d.message || "You are not qualified for this project yet.") +
      " Projects you can work on are listed on your work page.";
    if (REWORK) text = (d.message || "This rework is no longer waiting for you.") + " Your rework list is on your history page.";
    $("retry").hidden = !!REWORK || !["all_leased", "contention", "nothing_left"].includes(reason);
    if (!S.cur && shownVersion === null) $("instructions-body").textContent = "The instructions appear with your first task.";
    $("task").hidden = true;
    $("nowork").hidden = false;
    $("nowork").dataset.reason = d.code === "not_qualified" ? "not_qualified" : (reason || d.code || "");
    $("nowork-message").textContent = text;
    $("countdown").textContent = "--:--";
    S.cur = null;
  }
  $("retry").addEventListener("click", () => { say(""); claimAndShow(); });

  /* ---- submit, skip, expiry ---------------------------------------------------------------- */
  /* The server refused a call on the current lease. `what` is "submit", "skip" or "heartbeat":
     the message says whether the person's answer was lost, once, and the next task follows. */
  function afterRefusal(res, what) {
    const code = res.data && res.data.code;
    const lost = what === "submit" ? "Your answer was not saved: " : what === "skip" ? "Not skipped: " : "";
    if (code === "lease_expired") {
      tell(lost ? lost + "your time on this task ran out, and it went back to the queue."
        : "Your time on this task ran out; it went back to the queue.", true);
      return advance(null);
    }
    if (code === "lease_not_active" || res.status === 404) {
      const why = "it was submitted, skipped or released in another tab or window.";
      tell(lost ? lost + "this task is no longer yours; " + why : "This task is no longer yours: " + why, true);
      return advance(null);
    }
    if (what === "heartbeat") return null;
    say((res.data && res.data.message) || "The server refused this answer.", true);
    return null;
  }

  /* After a rework the person goes back to their list; otherwise the next task follows. */
  function next(started) {
    if (REWORK) {
      S.cur = null;
      window.location.assign(cfg.urls.after_rework);
      return Promise.resolve();
    }
    return advance(started);
  }

  function submit() {
    if (S.busy || !S.cur) return;
    const problem = mod.problem();
    if (problem) { say(problem, true); return; }
    const started = performance.now();
    const cur = S.cur;
    const body = { result: mod.result() };
    S.busy = true;
    $("submit").setAttribute("aria-busy", "true");
    (cur.starting || Promise.resolve()).then(() =>
      withRetry(() => api(leaseUrl(cur.lease.id, "submit"), body))
    ).then((res) => {
      S.busy = false;
      $("submit").removeAttribute("aria-busy");
      if (res.ok) {
        S.done += 1;
        $("done-count").textContent = S.done;
        if (res.data && res.data.feedback) return showFeedback(res.data.feedback, cur.task);
        say(REWORK ? "Saved. Your rework goes back to review." : "Saved. Next task.");
        return next(started);
      }
      return afterRefusal(res, "submit");
    });
  }
  $("submit").addEventListener("click", submit);

  /* ---- training mode: feedback after a gold task, until the person continues --------------- */
  function showFeedback(fb, task) {
    S.cur = null; /* the lease is done: no heartbeats, no expiry while the person reads */
    S.feedback = fb;
    $("countdown").textContent = "--:--";
    $("task").dataset.feedback = fb.correct ? "correct" : "incorrect";
    $("lab-actions").hidden = true;
    $("labels").inert = true;
    const box = $("feedback");
    box.classList.toggle("is-correct", !!fb.correct);
    $("feedback-verdict").textContent = fb.correct
      ? "Correct. This was a practice task with a known answer."
      : "Not quite (score " + Math.round((fb.score || 0) * 100) + "%). This was a practice task with a known answer.";
    $("feedback-expected").replaceChildren(readable(task, fb.expected));
    $("feedback-explanation").textContent = fb.explanation || "";
    $("feedback-explanation-wrap").hidden = !fb.explanation;
    box.hidden = false;
    say("Saved. Read the feedback, then press Enter to continue.");
    $("feedback-continue").focus({ preventScroll: true });
    return null;
  }
  function continueAfterFeedback() {
    if (!S.feedback) return;
    S.feedback = null;
    $("feedback").hidden = true;
    $("lab-actions").hidden = false;
    $("labels").inert = false;
    delete $("task").dataset.feedback;
    say("");
    next(null).then(() => { if (!$("task").hidden) $("content").focus({ preventScroll: true }); });
  }
  $("feedback-continue").addEventListener("click", continueAfterFeedback);

  function openSkip() {
    $("skip-form").hidden = false;
    $("skip").setAttribute("aria-expanded", "true");
    $("skip-reason").focus();
  }
  function closeSkip() {
    $("skip-form").hidden = true;
    $("skip").setAttribute("aria-expanded", "false");
    $("skip-reason").value = "";
  }
  $("skip").addEventListener("click", () => ($("skip-form").hidden ? openSkip() : closeSkip()));
  $("skip-cancel").addEventListener("click", () => { closeSkip(); $("skip").focus(); });
  $("skip-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (S.busy || !S.cur) return;
    const lease = S.cur.lease.id;
    const reason = $("skip-reason").value;
    S.busy = true;
    withRetry(() => api(leaseUrl(lease, "skip"), { reason: reason })).then((res) => {
      S.busy = false;
      if (res.ok) {
        say(REWORK ? "Skipped. Someone else will do this task." : "Skipped. You will not get this task again.");
        next(null).then(() => $("content").focus());
        return;
      }
      afterRefusal(res, "skip");
    });
  });

  function heartbeat() {
    if (!S.cur || S.beating || S.busy) return;
    const cur = S.cur;
    S.beating = true;
    S.lastBeat = Date.now();
    api(leaseUrl(cur.lease.id, "heartbeat")).then((res) => {
      S.beating = false;
      banner("");
      if (res.ok && S.cur === cur) {
        cur.deadline = deadline(res.data, res);
        S.warned = false;
        if ($("status").textContent === WARNING) say(""); /* the warning is answered: time was added */
      } else if (!res.ok && S.cur === cur && !S.busy && res.status < 500) afterRefusal(res, "heartbeat");
    }).catch(() => {
      S.beating = false;
      S.lastBeat = Date.now() - 50000; /* try again in about ten seconds */
      banner("Connection lost. Your work is kept on this page; trying again shortly.");
    });
  }

  function tick() {
    if (!S.cur) return;
    const now = Date.now();
    const left = Math.max(0, S.cur.deadline - now);
    const secs = Math.ceil(left / 1000);
    $("countdown").textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
    $("countdown").parentNode.classList.toggle("is-low", left <= LOW_MS);
    const active = S.lastActivity > S.lastBeat;
    if (active && (now - S.lastBeat >= 60000 || left < LOW_MS)) heartbeat();
    else if (left <= LOW_MS && !S.warned && left > 0 && !S.busy) {
      S.warned = true; /* once per stretch: a heartbeat that adds time re-arms it */
      tell(WARNING);
    }
    if (left <= 0 && !S.busy && !S.beating) {
      tell("Your time on this task ran out; it went back to the queue.", true);
      advance(null);
    }
  }
  setInterval(tick, 1000);
  const active = () => { S.lastActivity = Date.now(); };
  ["keydown", "pointerdown", "wheel", "touchstart"].forEach((t) =>
    document.addEventListener(t, active, { passive: true, capture: true }));
  let moveSeen = 0;
  document.addEventListener("mousemove", () => {
    const now = Date.now();
    if (now - moveSeen > 5000) { moveSeen = now; active(); }
  }, { passive: true });

  /* ---- keyboard ---------------------------------------------------------------------------- */
  document.addEventListener("keydown", (e) => {
    if (S.feedback) {
      if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); continueAfterFeedback(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || !S.cur || $("task").hidden) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, #skip-form")) {
      if (e.key === "Escape") { closeSkip(); $("skip").focus(); }
      return;
    }
    if (e.key === "Enter") {
      const other = t.closest && t.closest("button, a") && !t.closest(".label-btn");
      if (other) return; /* Enter on Skip, a tag or a link does what that control says */
      e.preventDefault();
      submit();
      return;
    }
    if (mod.key(e)) { e.preventDefault(); return; }
    const l = e.key.length === 1 ? byKey[e.key.toLowerCase()] : null;
    if (l) { e.preventDefault(); mod.pick(l); }
  });

  claimAndShow();
})();
