// Rings on the main page: the ring list with sign-in, asking a ring, my questions' live
// status, ringing offers, the consultation bar above the chat, and callback requests.
import { api, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const RING_FRAMES = new Set([
  "rings",
  "rings_changed",
  "offer",
  "offer_withdrawn",
  "question_status",
  "accepted",
  "consultation",
  "consultation_closed",
  "callback",
  "callback_created",
]);
const RING_REQUESTS = new Set([
  "ring_sign_in",
  "ask",
  "cancel",
  "accept",
  "decline",
  "close_consultation",
  "invite",
  "callback_create",
  "callback_update",
]);
const RING_INTERVAL_MS = 3000;

/** Wires the ring views to the page. `ctx` gives the shared state and helpers of app.js. */
export function initRings(ctx) {
  const { socket, state, el, labels, personName, ensurePeopleKnown, formatTime } = ctx;
  const rs = {
    rings: [],
    offers: new Map(), // question id -> {frame, receivedAt}
    questions: new Map(), // question id -> {q, receivedAt, text, conversationId}
    consultations: new Map(), // id -> open consultation
    callbacks: new Map(), // id -> callback request
    texts: new Map(), // question id -> question text (mine)
    shownOffer: null,
    askNamed: false,
    callbackTarget: null,
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

  function estimate(seconds) {
    if (seconds === null || seconds === undefined) return t("unknown");
    if (seconds < 60) return t("under a minute");
    return t("about {minutes} min", { minutes: Math.round(seconds / 60) });
  }

  function ringName(id) {
    const ring = rs.rings.find((r) => r.id === id);
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

  // ---------------------------------------------------------------- rings

  function renderRings() {
    const list = $("ring-list");
    $("ring-list-empty").hidden = rs.rings.length > 0;
    list.replaceChildren(
      ...rs.rings.map((r) => {
        const nameId = `ring-name-${r.id.replace(/[^\w-]/g, "_")}`;
        const waiting = r.waiting > 0;
        return el(
          "li",
          { class: `ring${r.signed_in ? " signed-in" : ""}${waiting ? " has-waiting" : ""}`, "data-ring-id": r.id },
          el("div", { class: "ring-main" },
            el("span", { class: "ring-name", id: nameId }, r.name),
            el("span", { class: "ring-counts small" },
              el("span", { class: waiting ? "waiting-count" : "" }, t("Waiting: {count}", { count: r.waiting })),
              " · ",
              t("Free: {free} of {signed}", { free: r.members_free, signed: r.members_signed_in }),
              waiting && r.oldest_wait_seconds !== null && r.oldest_wait_seconds !== undefined
                ? [" · ", ...around(t("longest wait {time}"), "time", el("span", { class: "ticking", "data-base": r.oldest_wait_seconds, "data-since": Date.now() }, duration(r.oldest_wait_seconds)))]
                : "",
            ),
          ),
          r.member
            ? el("label", { class: "inline ring-toggle" },
                el("input", {
                  type: "checkbox",
                  checked: r.signed_in,
                  onchange: (e) => signIn(r.id, e.target.checked, e.target),
                }),
                t("Signed in"),
                el("span", { class: "visually-hidden" }, `: ${r.name}`),
              )
            : null,
        );
      }),
    );
    fillRingSelect();
  }

  function signIn(ringId, signedIn, checkbox) {
    // The ringing sound needs an audio context made during a user gesture: this is one.
    ctx.primeSound?.();
    checkbox.disabled = true;
    const ok = socket.raw({ type: "ring_sign_in", ring_id: ringId, signed_in: signedIn, ref: nextRef({ kind: "sign_in", ringId }) });
    if (!ok) {
      checkbox.checked = !signedIn;
      checkbox.disabled = false;
      announce(t("No connection. Try again in a moment."));
    }
  }

  let ringsTimer = null;
  function refreshRingsSoon() {
    clearTimeout(ringsTimer);
    ringsTimer = setTimeout(async () => {
      try {
        const data = await api("GET", "/api/rings");
        rs.rings = data.rings;
        renderRings();
      } catch (e) {
        /* the next change or reconnect refreshes them */
      }
    }, 300);
  }

  // ---------------------------------------------------------------- asking

  function fillRingSelect() {
    const select = $("ask-ring");
    const current = select.value;
    select.replaceChildren(...rs.rings.map((r) => el("option", { value: r.id }, r.name)));
    if (current && rs.rings.some((r) => r.id === current)) select.value = current;
  }

  function openAsk(named) {
    rs.askNamed = named;
    $("ask-dialog-heading").textContent = named ? t("Contact my liaison") : t("Ask a ring");
    $("ask-ring-field").hidden = named;
    $("ask-named-intro").hidden = !named;
    $("ask-error").hidden = true;
    $("ask-client-code").value = "";
    fillRingSelect();
    $("ask-dialog").showModal();
    (named ? $("ask-question") : $("ask-ring")).focus();
  }

  function askError(text) {
    $("ask-error").textContent = text;
    $("ask-error").hidden = false;
  }

  function submitAsk(event) {
    event.preventDefault();
    const question = $("ask-question").value.trim().replace(/\s+/g, " ");
    const code = $("ask-client-code").value.trim().toUpperCase();
    const legal = new FormData($("ask-form")).get("legal_basis") || null;
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
      return;
    }
    const frame = {
      type: "ask",
      question,
      client_code: code || null,
      urgency: new FormData($("ask-form")).get("urgency") || "normal",
      legal_basis: legal,
      ref: nextRef({ kind: "ask", question }),
    };
    if (rs.askNamed) frame.named = true;
    else frame.ring_id = $("ask-ring").value;
    $("ask-error").hidden = true;
    if (!socket.raw(frame)) askError(t("No connection. Try again in a moment."));
  }

  function askAccepted() {
    const ring = $("ask-ring").value;
    $("ask-form").reset();
    $("ask-ring").value = ring;
    $("ask-client-code").value = "";
    if ($("ask-dialog").open) $("ask-dialog").close();
  }

  // ---------------------------------------------------------------- my questions

  const QUESTION_STATES = {
    waiting: () => t("Waiting in the queue"),
    offered: () => t("Ringing"),
    accepted: () => t("Accepted"),
    cancelled: () => t("Cancelled"),
    timed_out: () => t("Nobody answered in time"),
    overflowed: () => t("Moved to another ring"),
  };

  function statusLine(q) {
    if (q.state === "waiting" || q.state === "overflowed") {
      const parts = [];
      if (q.position) parts.push(t("Position {position} of {count}", { position: q.position, count: q.queue_length }));
      parts.push(t("Free: {free} of {signed}", { free: q.members_free, signed: q.members_signed_in }));
      parts.push(t("Estimated wait: {time}", { time: estimate(q.estimated_wait_seconds) }));
      return parts.join(" · ");
    }
    if (q.state === "offered") return t("A member is being alerted now.");
    if (q.state === "accepted") return q.accepted_by ? t("Accepted by {name}", { name: personName(q.accepted_by) }) : t("Accepted");
    if (q.state === "timed_out") return t("You can turn it into a callback request: a member of the ring calls you back.");
    return "";
  }

  async function onQuestionStatus(q, ref) {
    const known = rs.questions.get(q.question_id);
    const asked = ref ? pending.get(ref) : null;
    if (asked?.kind === "ask") rs.texts.set(q.question_id, asked.question);
    if (q.accepted_by) await ensurePeopleKnown([q.accepted_by]);
    if (q.state === "cancelled") {
      rs.questions.delete(q.question_id);
    } else {
      rs.questions.set(q.question_id, { ...known, q, receivedAt: Date.now() });
    }
    const before = known?.q;
    if (!before) {
      if (asked) announce(t("Question sent to {ring}.", { ring: q.ring_name }) + " " + statusLine(q));
    } else if (before.state !== q.state) {
      announce(`${q.ring_name}: ${QUESTION_STATES[q.state]?.() || q.state}. ${statusLine(q)}`);
    } else if (before.position !== q.position && q.position) {
      announce(t("Your question to {ring} is now number {position} in the queue.", { ring: q.ring_name, position: q.position }));
    }
    renderQuestions();
  }

  function renderQuestions() {
    const items = [...rs.questions.values()];
    $("my-questions").hidden = items.length === 0;
    $("question-list").replaceChildren(
      ...items.map(({ q, receivedAt, conversationId }) => {
        const id = q.question_id;
        const headId = `question-${id}`;
        const live = ["waiting", "offered", "overflowed"].includes(q.state);
        const text = rs.texts.get(id);
        return el(
          "li",
          { class: `card question-card state-${q.state}`, "data-question-id": id },
          el("div", { class: "card-head" },
            el("strong", { id: headId }, q.ring_name),
            el("span", { class: `tag tag-${q.state}` }, QUESTION_STATES[q.state]?.() || q.state),
          ),
          text ? el("p", { class: "card-text" }, text) : null,
          el("p", { class: "small" }, statusLine(q)),
          live
            ? el("p", { class: "small muted" }, t("Waited"), " ", el("span", { class: "elapsed", "data-base": q.waited_seconds, "data-since": receivedAt }, duration(q.waited_seconds + (Date.now() - receivedAt) / 1000)))
            : null,
          el("div", { class: "card-actions" },
            live ? el("button", { type: "button", "aria-describedby": headId, onclick: () => socket.raw({ type: "cancel", question_id: id, ref: nextRef({ kind: "cancel" }) }) }, t("Cancel question")) : null,
            live || q.state === "timed_out"
              ? el("button", { type: "button", "aria-describedby": headId, onclick: () => toCallback(id) }, t("Turn into callback request"))
              : null,
            q.state === "accepted" && conversationId
              ? el("button", { type: "button", class: "primary", onclick: () => ctx.openConversation(conversationId) }, t("Open the conversation"))
              : null,
            q.state === "accepted" || q.state === "timed_out"
              ? el("button", { type: "button", class: "link", "aria-describedby": headId, onclick: () => { rs.questions.delete(id); renderQuestions(); } }, t("Dismiss"))
              : null,
          ),
        );
      }),
    );
  }

  function toCallback(questionId) {
    socket.raw({ type: "callback_create", question_id: questionId, note: "", due_minutes: 60, ref: nextRef({ kind: "callback", questionId }) });
  }

  // ---------------------------------------------------------------- offers (ringing)

  let ringTimer = null;
  let countdownTimer = null;

  function onOffer(f) {
    rs.offers.set(f.question_id, { frame: f, receivedAt: Date.now() });
    showNextOffer();
  }

  async function showNextOffer() {
    const dialog = $("offer-dialog");
    const next = [...rs.offers.values()][0];
    if (!next) {
      stopRinging();
      rs.shownOffer = null;
      if (dialog.open) dialog.close();
      return;
    }
    const f = next.frame;
    const isNew = rs.shownOffer !== f.question_id;
    rs.shownOffer = f.question_id;
    if (isNew) {
      await ensurePeopleKnown([f.asker_id]);
      const asker = state.people.get(f.asker_id);
      $("offer-body").replaceChildren(...[
        el("p", { class: "offer-kicker" }, t("Incoming question"), " · ", f.ring_name),
        el("h2", { id: "offer-heading" }, t("{name} asks the ring {ring}", { name: personName(f.asker_id), ring: f.ring_name })),
        asker ? el("p", { class: "muted small" }, [asker.title, asker.organisation?.name, asker.unit?.name].filter(Boolean).join(" · ")) : null,
        f.urgency === "urgent" ? el("p", { class: "urgent-tag" }, labels.urgency.urgent) : null,
        el("p", { id: "offer-question", class: "offer-question" }, f.question),
        f.client_ref ? el("p", { class: "small" }, t("Client reference"), ": ", el("code", {}, f.client_ref)) : null,
        el("p", { id: "offer-countdown", class: "countdown", role: "timer" }),
      ].filter(Boolean));
      $("offer-accept").disabled = false;
      $("offer-decline").disabled = false;
    }
    updateCountdown();
    if (!dialog.open) {
      dialog.showModal();
      $("offer-accept").focus();
    }
    startRinging(f);
  }

  function updateCountdown() {
    const offer = rs.offers.get(rs.shownOffer);
    const node = $("offer-countdown");
    if (!offer || !node) return;
    const left = Math.ceil((Date.parse(offer.frame.expires_at) - Date.now()) / 1000);
    node.textContent = left > 0 ? t("Rings for {seconds} s more", { seconds: left }) : t("Time is up");
    if (left < -3) {
      // The server withdraws missed offers itself; this only tidies up if that frame is lost.
      rs.offers.delete(rs.shownOffer);
      showNextOffer();
    }
  }

  function startRinging(f) {
    if (!countdownTimer) countdownTimer = setInterval(updateCountdown, 1000);
    if (ringTimer) return;
    ctx.playSound(true);
    ringTimer = setInterval(() => ctx.playSound(true), RING_INTERVAL_MS);
    if (document.hidden && window.Notification && Notification.permission === "granted" && localStorage.getItem("liaison-notify") === "on") {
      const n = new Notification(t("Question for the ring {ring}", { ring: f.ring_name }), {
        body: f.question.slice(0, 140),
        tag: `offer-${f.question_id}`,
        requireInteraction: true,
      });
      n.onclick = () => {
        window.focus();
        n.close();
      };
      rs.notification = n;
    }
  }

  function stopRinging() {
    clearInterval(ringTimer);
    clearInterval(countdownTimer);
    ringTimer = null;
    countdownTimer = null;
    rs.notification?.close();
    rs.notification = null;
  }

  function answerOffer(accept) {
    const id = rs.shownOffer;
    if (!id) return;
    $("offer-accept").disabled = true;
    $("offer-decline").disabled = true;
    stopRinging();
    const type = accept ? "accept" : "decline";
    socket.raw({ type, question_id: id, ref: nextRef({ kind: type, questionId: id }) });
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
  }

  // ---------------------------------------------------------------- consultations

  async function ensureConversation(id) {
    if (state.conversations.has(id)) return;
    const data = await api("GET", "/api/conversations");
    for (const c of data.conversations) ctx.upsertConversation(c);
    await ensurePeopleKnown([...new Set(data.conversations.flatMap((c) => c.members.map((m) => m.person_id)))]);
    ctx.renderConversations();
  }

  async function onConsultation(c, { open = true } = {}) {
    const known = rs.consultations.get(c.id);
    await ensurePeopleKnown([c.asker_id, c.expert_id, c.third_party_id].filter(Boolean));
    const card = rs.questions.get(c.question_id);
    if (c.state === "open") {
      rs.consultations.set(c.id, c);
      if (card) card.conversationId = c.conversation_id;
      const mine = c.asker_id === state.me.id || c.expert_id === state.me.id;
      if (!known && open && c.conversation_id) {
        await ensureConversation(c.conversation_id);
        if (mine) {
          await ctx.openConversation(c.conversation_id);
          announce(
            c.expert_id === state.me.id
              ? t("Consultation with {name} is open.", { name: personName(c.asker_id) })
              : t("{name} accepted your question. The conversation is open.", { name: personName(c.expert_id) }),
          );
        } else {
          announce(t("You were invited to a consultation."));
        }
      }
    } else {
      rs.consultations.delete(c.id);
      if (card) rs.questions.delete(c.question_id);
      if (known) announce(t("The consultation was closed and saved in the log."));
    }
    renderQuestions();
    renderBar();
  }

  function openConsultationOf(conversationId) {
    return [...rs.consultations.values()].find((c) => c.conversation_id === conversationId) || null;
  }

  let barFor = null;
  function renderBar() {
    const c = state.openId ? openConsultationOf(state.openId) : null;
    const bar = $("consultation-bar");
    bar.hidden = !c;
    if (!c) {
      barFor = null;
      return;
    }
    const fact = (term, ...value) => el("div", { class: "fact" }, el("dt", {}, term), el("dd", {}, ...value));
    $("consultation-facts").replaceChildren(
      ...[
        fact(t("Ring"), ringName(c.ring_id)),
        fact(t("Asked by"), personName(c.asker_id)),
        c.expert_id ? fact(t("Answered by"), personName(c.expert_id)) : null,
        c.urgency === "urgent" ? fact(t("Urgency"), el("span", { class: "urgent-tag" }, labels.urgency.urgent)) : null,
        fact(t("Client reference"), c.client_ref ? el("code", {}, c.client_ref) : t("None")),
        fact(t("Legal basis"), legalBasisLabel(c.legal_basis)),
        c.third_party_id ? fact(t("Invited"), personName(c.third_party_id)) : null,
      ].filter(Boolean),
    );
    $("close-legal-field").hidden = Boolean(c.legal_basis);
    const mayInvite = !c.third_party_id && (c.asker_id === state.me.id || c.expert_id === state.me.id);
    $("invite-details").hidden = !mayInvite;
    if (barFor !== c.id) {
      // A new consultation in view: a fresh form.
      barFor = c.id;
      $("close-consultation-form").reset();
      $("close-error").hidden = true;
      $("invite-error").hidden = true;
      $("invite-results").replaceChildren();
      $("invite-search").value = "";
      $("invite-details").open = false;
    }
  }

  function submitClose(event) {
    event.preventDefault();
    const c = state.openId ? openConsultationOf(state.openId) : null;
    if (!c) return;
    const outcome = $("close-outcome").value;
    const topic = $("close-topic").value;
    if (!topic) {
      $("close-error").textContent = t("Choose the topic.");
      $("close-error").hidden = false;
      $("close-topic").focus();
      return;
    }
    const frame = { type: "close_consultation", consultation_id: c.id, outcome, topic, ref: nextRef({ kind: "close" }) };
    if (!c.legal_basis && $("close-legal").value) frame.legal_basis = $("close-legal").value;
    $("close-error").hidden = true;
    socket.raw(frame);
  }

  let inviteTimer = null;
  async function searchInvite() {
    const q = $("invite-search").value.trim();
    const c = state.openId ? openConsultationOf(state.openId) : null;
    if (!q || !c) {
      $("invite-results").replaceChildren();
      return;
    }
    const data = await api("GET", `/api/people?q=${encodeURIComponent(q)}&limit=8`);
    const taken = new Set([c.asker_id, c.expert_id]);
    $("invite-results").replaceChildren(
      ...data.people.filter((p) => !taken.has(p.id)).map((p) => {
        state.people.set(p.id, p);
        return el("li", {},
          el("button", { type: "button", class: "link", onclick: () => invite(c, p) }, t("Invite {name}", { name: p.name })),
          el("span", { class: "muted small" }, ` ${p.title || ""}`),
        );
      }),
    );
  }

  function invite(c, person) {
    socket.raw({ type: "invite", consultation_id: c.id, person_id: person.id, ref: nextRef({ kind: "invite", name: person.name }) });
    announce(t("{name} was invited to the consultation.", { name: person.name }));
    $("invite-details").open = false;
  }

  // ---------------------------------------------------------------- callbacks

  function onCallback(cb) {
    if (cb.state === "open" || cb.state === "claimed") rs.callbacks.set(cb.id, cb);
    else rs.callbacks.delete(cb.id);
    renderCallbacks();
  }

  function callbackOwner(cb) {
    if (cb.owner_ring_id) return t("Ring {ring}", { ring: ringName(cb.owner_ring_id) });
    if (cb.owner_person_id) return personName(cb.owner_person_id);
    return "";
  }

  async function renderCallbacks() {
    const items = [...rs.callbacks.values()].sort((a, b) => a.due_at.localeCompare(b.due_at));
    await ensurePeopleKnown([...new Set(items.flatMap((cb) => [cb.created_by, cb.owner_person_id, cb.claimed_by]).filter(Boolean))]);
    $("callbacks").hidden = items.length === 0;
    const now = Date.now();
    $("callback-list").replaceChildren(
      ...items.map((cb) => {
        const overdue = Date.parse(cb.due_at) < now;
        const headId = `callback-${cb.id}`;
        const mineToAsk = cb.created_by === state.me.id;
        const update = (to) => socket.raw({ type: "callback_update", callback_id: cb.id, state: to, ref: nextRef({ kind: "callback_update" }) });
        return el(
          "li",
          { class: `card callback-card${overdue ? " overdue" : ""}`, "data-callback-id": cb.id },
          el("div", { class: "card-head" },
            el("strong", { id: headId }, mineToAsk ? t("To {owner}", { owner: callbackOwner(cb) }) : t("From {name}", { name: personName(cb.created_by) })),
            overdue ? el("span", { class: "tag tag-overdue" }, t("Overdue")) : null,
            el("span", { class: `tag tag-${cb.state}` }, cb.state === "claimed" && cb.claimed_by ? t("Claimed by {name}", { name: personName(cb.claimed_by) }) : labels.callback_states[cb.state]),
          ),
          cb.note ? el("p", { class: "card-text" }, cb.note) : null,
          el("p", { class: "small" },
            t("Call back by {time}", { time: formatTime(cb.due_at) }),
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
    $("callback-dialog-target").textContent = t("{name} gets the request and calls you back.", { name: personName(personId) });
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
    socket.raw({
      type: "callback_create",
      owner_person_id: rs.callbackTarget,
      note,
      client_code: code || null,
      due_minutes: Number($("callback-due").value),
      ref: nextRef({ kind: "callback_person" }),
    });
  }

  // ---------------------------------------------------------------- frames

  async function welcome(f) {
    rs.rings = f.rings || [];
    renderRings();
    rs.offers.clear();
    for (const offer of f.offers || []) rs.offers.set(offer.question_id, { frame: offer, receivedAt: Date.now() });
    showNextOffer();
    rs.questions.clear();
    for (const q of f.questions || []) rs.questions.set(q.question_id, { q, receivedAt: Date.now() });
    rs.consultations.clear();
    for (const c of f.consultations || []) await onConsultation(c, { open: false });
    rs.callbacks.clear();
    for (const cb of f.callbacks || []) onCallback(cb);
    renderCallbacks();
    if ([...rs.questions.keys()].some((id) => !rs.texts.has(id))) {
      try {
        const data = await api("GET", "/api/consultations?limit=50");
        for (const c of data.consultations) if (c.asker_id === state.me.id) rs.texts.set(c.question_id, c.question);
      } catch (e) {
        /* the cards show without their text */
      }
    }
    renderQuestions();
    renderBar();
  }

  async function frame(f) {
    if (f.type === "error") {
      if (!RING_REQUESTS.has(f.request_type)) return false;
      const what = f.ref ? pending.get(f.ref) : null;
      if (f.ref) pending.delete(f.ref);
      const text = errorText(f);
      if (f.request_type === "ask" && $("ask-dialog").open) askError(text);
      else if (f.request_type === "close_consultation") {
        $("close-error").textContent = text;
        $("close-error").hidden = false;
      } else if (f.request_type === "invite") {
        $("invite-error").textContent = text;
        $("invite-error").hidden = false;
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
        rs.rings = f.rings;
        renderRings();
        if (what?.kind === "sign_in") {
          const ring = rs.rings.find((r) => r.id === what.ringId);
          if (ring) announce(ring.signed_in ? t("You are signed in to the ring {ring}.", { ring: ring.name }) : t("You are signed out of the ring {ring}.", { ring: ring.name }));
        }
        break;
      case "rings_changed":
        refreshRingsSoon();
        break;
      case "offer":
        onOffer(f);
        break;
      case "offer_withdrawn":
        onOfferWithdrawn(f);
        break;
      case "question_status":
        if (what?.kind === "ask") askAccepted();
        await onQuestionStatus(f.question, f.ref);
        break;
      case "accepted":
        rs.offers.delete(f.consultation.question_id);
        await showNextOffer();
        await onConsultation(f.consultation);
        if (state.openId === f.consultation.conversation_id) $("compose-input").focus();
        break;
      case "consultation":
        await onConsultation(f.consultation);
        break;
      case "consultation_closed":
        await onConsultation(f.consultation);
        break;
      case "callback":
        onCallback(f.callback);
        break;
      case "callback_created":
        onCallback(f.callback);
        if (what?.kind === "callback") {
          rs.questions.delete(what.questionId);
          renderQuestions();
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
  $("ask-cancel").addEventListener("click", () => $("ask-dialog").close());
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
  $("invite-search").addEventListener("input", () => {
    clearTimeout(inviteTimer);
    inviteTimer = setTimeout(searchInvite, 200);
  });
  $("callback-form").addEventListener("submit", submitCallback);
  $("callback-cancel").addEventListener("click", () => $("callback-dialog").close());

  setInterval(() => {
    for (const node of document.querySelectorAll("#question-list .elapsed, #ring-list .ticking")) {
      node.textContent = duration(Number(node.dataset.base) + (Date.now() - Number(node.dataset.since)) / 1000);
    }
  }, 1000);
  // Overdue is a matter of time passing, not of frames.
  setInterval(() => rs.callbacks.size && renderCallbacks(), 30000);

  return {
    welcome,
    frame,
    conversationShown: renderBar,
    requestCallback: openCallbackDialog,
  };
}
