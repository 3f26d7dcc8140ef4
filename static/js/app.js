// The main page: directory with live presence, conversations, and the open chat.
import { el } from "./dom.js";
import { api, t } from "./i18n.js";
import { LiaisonSocket } from "./socket.js";
import { initRings } from "./rings.js";

const labels = JSON.parse(document.getElementById("labels").textContent);
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  presence: new Map(), // person id -> presence view
  people: new Map(), // person id -> directory entry (as loaded)
  conversations: new Map(), // id -> summary
  messages: new Map(), // conversation id -> Map(seq -> message)
  openId: null,
  typing: new Map(), // conversation id -> Map(person id -> timeout)
  searchResults: [],
  shownPerson: null, // the person whose card is open
};

const socket = new LiaisonSocket(() => {
  const cursors = {};
  for (const [id, msgs] of state.messages) {
    const seqs = [...msgs.keys()];
    if (seqs.length) cursors[id] = Math.max(...seqs);
  }
  return cursors;
}, watchedPeople);

// Presence comes only for the people this page shows (and for the members of one's
// conversations, which the server adds itself): the search results and the open person.
function watchedPeople() {
  const ids = new Set(state.searchResults.map((p) => p.id));
  if (state.shownPerson) ids.add(state.shownPerson);
  return [...ids].slice(0, 1000);
}

function sendWatch() {
  // Before the welcome, the hello carries the same list.
  if (socket.welcomed) socket.raw({ type: "watch", people: watchedPeople() });
}

// ------------------------------------------------------------------ helpers

function initials(person) {
  return `${(person.first_name || "?")[0]}${(person.last_name || "")[0] || ""}`.toUpperCase();
}

function avatar(person, size = "") {
  if (person.photo_url) {
    return el("img", { class: `avatar ${size}`, src: person.photo_url, alt: "" });
  }
  return el("span", { class: `avatar initials ${size}`, "aria-hidden": "true" }, initials(person));
}

function personName(id) {
  const p = state.people.get(id);
  return p ? p.name : t("Person {id}", { id });
}

