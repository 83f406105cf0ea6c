/* Entry grid: each value is checked as it is typed and saved as it is entered.
 *
 * - Keyboard first: Enter or Tab goes to the next cell (after an animal's last cell, the next
 *   animal's first), Shift+Tab back, ArrowUp/ArrowDown to the same cell of the previous/next
 *   animal. Focus starts in the first empty cell.
 * - A value is validated here (number, above 0, at most the maximum) with the same reasons the
 *   server gives, then posted to the entry endpoint. The cell shows pending, saved or error.
 *   Values of one animal that queue up while a save is on the way, or while offline, are
 *   posted together in one request (the endpoint's batch).
 * - Until the server has confirmed it, a value is kept in localStorage and retried (on the
 *   "online" event and every few seconds), so a reload or a dropped connection loses nothing.
 *
 * stopwatch.js (hot plate) uses window.CipnEntry.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("entry-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var grid = document.getElementById("entry-grid");
  var statusBox = document.getElementById("entry-status");
  var doneBox = document.getElementById("entry-done");
  var enteredCount = document.getElementById("entered-count");
  var csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var inputs = Array.prototype.slice.call(grid.querySelectorAll("input.v"));
  var RETRY_MS = 4000;

  // ---------------------------------------------------------------------------------------
  // Validation: the same reasons as the server (behavior.services.entry_save).

  var WHAT = config.assay === "hot_plate" ? "Latency" : "Force";

  function quoted(text) {
    // As the server quotes the typed text (Python's repr of a string).
    var q = text.indexOf("'") !== -1 && text.indexOf('"') === -1 ? '"' : "'";
    return q + text + q;
  }

  function parse(text) {
    var t = String(text).trim().replace(",", ".");
    if (t === "") return { empty: true };
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
      return { error: WHAT + " must be a number, not " + quoted(t.slice(0, 40)) + "." };
    }
    var n = Number(t);
    if (!isFinite(n)) return { error: WHAT + " must be a finite number." };
    if (n <= 0) return { error: WHAT + " must be greater than 0 " + config.unit + "." };
    if (n > config.max) {
      return {
        error: config.assay === "hot_plate"
          ? WHAT + " must be at most the " + fmt(config.max) + " s cut-off."
          : WHAT + " must be at most " + fmt(config.max) + " " + config.unit + "."
      };
    }
    return { value: n };
  }

  function fmt(n) {
    return String(Math.round(n * 1e6) / 1e6);
  }

  // ---------------------------------------------------------------------------------------
  // Cells

  function keyOf(input) {
    return input.dataset.animal + ":" + input.dataset.footpad + ":" + input.dataset.application;
  }

  var byKey = {};
  inputs.forEach(function (input) { byKey[keyOf(input)] = input; });

  function cellOf(input) { return input.closest("td"); }

  function setState(input, state, message) {
    var td = cellOf(input);
    ["is-pending", "is-saved", "is-error", "is-offline", "is-verified", "is-disputed",
     "is-resolved"].forEach(function (c) { td.classList.remove(c); });
    if (state) td.classList.add("is-" + state);
    td.querySelector(".msg").textContent = message || "";
    if (state === "error") input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function showStatus(text, offline) {
    statusBox.textContent = text || "";
    statusBox.classList.toggle("offline", !!offline);
  }

  // The running mean of one animal's footpad (or trials) from what is typed, valid values only.
  function updateMean(input) {
    var row = input.closest("tr");
    var meanCell = row.querySelector('td.mean[data-mean="' + input.dataset.footpad + '"]');
    if (!meanCell) return;
    var sum = 0, n = 0;
    row.querySelectorAll('input.v[data-footpad="' + input.dataset.footpad + '"]')
      .forEach(function (i) {
        var p = parse(i.value);
        if (p.value !== undefined) { sum += p.value; n += 1; }
      });
    meanCell.textContent = n ? (sum / n).toFixed(2) : "–";
  }

  // ---------------------------------------------------------------------------------------
  // Values not yet confirmed by the server, kept on this device.

  function loadPending() {
    try { return JSON.parse(localStorage.getItem(config.storageKey) || "{}"); }
    catch (e) { return {}; }
  }
  var pending = loadPending();
  function storePending() {
    try { localStorage.setItem(config.storageKey, JSON.stringify(pending)); }
    catch (e) { /* private mode or full: the in-memory queue still retries */ }
  }

  // ---------------------------------------------------------------------------------------
  // Saving: one request at a time, in the order typed; the newest value of a cell wins.
  // Values of one animal that queued up meanwhile (typed while a save was on the way, or
  // kept while offline) go together in one request, all saved or none; a value goes alone
  // when it is the only one of its animal, or when its batch was refused (see handleBatch).

  var queue = [];
  var busy = false;
  var retryTimer = null;
  var BATCH_MAX = config.batchMax || 1;
  // Keys whose batch was refused: each is sent alone once, for an answer of its own.
  var alone = {};

  function enqueue(key) {
    if (queue.indexOf(key) === -1) queue.push(key);
    pump();
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; pump(); }, RETRY_MS);
  }

  // What is sent of one cell: its slot, the value, and the version it was read at.
  function bodyOf(input, item) {
    return {
      footpad: input.dataset.footpad,
      application: Number(input.dataset.application),
      value: item.value,
      behavior: item.behavior || "",
      reason: item.reason || "",
      // 0: the cell was empty when read, so a value stored meanwhile is a conflict.
      expected_version: input.dataset.version ? Number(input.dataset.version) : 0
    };
  }

  /* The next request's cells, in the order typed: the first queued one and, unless it must
   * go alone, the other queued cells of its animal (at most BATCH_MAX). Taken off the queue. */
  function nextCells() {
    while (queue.length && !(pending[queue[0]] && byKey[queue[0]])) queue.shift();
    if (!queue.length) return [];
    var first = queue.shift();
    var cells = [{ key: first, input: byKey[first], item: pending[first] }];
    if (alone[first]) return cells;
    var animal = byKey[first].dataset.animal;
    queue = queue.filter(function (key) {
      var input = byKey[key];
      if (!pending[key] || !input) return false;
      if (cells.length < BATCH_MAX && !alone[key] && input.dataset.animal === animal) {
        cells.push({ key: key, input: input, item: pending[key] });
        return false;
      }
      return true;
    });
    return cells;
  }

  function post(body) {
    return fetch(config.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfInput ? csrfInput.value : ""
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function pump() {
    if (busy) return;
    var cells = nextCells();
    if (!cells.length) return;
    busy = true;
    var body;
    if (cells.length === 1) {
      body = bodyOf(cells[0].input, cells[0].item);
    } else {
      body = { values: cells.map(function (c) { return bodyOf(c.input, c.item); }) };
    }
    body.animal = Number(cells[0].input.dataset.animal);
    post(body).then(function (res) {
      busy = false;
      if (cells.length === 1) {
        delete alone[cells[0].key];
        handle(cells[0].key, cells[0].input, cells[0].item, res.status, res.data);
      } else {
        handleBatch(cells, res.status, res.data);
      }
      pump();
    }).catch(function () {
      // Offline or the server is unreachable: keep the values and try again.
      busy = false;
      requeueFront(cells);
      cells.forEach(function (c) {
        setState(c.input, "offline", "");
        cellOf(c.input).classList.add("is-pending");
      });
      showStatus("No connection: values are kept on this device and sent when it is back.", true);
      scheduleRetry();
    });
  }

  /* Put cells back at the front of the queue, in their order (a key already queued again,
   * retyped meanwhile, keeps its place). */
  function requeueFront(cells) {
    var keys = (Array.isArray(cells) ? cells : [{ key: cells }])
      .map(function (c) { return c.key; })
      .filter(function (key) { return queue.indexOf(key) === -1; });
    queue = keys.concat(queue);
  }

  function stillCurrent(key, item) {
    // The cell may have been retyped while its request was on the way.
    return pending[key] === item;
  }

  /* A value the server stored: the cell shows it as saved (or its agreement, once it may be
   * shown), unless it was retyped meanwhile and the newer value is on its way. */
  function stored(key, input, item, answer) {
    input.dataset.version = answer.version;
    input.dataset.saved = fmt(answer.value);
    input.dataset.savedBehavior = answer.behavior || "";
    if (stillCurrent(key, item)) {
      delete pending[key];
      storePending();
      var state = "saved";
      if (answer.state === "verified" || answer.state === "disputed" ||
          answer.state === "resolved") {
        state = answer.state;
      }
      setState(input, state, "");
    }
  }

  function progress(data) {
    if (enteredCount && data.entered !== undefined) enteredCount.textContent = data.entered;
    if (doneBox && data.complete && !queue.length) doneBox.hidden = false;
    if (!queue.length) showStatus("");
  }

  /* The answer to a batch. Stored: each cell as if saved alone. Refused (400: a value the
   * server does not take, 409: one changed elsewhere), nothing of it was stored: each of its
   * values is sent again alone, so that the refused one gets its own answer, and its message
   * and remedy (a reason to give, the stored value) in its own cell, as when typed alone,
   * while the others are saved. Any other answer applies to every cell of the batch as it
   * would to one. */
  function handleBatch(cells, status, data) {
    if (status === 200 && data.ok && data.results && data.results.length === cells.length) {
      cells.forEach(function (c, i) { stored(c.key, c.input, c.item, data.results[i]); });
      progress(data);
      return;
    }
    if (status === 400 || status === 409) {
      cells.forEach(function (c) { alone[c.key] = true; });
      requeueFront(cells);
      return;
    }
    notSaved(cells, status, data);
  }

  function handle(key, input, item, status, data) {
    if (status === 200 && data.ok) {
      stored(key, input, item, data);
      progress(data);
      return;
    }
    if ((status === 400 || status === 409) && !stillCurrent(key, item)) {
      // Retyped meanwhile: the newer value is queued and answers for the cell.
      if (status === 409 && data.extra && data.extra.current) {
        input.dataset.version = data.extra.current.version;
      }
      return;
    }
    if (status === 409) {
      var current = data.extra && data.extra.current;
      if (current && Number(current.value) === Number(item.value) &&
          (current.behavior || "") === (item.behavior || "")) {
        // Saved after all (an earlier attempt arrived although its answer was lost).
        input.dataset.version = current.version;
        input.dataset.saved = fmt(current.value);
        delete pending[key];
        storePending();
        setState(input, "saved", "");
        return;
      }
      if (current) input.dataset.version = current.version;
      delete pending[key];
      storePending();
      setState(input, "error", (data.message || "Changed elsewhere.") +
        (current ? " Stored: " + fmt(current.value) + ". Type it again to replace it." : ""));
      return;
    }
    if (status === 400) {
      var fields = (data.extra && data.extra.fields) || {};
      if (fields.reason && !item.reason) {
        // A verified value changes only with a reason.
        var why = window.prompt(fields.reason[0] + "\nReason for changing " +
          fmt(Number(input.dataset.saved)) + " to " + fmt(item.value) + ":");
        if (why && why.trim()) {
          item.reason = why.trim();
          storePending();
          requeueFront(key);
          return;
        }
        delete pending[key];
        storePending();
        input.value = input.dataset.saved || "";
        updateMean(input);
        setState(input, input.dataset.saved ? "saved" : null, "Not changed: a reason is needed.");
        return;
      }
      delete pending[key];
      storePending();
      var message = (fields.value && fields.value[0]) || data.message || "Not saved.";
      setState(input, "error", message);
      return;
    }
    notSaved([{ key: key, input: input, item: item }], status, data);
  }

  /* An answer that says nothing about the values themselves, for one cell or a batch. */
  function notSaved(cells, status, data) {
    if (status === 401) {
      requeueFront(cells);
      showStatus("You are logged out. Your values are kept on this device: log in again " +
        "in another tab, then they are sent.", true);
      scheduleRetry();
      return;
    }
    if (status === 403 || status === 404) {
      // Retrying cannot help (locked study, role, session gone); keep the values on the device.
      cells.forEach(function (c) { setState(c.input, "error", data.message || "Not allowed."); });
      showStatus(data.message || "Not allowed.", true);
      return;
    }
    // 5xx and the unexpected: keep and retry.
    requeueFront(cells);
    cells.forEach(function (c) { setState(c.input, "offline", ""); });
    showStatus("The server did not save the last value; retrying…", true);
    scheduleRetry();
  }

  // ---------------------------------------------------------------------------------------
  // Committing a cell

  function currentBehavior(input) { return input.dataset.behavior || ""; }

  /* Check a cell and send its value if it changed. Returns false when it is invalid. */
  function commit(input) {
    if (config.locked || input.readOnly) return true;
    var key = keyOf(input);
    var parsed = parse(input.value);
    var behavior = currentBehavior(input);
    if (parsed.empty) {
      if (input.dataset.saved) {
        input.value = input.dataset.saved;
        updateMean(input);
        setState(input, "saved", "A saved value cannot be emptied: type the corrected value.");
        return false;
      }
      delete pending[key];
      storePending();
      setState(input, null, "");
      return true;
    }
    if (parsed.error) {
      delete pending[key];
      storePending();
      setState(input, "error", parsed.error);
      return false;
    }
    var item = pending[key];
    if (item && item.value === parsed.value && (item.behavior || "") === behavior) return true;
    if (!item && input.dataset.saved !== "" && Number(input.dataset.saved) === parsed.value &&
        (input.dataset.savedBehavior || "") === behavior) {
      if (cellOf(input).classList.contains("is-error")) setState(input, "saved", "");
      return true;
    }
    pending[key] = { value: parsed.value, behavior: behavior };
    storePending();
    setState(input, "pending", "");
    enqueue(key);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Moving

  function focusCell(input) {
    if (!input) return;
    input.focus();
    input.select();
  }

  function next(input) { return inputs[inputs.indexOf(input) + 1]; }
  function prev(input) { return inputs[inputs.indexOf(input) - 1]; }
  function sameCellOfRow(input, row) {
    if (!row) return null;
    return row.querySelector('input.v[data-footpad="' + input.dataset.footpad +
      '"][data-application="' + input.dataset.application + '"]');
  }

  grid.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("v")) return;
    if (event.key === "Enter") {
      event.preventDefault();
      if (commit(input)) {
        var to = next(input);
        if (to) focusCell(to); else input.blur();
      } else {
        input.select();  // the correction replaces what was refused
      }
    } else if (event.key === "Tab" && !event.shiftKey) {
      // An invalid value keeps the focus so that it is corrected first; focusout commits.
      if (!parse(input.value).error) return;
      event.preventDefault();
      commit(input);
      input.select();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var row = input.closest("tr");
      var target = sameCellOfRow(input,
        event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling);
      if (target) { event.preventDefault(); commit(input); focusCell(target); }
    }
  });

  grid.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.classList.contains("v")) return;
    var parsed = parse(input.value);
    // The reason appears as soon as the typed text cannot be right, and goes once it can.
    if (parsed.error) setState(input, "error", parsed.error);
    else if (cellOf(input).classList.contains("is-error")) setState(input, null, "");
    updateMean(input);
  });

  grid.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("v")) commit(input);
  });

  grid.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("v")) {
      input.select();
      document.dispatchEvent(new CustomEvent("cipn:cellfocus", { detail: input }));
    }
  });

  // ---------------------------------------------------------------------------------------
  // Start: restore what this device still holds, then focus the first empty cell.

  Object.keys(pending).forEach(function (key) {
    var input = byKey[key];
    var item = pending[key];
    if (!input) { delete pending[key]; return; }
    if (input.dataset.saved !== "" && Number(input.dataset.saved) === item.value &&
        (input.dataset.savedBehavior || "") === (item.behavior || "")) {
      delete pending[key];  // the server has it already
      return;
    }
    input.value = fmt(item.value);
    input.dataset.behavior = item.behavior || "";
    updateMean(input);
    setState(input, "pending", "");
    queue.push(key);
  });
  storePending();
  if (queue.length) {
    showStatus(queue.length + " value" + (queue.length > 1 ? "s" : "") +
      " typed earlier on this device are being saved…");
  }
  pump();

  window.addEventListener("online", function () { pump(); });
  setInterval(function () { if (queue.length) pump(); }, RETRY_MS * 2);
  window.addEventListener("beforeunload", function (event) {
    // Values are safe in localStorage; the warning only says they have not reached the server.
    if (queue.length) { event.preventDefault(); event.returnValue = ""; }
  });

  if (!config.locked) {
    var firstEmpty = inputs.filter(function (i) { return i.value === ""; })[0];
    focusCell(firstEmpty || null);
  }

  window.CipnEntry = {
    config: config,
    inputs: inputs,
    parse: parse,
    fmt: fmt,
    commit: commit,
    next: next,
    focusCell: focusCell,
    setState: setState,
    updateMean: updateMean
  };
})();
