// The load view (/load, docs/load.md): each visible ring's queue now and its figures
// today, live over the workspace's WebSocket while the view is shown; history charts and
// per-person figures from the JSON API.
import { el } from "../dom.js";
import { api, t } from "../i18n.js";
import * as fmt from "../format.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("workspace").textContent);
const lang = document.documentElement.lang || "fi";
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  rings: new Map(), // ring id -> {ring, receivedAt (ms, performance clock), card}
  historySerial: 0,
  peopleSerial: 0,
  meSerial: 0,
};

// ------------------------------------------------------------------ helpers

// A named-contact ring is called by its area; say what it is.
function ringLabel(id, name) {
  return id.startsWith("named:") ? `${t("Named contacts")} (${name})` : name;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Sets a text only when it changed: live regions announce every mutation.
function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
const integer = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
const percentFormat = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });

function count(value) {
  return isNumber(value) ? integer.format(value) : "–";
}

function percent(value) {
  return isNumber(value) ? percentFormat.format(value) : "–";
}

// A wait in words: "42 s", "3 min 7 s", "1 h 2 min".
function seconds(value) {
  if (!isNumber(value)) return "–";
  const s = Math.max(0, Math.round(value));
  // No-break spaces keep a number with its unit.
  if (s < 60) return `${s}\u00a0s`;
  if (s < 3600) return `${Math.floor(s / 60)}\u00a0min ${s % 60}\u00a0s`;
  return `${Math.floor(s / 3600)}\u00a0h ${Math.floor((s % 3600) / 60)}\u00a0min`;
}