function formatTime(iso) {
  const d = new Date(iso);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const lang = document.documentElement.lang;
  return sameDay
    ? d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString(lang, { day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" });
}

function presenceLabel(view) {
  if (!view) return labels.status.offline;
  let text = labels.status[view.status] || view.status;
  if (view.status === "dnd" && view.dnd_until) text += " " + t("until {time}", { time: formatTime(view.dnd_until) });
  if (view.status === "offline" && view.last_seen) text += " · " + t("last seen {time}", { time: formatTime(view.last_seen) });
  if (view.out_of_office_until) text += " · " + t("Out of office until {date}", { date: formatDate(view.out_of_office_until) });
  if (inPhoneHoursNow(view)) text += " · " + t("Phone hours now");
  if (view.note) text += ` – ${view.note}`;
  return text;
}

function formatDate(isoDate) {
  return new Date(`${isoDate}T12:00:00`).toLocaleDateString(document.documentElement.lang);
}

function presenceBadge(personId) {
  const view = state.presence.get(personId);
  const status = view ? view.status : "offline";
  const badge = el(
    "span",
    { class: `presence status-${status}`, "data-presence-of": personId },
    el("span", { class: "dot", "aria-hidden": "true" }),
    el("span", { class: "presence-text" }, presenceLabel(view)),
  );
  return badge;
}

function inPhoneHoursNow(view) {
  if (!view || !view.phone_hours?.length) return false;
  const now = new Date();
  const day = (now.getDay() + 6) % 7;
  const hm = now.toTimeString().slice(0, 5);
  return view.phone_hours.some((h) => h.day === day && h.start <= hm && hm < h.end);
}

function linkify(text) {
  // Text nodes only: the body is never parsed as HTML.
  const parts = [];
  const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
  let last = 0;
  for (const match of text.matchAll(re)) {
    parts.push(text.slice(last, match.index));
    parts.push(el("a", { href: match[0], rel: "noopener noreferrer", target: "_blank" }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

// ------------------------------------------------------------------ presence

function updatePresenceViews(personId) {
  const view = state.presence.get(personId);
  for (const badge of document.querySelectorAll(`[data-presence-of="${personId}"]`)) {
    badge.className = `presence status-${view ? view.status : "offline"}`;
    badge.querySelector(".presence-text").textContent = presenceLabel(view);
  }
  if (state.me && personId === state.me.id && view) {
    const select = $("my-status-select");
    const manual = view.status === "dnd" || view.status === "away" ? view.status : "available";
    if (document.activeElement !== select) select.value = manual;
    document.body.dataset.myStatus = view.status;
    if (document.activeElement !== $("my-note")) $("my-note").value = view.note || "";
    syncDndControls();
  }
}

function syncDndControls() {
  const dnd = $("my-status-select").value === "dnd";
  for (const node of document.querySelectorAll(".dnd-only")) node.hidden = !dnd;
}

async function setMyStatus() {
  const status = $("my-status-select").value;
  syncDndControls();
  const frame = { type: "set_presence", status };
  const minutes = $("dnd-minutes").value;
  if (status === "dnd" && minutes) {
    frame.dnd_until = new Date(Date.now() + Number(minutes) * 60000).toISOString();
  }
  socket.raw(frame);
}

// ------------------------------------------------------------------ directory

let searchTimer = null;
let searchSerial = 0;

async function runSearch() {
  const params = new URLSearchParams();
  const q = $("search-input").value.trim();
  if (q) params.set("q", q);
  if ($("filter-benefit").value) params.set("benefit", $("filter-benefit").value);
  if ($("filter-organisation").value) params.set("organisation", $("filter-organisation").value);
  if ($("filter-area").value) params.set("area", $("filter-area").value);
  const serial = ++searchSerial;
  const data = await api("GET", `/api/people?${params}`);
  if (serial !== searchSerial) return; // a newer search has been started meanwhile
  for (const p of data.people) {
    state.people.set(p.id, p);
    if (!state.presence.has(p.id)) state.presence.set(p.id, p.presence);
  }
  state.searchResults = data.people;
  sendWatch();
  renderPeople();
}

function renderPeople() {
  const onlyReachable = $("filter-online").checked;
  const list = $("people-list");
  const shown = state.searchResults.filter((p) => {
    if (!onlyReachable) return true;
    const status = state.presence.get(p.id)?.status;
    return status === "available";
  });
  list.replaceChildren(
    ...shown.map((p) =>
      el(
        "li",
        { class: "person" },
        avatar(p),
        el(
          "div",
          { class: "person-main" },
          el("button", { type: "button", class: "link person-name", onclick: () => showPerson(p.id) }, p.name),
          el("span", { class: "muted small" }, [p.title, p.unit?.name || p.organisation.name].filter(Boolean).join(" · ")),
          presenceBadge(p.id),
        ),
        p.id === state.me?.id
          ? null
          : el(
              "button",
              { type: "button", class: "icon-button", onclick: () => openDirect(p.id), "aria-label": t("Send a message to {name}", { name: p.name }) },
              t("Message"),
            ),
      ),
    ),
  );
  $("people-count").textContent = t("People: {count}", { count: shown.length });
}

function showPerson(personId) {
  const p = state.people.get(personId);
  if (!p) return;
  state.shownPerson = personId;
  sendWatch();
  const view = state.presence.get(personId);
  const hours = (view?.phone_hours || []).map((h) => `${labels.weekdays[h.day]} ${h.start}–${h.end}`);
  const body = el(
    "div",
    { class: "profile-card" },
    avatar(p, "large"),
    el("h2", { id: "person-dialog-name" }, p.name),
    el("p", {}, [p.title, p.organisation.name, p.unit?.name].filter(Boolean).join(" · ")),
    presenceBadge(personId),
    view?.out_of_office_until && view.out_of_office_note ? el("p", { class: "ooo" }, view.out_of_office_note) : null,
    el(
      "dl",
      {},
      p.roles.length ? [el("dt", {}, t("Roles")), el("dd", {}, p.roles.map((r) => labels.roles[r] || r).join(", "))] : null,
      p.benefits.length ? [el("dt", {}, t("Benefits")), el("dd", {}, p.benefits.map((b) => labels.benefits[b] || b).join(", "))] : null,
      p.area ? [el("dt", {}, t("Area")), el("dd", {}, p.area)] : null,
      p.work_phone ? [el("dt", {}, t("Work phone")), el("dd", {}, el("a", { href: `tel:${p.work_phone.replace(/\s/g, "")}` }, p.work_phone))] : null,
      hours.length ? [el("dt", {}, t("Phone hours")), el("dd", {}, hours.join(", "), inPhoneHoursNow(view) ? " (" + t("now") + ")" : "")] : null,
      p.languages.length ? [el("dt", {}, t("Languages")), el("dd", {}, p.languages.join(", "))] : null,
      p.ask_me_about ? [el("dt", {}, t("Ask me about")), el("dd", {}, p.ask_me_about)] : null,
      p.tags.length ? [el("dt", {}, t("Expertise")), el("dd", {}, p.tags.join(", "))] : null,
    ),
  );
  $("person-dialog-body").replaceChildren(body);
  $("person-dialog-chat").hidden = personId === state.me?.id;
  $("person-dialog-chat").onclick = () => {
    $("person-dialog").close();
    openDirect(personId);
  };
  $("person-dialog-callback").hidden = personId === state.me?.id;
  $("person-dialog-callback").onclick = () => {
    $("person-dialog").close();
    rings.requestCallback(personId);
  };
  $("person-dialog").showModal();
}

// ------------------------------------------------------------------ conversations

function conversationTitle(c) {
  if (c.kind === "group") return c.title;
  const other = c.members.find((m) => m.person_id !== state.me?.id);
  return other ? personName(other.person_id) : t("Conversation");
}

function myUnread(c) {
  const mine = c.members.find((m) => m.person_id === state.me?.id);
  return Math.max(0, c.last_seq - (mine ? mine.last_read_seq : 0));
}

async function ensurePeopleKnown(ids) {
  const missing = ids.filter((id) => !state.people.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        const p = await api("GET", `/api/people/${id}`);
        state.people.set(p.id, p);
      } catch (e) {
        /* a removed person keeps a generic name */
      }
    }),
  );
}

function renderConversations() {
  const list = $("conversation-list");
  const sorted = [...state.conversations.values()].sort((a, b) =>
    (b.last_message?.created_at || "").localeCompare(a.last_message?.created_at || ""),
  );
  list.replaceChildren(
    ...sorted.map((c) => {
      const unread = myUnread(c);
      const other = c.kind === "direct" ? c.members.find((m) => m.person_id !== state.me?.id) : null;
      return el(
        "li",
        { class: `conversation${c.id === state.openId ? " open" : ""}` },
        el(
          "button",
          {
            type: "button",
            class: "conversation-button",
            "aria-current": c.id === state.openId ? "true" : null,
            onclick: () => openConversation(c.id),
          },
          el("span", { class: "conversation-title" }, conversationTitle(c)),
          other ? presenceBadge(other.person_id) : el("span", { class: "muted small" }, t("Members: {count}", { count: c.members.length })),
          unread ? el("span", { class: "unread" }, el("span", { class: "visually-hidden" }, t("unread")), ` ${unread}`) : null,
        ),
      );
    }),
  );
  const total = [...state.conversations.values()].reduce((n, c) => n + myUnread(c), 0);
  document.title = total ? `(${total}) Liaison` : "Liaison";
}

async function openDirect(personId) {
  const summary = await api("POST", "/api/conversations", { person_id: personId });
  upsertConversation(summary);
  await openConversation(summary.id);
}

function upsertConversation(c) {
  const known = state.conversations.get(c.id);
  // The shared frame has no per-viewer fields; derive them from the members list.
  state.conversations.set(c.id, { ...known, ...c });
}

async function openConversation(id) {
  state.openId = id;
  const c = state.conversations.get(id);
  await ensurePeopleKnown(c.members.map((m) => m.person_id));
  if (!state.messages.has(id)) {
    const data = await api("GET", `/api/conversations/${id}/messages`);
    const map = new Map();
    for (const m of data.messages) map.set(m.seq, m);
    state.messages.set(id, map);
    $("load-earlier").hidden = data.messages.length === 0 || data.messages[0].seq <= 1;
  } else {
    const seqs = [...state.messages.get(id).keys()];
    $("load-earlier").hidden = !seqs.length || Math.min(...seqs) <= 1;
  }
  $("chat-heading").textContent = conversationTitle(c);
  $("chat-members").textContent = c.kind === "group" ? c.members.map((m) => personName(m.person_id)).join(", ") : "";
  $("manage-group-button").hidden = c.kind !== "group";
  $("compose-form").hidden = false;
  $("chat-empty").hidden = true;
  renderMessages();
  markRead();
  renderConversations();
  rings.conversationShown();
  $("compose-input").focus();
}

async function loadEarlier() {
  const id = state.openId;
  const map = state.messages.get(id);
  const first = Math.min(...map.keys());
  const data = await api("GET", `/api/conversations/${id}/messages?before=${first}`);
  for (const m of data.messages) map.set(m.seq, m);
  $("load-earlier").hidden = data.messages.length === 0 || data.messages[0].seq <= 1;
  renderMessages(false);
}

function renderMessages(scroll = true) {
  const id = state.openId;
  const list = $("message-list");
  const map = state.messages.get(id) || new Map();
  const ordered = [...map.values()].sort((a, b) => a.seq - b.seq);
  const c = state.conversations.get(id);
  const readers = (seq) =>
    c.members.filter((m) => m.person_id !== state.me.id && m.last_read_seq >= seq).map((m) => personName(m.person_id));
  list.replaceChildren(
    ...ordered.map((m) => {
      const mine = m.sender_id === state.me.id;
      const seenBy = mine && m.seq === ordered[ordered.length - 1].seq ? readers(m.seq) : [];
      return el(
        "li",
        { class: `message${mine ? " mine" : ""}${m.pending ? " pending" : ""}`, "data-seq": m.seq },
        el("div", { class: "message-meta" }, el("strong", {}, mine ? t("You") : personName(m.sender_id)), " ", el("time", { datetime: m.created_at || "" }, m.created_at ? formatTime(m.created_at) : t("sending…"))),
        el("div", { class: "message-body" }, linkify(m.body)),
        seenBy.length ? el("div", { class: "muted small" }, t("Seen by {names}", { names: seenBy.join(", ") })) : null,
      );
    }),
  );
  if (scroll) $("message-log").scrollTop = $("message-log").scrollHeight;
}

function markRead() {
  const c = state.conversations.get(state.openId);
  if (!c || document.hidden) return;
  if (myUnread(c) > 0) socket.raw({ type: "read", conversation_id: c.id, seq: c.last_seq });
}

function addMessage(m) {
  const c = state.conversations.get(m.conversation_id);
  if (c) {
    c.last_seq = Math.max(c.last_seq, m.seq);
    if (!c.last_message || c.last_message.seq < m.seq) c.last_message = m;
    if (m.sender_id === state.me.id) {
      const mine = c.members.find((x) => x.person_id === state.me.id);
      if (mine) mine.last_read_seq = Math.max(mine.last_read_seq, m.seq);
    }
  }
  const map = state.messages.get(m.conversation_id);
  if (map) {
    // A gap means frames were missed: ask for what lies between.
    const known = [...map.keys()];
    const highest = known.length ? Math.max(...known) : m.seq - 1;
    map.set(m.seq, m);
    if (m.seq > highest + 1) socket.raw({ type: "sync", conversation_id: m.conversation_id, after_seq: highest });
  }
}

function notifyIncoming(m) {
  if (m.sender_id === state.me.id) return;
  const c = state.conversations.get(m.conversation_id);
  const visible = !document.hidden && state.openId === m.conversation_id;
  if (visible) return;
  if (c?.kind === "direct" && document.hidden) {
    playSound();
    if (window.Notification && Notification.permission === "granted" && localStorage.getItem("liaison-notify") === "on") {
      new Notification(t("Message from {name}", { name: personName(m.sender_id) }), { body: m.body.slice(0, 140), tag: `conversation-${m.conversation_id}` });
    }
  }
}

let audio = null;
// Browsers allow sound only after a user gesture: call this from one (e.g. signing in to a ring).
function primeSound() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch (e) {
    /* sound is a courtesy */
  }
}

// `force`: a ringing question sounds even when chat notifications are off.
function playSound(force = false) {
  if (!force && localStorage.getItem("liaison-notify") !== "on") return;
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (e) {
    /* sound is a courtesy */
  }
}

function renderNotifyButton() {
  const on = localStorage.getItem("liaison-notify") === "on";
  $("notify-button").textContent = on ? t("Turn off notifications") : t("Turn on notifications");
  $("notify-button").setAttribute("aria-pressed", on ? "true" : "false");
}

async function toggleNotifications() {
  if (localStorage.getItem("liaison-notify") === "on") {
    localStorage.setItem("liaison-notify", "off");
  } else {
    if (window.Notification && Notification.permission === "default") await Notification.requestPermission();
    localStorage.setItem("liaison-notify", "on");
  }
  renderNotifyButton();
}

function showTyping(conversationId, personId) {
  const map = state.typing.get(conversationId) || new Map();
  state.typing.set(conversationId, map);
  clearTimeout(map.get(personId));
  map.set(personId, setTimeout(() => {
    map.delete(personId);
    renderTyping();
  }, 4000));
  renderTyping();
}

function renderTyping() {
  const map = state.typing.get(state.openId);
  const names = map ? [...map.keys()].map(personName) : [];
  $("typing-indicator").textContent = names.length ? t("{names} is typing…", { names: names.join(", ") }) : "";
}

// ------------------------------------------------------------------ groups

let groupSelection = new Set();
let groupEditing = null;

function openGroupDialog(conversation = null) {
  groupEditing = conversation;
  groupSelection = new Set(conversation ? conversation.members.map((m) => m.person_id) : []);
  groupSelection.delete(state.me.id);
  $("group-title").value = conversation ? conversation.title : "";
  $("group-dialog-heading").textContent = conversation ? t("Group members") : t("New group");
  $("group-error").hidden = true;
  $("group-search").value = "";
  renderCandidates([...groupSelection].map((id) => state.people.get(id)).filter(Boolean));
  $("group-dialog").showModal();
}

function renderCandidates(people) {
  const shown = new Map(people.map((p) => [p.id, p]));
  for (const id of groupSelection) if (state.people.has(id)) shown.set(id, state.people.get(id));
  shown.delete(state.me.id);
  $("group-candidates").replaceChildren(
    ...[...shown.values()].map((p) =>
      el(
        "li",
        {},
        el("label", { class: "inline" }, el("input", {
          type: "checkbox",
          checked: groupSelection.has(p.id),
          onchange: (e) => (e.target.checked ? groupSelection.add(p.id) : groupSelection.delete(p.id)),
        }), ` ${p.name}`, el("span", { class: "muted small" }, ` ${p.title || ""}`)),
      ),
    ),
  );
}

async function searchCandidates() {
  const q = $("group-search").value.trim();
  const data = await api("GET", `/api/people?q=${encodeURIComponent(q)}&limit=20`);
  for (const p of data.people) state.people.set(p.id, p);
  renderCandidates(data.people);
}

async function saveGroup(event) {
  event.preventDefault();
  try {
    if (!groupEditing) {
      const summary = await api("POST", "/api/conversations", { title: $("group-title").value, members: [...groupSelection] });
      upsertConversation(summary);
      $("group-dialog").close();
      await openConversation(summary.id);
      return;
    }
    const id = groupEditing.id;
    if ($("group-title").value !== groupEditing.title) await api("PATCH", `/api/conversations/${id}`, { title: $("group-title").value });
    const before = new Set(groupEditing.members.map((m) => m.person_id));
    for (const pid of groupSelection) if (!before.has(pid)) await api("POST", `/api/conversations/${id}/members`, { person_id: pid });
    for (const pid of before) if (pid !== state.me.id && !groupSelection.has(pid)) await api("DELETE", `/api/conversations/${id}/members/${pid}`);
    $("group-dialog").close();
  } catch (e) {
    $("group-error").textContent = e.message;
    $("group-error").hidden = false;
  }
}

// ------------------------------------------------------------------ socket frames

socket.addEventListener("status", (event) => {
  const banner = $("connection-banner");
  if (event.detail === "offline") {
    banner.textContent = t("Connection lost. Reconnecting…");
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
});

socket.addEventListener("frame", async (event) => {
  const f = event.detail;
  switch (f.type) {
    case "welcome": {
      state.me = f.me.person;
      state.people.set(state.me.id, state.me);
      for (const view of f.presence) state.presence.set(view.person_id, view);
      state.conversations.clear();
      for (const c of f.conversations) upsertConversation(c);
      for (const m of f.missed) addMessage(m);
      for (const id of f.truncated) state.messages.delete(id);
      await ensurePeopleKnown([...new Set(f.conversations.flatMap((c) => c.members.map((m) => m.person_id)))]);
      for (const id of state.presence.keys()) updatePresenceViews(id);
      renderConversations();
      await rings.welcome(f);
      if (state.openId && state.conversations.has(state.openId)) await openConversation(state.openId);
      if (!state.searchResults.length) runSearch();
      break;
    }
    case "presence":
      state.presence.set(f.person_id, f);
      updatePresenceViews(f.person_id);
      if ($("filter-online").checked) renderPeople();
      break;
    case "presence_set":
      state.presence.set(f.presence.person_id, f.presence);
      updatePresenceViews(f.presence.person_id);
      break;
    case "presence_views":
      for (const view of f.presence) {
        state.presence.set(view.person_id, view);
        updatePresenceViews(view.person_id);
      }
      if ($("filter-online").checked) renderPeople();
      break;
    case "message":
    case "ack": {
      const m = f.message;
      const isNew = !state.messages.get(m.conversation_id)?.has(m.seq);
      if (!state.conversations.has(m.conversation_id)) {
        const summary = await api("GET", "/api/conversations");
        for (const c of summary.conversations) upsertConversation(c);
      }
      addMessage(m);
      if (f.type === "message" && isNew) notifyIncoming(m);
      if (f.type === "ack" && f.redacted > 0) {
        $("compose-notice").textContent = t("A personal identity code in your message was replaced by the client reference; the code was not stored.");
        $("compose-notice").hidden = false;
      }
      if (m.conversation_id === state.openId) {
        renderMessages();
        if (m.sender_id !== state.me.id) markRead();
      }
      renderConversations();
      break;
    }
    case "messages":
      for (const m of f.messages) addMessage(m);
      if (f.conversation_id === state.openId) renderMessages();
      renderConversations();
      break;
    case "read": {
      const c = state.conversations.get(f.conversation_id);
      const member = c?.members.find((m) => m.person_id === f.person_id);
      if (member) member.last_read_seq = Math.max(member.last_read_seq, f.seq);
      renderConversations();
      if (f.conversation_id === state.openId) renderMessages(false);
      break;
    }
    case "typing":
      showTyping(f.conversation_id, f.person_id);
      break;
    case "conversation":
      await ensurePeopleKnown(f.conversation.members.map((m) => m.person_id));
      upsertConversation(f.conversation);
      renderConversations();
      if (f.conversation.id === state.openId) {
        $("chat-heading").textContent = conversationTitle(state.conversations.get(state.openId));
        $("chat-members").textContent = f.conversation.members.map((m) => personName(m.person_id)).join(", ");
      }
      break;
    case "conversation_removed":
      state.conversations.delete(f.conversation_id);
      state.messages.delete(f.conversation_id);
      if (state.openId === f.conversation_id) {
        state.openId = null;
        $("compose-form").hidden = true;
        $("chat-empty").hidden = false;
        $("chat-heading").textContent = t("No conversation open");
        $("message-list").replaceChildren();
        rings.conversationShown();
      }
      renderConversations();
      break;
    case "error":
      if (await rings.frame(f)) break;
      if (f.request_type === "send") {
        $("compose-error").textContent = f.reason;
        $("compose-error").hidden = false;
      } else {
        console.warn("server error", f.code, f.reason);
      }
      break;
    default:
      await rings.frame(f);
      break;
  }
});

// ------------------------------------------------------------------ wiring

const rings = initRings({
  socket,
  state,
  el,
  labels,
  personName,
  ensurePeopleKnown,
  formatTime,
  openConversation,
  upsertConversation,
  renderConversations,
  playSound,
  primeSound,
});

$("search-input").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 150);
});
$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runSearch();
});
for (const id of ["filter-benefit", "filter-organisation", "filter-area"]) $(id).addEventListener("change", runSearch);
$("filter-online").addEventListener("change", renderPeople);
$("my-status-select").addEventListener("change", setMyStatus);
$("dnd-minutes").addEventListener("change", setMyStatus);
$("my-note").addEventListener("change", () => socket.raw({ type: "set_presence", note: $("my-note").value }));
$("notify-button").addEventListener("click", toggleNotifications);
$("load-earlier").addEventListener("click", loadEarlier);
$("new-group-button").addEventListener("click", () => openGroupDialog());
$("manage-group-button").addEventListener("click", () => openGroupDialog(state.conversations.get(state.openId)));
$("group-form").addEventListener("submit", saveGroup);
$("group-cancel").addEventListener("click", () => $("group-dialog").close());
let candidateTimer = null;
$("group-search").addEventListener("input", () => {
  clearTimeout(candidateTimer);
  candidateTimer = setTimeout(searchCandidates, 150);
});

$("compose-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("compose-input");
  const body = input.value.trim();
  if (!body || !state.openId) return;
  $("compose-error").hidden = true;
  $("compose-notice").hidden = true;
  socket.sendMessage(state.openId, body);
  input.value = "";
});
$("compose-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("compose-form").requestSubmit();
  }
});
let lastTypingSent = 0;
$("compose-input").addEventListener("input", () => {
  // The server relays at most one typing frame per 2 s anyway; do not spend the rate budget.
  if (!state.openId || Date.now() - lastTypingSent < 2000) return;
  lastTypingSent = Date.now();
  socket.raw({ type: "typing", conversation_id: state.openId });
});
document.addEventListener("visibilitychange", markRead);

// A ringing question should be heard: the first interaction with the page allows sound.
document.addEventListener("pointerdown", primeSound, { once: true, capture: true });
document.addEventListener("keydown", primeSound, { once: true, capture: true });

renderNotifyButton();
syncDndControls();
socket.connect();
