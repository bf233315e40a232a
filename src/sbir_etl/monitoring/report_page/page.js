// The regression report's behaviour: charts filled in from the embedded data, sortable and
// filterable tables, a test picker. Everything it needs is in this page (no network).
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const embedOptions = { actions: false, renderer: "svg", mode: "vega-lite" };
  const views = new Map(); // chart element -> its vega-embed result, finalised before a re-embed

  // -- charts -------------------------------------------------------------------------------

  const OUTCOMES = { p: "passed", f: "failed", s: "skipped" };

  function median(sorted) {
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /**
   * Rows of one metric of one test (key t = time, m = memory, q = match rate) for a history chart.
   * Each run gets the baseline its gate compared with: the median (and the range) of the previous
   * `data.baselineRuns` passed runs that measured the metric (as HistoryStore.previous_results).
   */
  function historyRows(testId, key) {
    const series = data.series[testId];
    if (!series || !series[key]) return [];
    const rows = [];
    const earlier = []; // values of the passed runs so far, oldest first
    series.r.forEach(function (run, i) {
      const value = series[key][i];
      if (value === null || value === undefined) return;
      const info = data.runs[run];
      const outcome = OUTCOMES[series.o[i]] || series.o[i];
      const row = { run: run + 1, started: info[0], commit: info[1], value: value, passed: outcome === "passed", outcome: outcome };
      if (earlier.length) {
        const window = earlier.slice(-data.baselineRuns).sort(function (a, b) { return a - b; });
        row.baseline = median(window);
        row.lo = window[0];
        row.hi = window[window.length - 1];
      }
      if (row.passed) earlier.push(value);
      rows.push(row);
    });
    return rows;
  }

  function embed(element, spec, rows) {
    const previous = views.get(element);
    if (previous) previous.finalize();
    const full = Object.assign({}, spec, { datasets: { points: rows } });
    return vegaEmbed(element, full, embedOptions)
      .then(function (result) {
        views.set(element, result);
        element.dataset.points = String(rows.length);
      })
      .catch(function (error) {
        element.textContent = "This chart could not be drawn: " + error;
        console.error("report chart failed", error);
      });
  }

  const picker = document.getElementById("test-picker");
  const historyTitle = document.getElementById("history-title");

  function showTest(testId) {
    if (!data.series[testId]) return Promise.resolve();
    picker.value = testId;
    historyTitle.textContent = testId;
    historyTitle.title = testId;
    const jobs = [];
    document.querySelectorAll("#history [data-chart]").forEach(function (element) {
      const key = element.dataset.key;
      const rows = historyRows(testId, key);
      const figure = element.closest("figure");
      figure.hidden = rows.length === 0;
      if (rows.length) jobs.push(embed(element, data.specs[element.dataset.chart], rows));
    });
    return Promise.all(jobs);
  }

  picker.addEventListener("change", function () { showTest(picker.value); });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.tid");
    if (!button) return;
    showTest(button.title).then(function () {
      document.getElementById("history").scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });

  const pending = [];
  document.querySelectorAll("#summary [data-chart='match_rate']").forEach(function (element) {
    pending.push(embed(element, data.specs.match_rate, historyRows(element.dataset.test, "q")));
  });
  // Score charts sit at the end of the page: each is drawn when it comes near the window, so a
  // large report shows its summary and the first test's history without waiting for them.
  const nearWindow = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      nearWindow.unobserve(entry.target);
      embed(entry.target, data.specs.scores, data.scores[entry.target.dataset.test] || []);
    });
  }, { rootMargin: "300px" });
  document.querySelectorAll("[data-chart='scores']").forEach(function (element) { nearWindow.observe(element); });
  if (data.initial) pending.push(showTest(data.initial));
  // For scripting the page (and for its browser tests): the rows a history chart draws, and the picker.
  window.sbirReport = { historyRows: historyRows, showTest: showTest };
  Promise.all(pending).then(function () { document.body.dataset.chartsReady = "true"; });

  // -- tables -------------------------------------------------------------------------------

  function sortKey(row, column, type) {
    if (type === "id") return row.dataset.id;
    const raw = row.cells[column].dataset.v;
    if (type !== "number") return raw === undefined ? row.cells[column].textContent : raw;
    return raw === undefined || raw === "" ? NaN : Number(raw);
  }

  function sortTable(table, header) {
    const column = Array.prototype.indexOf.call(header.parentNode.children, header);
    const type = header.dataset.type;
    const numeric = type === "number";
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    const direction = ascending ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const keys = new Map(rows.map(function (row) { return [row, sortKey(row, column, type)]; }));
    rows.sort(function (a, b) {
      const x = keys.get(a), y = keys.get(b);
      if (numeric) {
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y); // missing values last either way
        return (x - y) * direction;
      }
      return x.localeCompare(y) * direction;
    });
    body.append.apply(body, rows);
    table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (header) {
      const button = header.querySelector("button");
      if (button) button.addEventListener("click", function () { sortTable(table, header); });
    });
  });

  const filterBox = document.getElementById("filter");
  const statusFilter = document.getElementById("status-filter");
  const shownCount = document.getElementById("shown-count");
  const testRows = Array.from(document.querySelectorAll("#tests tbody tr"));

  function matchesStatus(row, wanted) {
    if (wanted === "all") return true;
    if (wanted === "attention") return row.dataset.status === "fail" || row.dataset.status === "warn";
    if (wanted === "degrading") return row.dataset.trend === "degrading";
    return row.dataset.status === wanted;
  }

  function applyFilter() {
    const text = filterBox.value.trim().toLowerCase();
    const wanted = statusFilter.value;
    let shown = 0;
    testRows.forEach(function (row) {
      const visible = (!text || row.dataset.id.toLowerCase().includes(text)) && matchesStatus(row, wanted);
      row.hidden = !visible;
      if (visible) shown += 1;
    });
    shownCount.textContent = "showing " + shown + " of " + testRows.length;
  }

  filterBox.addEventListener("input", applyFilter);
  statusFilter.addEventListener("change", applyFilter);
  shownCount.textContent = "showing " + testRows.length + " of " + testRows.length;
})();
