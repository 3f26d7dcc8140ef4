// Conversations: the list (conversations in use; ended consultations apart and searchable),
// the open conversation with its history, read markers, typing and sending.
import { el } from "../dom.js";
import { api, t } from "../i18n.js";
import * as fmt from "../format.js";
import * as people from "../people.js";
import * as presence from "../presence.js";
import * as attention from "../alert.js";

const $ = (id) => document.getElementById(id);

export function createChat({ socket, me, navigate, pin }) {
  const state = {
    conversations: new Map(), // id -> summary
    messages: new Map(), // conversation id -> Map(seq -> message)
    consultations: new Map(), // conversation id -> {consultation_id, state, closed_at}
    openId: null,
    visible: false,
    typing: new Map(), // conversation id -> Map(person id -> timeout)
  };

  // ---------------------------------------------------------------- helpers

  function title(c) {
    if (c.kind === "group") return c.title;
    const other = c.members.find((m) => m.person_id !== me().id);
    return other ? people.name(other.person_id) : t("Conversation");
  }

  function unreadOf(c) {
    const mine = c.members.find((m) => m.person_id === me().id);
    return Math.max(0, c.last_seq - (mine ? mine.last_read_seq : 0));
  }

  function ended(c) {
    return state.consultations.get(c.id)?.state === "closed";
  }

  function upsert(c) {
    const known = state.conversations.get(c.id);
    // The shared frame has no per-viewer fields; they come from the members list.
    state.conversations.set(c.id, { ...known, ...c });
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

  // ---------------------------------------------------------------- the list

  function conversationItem(c) {
    const unread = unreadOf(c);
    const other = c.kind === "direct" ? c.members.find((m) => m.person_id !== me().id) : null;
    const consultation = state.consultations.get(c.id);
    return el(
      "li",
      { class: `conversation${c.id === state.openId ? " open" : ""}` },
      el(
        "a",
        {
          href: `/conversations/${c.id}`,
          class: "conversation-button",
          "aria-current": c.id === state.openId ? "page" : null,
        },
        el("span", { class: "conversation-title" }, title(c)),
        other
          ? presence.badge(other.person_id)
          : el("span", { class: "muted small" },
              consultation?.state === "open" ? t("Open consultation") : consultation ? t("Ended {time}", { time: consultation.closed_at ? fmt.when(consultation.closed_at) : "" }) : t("Members: {count}", { count: c.members.length })),
        unread ? el("span", { class: "unread" }, el("span", { class: "visually-hidden" }, t("unread")), ` ${unread}`) : null,
      ),
    );
  }

  function renderList() {
    const sorted = [...state.conversations.values()].sort((a, b) =>
      (b.last_message?.created_at || "").localeCompare(a.last_message?.created_at || ""),
    );
    const active = sorted.filter((c) => !ended(c));
    const gone = sorted.filter(ended);
    $("conversation-list").replaceChildren(...active.map(conversationItem));
    const q = $("ended-search").value.trim().toLowerCase();
    const shown = q ? gone.filter((c) => endedText(c).includes(q)) : gone;
    $("ended-list").replaceChildren(...shown.map(conversationItem));
    $("ended-count").textContent = `(${gone.length})`;
    $("ended-section").hidden = gone.length === 0;
    const total = active.reduce((n, c) => n + unreadOf(c), 0);
    $("unread-badge").textContent = total ? String(total) : "";
    $("unread-badge").hidden = !total;
    attention.setBaseTitle(total ? `(${total}) Liaison` : "Liaison");
  }

  function endedText(c) {
    return [title(c), ...c.members.map((m) => people.name(m.person_id)), c.last_message?.body || ""].join(" ").toLowerCase();
  }

  // ---------------------------------------------------------------- the open conversation

  async function open(id) {
    const c = state.conversations.get(id);
    if (!c) {
      state.openId = null;
      showEmpty();
      return;
    }
    state.openId = id;
    // Members of one's conversations: the server sends their presence by itself.
    await people.known(c.members.map((m) => m.person_id));
    if (!state.messages.has(id)) {
      // The map is there before the history is asked for: a message that arrives while it
      // loads (read before that message was stored, answered after its frame) is kept.
      const map = new Map();
      state.messages.set(id, map);
      try {
        const data = await api("GET", `/api/conversations/${id}/messages`);
        for (const m of data.messages) if (!map.has(m.seq)) map.set(m.seq, m);
      } catch (e) {
        // Asked for again on the next open; what arrived meanwhile comes with it.
        if (state.messages.get(id) === map) state.messages.delete(id);
        throw e;
      }
      // Another conversation was opened (or this one removed) while it loaded.
      if (state.openId !== id) return;
    }
    const seqs = [...(state.messages.get(id) || new Map()).keys()];
    $("load-earlier").hidden = !seqs.length || Math.min(...seqs) <= 1;
    const consultation = state.consultations.has(id);
    $("chat-heading").textContent = title(c);
    // A consultation's people are in its pinned facts; its members are not managed here.
    $("chat-members").textContent = c.kind === "group" && !consultation ? c.members.map((m) => people.name(m.person_id)).join(", ") : "";
    $("manage-group-button").hidden = c.kind !== "group" || consultation;
    $("compose-form").hidden = ended(c);
    $("chat-empty").hidden = true;
    $("message-log").hidden = false;
    document.querySelector(".conversations-view").classList.add("has-open");
    pin(id);
    renderMessages();
    markRead();
    renderList();
  }

  function showEmpty() {
    $("chat-heading").textContent = t("No conversation open");
    $("chat-members").textContent = "";
    $("manage-group-button").hidden = true;
    $("compose-form").hidden = true;
    $("chat-empty").hidden = false;
    $("message-log").hidden = true;
    $("load-earlier").hidden = true;
    $("message-list").replaceChildren();
    document.querySelector(".conversations-view").classList.remove("has-open");
    pin(null);
    renderList();
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
    const c = state.conversations.get(id);
    if (!c) return;
    const ordered = [...(state.messages.get(id) || new Map()).values()].sort((a, b) => a.seq - b.seq);
    const readers = (seq) =>
      c.members.filter((m) => m.person_id !== me().id && m.last_read_seq >= seq).map((m) => people.name(m.person_id));
    $("message-list").replaceChildren(
      ...ordered.map((m) => {
        const mine = m.sender_id === me().id;
        const seenBy = mine && m.seq === ordered[ordered.length - 1].seq ? readers(m.seq) : [];
        return el(
          "li",
          { class: `message${mine ? " mine" : ""}`, "data-seq": m.seq },
          el("div", { class: "message-meta" }, el("strong", {}, mine ? t("You") : people.name(m.sender_id)), " ", el("time", { datetime: m.created_at }, fmt.when(m.created_at))),
          el("div", { class: "message-body" }, linkify(m.body)),
          seenBy.length ? el("div", { class: "muted small" }, t("Seen by {names}", { names: seenBy.join(", ") })) : null,
        );
      }),
    );
    if (scroll) $("message-log").scrollTop = $("message-log").scrollHeight;
  }

  function markRead() {
    const c = state.conversations.get(state.openId);
    if (!c || document.hidden || !state.visible) return;
    if (unreadOf(c) > 0) socket.raw({ type: "read", conversation_id: c.id, seq: c.last_seq });
  }

  function addMessage(m) {
    const c = state.conversations.get(m.conversation_id);
    if (c) {
      c.last_seq = Math.max(c.last_seq, m.seq);
      if (!c.last_message || c.last_message.seq < m.seq) c.last_message = m;
      if (m.sender_id === me().id) {
        const mine = c.members.find((x) => x.person_id === me().id);
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
    const names = map ? [...map.keys()].map(people.name) : [];
    $("typing-indicator").textContent = names.length ? t("{names} is typing…", { names: names.join(", ") }) : "";
  }

  async function refreshConversations() {
    const data = await api("GET", "/api/conversations");
    for (const c of data.conversations) upsert(c);
    await people.known(data.conversations.flatMap((c) => c.members.map((m) => m.person_id)));
    renderList();
  }

  async function refreshConsultations() {
    try {
      const data = await api("GET", "/api/consultations/conversations");
      state.consultations = new Map(data.conversations.map((c) => [c.conversation_id, c]));
    } catch (e) {
      /* the list shows them among the others until the next try */
    }
    renderList();
  }

  // ---------------------------------------------------------------- frames

  async function frame(f) {
    switch (f.type) {
      case "message":
      case "ack": {
        const m = f.message;
        const isNew = !state.messages.get(m.conversation_id)?.has(m.seq);
        if (!state.conversations.has(m.conversation_id)) await refreshConversations();
        addMessage(m);
        if (f.type === "message" && isNew && m.sender_id !== me().id) {
          const c = state.conversations.get(m.conversation_id);
          const seen = state.visible && !document.hidden && state.openId === m.conversation_id;
          if (!seen && c?.kind === "direct") {
            attention.notifyMessage(t("Message from {name}", { name: people.name(m.sender_id) }), m.body, `conversation-${m.conversation_id}`);
          }
        }
        if (f.type === "ack" && f.redacted > 0) {
          $("compose-notice").textContent = t("A personal identity code in your message was replaced by the client reference; the code was not stored.");
          $("compose-notice").hidden = false;
        }
        if (m.conversation_id === state.openId) {
          renderMessages();
          if (m.sender_id !== me().id) markRead();
        }
        renderList();
        return true;
      }
      case "messages":
        for (const m of f.messages) addMessage(m);
        if (f.conversation_id === state.openId) renderMessages();
        renderList();
        return true;
      case "read": {
        const c = state.conversations.get(f.conversation_id);
        const member = c?.members.find((m) => m.person_id === f.person_id);
        if (member) member.last_read_seq = Math.max(member.last_read_seq, f.seq);
        renderList();
        if (f.conversation_id === state.openId) renderMessages(false);
        return true;
      }
      case "typing":
        showTyping(f.conversation_id, f.person_id);
        return true;
      case "conversation":
        await people.known(f.conversation.members.map((m) => m.person_id));
        upsert(f.conversation);
        renderList();
        if (f.conversation.id === state.openId) {
          const c = state.conversations.get(state.openId);
          $("chat-heading").textContent = title(c);
          $("chat-members").textContent = c.kind === "group" ? c.members.map((m) => people.name(m.person_id)).join(", ") : "";
        }
        return true;
      case "conversation_removed":
        state.conversations.delete(f.conversation_id);
        state.messages.delete(f.conversation_id);
        if (state.openId === f.conversation_id) {
          state.openId = null;
          if (state.visible) navigate("/conversations");
        }
        renderList();
        return true;
      default:
        return false;
    }
  }

  async function welcome(f) {
    state.conversations.clear();
    for (const c of f.conversations) upsert(c);
    for (const m of f.missed) addMessage(m);
    for (const id of f.truncated) state.messages.delete(id);
    await people.known(f.conversations.flatMap((c) => c.members.map((m) => m.person_id)));
    await refreshConsultations();
    if (state.visible && state.openId) await open(state.openId);
  }

  // A consultation changed (opened, closed): the lists and the pinned question follow.
  async function consultationChanged(c) {
    if (!c.conversation_id) return;
    if (!state.conversations.has(c.conversation_id)) await refreshConversations();
    state.consultations.set(c.conversation_id, {
      conversation_id: c.conversation_id,
      consultation_id: c.id,
      state: c.state === "open" ? "open" : "closed",
      closed_at: c.closed_at,
    });
    renderList();
    if (state.openId === c.conversation_id && state.visible) {
      $("compose-form").hidden = c.state !== "open" && ended(state.conversations.get(c.conversation_id));
      pin(c.conversation_id);
    }
  }

  // ---------------------------------------------------------------- groups

  let groupSelection = new Set();
  let groupEditing = null;

  function openGroupDialog(conversation = null) {
    groupEditing = conversation;
    groupSelection = new Set(conversation ? conversation.members.map((m) => m.person_id) : []);
    groupSelection.delete(me().id);
    $("group-title").value = conversation ? conversation.title : "";
    $("group-dialog-heading").textContent = conversation ? t("Group members") : t("New group");
    $("group-error").hidden = true;
    $("group-search").value = "";
    renderCandidates([...groupSelection].map((id) => people.get(id)).filter(Boolean));
    $("group-dialog").showModal();
  }

  function renderCandidates(list) {
    const shown = new Map(list.map((p) => [p.id, p]));
    for (const id of groupSelection) if (people.get(id)) shown.set(id, people.get(id));
    shown.delete(me().id);
    $("group-candidates").replaceChildren(
      ...[...shown.values()].map((p) =>
        el("li", {},
          el("label", { class: "inline" },
            el("input", {
              type: "checkbox",
              checked: groupSelection.has(p.id),
              onchange: (e) => (e.target.checked ? groupSelection.add(p.id) : groupSelection.delete(p.id)),
            }),
            ` ${p.name}`,
            el("span", { class: "muted small" }, ` ${p.title || ""}`),
          ),
        ),
      ),
    );
  }

  let candidateTimer = null;
  async function searchCandidates() {
    const q = $("group-search").value.trim();
    const data = await api("GET", `/api/people?q=${encodeURIComponent(q)}&limit=20`);
    for (const p of data.people) people.remember(p);
    renderCandidates(data.people);
  }

  async function saveGroup(event) {
    event.preventDefault();
    try {
      if (!groupEditing) {
        const summary = await api("POST", "/api/conversations", { title: $("group-title").value, members: [...groupSelection] });
        upsert(summary);
        $("group-dialog").close();
        navigate(`/conversations/${summary.id}`);
        return;
      }
      const id = groupEditing.id;
      if ($("group-title").value !== groupEditing.title) await api("PATCH", `/api/conversations/${id}`, { title: $("group-title").value });
      const before = new Set(groupEditing.members.map((m) => m.person_id));
      for (const pid of groupSelection) if (!before.has(pid)) await api("POST", `/api/conversations/${id}/members`, { person_id: pid });
      for (const pid of before) if (pid !== me().id && !groupSelection.has(pid)) await api("DELETE", `/api/conversations/${id}/members/${pid}`);
      $("group-dialog").close();
    } catch (e) {
      $("group-error").textContent = e.message;
      $("group-error").hidden = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  $("load-earlier").addEventListener("click", loadEarlier);
  $("new-group-button").addEventListener("click", () => openGroupDialog());
  $("manage-group-button").addEventListener("click", () => openGroupDialog(state.conversations.get(state.openId)));
  $("group-form").addEventListener("submit", saveGroup);
  $("group-cancel").addEventListener("click", () => $("group-dialog").close());
  $("group-search").addEventListener("input", () => {
    clearTimeout(candidateTimer);
    candidateTimer = setTimeout(searchCandidates, 150);
  });
  $("ended-search").addEventListener("input", renderList);
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
  // The box grows with what is typed, up to a few lines; the messages keep the room.
  $("compose-input").addEventListener("input", (e) => {
    e.target.style.height = "auto";
    e.target.style.height = `${Math.min(e.target.scrollHeight + 2, 160)}px`;
  });
  $("compose-form").addEventListener("submit", () => ($("compose-input").style.height = ""));
  $("compose-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("compose-form").requestSubmit();
    }
  });
  let lastTypingSent = 0;
  $("compose-input").addEventListener("input", () => {
    // The server relays at most one typing frame per 2 s anyway: keep the rate budget.
    if (!state.openId || Date.now() - lastTypingSent < 2000) return;
    lastTypingSent = Date.now();
    socket.raw({ type: "typing", conversation_id: state.openId });
  });
  document.addEventListener("visibilitychange", markRead);

  return {
    state,
    title,
    welcome,
    frame,
    consultationChanged,
    refreshConsultations,
    sendError(f) {
      $("compose-error").textContent = f.reason;
      $("compose-error").hidden = false;
    },
    async openDirect(personId) {
      const summary = await api("POST", "/api/conversations", { person_id: personId });
      upsert(summary);
      renderList();
      navigate(`/conversations/${summary.id}`);
    },
    async enter(route) {
      state.visible = true;
      if (route.id) {
        if (!state.conversations.has(route.id)) await refreshConversations();
        await open(route.id);
        // Straight to typing on a desktop; a phone would cover the messages with its keyboard.
        if (matchMedia("(min-width: 48.01rem)").matches) $("compose-input").focus({ preventScroll: true });
      } else {
        state.openId = null;
        showEmpty();
      }
    },
    leave() {
      state.visible = false;
    },
    openId: () => (state.visible ? state.openId : null),
  };
}
