// Presence in the page, in one place: the views the server sent (welcome.presence,
// `presence`, `presence_set` and `presence_views` frames, people from the API), whose
// presence the page asks for, and the badges that display them. The server sends a
// connection the presence of its own person, the members of its conversations, and the
// people it watches (docs/protocol.md "Whose presence a client gets"): views call
// watch(ids, source) for the people they show, and this module keeps the server told.
import { el } from "./dom.js";
import { t } from "./i18n.js";
import * as fmt from "./format.js";

const labels = JSON.parse(document.getElementById("labels").textContent);
const MAX_WATCH = 1000; // LIAISON_MAX_WATCH's default
const views = new Map(); // person id -> presence view
const listeners = new Set();
const sources = new Map(); // what shows people (directory, person) -> their ids
let sentWatch = "";
let socket = null;
let presenceAt = null; // the server's time of the latest views received

export function viewOf(personId) {
  return views.get(personId) || null;
}

export function statusOf(personId) {
  return views.get(personId)?.status || "offline";
}

function watchList() {
  const ids = new Set();
  for (const list of sources.values()) for (const id of list) ids.add(id);
  return [...ids].slice(0, MAX_WATCH);
}

// The people a part of the page shows now (it replaces what that part showed before).
export function watch(personIds, source = "view") {
  sources.set(source, personIds.filter((id) => typeof id === "number"));
  const list = watchList();
  const key = JSON.stringify(list);
  if (key === sentWatch || !socket?.welcomed) return;
  sentWatch = key;
  socket.raw({ type: "watch", people: list });
}

export function watching() {
  return watchList();
}

// The socket that carries watch frames; its hello carries the list and the catch-up time.
export function connect(liaisonSocket) {
  socket = liaisonSocket;
}

export function helloFields() {
  const list = watchList();
  sentWatch = JSON.stringify(list);
  return presenceAt ? { watch: list, presence_since: presenceAt } : { watch: list };
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

// What the welcome carries: the views to start from (or, after a reconnect with
// presence_since, those that changed meanwhile).
export function fromWelcome(welcome) {
  for (const view of welcome.presence || []) set(view);
  if (welcome.presence_at) presenceAt = welcome.presence_at;
  // What changed while the hello was on its way is said again.
  const key = JSON.stringify(watchList());
  if (key !== sentWatch && socket) {
    sentWatch = key;
    socket.raw({ type: "watch", people: watchList() });
  }
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
  if (frame.type === "presence_views") {
    for (const view of frame.presence || []) set(view);
    if (frame.presence_at) presenceAt = frame.presence_at;
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

// A live badge: it follows the person's presence while it is in the page (the part of
// the page that shows it watches the person).
export function badge(personId) {
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