// A running wait like a clock: "0:42", "12:05", "1:02:09".
function clock(value) {
  if (!isNumber(value)) return "–";
  const s = Math.max(0, Math.floor(value));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function serviceLevel(level, target) {
  return t("{level} (target {seconds} s)", { level: percent(level), seconds: count(target) });
}

function shortDate(iso) {
  return fmt.dayMonth(iso);
}

function bucketLabel(iso, by) {
  if (by === "hour") return `${fmt.weekdayDayMonth(iso)} ${fmt.time(iso)}`;
  return `${fmt.weekdayDayMonth(iso)} ${fmt.date(iso)}`;
}

function hours(hour) {
  return `${String(hour).padStart(2, "0")}–${String((hour + 1) % 24).padStart(2, "0")}`;
}

function errorText(e) {
  const known = {
    not_allowed: t("You may not see the figures of this ring."),
    suppressed: t("This ring has fewer than 3 members: its figures would describe one or two people, so they are not shown."),
    not_found: t("There is no such ring (any more)."),
  };
  return known[e.code] || e.message || e.reason || t("Something went wrong.");
}

function idFor(prefix, ringId) {
  return `${prefix}-${ringId.replace(/[^\w-]/g, "_")}`;
}

// A <dl> entry; `key` names the value for updates.
function stat(label, key, extra = {}) {
  return el("div", { class: "stat", "data-stat": key, ...extra }, el("dt", {}, label), el("dd", {}, "–"));
}

// ------------------------------------------------------------------ the figures

// Every figure of a set of legs, as a <dl>; `dataKey` marks the values for updates.
function figureList() {
  return el(
    "dl",
    { class: "figures" },
    stat(t("Questions"), "offered"),
    stat(t("Answered"), "answered"),
    stat(t("Missed alerts"), "missed_offers"),
    stat(t("Declined alerts"), "declined_offers"),
    stat(t("Cancelled"), "cancelled"),
    stat(t("Timed out"), "timed_out"),
    stat(t("Moved to another ring"), "overflowed"),
    stat(t("Average wait"), "average_wait_seconds"),
    stat(t("Wait, 90th percentile"), "p90_wait_seconds"),
    stat(t("Service level"), "service_level"),
  );
}

function fillFigures(list, fig, target) {
  const values = {
    offered: count(fig.offered),
    answered: isNumber(fig.answered_share)
      ? `${count(fig.answered)} (${percent(fig.answered_share)})`
      : count(fig.answered),
    missed_offers: count(fig.missed_offers),
    declined_offers: count(fig.declined_offers),
    cancelled: count(fig.cancelled),
    timed_out: count(fig.timed_out),
    overflowed: count(fig.overflowed),
    average_wait_seconds: seconds(fig.average_wait_seconds),
    p90_wait_seconds: seconds(fig.p90_wait_seconds),
    service_level: serviceLevel(fig.service_level, target),
  };
  for (const [key, text] of Object.entries(values)) {
    setText(list.querySelector(`[data-stat="${key}"] dd`), text);
  }
}

// ------------------------------------------------------------------ ring cards

function buildCard(ring) {
  const headingId = idFor("load-ring", ring.ring_id);
  const card = el(
    "article",
    { class: "load-ring", "data-ring-id": ring.ring_id, "aria-labelledby": headingId },
    el("div", { class: "load-ring-head" },
      el("div", {},
        el("h3", { id: headingId, class: "load-ring-name" }, ringLabel(ring.ring_id, ring.name)),
        el("p", { class: "muted small load-ring-meta" }),
      ),
      el("button", { type: "button", class: "link", onclick: () => showDetails(ring.ring_id) },
        t("History and people"), el("span", { class: "visually-hidden" }, `: ${ringLabel(ring.ring_id, ring.name)}`)),
    ),
    el("div", { class: "load-now" },
      // Announced politely when the queue changes; the ticking wait stays outside.
      el("div", { class: "load-live", "aria-live": "polite", "aria-atomic": "true" },
        el("span", { class: "visually-hidden" }, `${ringLabel(ring.ring_id, ring.name)}: `),
        el("dl", { class: "stats" },
          stat(t("Signed in"), "signed_in"),
          stat(t("Free"), "free"),
          stat(t("In the queue"), "waiting"),
          stat(t("Ringing"), "ringing"),
          stat(t("Not responding"), "not_responding"),
        ),
      ),
      el("div", { class: "load-now-second" },
        el("dl", { class: "stats" }, stat(t("Longest wait"), "longest_wait")),
        el("div", { class: "load-callbacks" },
          el("h4", { id: idFor("load-callbacks", ring.ring_id) }, t("Callback requests")),
          el("div", { class: "load-live", "aria-live": "polite", "aria-atomic": "true" },
            el("span", { class: "visually-hidden" }, `${ringLabel(ring.ring_id, ring.name)}, ${t("Callback requests")}: `),
            el("dl", { class: "stats" }, stat(t("Open"), "callbacks_open"), stat(t("Overdue"), "callbacks_overdue")),
          ),
        ),
      ),
    ),
    el("h4", {}, t("Today")),
    el("p", { class: "suppressed-note", hidden: true },
      t("Today's figures are not shown: this ring has fewer than 3 members, so they would describe one or two people.")),
    figureList(),
  );
  return card;
}

function updateCard(entry) {
  const { ring, card } = entry;
  const now = ring.now || {};
  const q = (key) => card.querySelector(`[data-stat="${key}"]`);
  setText(card.querySelector(".load-ring-name"), ringLabel(ring.ring_id, ring.name));
  setText(card.querySelector(".load-ring-meta"),
    t("Members: {members} · target: answered within {seconds} s", { members: count(ring.members), seconds: count(ring.target_answer_seconds) }));
  setText(q("signed_in").querySelector("dd"), count(now.signed_in));
  setText(q("free").querySelector("dd"), count(now.free));
  setText(q("waiting").querySelector("dd"), count(now.waiting));
  setText(q("ringing").querySelector("dd"), count(now.ringing));
  setText(q("not_responding").querySelector("dd"), count(now.not_responding));
  q("not_responding").classList.toggle("alert", (now.not_responding || 0) > 0);
  q("waiting").classList.toggle("hot", (now.waiting || 0) > 0);
  card.classList.toggle("has-waiting", (now.waiting || 0) > 0);
  const callbacks = ring.callbacks || {};
  setText(q("callbacks_open").querySelector("dd"), count(callbacks.open));
  setText(q("callbacks_overdue").querySelector("dd"), count(callbacks.overdue));
  q("callbacks_overdue").classList.toggle("alert", (callbacks.overdue || 0) > 0);
  const figures = card.querySelector(".figures");
  const hidden = ring.suppressed || !ring.today;
  card.querySelector(".suppressed-note").hidden = !hidden;
  figures.hidden = hidden;
  if (!hidden) fillFigures(figures, ring.today, ring.target_answer_seconds);
  tickCard(entry);
}

function tickCard(entry) {
  const base = entry.ring.now?.longest_wait_seconds;
  const node = entry.card.querySelector('[data-stat="longest_wait"]');
  const value = isNumber(base) ? base + (performance.now() - entry.receivedAt) / 1000 : null;
  setText(node.querySelector("dd"), clock(value));
  node.classList.toggle("hot", isNumber(value) && value > (entry.ring.target_answer_seconds || Infinity));
}

function upsertRing(ring) {
  let entry = state.rings.get(ring.ring_id);
  if (!entry) {
    entry = { ring, receivedAt: performance.now(), card: buildCard(ring) };
    state.rings.set(ring.ring_id, entry);
    $("load-rings").append(entry.card);
  }
  entry.ring = ring;
  entry.receivedAt = performance.now();
  updateCard(entry);
}

function updatedNow(iso) {
  setText($("load-updated"), t("Updated {time}", { time: fmt.timeWithSeconds(iso || new Date()) }));
}

function onLoad(frame) {
  const seen = new Set();
  for (const ring of frame.rings || []) {
    upsertRing(ring);
    seen.add(ring.ring_id);
  }
  for (const [id, entry] of state.rings) {
    if (!seen.has(id)) {
      entry.card.remove();
      state.rings.delete(id);
    }
  }
  $("load-empty").hidden = state.rings.size > 0;
  $("load-error").hidden = true;
  updatedNow(frame.generated_at);
  fillRingSelect();
}

function onLoadRing(frame) {
  if (!frame.ring) return;
  const known = state.rings.has(frame.ring.ring_id);
  upsertRing(frame.ring);
  $("load-empty").hidden = true;
  updatedNow();
  if (!known) fillRingSelect();
  // A ring whose figures became hidden or shown: the details follow.
  if ($("history-ring").value === frame.ring.ring_id) {
    const wasSuppressed = $("history").dataset.suppressed === "true";
    if (wasSuppressed !== Boolean(frame.ring.suppressed)) loadDetails();
  }
}

// ------------------------------------------------------------------ live frames

function onFrame(f) {
  switch (f.type) {
    case "load":
      onLoad(f);
      return true;
    case "load_ring":
      onLoadRing(f);
      return true;
    case "error":
      if (f.request_type !== "load_subscribe") return false;
      $("load-error").textContent = t("The live figures could not be loaded: {reason}", { reason: errorText(f) });
      $("load-error").hidden = false;
      setText($("load-updated"), "");
      return true;
    default:
      return false;
  }
}

// ------------------------------------------------------------------ charts (inline SVG)

const W = 720;
const H = 250;
const M = { left: 52, right: 52, top: 14, bottom: 36 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

// A round step for about `parts` gridlines up to `max`.
function niceStep(max, parts, steps) {
  const raw = max / parts;
  for (const step of steps) if (step >= raw) return step;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 5, 10]) if (f * magnitude >= raw) return f * magnitude;
  return raw;
}

