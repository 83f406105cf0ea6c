/* Hot plate: a stopwatch for the animal in focus, and the behaviour chosen with one key.
 *
 * Space (or Enter, or the big button) starts and stops the stopwatch. Stopping writes the
 * latency into the animal's cell; one key then records the behaviour and saves: L lick,
 * F flutter, R raise, J jump (pressing it while the stopwatch runs stops it too). Enter saves
 * without a behaviour. At the cut-off the stopwatch stops by itself and records the cut-off
 * with no behaviour. Saving and retrying are entry.js's (window.CipnEntry).
 */
(function () {
  "use strict";

  var E = window.CipnEntry;
  var box = document.getElementById("stopwatch");
  if (!E || !box) return;

  var cutoff = Number(E.config.max);
  var timeEl = document.getElementById("sw-time");
  var targetEl = document.getElementById("sw-target");
  var button = document.getElementById("sw-button");
  var statusBox = document.getElementById("entry-status");
  var KEYS = { l: "lick", f: "flutter", r: "raise", j: "jump" };
  var CUTOFF_REASON = "Behaviour must be empty at the " + E.fmt(cutoff) + " s cut-off.";

  var target = null;
  var startedAt = null;
  var frame = null;
  var timer = null;

  function running() { return startedAt !== null; }

  function label(input) {
    var row = input.closest("tr");
    var text = row.dataset.code;
    if (E.config.applications > 1) text += " trial " + input.dataset.application;
    return text;
  }

  function setTarget(input) {
    if (running() || !input) return;
    if (target) target.closest("tr").classList.remove("timing");
    if (target !== input) {
      // A new animal: the last one's time and cut-off colour no longer apply.
      box.classList.remove("cutoff");
      timeEl.textContent = "0.0";
    }
    target = input;
    targetEl.textContent = label(input);
  }

  function say(text) { if (statusBox) { statusBox.textContent = text; statusBox.classList.remove("offline"); } }

  function seconds() { return (performance.now() - startedAt) / 1000; }

  // Latencies are read to a tenth of a second, as a stopwatch shows them (cut down, not up,
  // so that a value just under the cut-off never becomes the cut-off).
  function tenths(s) { return Math.max(0.1, Math.floor(s * 10) / 10); }

  function tick() {
    timeEl.textContent = Math.min(seconds(), cutoff).toFixed(1);
    frame = window.requestAnimationFrame(tick);
  }

  function setButtons(input, behavior) {
    input.dataset.behavior = behavior || "";
    input.closest("td").querySelectorAll("button.bh").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.behavior === behavior ? "true" : "false");
    });
  }

  function start() {
    if (running() || !target || target.readOnly) return;
    startedAt = performance.now();
    box.classList.remove("cutoff");
    box.classList.add("running");
    target.closest("tr").classList.add("timing");
    button.innerHTML = "Stop <kbd>Space</kbd>";
    tick();
    timer = window.setTimeout(reachCutoff, cutoff * 1000);
    say("Timing " + label(target) + "…");
  }

  function halt() {
    var elapsed = seconds();
    window.cancelAnimationFrame(frame);
    window.clearTimeout(timer);
    startedAt = null;
    box.classList.remove("running");
    target.closest("tr").classList.remove("timing");
    button.innerHTML = "Start <kbd>Space</kbd>";
    return elapsed;
  }

  function stop() {
    if (!running()) return;
    var elapsed = halt();
    if (elapsed >= cutoff) { recordCutoff(); return; }
    var value = tenths(elapsed);
    timeEl.textContent = value.toFixed(1);
    target.value = E.fmt(value);
    setButtons(target, "");
    E.updateMean(target);
    E.focusCell(target);
    say(label(target) + ": " + value.toFixed(1) + " s. Press L, F, R or J for the behaviour, or Enter.");
  }

  function reachCutoff() {
    if (!running()) return;
    halt();
    recordCutoff();
  }

  function recordCutoff() {
    timeEl.textContent = cutoff.toFixed(1);
    box.classList.add("cutoff");
    target.value = E.fmt(cutoff);
    setButtons(target, "");
    E.updateMean(target);
    say(label(target) + ": cut-off reached, " + E.fmt(cutoff) + " s recorded with no behaviour.");
    var done = target;
    if (E.commit(done)) {
      var to = E.next(done);
      if (to) E.focusCell(to);
    }
  }

  /* Record the behaviour of one cell and, with a valid latency, save it and move on. */
  function choose(input, behavior) {
    var parsed = E.parse(input.value);
    if (parsed.value !== undefined && parsed.value >= cutoff) {
      E.setState(input, "error", CUTOFF_REASON);
      E.focusCell(input);
      return;
    }
    setButtons(input, behavior);
    if (parsed.value === undefined) {
      E.focusCell(input);
      if (!parsed.error) say("Behaviour " + behavior + " chosen: now the latency.");
      return;
    }
    if (E.commit(input)) {
      var to = E.next(input);
      if (to) E.focusCell(to); else input.blur();
    }
  }

  document.addEventListener("cipn:cellfocus", function (event) { setTarget(event.detail); });

  // Capture phase: these keys mean stopwatch and behaviour before the grid sees them.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var el = event.target;
    var inCell = el.classList && el.classList.contains("v");
    var onPage = el === document.body || el === document.documentElement;
    if (!inCell && !onPage) return;
    if (event.key === " " || (event.key === "Enter" && running())) {
      event.preventDefault();
      event.stopPropagation();
      if (running()) stop(); else { if (inCell) setTarget(el); start(); }
      return;
    }
    var behavior = KEYS[event.key.toLowerCase()];
    if (behavior && inCell) {
      event.preventDefault();
      event.stopPropagation();
      if (running()) stop();
      choose(el, behavior);
    }
  }, true);

  // Buttons keep the focus in the cell (a tap must not commit the cell before its behaviour).
  function keepFocus(event) { event.preventDefault(); }
  button.addEventListener("mousedown", keepFocus);
  button.addEventListener("click", function () { if (running()) stop(); else start(); });
  document.querySelectorAll("button.bh").forEach(function (b) {
    b.addEventListener("mousedown", keepFocus);
    b.addEventListener("click", function () {
      var input = b.closest("td").querySelector("input.v");
      if (running()) stop();
      choose(input, b.dataset.behavior);
    });
  });

  var focused = document.activeElement;
  setTarget(focused && focused.classList && focused.classList.contains("v")
    ? focused : E.inputs[0]);
})();
