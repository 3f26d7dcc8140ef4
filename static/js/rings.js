// Rings in the workspace: the ring list with live counts and sign-in, asking in two
// actions, my questions' live status on every view, ringing offers, the missed list,
// my open consultations and their pinned question, reminders, and callback requests.
import { el } from "./dom.js";
import { api, t } from "./i18n.js";
import * as attention from "./alert.js";
import * as fmt from "./format.js";
import * as people from "./people.js";

const $ = (id) => document.getElementById(id);
const labels = JSON.parse($("labels").textContent);
const LAST_RING = "liaison-last-ring";
const MISSED_SEEN = "liaison-missed-seen";
const RING_FRAMES = new Set([
  "rings", "ring_summary", "ring_member", "offer", "offer_withdrawn", "question_status",
  "accepted", "consultation", "consultation_closed", "consultation_reminder", "callback",
  "callback_created",
]);
const RING_REQUESTS = new Set([
  "ring_sign_in", "ring_resume", "ask", "cancel", "accept", "decline", "close_consultation",
  "consultation_keep_open", "consultation_note", "invite", "callback_create", "callback_update",
]);
const LIVE = new Set(["waiting", "offered", "overflowed"]);

/** `ctx`: socket, me(), navigate(path), chat (the conversations view), askPermissions(). */
export function createRings(ctx) {
  const { socket, me, navigate } = ctx;
  const rs = {
    rings: new Map(), // id -> RingSummary (counts updated by ring_summary)
    member: { not_responding: false, missed_in_row: 0 },
    offers: new Map(), // question id -> {frame, receivedAt}
    questions: new Map(), // question id -> {q, receivedAt, text, conversationId, note}
    texts: new Map(), // question id -> my question's text
    consultations: new Map(), // id -> open consultation of mine
    records: new Map(), // conversation id -> a consultation record (ended ones, for the pin)
    callbacks: new Map(), // id -> callback request
    missed: [],
    reminders: new Map(), // consultation id -> consultation_reminder frame
    shownOffer: null,
    askNamed: false,
    callbackTarget: null,
    pinFor: null, // conversation id whose consultation is pinned
  };
  let serial = 0;
  const pending = new Map(); // ref -> what was asked (for replies and errors)
  const nextRef = (what) => {
    const ref = `r${++serial}`;
    pending.set(ref, what);
    // Requests that succeed silently leave their entry: keep only the recent ones.
    if (pending.size > 100) pending.delete(pending.keys().next().value);
    return ref;
  };

  // ---------------------------------------------------------------- small helpers

  function announce(text) {
    const node = $("ring-announcer");
    // Cleared first so that the same text twice is read twice.
    node.textContent = "";
    setTimeout(() => (node.textContent = text), 50);
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds || 0));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  }

  // A translated text with a node in place of its {key}.
  function around(text, key, node) {
    const [before, ...after] = text.split(`{${key}}`);
    return [before, node, after.join("")];
  }

  function ticking(base, since = Date.now()) {
    return el("span", { class: "ticking", "data-base": base, "data-since": since }, duration(base + (Date.now() - since) / 1000));
  }

  function estimate(seconds) {
    if (seconds === null || seconds === undefined) return t("unknown");
    if (seconds < 60) return t("under a minute");
    return t("about {minutes} min", { minutes: Math.round(seconds / 60) });
  }

  function ringName(id) {
    const ring = rs.rings.get(id);
    if (ring) return ring.name;
    if (id && id.startsWith("named:")) return t("Named contacts");
    return id || "";
  }

  function legalBasisLabel(code) {
    return code ? labels.legal_bases[code] || code : t("Not recorded");
  }

  function errorText(f) {
    const known = {
      invalid_identity_code: t("That is not a valid personal identity code. Check the code or leave the field empty."),
      no_named_contacts: t("Your area has no named contacts or liaison ring yet."),
      question_too_long: t("A question is at most 500 characters."),
      already_taken: t("Someone else already took this question."),
      not_offered: t("This question is no longer offered to you."),
      closed: t("This is already closed."),
      not_allowed: t("You are not allowed to do that."),
      rate_limited: t("Too many requests at once. Try again in a moment."),
    };
    return known[f.code] || f.reason || t("Something went wrong.");
  }

  function send(frame, what) {
    const ok = socket.raw({ ...frame, ref: nextRef(what || { kind: frame.type }) });
    if (!ok) announce(t("No connection. Try again in a moment."));
    return ok;
  }

  function countsText(r) {
    return [
      t("Free: {free} of {signed}", { free: r.members_free, signed: r.members_signed_in }),
      t("Waiting: {count}", { count: r.waiting }),
    ].join(" · ");
  }

  // ---------------------------------------------------------------- the ring list

  function renderRings() {
    const list = [...rs.rings.values()];
    $("ring-list-empty").hidden = list.length > 0;
    $("ring-list").replaceChildren(
      ...list.map((r) => {
        const waiting = r.waiting > 0;
        const nameId = `ring-name-${r.id.replace(/[^\w-]/g, "_")}`;
        return el(
          "li",
          { class: `ring${r.signed_in ? " signed-in" : ""}${waiting ? " has-waiting" : ""}`, "data-ring-id": r.id },
          el("button", { type: "button", class: "ring-ask", onclick: () => openAsk(false, r.id), "aria-describedby": `${nameId}-counts` },
            el("span", { class: "ring-name", id: nameId }, r.name),
            el("span", { class: "visually-hidden" }, ` – ${t("Ask this ring")}`),
          ),
          el("span", { class: "ring-counts small", id: `${nameId}-counts` },
            el("span", { class: r.members_free ? "free-count" : "none-free" }, t("Free: {free} of {signed}", { free: r.members_free, signed: r.members_signed_in })),
            " · ",
            el("span", { class: waiting ? "waiting-count" : "" }, t("Waiting: {count}", { count: r.waiting })),
            waiting && r.oldest_wait_seconds !== null && r.oldest_wait_seconds !== undefined
              ? [" · ", ...around(t("longest wait {time}"), "time", ticking(r.oldest_wait_seconds, r.receivedAt))]
              : "",
            r.phone_hours_only ? [" · ", t("phone hours")] : "",
          ),
          r.member
            ? el("label", { class: "inline ring-toggle" },
                el("input", { type: "checkbox", checked: r.signed_in, onchange: (e) => signIn(r.id, e.target.checked, e.target) }),
                t("Signed in"),
                el("span", { class: "visually-hidden" }, `: ${r.name}`),
              )
            : null,
        );
      }),
    );
    renderAlertLine();
    if ($("ask-dialog").open) renderAskCounts();
  }

  function setRings(list) {
    const now = Date.now();
    rs.rings = new Map(list.map((r) => [r.id, { ...r, receivedAt: now }]));
    renderRings();
  }

  function signIn(ringId, signedIn, checkbox) {
    // This click is what browsers require for sound and for asking permissions.
    attention.primeSound();
    checkbox.disabled = true;
    if (!send({ type: "ring_sign_in", ring_id: ringId, signed_in: signedIn }, { kind: "sign_in", ringId })) {
      checkbox.checked = !signedIn;
      checkbox.disabled = false;
      return;
    }
    // Asked once, the first time: notifications for questions, the computer's idle state.
    if (signedIn) ctx.askPermissions(true);
  }

  function renderAlertLine() {
    const member = [...rs.rings.values()].some((r) => r.signed_in);
    const line = $("alert-settings-line");
    line.hidden = !member;
    if (!member) return;
    const granted = attention.notificationPermission() === "granted";
    line.replaceChildren(
      granted ? t("Questions ring with a sound and a notification.") : t("Notifications are not allowed: questions ring only while this tab is in view."),
      " ",
      el("a", { href: "/me#alert-settings" }, t("Settings")),
    );
  }

  // ---------------------------------------------------------------- asking

  function fillRingSelect(selected) {
    const select = $("ask-ring");
    select.replaceChildren(...[...rs.rings.values()].map((r) => el("option", { value: r.id }, r.name)));
    const last = localStorage.getItem(LAST_RING);
    const choice = [selected, last].find((id) => id && rs.rings.has(id));
    if (choice) select.value = choice;
  }

  function openAsk(named, ringId = null) {
    rs.askNamed = named;
    $("ask-dialog-heading").textContent = named ? t("Contact my liaison") : t("Ask a ring");
    $("ask-ring-field").hidden = named;
    $("ask-named-intro").hidden = !named;
    $("ask-error").hidden = true;
    $("ask-client-code").value = "";
    if (!named) fillRingSelect(ringId);
    renderAskCounts();
    if (!$("ask-dialog").open) $("ask-dialog").showModal();
    $("ask-question").focus();
  }

  function renderAskCounts() {
    const box = $("ask-nobody");
    if (rs.askNamed) {
      $("ask-counts").textContent = "";
      box.hidden = true;
      return;
    }
    const ring = rs.rings.get($("ask-ring").value);
    if (!ring) {
      $("ask-counts").textContent = "";
      box.hidden = true;
      return;
    }
    $("ask-counts").textContent = `${countsText(ring)} · ${t("Estimated wait: {time}", { time: estimate(ring.estimated_wait_seconds) })}`;
    box.hidden = ring.members_free > 0;
    if (ring.members_free > 0) return;
    $("ask-nobody-text").textContent = ring.members_signed_in
      ? t("Nobody in {ring} is free now: your question would wait in the queue.", { ring: ring.name })
      : t("Nobody is signed in to {ring} now: your question would wait in the queue.", { ring: ring.name });
    const overflow = ring.overflow_ring_id ? rs.rings.get(ring.overflow_ring_id) : null;
    const button = $("ask-overflow");
    button.hidden = !overflow;
    if (overflow) {
      button.textContent = t("Ask {ring} instead (free: {free})", { ring: overflow.name, free: overflow.members_free });
      button.onclick = () => {
        $("ask-ring").value = overflow.id;
        renderAskCounts();
        $("ask-question").focus();
      };
    }
  }

  function askError(text) {
    $("ask-error").textContent = text;
    $("ask-error").hidden = false;
  }

  function askFields() {
    const form = new FormData($("ask-form"));
    return {
      question: $("ask-question").value.trim().replace(/\s+/g, " "),
      code: $("ask-client-code").value.trim().toUpperCase(),
      legal: form.get("legal_basis") || null,
      urgency: form.get("urgency") || "normal",
    };
  }

  function submitAsk(event) {
    event.preventDefault();
    const { question, code, legal, urgency } = askFields();
    if (!question) {
      askError(t("Write the question first."));
      $("ask-question").focus();
      return;
    }
    if (!rs.askNamed && !$("ask-ring").value) {
      askError(t("Choose a ring."));
      return;
    }
    if (code && !legal) {
      askError(t("Choose the legal basis for discussing the client."));
      $("ask-dialog").querySelector("details.ask-more").open = true;
      return;
    }
    const frame = { type: "ask", question, client_code: code || null, urgency, legal_basis: legal };
    if (rs.askNamed) frame.named = true;
    else frame.ring_id = $("ask-ring").value;
    $("ask-error").hidden = true;
    if (!send(frame, { kind: "ask", question, ringId: frame.ring_id })) askError(t("No connection. Try again in a moment."));
  }

  function askAccepted(what) {
    if (what.ringId) localStorage.setItem(LAST_RING, what.ringId);
    $("ask-form").reset();
    $("ask-client-code").value = "";
    if ($("ask-dialog").open) $("ask-dialog").close();
  }

  // "Nobody is free": the same question as a callback request of the ring, right there.
  function askAsCallback() {
    const { question, code } = askFields();
    if (!question) {
      askError(t("Write the question first."));
      $("ask-question").focus();
      return;
    }
    send(
      { type: "callback_create", owner_ring_id: $("ask-ring").value, note: question, client_code: code || null, due_minutes: 60 },
      { kind: "callback_ask", ringId: $("ask-ring").value },
    );
  }

  // ---------------------------------------------------------------- my questions, on every view

  const QUESTION_STATES = {
    waiting: () => t("Waiting in the queue"),
    offered: () => t("Ringing"),
    accepted: () => t("Accepted"),
    cancelled: () => t("Cancelled"),
    timed_out: () => t("Nobody answered in time"),
    overflowed: () => t("Moved to another ring"),
    callback: () => t("Turned into a callback request"),
  };

  function statusLine(entry) {
    const q = entry.q;
    if (LIVE.has(q.state)) {
      const parts = [];
      // The queue's length comes from the ring's live counts: a question asked behind
      // this one is not a change of this one's status, and the server sends none for it.
      const waiting = rs.rings.get(q.ring_id)?.waiting ?? q.queue_length;
      if (q.position) parts.push(t("Position {position} of {count}", { position: q.position, count: Math.max(q.position, waiting) }));
      if (q.state === "offered") parts.push(t("Ringing for {count}", { count: q.ringing || 1 }));
      parts.push(t("Free: {free} of {signed}", { free: q.members_free, signed: q.members_signed_in }));
      parts.push(t("Estimated wait: {time}", { time: estimate(q.estimated_wait_seconds) }));
      return parts.join(" · ");
    }
    if (q.state === "accepted") return q.accepted_by ? t("Accepted by {name}", { name: people.name(q.accepted_by) }) : t("Accepted");
    if (q.state === "timed_out") return t("You can turn it into a callback request: a member of the ring calls you back.");
    if (q.state === "callback") return t("A member of the ring calls you back.");
    return "";
  }

  async function onQuestionStatus(q, ref) {
    const known = rs.questions.get(q.question_id);
    const asked = ref ? pending.get(ref) : null;
    if (asked?.kind === "ask") rs.texts.set(q.question_id, asked.question);
    if (q.accepted_by) await people.known([q.accepted_by]);
    const before = known?.q;
    let change = null;
    if (before && LIVE.has(q.state) && before.position && q.position && q.ring_id === before.ring_id) {
      if (q.position > before.position) change = t("An urgent question went ahead of yours.");
      else if (q.position < before.position) change = t("Your question moved up in the queue.");
    }
    if (q.state === "cancelled") rs.questions.delete(q.question_id);
    else rs.questions.set(q.question_id, { ...known, q, receivedAt: Date.now(), change: change || (before?.state === q.state ? known?.change : null) });
    if (!before) {
      if (asked) announce(t("Question sent to {ring}.", { ring: q.ring_name }) + " " + statusLine({ q }));
    } else if (before.state !== q.state) {
      announce(`${q.ring_name}: ${QUESTION_STATES[q.state]?.() || q.state}. ${statusLine({ q })}`);
    } else if (change) {
      announce(`${change} ${t("Your question to {ring} is now number {position} in the queue.", { ring: q.ring_name, position: q.position })}`);
    }
    renderQuestions();
  }

  function renderQuestions() {
    // An answered question whose conversation is on screen: the pinned question says it all.
    const onScreen = ctx.chat.openId();
    const items = [...rs.questions.values()].filter((e) => !(e.q.state === "accepted" && e.conversationId && e.conversationId === onScreen));
    $("question-strip").replaceChildren(
      ...items.map((entry) => {
        const { q, receivedAt, conversationId } = entry;
        const id = q.question_id;
        const headId = `question-${id}`;
        const live = LIVE.has(q.state);
        const text = rs.texts.get(id);
        const dismiss = () => {
          rs.questions.delete(id);
          renderQuestions();
        };
        return el(
          "li",
          { class: `question-item state-${q.state}`, "data-question-id": id },
          el("div", { class: "question-main" },
            el("strong", { id: headId }, q.ring_name),
            " ",
            el("span", { class: `tag tag-${q.state}` }, QUESTION_STATES[q.state]?.() || q.state),
            text ? el("span", { class: "question-text" }, ` ${text}`) : null,
          ),
          el("p", { class: "small question-status" },
            statusLine(entry),
            live ? [" · ", t("Waited"), " ", ticking(q.waited_seconds, receivedAt)] : null,
          ),
          entry.change && live ? el("p", { class: "small question-change" }, entry.change) : null,
          el("div", { class: "card-actions" },
            live ? el("button", { type: "button", "aria-describedby": headId, onclick: () => send({ type: "cancel", question_id: id }, { kind: "cancel" }) }, t("Cancel question")) : null,
            live || q.state === "timed_out"
              ? el("button", { type: "button", "aria-describedby": headId, onclick: () => toCallback(id) }, t("Turn into callback request"))
              : null,
            q.state === "accepted" && conversationId
              ? el("a", { class: "button primary", href: `/conversations/${conversationId}` }, t("Open the conversation"))
              : null,
            !live ? el("button", { type: "button", class: "link", "aria-describedby": headId, onclick: dismiss }, t("Dismiss")) : null,
          ),
        );
      }),
    );
    renderAttention();
  }

  function toCallback(questionId) {
    send({ type: "callback_create", question_id: questionId, note: "", due_minutes: 60 }, { kind: "callback", questionId });
  }

  // ---------------------------------------------------------------- the attention strip

  function notRespondingText() {
    return t("You did not answer the last {count} questions offered to you, so the rings do not offer you questions now.", { count: rs.member.missed_in_row || 2 });
  }

  function renderAttention() {
    $("not-responding").hidden = !rs.member.not_responding;
    $("not-responding-text").textContent = notRespondingText();
    renderReminders();
    $("attention").hidden = !rs.member.not_responding && rs.questions.size === 0 && rs.reminders.size === 0;
    const newMissed = missedNew();
    const badge = rs.reminders.size + newMissed + (rs.member.not_responding ? 1 : 0);
    $("rings-badge").textContent = badge ? String(badge) : "";
    $("rings-badge").hidden = !badge;
  }

  function renderReminders() {
    $("reminder-list").replaceChildren(
      ...[...rs.reminders.values()].map((r) => {
        const c = rs.consultations.get(r.consultation_id);
        if (!c) return null;
        return el("li", { class: "attention-item warn" },
          el("p", {},
            t("The consultation with {name} has been quiet since {time}.", { name: people.name(c.asker_id), time: fmt.time(r.idle_since) }),
            " ",
            r.closes_at ? t("It closes itself at {time} as not recorded.", { time: fmt.time(r.closes_at) }) : "",
          ),
          el("div", { class: "card-actions" },
            el("button", { type: "button", class: "primary", onclick: () => openClose(c) }, t("Close the consultation…")),
            el("button", { type: "button", onclick: () => keepOpen(c) }, t("Keep open")),
            c.conversation_id ? el("a", { href: `/conversations/${c.conversation_id}` }, t("Open the conversation")) : null,
          ),
        );
      }).filter(Boolean),
    );
  }

  // ---------------------------------------------------------------- offers (ringing)

  let countdownTimer = null;

  function onOffer(f) {
    rs.offers.set(f.question_id, { frame: f, receivedAt: Date.now() });
    showNextOffer();
  }

  async function showNextOffer() {
    const dialog = $("offer-dialog");
    const next = [...rs.offers.values()][0];
    if (!next) {
      attention.stopRinging();
      clearInterval(countdownTimer);
      countdownTimer = null;
      rs.shownOffer = null;
      if (dialog.open) dialog.close();
      return;
    }
    const f = next.frame;
    const isNew = rs.shownOffer !== f.question_id;
    rs.shownOffer = f.question_id;
    if (isNew) {
      await people.known([f.asker_id]);
      const asker = people.get(f.asker_id);
      $("offer-body").replaceChildren(...[
        el("p", { class: "offer-kicker" }, t("Incoming question"), " · ", f.ring_name),
        el("h2", { id: "offer-heading" }, t("{name} asks the ring {ring}", { name: people.name(f.asker_id), ring: f.ring_name })),
        asker ? el("p", { class: "muted small" }, [asker.title, asker.organisation?.name, asker.unit?.name].filter(Boolean).join(" · ")) : null,
        f.urgency === "urgent" ? el("p", { class: "urgent-tag" }, labels.urgency.urgent) : null,
        el("p", { id: "offer-question", class: "offer-question" }, f.question),
        f.client_ref ? el("p", { class: "small" }, t("Client reference"), ": ", el("code", {}, f.client_ref)) : null,
        el("p", { id: "offer-countdown", class: "countdown", role: "timer" }),
      ].filter(Boolean));
      $("offer-accept").disabled = false;
      $("offer-decline").disabled = false;
      attention.stopRinging();
      attention.startRinging(t("Question for the ring {ring}", { ring: f.ring_name }), f.question, `offer-${f.question_id}`);
    }
    updateCountdown();
    if (!countdownTimer) countdownTimer = setInterval(updateCountdown, 1000);
    if (!dialog.open) {
      dialog.showModal();
      $("offer-accept").focus();
    }
  }

  function updateCountdown() {
    const offer = rs.offers.get(rs.shownOffer);
    const node = $("offer-countdown");
    if (!offer || !node) return;
    const left = Math.ceil((Date.parse(offer.frame.expires_at) - Date.now()) / 1000);
    const text = left > 0 ? t("Rings for {seconds} s more", { seconds: left }) : t("Time is up");
    if (node.textContent !== text) node.textContent = text;
  }

  function answerOffer(accept) {
    const id = rs.shownOffer;
    if (!id) return;
    $("offer-accept").disabled = true;
    $("offer-decline").disabled = true;
    attention.stopRinging();
    const type = accept ? "accept" : "decline";
    send({ type, question_id: id }, { kind: type, questionId: id });
    if (!accept) {
      rs.offers.delete(id);
      showNextOffer();
    }
  }

  function onOfferWithdrawn(f) {
    const offer = rs.offers.get(f.question_id);
    if (!offer) return;
    rs.offers.delete(f.question_id);
    const ring = offer.frame.ring_name;
    const text = {
      missed: t("You missed a question to the ring {ring}.", { ring }),
      taken: t("Someone else took the question to the ring {ring}.", { ring }),
      cancelled: t("The asker cancelled the question to the ring {ring}.", { ring }),
      timed_out: t("The question to the ring {ring} timed out.", { ring }),
      overflowed: t("The question to the ring {ring} moved to another ring.", { ring }),
      signed_out: t("You are signed out of the ring {ring}.", { ring }),
      unavailable: t("The question to the ring {ring} went to someone else while you were unavailable.", { ring }),
    }[f.reason];
    if (text) announce(text);
    showNextOffer();
    if (f.reason !== "taken" && f.reason !== "declined") {
      if (f.reason === "missed") attention.notify(t("Missed question"), text, `missed-${f.question_id}`);
      loadMissed();
    }
  }

  // ---------------------------------------------------------------- missed

  function missedNew() {
    const seen = localStorage.getItem(MISSED_SEEN) || "";
    return rs.missed.filter((m) => m.ended_at > seen).length;
  }

  async function loadMissed() {
    try {
      rs.missed = (await api("GET", "/api/rings/missed")).missed;
    } catch (e) {
      return;
    }
    await people.known(rs.missed.flatMap((m) => [m.asker_id, m.expert_id]));
    renderMissed();
  }

  function fate(m) {
    if (m.state === "open" || m.state === "closed") {
      if (m.expert_id === me().id) return t("You answered it later.");
      return m.expert_id ? t("{name} answered it.", { name: people.name(m.expert_id) }) : t("It was answered.");
    }
    if (m.state === "waiting") return t("It still waits for an answer.");
    if (m.state === "cancelled") return t("The asker cancelled it or turned it into a callback request.");
    if (m.state === "timed_out") return t("Nobody answered it in time.");
    return "";
  }

  function renderMissed() {
    const seen = localStorage.getItem(MISSED_SEEN) || "";
    const fresh = missedNew();
    $("missed").hidden = rs.missed.length === 0;
    $("missed-count").textContent = fresh ? t("new: {count}", { count: fresh }) : "";
    $("missed-count").hidden = !fresh;
    $("missed-list").replaceChildren(
      ...rs.missed.map((m) => {
        const reason = m.outcome === "missed" ? t("Rang out unanswered") : {
          cancelled: t("Cancelled while ringing"),
          timed_out: t("Timed out while ringing"),
          overflowed: t("Moved to another ring while ringing"),
          signed_out: t("You signed out while it rang"),
          unavailable: t("Your status changed while it rang"),
        }[m.reason] || m.reason;
        return el("li", { class: `card missed-card${m.ended_at > seen ? " new" : ""}` },
          el("details", { ontoggle: (e) => e.target.open && markMissedSeen() },
            el("summary", {},
              el("strong", {}, m.ring_name), " · ", people.name(m.asker_id), " · ",
              el("time", { datetime: m.offered_at }, fmt.when(m.offered_at)),
            ),
            el("p", { class: "card-text" }, m.question),
            el("p", { class: "small" }, reason, m.urgency === "urgent" ? [" · ", labels.urgency.urgent] : "",
              m.client_ref ? [" · ", t("Client reference"), ": ", el("code", {}, m.client_ref)] : ""),
            el("p", { class: "small" }, fate(m)),
          ),
        );
      }),
    );
    renderAttention();
  }

  function markMissedSeen() {
    if (!rs.missed.length) return;
    localStorage.setItem(MISSED_SEEN, rs.missed[0].ended_at);
    renderMissed();
  }

  // ---------------------------------------------------------------- consultations

  async function onConsultation(c, { fresh = true } = {}) {
    const known = rs.consultations.get(c.id);
    await people.known([c.asker_id, c.expert_id, c.third_party_id]);
    const card = rs.questions.get(c.question_id);
    if (c.conversation_id) rs.records.set(c.conversation_id, c);
    if (c.state === "open") {
      rs.consultations.set(c.id, c);
      if (card) card.conversationId = c.conversation_id;
      if (c.kept_open_at) rs.reminders.delete(c.id);
      const mine = c.asker_id === me().id || c.expert_id === me().id;
      if (!known && fresh && c.conversation_id) {
        await ctx.chat.consultationChanged(c);
        if (mine) {
          navigate(`/conversations/${c.conversation_id}`);
          announce(
            c.expert_id === me().id
              ? t("Consultation with {name} is open.", { name: people.name(c.asker_id) })
              : t("{name} accepted your question. The conversation is open.", { name: people.name(c.expert_id) }),
          );
        } else {
          announce(t("You were invited to a consultation."));
        }
      }
    } else {
      rs.consultations.delete(c.id);
      rs.reminders.delete(c.id);
      if (card) rs.questions.delete(c.question_id);
      if (known) {
        announce(c.outcome === "not_recorded"
          ? t("The consultation closed itself after a quiet spell; the log says not recorded.")
          : t("The consultation was closed and saved in the log."));
      }
    }
    if (c.conversation_id) await ctx.chat.consultationChanged(c);
    renderQuestions();
    renderConsultations();
    renderPin();
  }

  function renderConsultations() {
    const mine = [...rs.consultations.values()];
    $("my-consultations").hidden = mine.length === 0;
    $("consultation-list").replaceChildren(
      ...mine.map((c) => {
        const expert = c.expert_id === me().id;
        return el("li", { class: `card consultation-card${rs.reminders.has(c.id) ? " reminded" : ""}` },
          el("a", { href: `/conversations/${c.conversation_id}`, class: "card-link" },
            el("strong", {}, ringName(c.ring_id)), ": ", c.question,
          ),
          el("p", { class: "small" },
            expert ? t("Asked by {name}", { name: people.name(c.asker_id) }) : t("Answered by {name}", { name: people.name(c.expert_id) }),
            " · ", t("open since {time}", { time: fmt.when(c.accepted_at || c.asked_at) }),
          ),
          expert ? el("p", { class: "small muted" }, t("You show as busy until you close it.")) : null,
        );
      }),
    );
  }

  function consultationOf(conversationId) {
    return [...rs.consultations.values()].find((c) => c.conversation_id === conversationId) || null;
  }

  async function recordOf(conversationId) {
    if (rs.records.has(conversationId)) return rs.records.get(conversationId);
    try {
      const data = await api("GET", "/api/consultations?limit=1000");
      for (const c of data.consultations) if (c.conversation_id) rs.records.set(c.conversation_id, c);
    } catch (e) {
      /* the pin shows without the question */
    }
    return rs.records.get(conversationId) || null;
  }

  // The consultation of the open conversation: its question pinned above the messages.
  async function renderPin(conversationId = rs.pinFor) {
    rs.pinFor = conversationId;
    const box = $("consultation-pin");
    if (!conversationId || !ctx.chat.state.consultations.has(conversationId)) {
      box.hidden = true;
      return;
    }
    const c = consultationOf(conversationId) || (await recordOf(conversationId));
    if (rs.pinFor !== conversationId) return;
    if (!c) {
      box.hidden = true;
      return;
    }
    await people.known([c.asker_id, c.expert_id, c.third_party_id]);
    const open = c.state === "open";
    const expert = c.expert_id === me().id;
    const asker = c.asker_id === me().id;
    $("pin-question").replaceChildren(
      c.urgency === "urgent" ? el("span", { class: "urgent-tag" }, labels.urgency.urgent) : "",
      " ", c.question,
    );
    const facts = [
      ringName(c.ring_id),
      t("Asked by {name}", { name: people.name(c.asker_id) }),
      c.expert_id ? t("Answered by {name}", { name: people.name(c.expert_id) }) : null,
      c.third_party_id ? t("Invited: {name}", { name: people.name(c.third_party_id) }) : null,
      [t("Client reference"), ": ", c.client_ref ? el("code", {}, c.client_ref) : t("None")],
      [t("Legal basis"), ": ", legalBasisLabel(c.legal_basis)],
      open && c.kept_open_at ? t("Kept open at {time}", { time: fmt.time(c.kept_open_at) }) : null,
      open ? null : t("Ended {time}: {outcome}", { time: c.closed_at ? fmt.when(c.closed_at) : "", outcome: labels.outcomes[c.outcome] || c.outcome || "" }),
    ].filter(Boolean);
    $("pin-facts").replaceChildren(...facts.flatMap((f, i) => (i ? [" · ", f] : [f])).flat());
    $("pin-note").hidden = !c.asker_note;
    $("pin-note").textContent = c.asker_note ? t("Asker's note: {note}", { note: c.asker_note }) : "";
    $("close-consultation-button").hidden = !(open && expert);
    $("close-consultation-button").onclick = () => openClose(c);
    $("keep-open-button").hidden = !(open && expert && rs.reminders.has(c.id));
    $("keep-open-button").onclick = () => keepOpen(c);
    $("note-button").hidden = !asker;
    $("note-button").textContent = c.asker_note ? t("Edit your note") : t("Add a note");
    $("note-button").onclick = () => openNote(c);
    $("invite-button").hidden = !(open && !c.third_party_id && (asker || expert));
    $("invite-button").onclick = () => openInvite(c);
    $("pin-owner").textContent = open && !expert
      ? t("{name} closes the consultation and records the outcome.", { name: people.name(c.expert_id) })
      : "";
    box.hidden = false;
    renderQuestions();
  }

  let closing = null;
  function openClose(c) {
    closing = c;
    $("close-consultation-form").reset();
    $("close-error").hidden = true;
    $("close-legal-field").hidden = Boolean(c.legal_basis);
    $("close-dialog-question").textContent = `${ringName(c.ring_id)}: ${c.question}`;
    $("close-dialog").showModal();
    $("close-outcome").focus();
  }

  function submitClose(event) {
    event.preventDefault();
    const c = closing;
    if (!c) return;
    const topic = $("close-topic").value;
    if (!topic) {
      $("close-error").textContent = t("Choose the topic.");
      $("close-error").hidden = false;
      $("close-topic").focus();
      return;
    }
    const frame = { type: "close_consultation", consultation_id: c.id, outcome: $("close-outcome").value, topic };
    if (!c.legal_basis && $("close-legal").value) frame.legal_basis = $("close-legal").value;
    $("close-error").hidden = true;
    send(frame, { kind: "close" });
  }

  function keepOpen(c) {
    rs.reminders.delete(c.id);
    send({ type: "consultation_keep_open", consultation_id: c.id });
    renderAttention();
    renderPin();
    announce(t("The consultation stays open."));
  }

  let noting = null;
  function openNote(c) {
    noting = c;
    $("note-input").value = c.asker_note || "";
    $("note-error").hidden = true;
    $("note-dialog").showModal();
    $("note-input").focus();
  }

  function submitNote(event) {
    event.preventDefault();
    if (!noting) return;
    send({ type: "consultation_note", consultation_id: noting.id, note: $("note-input").value }, { kind: "note" });
    $("note-dialog").close();
    announce(t("Your note was saved with the consultation."));
  }

  let inviting = null;
  let inviteTimer = null;
  function openInvite(c) {
    inviting = c;
    $("invite-search").value = "";
    $("invite-results").replaceChildren();
    $("invite-error").hidden = true;
    $("invite-dialog").showModal();
    $("invite-search").focus();
  }

  async function searchInvite() {
    const q = $("invite-search").value.trim();
    const c = inviting;
    if (!q || !c) {
      $("invite-results").replaceChildren();
      return;
    }
    const data = await api("GET", `/api/people?q=${encodeURIComponent(q)}&limit=8`);
    const taken = new Set([c.asker_id, c.expert_id]);
    $("invite-results").replaceChildren(
      ...data.people.filter((p) => !taken.has(p.id)).map((p) => {
        people.remember(p);
        return el("li", {},
          el("button", { type: "button", class: "link", onclick: () => invite(c, p) }, t("Invite {name}", { name: p.name })),
          el("span", { class: "muted small" }, ` ${p.title || ""}`),
        );
      }),
    );
  }

  function invite(c, person) {
    send({ type: "invite", consultation_id: c.id, person_id: person.id }, { kind: "invite", name: person.name });
    announce(t("{name} was invited to the consultation.", { name: person.name }));
    $("invite-dialog").close();
  }

  // ---------------------------------------------------------------- callbacks

  async function onCallback(cb, { alert = false } = {}) {
    const known = rs.callbacks.get(cb.id);
    if (cb.state === "open" || cb.state === "claimed") rs.callbacks.set(cb.id, cb);
    else rs.callbacks.delete(cb.id);
    await renderCallbacks();
    // A request that reaches me (not one I made) says so, as an offer would.
    if (alert && !known && cb.state === "open" && cb.created_by !== me().id) {
      const text = t("{name} asks you to call back: {note}", { name: people.name(cb.created_by), note: cb.note });
      announce(text);
      attention.notify(t("Callback request"), text, `callback-${cb.id}`);
    }
  }

  function callbackOwner(cb) {
    if (cb.owner_ring_id) return t("Ring {ring}", { ring: ringName(cb.owner_ring_id) });
    if (cb.owner_person_id) return people.name(cb.owner_person_id);
    return "";
  }

  async function renderCallbacks() {
    const now = Date.now();
    const overdue = (cb) => Date.parse(cb.due_at) < now;
    // Overdue first, then by due time.
    const items = [...rs.callbacks.values()].sort((a, b) => overdue(b) - overdue(a) || a.due_at.localeCompare(b.due_at));
    await people.known(items.flatMap((cb) => [cb.created_by, cb.owner_person_id, cb.claimed_by]));
    $("callbacks").hidden = items.length === 0;
    $("callback-list").replaceChildren(
      ...items.map((cb) => {
        const late = overdue(cb);
        const headId = `callback-${cb.id}`;
        const mineToAsk = cb.created_by === me().id;
        const caller = people.get(cb.created_by);
        const update = (to) => send({ type: "callback_update", callback_id: cb.id, state: to }, { kind: "callback_update" });
        return el(
          "li",
          { class: `card callback-card${late ? " overdue" : ""}`, "data-callback-id": cb.id },
          el("div", { class: "card-head" },
            el("strong", { id: headId }, mineToAsk ? t("To {owner}", { owner: callbackOwner(cb) }) : t("From {name}", { name: people.name(cb.created_by) })),
            late ? el("span", { class: "tag tag-overdue" }, t("Overdue")) : null,
            el("span", { class: `tag tag-${cb.state}` }, cb.state === "claimed" && cb.claimed_by ? t("Claimed by {name}", { name: people.name(cb.claimed_by) }) : labels.callback_states[cb.state]),
          ),
          cb.note ? el("p", { class: "card-text" }, cb.note) : null,
          !mineToAsk
            ? el("p", { class: "callback-phone" },
                caller?.work_phone ? [t("Call"), " ", people.telLink(caller.work_phone)] : t("No work phone in the directory: send a message instead."),
              )
            : null,
          el("p", { class: "small" },
            t("Call back by {time}", { time: fmt.when(cb.due_at) }),
            !mineToAsk && cb.owner_ring_id ? ` · ${callbackOwner(cb)}` : "",
            cb.client_ref ? [" · ", t("Client reference"), ": ", el("code", {}, cb.client_ref)] : "",
          ),
          el("div", { class: "card-actions" },
            cb.state === "open" && !mineToAsk ? el("button", { type: "button", "aria-describedby": headId, onclick: () => update("claimed") }, t("Claim")) : null,
            el("button", { type: "button", "aria-describedby": headId, onclick: () => update("done") }, mineToAsk ? t("Resolved") : t("Done")),
            !mineToAsk ? el("button", { type: "button", "aria-describedby": headId, onclick: () => update("could_not_reach") }, t("Could not reach")) : null,
          ),
        );
      }),
    );
  }

  function openCallbackDialog(personId) {
    rs.callbackTarget = personId;
    $("callback-dialog-target").textContent = t("{name} gets the request and calls you back.", { name: people.name(personId) });
    $("callback-form").reset();
    $("callback-error").hidden = true;
    $("callback-dialog").showModal();
    $("callback-note").focus();
  }

  function submitCallback(event) {
    event.preventDefault();
    const note = $("callback-note").value.trim();
    if (!note) {
      $("callback-error").textContent = t("Write what it is about.");
      $("callback-error").hidden = false;
      return;
    }
    const code = $("callback-client-code").value.trim().toUpperCase();
    send({
      type: "callback_create",
      owner_person_id: rs.callbackTarget,
      note,
      client_code: code || null,
      due_minutes: Number($("callback-due").value),
    }, { kind: "callback_person" });
  }

  // ---------------------------------------------------------------- frames

  async function welcome(f) {
    setRings(f.rings || []);
    rs.member = f.ring_member || rs.member;
    rs.offers.clear();
    for (const offer of f.offers || []) rs.offers.set(offer.question_id, { frame: offer, receivedAt: Date.now() });
    showNextOffer();
    rs.questions.clear();
    for (const q of f.questions || []) rs.questions.set(q.question_id, { q, receivedAt: Date.now() });
    rs.consultations.clear();
    for (const c of f.consultations || []) await onConsultation(c, { fresh: false });
    rs.callbacks.clear();
    for (const cb of f.callbacks || []) rs.callbacks.set(cb.id, cb);
    await renderCallbacks();
    // Ring counts from now on come as ring_summary frames, to this connection only.
    socket.raw({ type: "rings_subscribe", ref: nextRef({ kind: "subscribe" }) });
    if ([...rs.questions.keys()].some((id) => !rs.texts.has(id))) {
      try {
        const data = await api("GET", "/api/consultations?limit=50");
        for (const c of data.consultations) if (c.asker_id === me().id) rs.texts.set(c.question_id, c.question);
      } catch (e) {
        /* the items show without their text */
      }
    }
    renderQuestions();
    renderConsultations();
    await loadMissed();
  }

  async function frame(f) {
    if (f.type === "error") {
      if (!RING_REQUESTS.has(f.request_type)) return false;
      const what = f.ref ? pending.get(f.ref) : null;
      if (f.ref) pending.delete(f.ref);
      const text = errorText(f);
      if ((f.request_type === "ask" || what?.kind === "callback_ask") && $("ask-dialog").open) askError(text);
      else if (f.request_type === "close_consultation" && $("close-dialog").open) {
        $("close-error").textContent = text;
        $("close-error").hidden = false;
      } else if (f.request_type === "callback_create" && $("callback-dialog").open) {
        $("callback-error").textContent = text;
        $("callback-error").hidden = false;
      } else {
        announce(text);
        if (f.request_type === "accept" && what?.questionId) {
          rs.offers.delete(what.questionId);
          showNextOffer();
        }
        if (f.request_type === "ring_sign_in") renderRings();
      }
      return true;
    }
    if (!RING_FRAMES.has(f.type)) return false;
    const what = f.ref ? pending.get(f.ref) : null;
    switch (f.type) {
      case "rings":
        setRings(f.rings);
        if (f.ring_member) rs.member = f.ring_member;
        renderAttention();
        if (what?.kind === "sign_in") {
          const ring = rs.rings.get(what.ringId);
          if (ring) announce(ring.signed_in ? t("You are signed in to the ring {ring}.", { ring: ring.name }) : t("You are signed out of the ring {ring}.", { ring: ring.name }));
        }
        break;
      case "ring_summary": {
        const known = rs.rings.get(f.ring.id);
        if (known) rs.rings.set(f.ring.id, { ...known, ...f.ring, receivedAt: Date.now() });
        renderRings();
        if ([...rs.questions.values()].some((e) => e.q.ring_id === f.ring.id && LIVE.has(e.q.state))) renderQuestions();
        break;
      }
      case "ring_member": {
        const was = rs.member.not_responding;
        rs.member = { not_responding: f.not_responding, missed_in_row: f.missed_in_row };
        if (f.not_responding && !was) {
          const text = notRespondingText();
          announce(text);
          attention.notify(t("Questions paused"), text, "not-responding");
        } else if (!f.not_responding && was) {
          announce(t("The rings offer you questions again."));
        }
        renderAttention();
        break;
      }
      case "offer":
        onOffer(f);
        break;
      case "offer_withdrawn":
        onOfferWithdrawn(f);
        break;
      case "question_status":
        if (what?.kind === "ask") askAccepted(what);
        await onQuestionStatus(f.question, f.ref);
        break;
      case "accepted":
        rs.offers.delete(f.consultation.question_id);
        await showNextOffer();
        await onConsultation(f.consultation);
        break;
      case "consultation":
      case "consultation_closed":
        if (f.type === "consultation_closed" && $("close-dialog").open) $("close-dialog").close();
        await onConsultation(f.consultation);
        break;
      case "consultation_reminder": {
        rs.reminders.set(f.consultation_id, f);
        const c = rs.consultations.get(f.consultation_id);
        const text = c ? t("The consultation with {name} has been quiet since {time}.", { name: people.name(c.asker_id), time: fmt.time(f.idle_since) }) : "";
        announce(text);
        attention.notify(t("Consultation still open"), text, `reminder-${f.consultation_id}`);
        renderAttention();
        renderConsultations();
        renderPin();
        break;
      }
      case "callback":
        await onCallback(f.callback, { alert: true });
        break;
      case "callback_created":
        await onCallback(f.callback);
        if (what?.kind === "callback") {
          const entry = rs.questions.get(what.questionId);
          if (entry) entry.q = { ...entry.q, state: "callback" };
          renderQuestions();
          announce(t("Callback request made: a member of the ring calls you back."));
        } else if (what?.kind === "callback_ask") {
          if ($("ask-dialog").open) $("ask-dialog").close();
          $("ask-form").reset();
          announce(t("Callback request made: a member of the ring calls you back."));
        } else if (what?.kind === "callback_person") {
          if ($("callback-dialog").open) $("callback-dialog").close();
          announce(t("Callback request sent."));
        }
        break;
      default:
        break;
    }
    if (f.ref) pending.delete(f.ref);
    return true;
  }

  // ---------------------------------------------------------------- wiring

  $("ask-ring-button").addEventListener("click", () => openAsk(false));
  $("ask-named-button").addEventListener("click", () => openAsk(true));
  $("ask-form").addEventListener("submit", submitAsk);
  $("ask-ring").addEventListener("change", renderAskCounts);
  $("ask-cancel").addEventListener("click", () => $("ask-dialog").close());
  $("ask-leave-callback").addEventListener("click", askAsCallback);
  // The identity code must not linger in the page once the dialog is gone.
  $("ask-dialog").addEventListener("close", () => ($("ask-client-code").value = ""));
  $("callback-dialog").addEventListener("close", () => ($("callback-client-code").value = ""));
  $("offer-accept").addEventListener("click", () => answerOffer(true));
  $("offer-decline").addEventListener("click", () => answerOffer(false));
  $("offer-dialog").addEventListener("cancel", (e) => {
    // Escape declines: the question moves on to the next member at once.
    e.preventDefault();
    answerOffer(false);
  });
  $("close-consultation-form").addEventListener("submit", submitClose);
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  $("note-form").addEventListener("submit", submitNote);
  $("note-cancel").addEventListener("click", () => $("note-dialog").close());
  $("invite-search").addEventListener("input", () => {
    clearTimeout(inviteTimer);
    inviteTimer = setTimeout(searchInvite, 200);
  });
  $("callback-form").addEventListener("submit", submitCallback);
  $("callback-cancel").addEventListener("click", () => $("callback-dialog").close());
  $("resume-button").addEventListener("click", () => send({ type: "ring_resume" }, { kind: "resume" }));
  // Asking from any view: Alt+K asks a ring, Alt+L my named contacts (docs: README).
  document.addEventListener("keydown", (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const key = e.key.toLowerCase();
    if ((key === "k" || e.code === "KeyK") && !$("offer-dialog").open) {
      e.preventDefault();
      openAsk(false);
    } else if ((key === "l" || e.code === "KeyL") && !$("offer-dialog").open) {
      e.preventDefault();
      openAsk(true);
    }
  });

  setInterval(() => {
    for (const node of document.querySelectorAll("#question-strip .ticking, #ring-list .ticking")) {
      const text = duration(Number(node.dataset.base) + (Date.now() - Number(node.dataset.since)) / 1000);
      if (node.textContent !== text) node.textContent = text;
    }
  }, 1000);
  // Overdue is a matter of time passing, not of frames.
  setInterval(() => rs.callbacks.size && renderCallbacks(), 30000);

  return {
    welcome,
    frame,
    renderPin,
    // The view changed: what the strip hides depends on what is on screen.
    viewChanged: renderQuestions,
    requestCallback: openCallbackDialog,
    rings: () => [...rs.rings.values()],
    renderAlertLine,
  };
}