const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000];
const SECOND_STEPS = [5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200];

function yScale(max) {
  return (v) => M.top + PLOT_H - (Math.max(0, v) / max) * PLOT_H;
}

function chartSvg(label, titleId) {
  return svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": titleId,
    class: "chart",
    preserveAspectRatio: "xMidYMid meet",
    focusable: "false",
  }, svg("title", { id: titleId }, label));
}

function leftAxis(root, max, step, format) {
  const y = yScale(max);
  for (let v = 0; v <= max + 1e-9; v += step) {
    root.append(
      svg("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }),
      svg("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, format(v)),
    );
  }
}

function rightAxis(root, format) {
  const y = yScale(1);
  for (const v of [0, 0.5, 1]) {
    root.append(svg("text", { x: W - M.right + 6, y: y(v) + 4, "text-anchor": "start", class: "tick" }, format(v)));
  }
}

function xLabels(root, n, labelAt) {
  const band = PLOT_W / n;
  for (let i = 0; i < n; i += 1) {
    const text = labelAt(i);
    if (text) {
      root.append(svg("text", { x: M.left + band * i + band / 2, y: H - M.bottom + 16, "text-anchor": "middle", class: "tick" }, text));
    }
  }
}

// Lines through consecutive known values, and a marker at each.
function series(root, values, max, cls, marker) {
  const n = values.length;
  const band = PLOT_W / n;
  const y = yScale(max);
  const x = (i) => M.left + band * i + band / 2;
  // Hourly buckets are mostly empty at night: points alone read better than broken lines.
  const joined = n <= 48;
  let run = [];
  const flush = () => {
    if (joined && run.length > 1) root.append(svg("polyline", { points: run.join(" "), class: `line ${cls}` }));
    run = [];
  };
  values.forEach((v, i) => {
    if (isNumber(v)) run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    else flush();
  });
  flush();
  const r = joined ? 3.5 : 2.2;
  values.forEach((v, i) => {
    if (!isNumber(v)) return;
    root.append(
      marker === "square"
        ? svg("rect", { x: x(i) - r, y: y(v) - r, width: r * 2, height: r * 2, class: `marker ${cls}` })
        : svg("circle", { cx: x(i), cy: y(v), r, class: `marker ${cls}` }),
    );
  });
}

function xLabelFor(buckets, by, days) {
  if (by === "day") {
    const step = Math.ceil(buckets.length / 10);
    return (i) => (i % step === 0 ? shortDate(buckets[i].start) : "");
  }
  const everyDays = Math.ceil(days / 8);
  return (i) => {
    const day = Math.floor(i / 24);
    return i % 24 === 0 && day % everyDays === 0 ? shortDate(buckets[i].start) : "";
  };
}

// The chart in a scroller: on narrow screens it keeps a legible size and scrolls.
function chartFigure(caption, root, ...rest) {
  const captionId = `${root.querySelector("title").id}-caption`;
  return el("figure", { class: "chart-figure" },
    el("figcaption", { id: captionId }, caption),
    el("div", { class: "chart-scroll", role: "group", "aria-labelledby": captionId }, root),
    ...rest,
  );
}

// Only a scroller that scrolls takes keyboard focus (so that it can be scrolled).
function updateScrollers() {
  for (const node of document.querySelectorAll(".chart-scroll")) {
    if (node.scrollWidth > node.clientWidth + 1) node.setAttribute("tabindex", "0");
    else node.removeAttribute("tabindex");
  }
}

function legend(items) {
  return el("ul", { class: "chart-legend" },
    ...items.map(([cls, text]) => el("li", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text)));
}

function questionsChart(data) {
  const buckets = data.buckets;
  const n = Math.max(1, buckets.length);
  const max0 = Math.max(1, ...buckets.map((b) => b.offered || 0));
  const step = niceStep(max0, 4, COUNT_STEPS);
  const max = step * Math.ceil(max0 / step);
  const titleId = `chart-questions-${data.by}`;
  const label = data.by === "hour"
    ? t("Bar chart: questions and answered questions per hour, with the service level as a line. The same figures are in the table below.")
    : t("Bar chart: questions and answered questions per day, with the service level as a line. The same figures are in the table below.");
  const root = chartSvg(label, titleId);
  leftAxis(root, max, step, (v) => integer.format(v));
  rightAxis(root, (v) => percentFormat.format(v));
  const band = PLOT_W / n;
  const barW = Math.max(0.6, band * 0.72);
  const y = yScale(max);
  buckets.forEach((b, i) => {
    const x = M.left + band * i + (band - barW) / 2;
    const tip = `${bucketLabel(b.start, data.by)}: ${t("Questions")} ${count(b.offered)}, ${t("Answered")} ${count(b.answered)}, ${t("Service level")} ${percent(b.service_level)}`;
    const g = svg("g", {}, svg("title", {}, tip));
    if (b.offered > 0) g.append(svg("rect", { x, y: y(b.offered), width: barW, height: M.top + PLOT_H - y(b.offered), class: "bar-offered" }));
    if (b.answered > 0) g.append(svg("rect", { x: x + barW * 0.2, y: y(b.answered), width: barW * 0.6, height: M.top + PLOT_H - y(b.answered), class: "bar-answered" }));
    root.append(g);
  });
  series(root, buckets.map((b) => b.service_level), 1, "series-level", "circle");
  xLabels(root, n, xLabelFor(buckets, data.by, data.days));
  return chartFigure(t("Questions and service level"), root,
    legend([["swatch-offered", t("Questions")], ["swatch-answered", t("Answered")], ["swatch-level", t("Service level (right-hand scale)")]]),
  );
}

function waitChart(data) {
  const buckets = data.buckets;
  const n = Math.max(1, buckets.length);
  const target = data.target_answer_seconds;
  const values = buckets.flatMap((b) => [b.average_wait_seconds, b.p90_wait_seconds]).filter(isNumber);
  const max0 = Math.max(10, (target || 0) * 1.2, ...values);
  const step = niceStep(max0, 4, SECOND_STEPS);
  const max = step * Math.ceil(max0 / step);
  const titleId = `chart-wait-${data.by}`;
  const label = data.by === "hour"
    ? t("Line chart: average wait and the 90th percentile wait per hour, with the target. The same figures are in the table below.")
    : t("Line chart: average wait and the 90th percentile wait per day, with the target. The same figures are in the table below.");
  const root = chartSvg(label, titleId);
  // Whole minutes when the gridlines are whole minutes apart, otherwise seconds.
  leftAxis(root, max, step, (v) => (step % 60 === 0 ? `${v / 60} min` : `${v} s`));
  const y = yScale(max);
  if (isNumber(target)) {
    root.append(
      svg("line", { x1: M.left, x2: W - M.right, y1: y(target), y2: y(target), class: "target" }),
      svg("text", { x: W - M.right + 6, y: y(target) + 4, class: "tick" }, t("target")),
    );
  }
  series(root, buckets.map((b) => b.p90_wait_seconds), max, "series-p90", "square");
  series(root, buckets.map((b) => b.average_wait_seconds), max, "series-average", "circle");
  xLabels(root, n, xLabelFor(buckets, data.by, data.days));
  return chartFigure(t("Waiting times"), root,
    legend([["swatch-average", t("Average wait")], ["swatch-p90", t("Wait, 90th percentile")], ["swatch-target", t("Target: {seconds} s", { seconds: count(target) })]]),
  );
}

function hoursChart(data) {
  const hoursOfDay = data.hour_of_day || [];
  const top = new Set((data.busiest_hours || []).map((h) => h.hour));
  const max0 = Math.max(1, ...hoursOfDay.map((h) => h.offered || 0));
  const step = niceStep(max0, 4, COUNT_STEPS);
  const max = step * Math.ceil(max0 / step);
  const titleId = `chart-hours-${data.by}`;
  const root = chartSvg(t("Bar chart: questions by hour of the day over the period, the busiest hours darker. The same figures are in the table below."), titleId);
  leftAxis(root, max, step, (v) => integer.format(v));
  const n = 24;
  const band = PLOT_W / n;
  const barW = band * 0.72;
  const y = yScale(max);
  for (const h of hoursOfDay) {
    if (!(h.offered > 0)) continue;
    root.append(svg("g", {},
      svg("title", {}, `${hours(h.hour)}: ${t("Questions")} ${count(h.offered)}`),
      svg("rect", { x: M.left + band * h.hour + (band - barW) / 2, y: y(h.offered), width: barW, height: M.top + PLOT_H - y(h.offered), class: top.has(h.hour) ? "bar-answered" : "bar-offered" }),
    ));
  }
  xLabels(root, n, (i) => String(i).padStart(2, "0"));
  const busiest = data.busiest_hours || [];
  const top3 = busiest.length
    ? el("ol", { class: "busiest" }, ...busiest.map((h) => el("li", {}, t("{hours}: {count} questions", { hours: hours(h.hour), count: count(h.offered) }))))
    : el("p", { class: "muted" }, t("No questions in this period."));
  const figure = chartFigure(t("Busiest hours"), root,
    legend([["swatch-offered", t("Questions")], ["swatch-answered", t("The three busiest hours")]]),
    el("details", { class: "chart-table" },
      el("summary", {}, t("Show the figures as a table")),
      el("div", { class: "table-wrap" },
        el("table", { class: "log-table" },
          el("caption", {}, t("Questions by hour of the day")),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("Hour")), el("th", { scope: "col" }, t("Questions")))),
          el("tbody", {}, ...hoursOfDay.map((h) => el("tr", {}, el("th", { scope: "row" }, hours(h.hour)), el("td", { class: "num" }, count(h.offered))))),
        ),
      ),
    ),
  );
  figure.querySelector("figcaption").after(top3); // the top three first, as text
  return figure;
}

