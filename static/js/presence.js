// Presence in the page, in one place: the views the server sent (welcome.presence,
// `presence` and `presence_set` frames, people from the API), who the page shows, and the
// badges that display them. Views call watch(ids) for the people they show; today the
// server sends every change to everyone, so watching only records interest, and a
// protocol that sends presence to watchers only changes this module alone.
import { el } from "./dom.js";
import { t } from "./i18n.js";
import * as fmt from "./format.js";

const labels = JSON.parse(document.getElementById("labels").textContent);
const views = new Map(); // person id -> presence view
const listeners = new Set();
const watched = new Set();

export function viewOf(personId) {
  return views.get(personId) || null;
}

export function statusOf(personId) {
  return views.get(personId)?.status || "offline";
}

// Interest in these people's presence (the people a view shows).
export function watch(personIds) {
  for (const id of personIds) if (id) watched.add(id);
}

export function watching() {
  return [...watched];
}

export function onChange(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

function set(view) {
  if (!view || typeof view.person_id !== "number") return;
  views.set(view.person_id, view);
  refreshBadges(view.person_id);
  for (const callback of listeners) callback(view.person_id, view);
}

// What the welcome carries: the views to start from.
export function fromWelcome(welcome) {
  for (const view of welcome.presence || []) set(view);
}

// A frame of the protocol; true when it was about presence.
export function fromFrame(frame) {
  if (frame.type === "presence") {
    set(frame);
    return true;
  }
  if (frame.type === "presence_set") {
    set(frame.presence);
    return true;
  }
  return false;
}

// People from the HTTP API carry their view: used until a frame brings a newer one.
export function fromPerson(person) {
  if (person?.presence && !views.has(person.id)) set(person.presence);
}

export function inPhoneHoursNow(view) {
  if (!view || !view.phone_hours?.length) return false;
  const now = fmt.localNow();
  return view.phone_hours.some((h) => h.day === now.weekday && h.start <= now.hm && now.hm < h.end);
}

export function label(view) {
  if (!view) return labels.status.offline;
  let text = labels.status[view.status] || view.status;
  if (view.status === "dnd" && view.dnd_until) text += " " + t("until {time}", { time: fmt.when(view.dnd_until) });
  if (view.status === "offline" && view.last_seen) text += " · " + t("last seen {time}", { time: fmt.when(view.last_seen) });
  if (view.out_of_office_until) text += " · " + t("Out of office until {date}", { date: fmt.calendarDate(view.out_of_office_until) });
  if (inPhoneHoursNow(view)) text += " · " + t("Phone hours now");
  if (view.note) text += ` – ${view.note}`;
  return text;
}

export function phoneHoursText(view) {
  return (view?.phone_hours || []).map((h) => `${labels.weekdays[h.day]} ${h.start}–${h.end}`).join(", ");
}

// A live badge: it follows the person's presence while it is in the page.
export function badge(personId) {
  watch([personId]);
  const view = views.get(personId);
  return el(
    "span",
    { class: `presence status-${view ? view.status : "offline"}`, "data-presence-of": personId },
    el("span", { class: "dot", "aria-hidden": "true" }),
    el("span", { class: "presence-text" }, label(view)),
  );
}

function refreshBadges(personId) {
  const view = views.get(personId);
  for (const node of document.querySelectorAll(`[data-presence-of="${personId}"]`)) {
    node.className = `presence status-${view ? view.status : "offline"}`;
    const text = node.querySelector(".presence-text");
    const value = label(view);
    if (text && text.textContent !== value) text.textContent = value;
  }
}
