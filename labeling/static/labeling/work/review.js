/* Quorum review page: claims the next review, shows the work under review readably, and sends the
   reviewer's verdict (approve, correct, reject) through the review API. Keyboard first.
   The editors and read-only views come from label.js (loaded first, in review mode). */
(function () {
  "use strict";
  const Q = window.QuorumLab;
  const cfg = Q.cfg, P = Q.P, $ = Q.$, el = Q.el, say = Q.say, mod = Q.mod, byKey = Q.byKey;
  const { api, withRetry, leaseUrl, deadline, readable, taskContent } = Q;

  const R = { cur: null, busy: false, mode: "view", reason: null, done: 0,
    lastActivity: 0, lastBeat: 0, beating: false, warned: false };

  /* ---- claiming and showing ---------------------------------------------------------------- */
  function claimAndShow() {
    R.cur = null;
    $("loading").hidden = false;
    return withRetry(() => api(cfg.urls.claim)).then((res) => {
      $("loading").hidden = true;
      if (!res.ok) return noWork(res);
      res.data.deadline = deadline(res.data.lease, res);
      show(res.data);
    });
  }

  /* The result a verdict judges: the work (or a lower level's correction), else the aggregate. */
  function judged(review) {
    if (review.work) return review.work.result;
    return review.aggregate ? review.aggregate.result : null;
  }

  const VERDICTS = { approve: "approved", correct: "corrected", reject: "sent back" };
  const pct = (x) => Math.round(x * 100) + "%";

  function show(claim) {
    const rv = claim.review;
    const task = claim.task;
    R.cur = claim;
    R.lastBeat = Date.now();
    R.warned = false;
    $("nowork").hidden = true;
    $("task").hidden = false;
    $("task").dataset.taskId = task.id;
    $("task").dataset.leaseId = claim.lease.id;
    $("task").dataset.level = rv.level;
    $("review-level").textContent = "Level " + rv.level + " review";
    $("task-view").replaceChildren(P.task_type === "ner" || P.task_type === "bbox" ? "" : taskContent(task));

    const consensus = !!rv.aggregate;
    let heading = "The annotator's answer";
    if (rv.work && rv.work.is_correction) heading = "The corrected answer (from a lower review level)";
    else if (consensus) heading = "The aggregated answer";
    else if (rv.work && rv.work.revision > 1) heading = "The annotator's reworked answer (revision " + rv.work.revision + ")";
    $("work-heading").textContent = heading;
    const result = judged(rv);
    let missing = "No answer.";
    if (consensus) missing = "No aggregated answer" + (rv.aggregate.is_tie ? ": the annotators tied. Correct it (C) with the right answer." : ".");
    $("work").replaceChildren(result ? readable(task, result) : el("p", { class: "muted" }, missing));

    $("consensus").hidden = !consensus;
    if (consensus) {
      const a = rv.aggregate;
      const parts = [];
      if (a.confidence !== null && a.confidence !== undefined) parts.push("confidence " + pct(a.confidence));
      if (a.agreement !== null && a.agreement !== undefined) parts.push("agreement " + pct(a.agreement));
      if (a.is_tie) parts.push("a tie between the annotators");
      $("aggregate-stats").textContent = "Aggregate: " + (parts.join(" · ") || "no statistics");
      const list = $("annotations");
      list.replaceChildren();
      rv.annotations.forEach((x) => { const li = el("li"); li.append(readable(task, x.result)); list.append(li); });
      if (rv.work) {
        const li = el("li", { class: "muted" }, "Aggregate before correction:");
        li.append(readable(task, a.result));
        list.append(li);
      }
    }

    $("previous").hidden = !rv.previous_reviews.length;
    const prev = $("previous-list");
    prev.replaceChildren();
    rv.previous_reviews.forEach((r) => {
      const reason = r.reason ? " (" + reasonLabel(r.reason) + ")" : "";
      const li = el("li", {}, "Level " + r.level + ": " + (VERDICTS[r.verdict] || r.verdict) + reason);
      if (r.comment) { li.append(" — "); li.append(el("q", {}, r.comment)); }
      if (r.correction) li.append(readable(task, r.correction));
      prev.append(li);
    });

    $("reject").disabled = !rv.can_reject;
    $("reject").title = rv.can_reject ? "" : "A consensus result is approved or corrected, not sent back.";
    buildReasons(rv.reasons);
    setMode("view");
    Q.showInstructions(claim.instructions);
    tick();
    if (claim.resumed) say("You already held this review; here it is again.");
    $("task").focus({ preventScroll: true });
  }

  let reasons = [];
  const reasonLabel = (code) => (reasons.find((r) => r.code === code) || { label: code }).label;
  function buildReasons(list) {
    if (reasons.length === list.length) return;
    reasons = list;
    const box = $("reason-list");
    box.replaceChildren();
    list.forEach((r, i) => {
      const id = "reason-" + r.code;
      const input = el("input", { type: "radio", name: "reason", value: r.code, id: id });
      input.addEventListener("change", () => { R.reason = r.code; });
      const label = el("label", { for: id, class: "reason" });
      label.append(input, " ", el("kbd", {}, String(i + 1)), " " + r.label);
      box.append(label);
    });
  }

  const REASONS = {
    nothing_left: "Nothing in this project waits for your review right now. Thank you!",
    all_leased: "Everything waiting is being reviewed by someone else right now. Try again in a few minutes.",
    all_done_by_you: "What is left here is work you did or already reviewed; someone else reviews it.",
  };
  function noWork(res) {
    const d = res.data || {};
    const reason = (d.extra && d.extra.reason) || "";
    let text = REASONS[reason] || d.message || "There is nothing for you to review here right now.";
    if (res.status === 403) text = d.message || "You may not review this project.";
    $("retry").hidden = !["all_leased", "contention", "nothing_left"].includes(reason);
    $("task").hidden = true;
    $("nowork").hidden = false;
    $("nowork").dataset.reason = reason || d.code || "";
    $("nowork-message").textContent = text;
    $("countdown").textContent = "--:--";
    R.cur = null;
  }
  $("retry").addEventListener("click", () => { say(""); claimAndShow(); });

  /* ---- modes: view, reject (reason picker), correct (editor) -------------------------------- */
  function setMode(mode) {
    R.mode = mode;
    $("review-view").hidden = mode === "correct";
    $("editor").hidden = mode !== "correct";
    $("reject-form").hidden = mode !== "reject";
    $("reject").setAttribute("aria-expanded", String(mode === "reject"));
    $("verdicts").hidden = mode === "reject";
    if (mode !== "reject") {
      R.reason = null;
      $("reject-comment").value = "";
      $("reject-form").querySelectorAll("input[name=reason]").forEach((i) => { i.checked = false; });
    }
  }
  function openReject() {
    if (!R.cur.review.can_reject) {
      say("A consensus result is approved or corrected, not sent back.", true);
      return;
    }
    setMode("reject");
    say("Press the number of the reason, then write a comment; Enter sends, Esc cancels.");
    $("reasons").focus({ preventScroll: true });
  }
  function chooseReason(i) {
    const r = reasons[i];
    if (!r) return;
    R.reason = r.code;
    $("reason-" + r.code).checked = true;
    say("Reason: " + r.label + ". Write a comment for the annotator, then press Enter.");
    $("reject-comment").focus();
  }
  function openCorrect() {
    setMode("correct");
    mod.load(R.cur.task, judged(R.cur.review));
    say("Correcting: change the answer, then press Enter to send; Esc cancels.");
    if (P.task_type !== "ner") $("content").focus({ preventScroll: true });
  }
  function cancel() {
    setMode("view");
    say("Cancelled.");
    $("task").focus({ preventScroll: true });
  }

  /* ---- verdicts, skip, expiry -------------------------------------------------------------- */
  function afterRefusal(res) {
    const code = res.data && res.data.code;
    if (code === "lease_expired") {
      say("Your time on this review ran out; it went back to the queue. Here is the next one.", true);
      return claimAndShow();
    }
    if (code === "lease_not_active" || res.status === 404) {
      say("This review is no longer yours (it was finished, skipped or released elsewhere).", true);
      return claimAndShow();
    }
    say((res.data && res.data.message) || "The server refused this verdict.", true);
    return null;
  }

  function send(verb, body, done) {
    if (R.busy || !R.cur) return;
    const lease = R.cur.lease.id;
    R.busy = true;
    $("task").setAttribute("aria-busy", "true");
    withRetry(() => api(leaseUrl(lease, verb), body)).then((res) => {
      R.busy = false;
      $("task").removeAttribute("aria-busy");
      if (res.ok) {
        if (verb === "verdict") { R.done += 1; $("done-count").textContent = R.done; }
        say(done);
        return claimAndShow();
      }
      return afterRefusal(res);
    });
  }
  const approve = () => send("verdict", { verdict: "approve" }, "Approved. Next review.");
  const skip = () => send("skip", { reason: "" }, "Skipped. You will not get this review again.");
  function sendReject() {
    if (!R.reason) { say("Choose a reason first: press its number.", true); $("reasons").focus(); return; }
    send("verdict", { verdict: "reject", reason: R.reason, comment: $("reject-comment").value },
      "Sent back to the annotator. Next review.");
  }
  function sendCorrection() {
    const problem = mod.problem();
    if (problem) { say(problem, true); return; }
    send("verdict", { verdict: "correct", result: mod.result() }, "Correction saved. Next review.");
  }

  $("approve").addEventListener("click", approve);
  $("correct").addEventListener("click", openCorrect);
  $("reject").addEventListener("click", () => (R.mode === "reject" ? cancel() : openReject()));
  $("skip").addEventListener("click", skip);
  $("reject-form").addEventListener("submit", (e) => { e.preventDefault(); sendReject(); });
  $("reject-cancel").addEventListener("click", cancel);
  $("correct-send").addEventListener("click", sendCorrection);
  $("correct-cancel").addEventListener("click", cancel);

  function heartbeat() {
    if (!R.cur || R.beating) return;
    const cur = R.cur;
    R.beating = true;
    R.lastBeat = Date.now();
    api(leaseUrl(cur.lease.id, "heartbeat")).then((res) => {
      R.beating = false;
      Q.banner("");
      if (res.ok && R.cur === cur) { cur.deadline = deadline(res.data, res); R.warned = false; }
      else if (!res.ok && R.cur === cur && res.data && res.data.code === "lease_expired") afterRefusal(res);
    }).catch(() => {
      R.beating = false;
      R.lastBeat = Date.now() - 50000; /* try again in about ten seconds */
      Q.banner("Connection lost. Your verdict is kept on this page; trying again shortly.");
    });
  }

  function tick() {
    if (!R.cur) return;
    const now = Date.now();
    const left = Math.max(0, R.cur.deadline - now);
    const secs = Math.ceil(left / 1000);
    $("countdown").textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
    $("countdown").parentNode.classList.toggle("is-low", secs <= 60);
    const active = R.lastActivity > R.lastBeat;
    if (active && (now - R.lastBeat >= 60000 || left < Math.min(60000, P.lease_seconds * 250))) heartbeat();
    if (secs <= 60 && !R.warned && left > 0) {
      R.warned = true;
      say("Less than a minute left on this review. Keep working to keep it.");
    }
    if (left <= 0 && !R.busy && !R.beating) {
      say("Your time on this review ran out; it went back to the queue. Here is the next one.", true);
      claimAndShow();
    }
  }
  setInterval(tick, 1000);
  const active = () => { R.lastActivity = Date.now(); };
  ["keydown", "pointerdown", "wheel", "touchstart"].forEach((t) =>
    document.addEventListener(t, active, { passive: true, capture: true }));

  /* Leaving the page gives the review back at once, so another reviewer can take it. */
  window.addEventListener("pagehide", () => {
    if (!R.cur) return;
    const form = new FormData();
    form.append("csrfmiddlewaretoken", Q.csrf);
    navigator.sendBeacon(cfg.urls.release_beacon.replace("/0/", "/" + R.cur.lease.id + "/"), form);
    R.cur = null;
  });
  window.addEventListener("pageshow", (e) => { if (e.persisted) claimAndShow(); });

  /* ---- keys -------------------------------------------------------------------------------- */
  function toggleKeys(open) {
    $("keys").hidden = !open;
    $("show-keys").setAttribute("aria-expanded", String(open));
  }
  $("show-keys").addEventListener("click", () => toggleKeys($("keys").hidden));

  function rejectKey(e) {
    const t = e.target;
    if (e.key === "Escape") { e.preventDefault(); cancel(); return; }
    if (e.key === "Enter" && !e.shiftKey) {
      if (t.closest("button")) return; /* Send or Cancel do what they say */
      e.preventDefault();
      sendReject();
      return;
    }
    if (t !== $("reject-comment") && /^[1-9]$/.test(e.key)) { e.preventDefault(); chooseReason(Number(e.key) - 1); }
  }
  function correctKey(e) {
    const t = e.target;
    if (e.key === "Escape") { e.preventDefault(); cancel(); return; }
    if (t.closest("input, textarea, select")) return;
    if (e.key === "Enter") {
      if (t.closest("button, a") && !t.closest(".label-btn")) return;
      e.preventDefault();
      sendCorrection();
      return;
    }
    if (mod.key(e)) { e.preventDefault(); return; }
    const l = e.key.length === 1 ? byKey[e.key.toLowerCase()] : null;
    if (l) { e.preventDefault(); mod.pick(l); }
  }
  function viewKey(e) {
    if (e.target.closest("input, textarea, select")) return;
    const k = e.key.toLowerCase();
    const act = { a: approve, r: openReject, c: openCorrect, s: skip }[k];
    if (act) { e.preventDefault(); act(); }
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target.closest && e.target.closest("input[type=text], textarea");
    if (e.key === "?" && !typing) { e.preventDefault(); toggleKeys($("keys").hidden); return; }
    if (e.key === "Escape" && !$("keys").hidden && R.mode === "view") { toggleKeys(false); return; }
    if (!R.cur || R.busy || $("task").hidden) return;
    if (R.mode === "reject") rejectKey(e);
    else if (R.mode === "correct") correctKey(e);
    else viewKey(e);
  });

  claimAndShow();
})();