function bucketTable(data) {
  const hourly = data.by === "hour";
  const shown = hourly ? data.buckets.filter((b) => b.offered > 0) : data.buckets;
  const headers = [
    hourly ? t("Hour") : t("Day"), t("Questions"), t("Answered"), t("Answered share"), t("Service level"),
    t("Average wait"), t("Wait, 90th percentile"), t("Missed alerts"), t("Declined alerts"),
    t("Cancelled"), t("Timed out"), t("Moved to another ring"),
  ];
  const row = (label, b) => el("tr", {},
    el("th", { scope: "row" }, label),
    ...[count(b.offered), count(b.answered), percent(b.answered_share), percent(b.service_level),
      seconds(b.average_wait_seconds), seconds(b.p90_wait_seconds), count(b.missed_offers),
      count(b.declined_offers), count(b.cancelled), count(b.timed_out), count(b.overflowed)]
      .map((v) => el("td", { class: "num" }, v)));
  return el("details", { class: "chart-table" },
    el("summary", {}, t("Show the figures as a table")),
    hourly ? el("p", { class: "muted small" }, t("Hours without questions are left out.")) : "",
    el("div", { class: "table-wrap", role: "region", "aria-label": t("Figures per period"), tabindex: "0" },
      el("table", { class: "log-table" },
        el("caption", {}, hourly ? t("Figures per hour") : t("Figures per day")),
        el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...shown.map((b) => row(bucketLabel(b.start, data.by), b))),
        data.total ? el("tfoot", {}, row(t("Total"), data.total)) : "",
      ),
    ),
  );
}

