// The consultation log (/log): my consultations, filters, and the client lookup.
import { el } from "../dom.js";
import { api, t } from "../i18n.js";
import * as fmt from "../format.js";
import * as people from "../people.js";

const $ = (id) => document.getElementById(id);
const labels = JSON.parse($("labels").textContent);
let records = [];
let ringNames = new Map();

const STATES = {
  waiting: () => t("Waiting"),
  open: () => t("Open"),
  closed: () => t("Closed"),
  cancelled: () => t("Cancelled"),
  timed_out: () => t("Nobody answered in time"),
};

function ringName(id) {
  if (!id) return "–";
  if (ringNames.has(id)) return ringNames.get(id);
  if (id.startsWith("named:")) return t("Named contacts") + ` (${id.split(":").slice(2).join(":")})`;
  return id;
}

function name(id) {
  return id ? people.name(id) : "–";
}

function when(iso) {
  return iso ? fmt.dateTime(iso) : "–";
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  const s = Math.round(value);
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}

function outcomeText(c) {
  if (c.outcome) return labels.outcomes[c.outcome] || c.outcome;
  return STATES[c.state]?.() || c.state;
}

async function knowPeople(list) {
  await people.known(list.flatMap((c) => [c.asker_id, c.expert_id, c.third_party_id]));
}

function renderLog() {
  const ring = $("log-filter-ring").value;
  const outcome = $("log-filter-outcome").value;
  const topic = $("log-filter-topic").value;
  const legal = $("log-filter-legal").value;
  const shown = records.filter(
    (c) =>
      (!ring || c.ring_id === ring) &&
      (!outcome || c.outcome === outcome) &&
      (!topic || c.topic === topic) &&
      (!legal || c.legal_basis === legal),
  );
  $("log-count").textContent = t("Consultations shown: {count} of {total}", { count: shown.length, total: records.length });
  $("log-body").replaceChildren(
    ...shown.map((c) =>
      el(
        "tr",
        { "data-consultation-id": c.id },
        el("td", {}, el("time", { datetime: c.asked_at }, when(c.asked_at))),
        el("td", {}, c.kind === "callback" ? [t("Callback request"), c.ring_id ? ` (${ringName(c.ring_id)})` : ""] : ringName(c.ring_id)),
        el("td", { class: "question" }, c.question || "–"),
        el("td", {}, name(c.asker_id)),
        el("td", {}, name(c.expert_id), c.third_party_id ? ` + ${name(c.third_party_id)}` : ""),
        el("td", { class: "num" }, seconds(c.wait_seconds)),
        el("td", { class: "num" }, seconds(c.handle_seconds)),
        el("td", { class: "num" }, String(c.missed_offers ?? 0)),
        el("td", {}, outcomeText(c)),
        el("td", {}, c.topic ? labels.topics[c.topic] || c.topic : "–"),
        el("td", {}, c.legal_basis ? labels.legal_bases[c.legal_basis] || c.legal_basis : "–"),
        el("td", {}, c.client_ref ? el("code", {}, c.client_ref) : "–"),
        el("td", { class: "question" }, c.asker_note || "–"),
      ),
    ),
  );
}

async function loadLog() {
  try {
    const data = await api("GET", "/api/consultations?limit=100");
    records = data.consultations;
    await knowPeople(records);
    renderLog();
  } catch (e) {
    $("log-count").textContent = t("The log could not be loaded: {reason}", { reason: e.message });
  }
}

async function lookup(event) {
  event.preventDefault();
  const input = $("lookup-code");
  const code = input.value.trim().toUpperCase();
  $("lookup-error").hidden = true;
  if (!code) {
    $("lookup-error").textContent = t("Write the personal identity code first.");
    $("lookup-error").hidden = false;
    input.focus();
    return;
  }
  try {
    const data = await api("POST", "/api/consultations/lookup", { client_code: code });
    // The code has done its job: it does not stay in the page.
    input.value = "";
    await knowPeople(data.consultations);
    const found = data.consultations;
    $("lookup-result").replaceChildren(
      el("p", {}, t("Client reference"), ": ", el("code", {}, data.client_ref), " – ",
        found.length
          ? t("earlier consultations: {count}", { count: found.length })
          : t("no earlier consultations.")),
      found.length
        ? el("div", { class: "table-wrap", role: "region", "aria-label": t("Earlier consultations on this client"), tabindex: "0" },
            el("table", { class: "log-table" },
              el("thead", {}, el("tr", {},
                ...[t("Asked"), t("Ring"), t("Asked by"), t("Answered by"), t("Outcome"), t("Topic"), t("Legal basis")].map((h) => el("th", { scope: "col" }, h)),
              )),
              el("tbody", {}, ...found.map((c) => el("tr", {},
                el("td", {}, el("time", { datetime: c.asked_at }, when(c.asked_at))),
                el("td", {}, ringName(c.ring_id)),
                el("td", {}, name(c.asker_id)),
                el("td", {}, name(c.expert_id)),
                el("td", {}, outcomeText(c)),
                el("td", {}, c.topic ? labels.topics[c.topic] || c.topic : "–"),
                el("td", {}, c.legal_basis ? labels.legal_bases[c.legal_basis] || c.legal_basis : "–"),
              ))),
            ),
          )
        : "",
    );
  } catch (e) {
    $("lookup-error").textContent =
      e.code === "invalid_identity_code"
        ? t("That is not a valid personal identity code. Check the code or leave the field empty.")
        : e.message;
    $("lookup-error").hidden = false;
  }
}

function fillRings(rings) {
  ringNames = new Map(rings.map((r) => [r.id, r.name]));
  const select = $("log-filter-ring");
  const current = select.value;
  select.replaceChildren(el("option", { value: "" }, t("All")), ...rings.map((r) => el("option", { value: r.id }, r.name)));
  if (ringNames.has(current)) select.value = current;
}

$("lookup-form").addEventListener("submit", lookup);
for (const id of ["log-filter-ring", "log-filter-outcome", "log-filter-topic", "log-filter-legal"]) $(id).addEventListener("change", renderLog);
$("log-filters").addEventListener("submit", (e) => e.preventDefault());

export function createLog({ rings }) {
  return {
    async enter() {
      fillRings(rings());
      await loadLog();
    },
  };
}