// ------------------------------------------------------------------ history and people

function csvHref(ringId, days, by) {
  return `/api/load/rings/${encodeURIComponent(ringId)}/history.csv?days=${days}&by=${by}`;
}

function fillRingSelect() {
  const select = $("history-ring");
  if (!select) return;
  const current = select.value;
  const rings = [...state.rings.values()].map((e) => e.ring);
  if (!rings.length) {
    select.replaceChildren(el("option", { value: "" }, t("No rings")));
    select.disabled = true;
    $("history").replaceChildren();
    $("history-csv").hidden = true;
    $("people").replaceChildren();
    setText($("history-status"), "");
    setText($("people-status"), "");
    return;
  }
  select.replaceChildren(...rings.map((r) => el("option", { value: r.ring_id }, ringLabel(r.ring_id, r.name))));
  select.disabled = false;
  const keep = rings.some((r) => r.ring_id === current);
  // The first ring whose figures may be shown, unless one was chosen already.
  select.value = keep ? current : (rings.find((r) => !r.suppressed) || rings[0]).ring_id;
  if (!keep) loadDetails();
}

function showDetails(ringId) {
  // Loaded afresh: today's figures may have changed since the ring was last chosen.
  $("history-ring").value = ringId;
  loadDetails();
  $("ring-details-heading").focus();
  $("ring-details").scrollIntoView({ block: "start" });
}

function loadDetails() {
  loadHistory();
  loadPeople();
}

async function loadHistory() {
  const ringId = $("history-ring").value;
  const days = $("history-days").value;
  const by = $("history-by").value;
  const serial = ++state.historySerial;
  const link = $("history-csv");
  const box = $("history");
  if (!ringId) return;
  const ring = state.rings.get(ringId)?.ring;
  box.dataset.suppressed = String(Boolean(ring?.suppressed));
  if (ring?.suppressed) {
    link.hidden = true;
    box.replaceChildren(el("p", { class: "suppressed-note" }, errorText({ code: "suppressed" })));
    setText($("history-status"), "");
    return;
  }
  link.href = csvHref(ringId, days, by);
  link.hidden = false;
  setText($("history-status"), t("Loading…"));
  box.setAttribute("aria-busy", "true");
  try {
    const data = await api("GET", `/api/load/rings/${encodeURIComponent(ringId)}/history?days=${days}&by=${by}`);
    if (serial !== state.historySerial) return;
    const total = data.total || {};
    const first = data.buckets[0]?.start;
    const last = data.buckets[data.buckets.length - 1]?.start;
    const summary = el("dl", { class: "figures" });
    box.replaceChildren(
      el("h3", {}, t("{ring}: the last {days} days", { ring: ringLabel(data.ring_id, data.name), days: data.days })),
      first ? el("p", { class: "muted small" }, t("From {first} to {last}, time zone {zone}.", { first: shortDate(first), last: shortDate(last), zone: data.time_zone })) : "",
      summary,
      total.offered ? "" : el("p", { class: "muted" }, t("No questions in this period.")),
      el("div", { class: "charts" }, questionsChart(data), waitChart(data)),
      bucketTable(data),
      el("div", { class: "charts" }, hoursChart(data)),
    );
    summary.replaceWith(figureListFilled(total, data.target_answer_seconds));
    updateScrollers();
    setText($("history-status"), "");
  } catch (e) {
    if (serial !== state.historySerial) return;
    box.replaceChildren();
    link.hidden = true;
    setText($("history-status"), t("The history could not be loaded: {reason}", { reason: errorText(e) }));
  } finally {
    if (serial === state.historySerial) box.removeAttribute("aria-busy");
  }
}

function figureListFilled(fig, target) {
  const list = figureList();
  fillFigures(list, fig, target);
  return list;
}

function personTable(caption, firstHeader, rows, nameOf, live = false) {
  return el("div", { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    el("table", { class: "log-table load-people" },
      el("caption", { class: "visually-hidden" }, caption),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, firstHeader),
        ...[t("Alerts"), t("Answered"), t("Missed alerts"), t("Declined alerts")].map((h) => el("th", { scope: "col", class: "num" }, h)),
        live ? el("th", { scope: "col" }, t("Now")) : null,
      )),
      el("tbody", {}, ...rows.map((r) => el("tr", {},
        el("th", { scope: "row" }, nameOf(r)),
        ...[r.offers, r.answered, r.missed, r.declined].map((v) => el("td", { class: "num" }, count(v))),
        live ? el("td", { class: r.not_responding ? "not-responding" : "" }, r.not_responding ? t("Not responding") : "–") : null,
      ))),
    ),
  );
}

async function loadPeople() {
  const ringId = $("history-ring").value;
  const days = $("people-days").value;
  const serial = ++state.peopleSerial;
  const box = $("people");
  if (!ringId) return;
  setText($("people-status"), t("Loading…"));
  try {
    const data = await api("GET", `/api/load/rings/${encodeURIComponent(ringId)}/people?days=${days}`);
    if (serial !== state.peopleSerial) return;
    if (data.suppressed) {
      box.replaceChildren(el("p", { class: "suppressed-note" }, t("No figures per person: this ring has fewer than 3 members.")));
      setText($("people-status"), "");
    } else if (!data.people.length) {
      box.replaceChildren();
      setText($("people-status"), t("No figures per person to show: you see only your own and those of the people in the units you supervise."));
    } else {
      const known = state.rings.get(ringId)?.ring;
      const ringName = known ? ringLabel(known.ring_id, known.name) : ringId;
      box.replaceChildren(personTable(t("Figures per person: {ring}", { ring: ringName }), t("Name"), data.people, (p) => p.name, true));
      setText($("people-status"), "");
    }
  } catch (e) {
    if (serial !== state.peopleSerial) return;
    box.replaceChildren();
    setText($("people-status"), t("The figures per person could not be loaded: {reason}", { reason: errorText(e) }));
  }
}

async function loadMe() {
  const days = $("me-days").value;
  const serial = ++state.meSerial;
  const box = $("me");
  setText($("me-status"), t("Loading…"));
  try {
    const data = await api("GET", `/api/load/me?days=${days}`);
    if (serial !== state.meSerial) return;
    if (!data.rings.length) {
      box.replaceChildren();
      setText($("me-status"), t("You are not a member of any ring, so there are no figures of your own to show."));
      return;
    }
    box.replaceChildren(personTable(t("My figures"), t("Ring"), data.rings, (r) => ringLabel(r.ring_id, r.name)));
    setText($("me-status"), "");
  } catch (e) {
    if (serial !== state.meSerial) return;
    box.replaceChildren();
    setText($("me-status"), t("Your figures could not be loaded: {reason}", { reason: errorText(e) }));
  }
}

// ------------------------------------------------------------------ the view

for (const id of ["history-form", "people-form", "me-form"]) {
  $(id)?.addEventListener("submit", (e) => e.preventDefault());
}
$("me-days").addEventListener("change", loadMe);
if (config.sees_rings) {
  $("history-ring").addEventListener("change", loadDetails);
  $("history-days").addEventListener("change", loadHistory);
  $("history-by").addEventListener("change", loadHistory);
  $("people-days").addEventListener("change", loadPeople);
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(updateScrollers, 200);
  });
}

export function createLoad({ socket }) {
  let shown = false;
  let ticking = null;
  const subscribe = () => config.sees_rings && socket.raw({ type: "load_subscribe", ref: "load" });
  return {
    frame: onFrame,
    // The server forgets subscriptions with the socket: after a reconnect, again.
    welcome() {
      if (shown) subscribe();
    },
    async enter() {
      shown = true;
      subscribe();
      // Sizes changed while the view was hidden: which charts scroll is known only now.
      updateScrollers();
      if (config.sees_rings && !ticking) {
        ticking = setInterval(() => {
          for (const entry of state.rings.values()) tickCard(entry);
        }, 1000);
      }
      await loadMe();
    },
    leave() {
      shown = false;
      if (config.sees_rings) socket.raw({ type: "load_unsubscribe" });
      clearInterval(ticking);
      ticking = null;
    },
  };
}
