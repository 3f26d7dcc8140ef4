// My profile (/me): about me, availability, phone hours and photo over the JSON API, and
// how Liaison gets my attention (notifications, the system's idle state, sound).
import { el } from "../dom.js";
import { api, t } from "../i18n.js";
import * as attention from "../alert.js";
import * as idle from "../idle.js";
import * as people from "../people.js";
import * as presence from "../presence.js";

const $ = (id) => document.getElementById(id);
const labels = JSON.parse($("labels").textContent);
const DAYS = [0, 1, 2, 3, 4, 5, 6];

export function createProfile({ askPermissions }) {
  function summary(person) {
    $("profile-summary").replaceChildren(
      people.avatar(person, "large"),
      el("div", {},
        el("p", { class: "big" }, person.name),
        el("p", {}, [person.title, person.organisation.name, person.unit?.name].filter(Boolean).join(" · ")),
        presence.badge(person.id),
      ),
    );
  }

  function fill(person) {
    const view = presence.viewOf(person.id) || person.presence || {};
    $("profile-ask").value = person.ask_me_about || "";
    $("profile-tags").value = (person.tags || []).join(", ");
    $("profile-phone").value = person.work_phone || "";
    $("profile-note").value = view.note || "";
    $("profile-ooo").value = view.out_of_office_until || "";
    $("profile-ooo-note").value = view.out_of_office_note || "";
    for (const day of DAYS) {
      const slot = (view.phone_hours || []).find((h) => h.day === day);
      $(`start_${day}`).value = slot?.start || "";
      $(`end_${day}`).value = slot?.end || "";
    }
  }

  async function renderAlerts() {
    const notify = attention.notificationPermission();
    $("notify-state").textContent = {
      granted: t("Allowed"),
      denied: t("Blocked in the browser's settings for this site"),
      default: t("Not asked yet"),
      unsupported: t("Not available in this browser"),
    }[notify];
    const idleState = await idle.permission();
    $("idle-state").textContent = {
      granted: t("Allowed"),
      denied: t("Blocked in the browser's settings for this site"),
      prompt: t("Not asked yet"),
      unsupported: t("Not available in this browser: you stay available while Liaison is open"),
    }[idleState] || idleState;
    $("permissions-button").hidden = !(notify === "default" || idleState === "prompt");
    $("sound-toggle").checked = attention.soundOn();
    $("chat-notify-toggle").checked = attention.chatNotificationsOn();
  }

  function showErrors(messages) {
    $("profile-errors").replaceChildren(
      el("p", {}, t("Some changes were not saved:")),
      el("ul", {}, ...messages.map((m) => el("li", {}, m))),
    );
    $("profile-errors").hidden = !messages.length;
  }

  async function save(event) {
    event.preventDefault();
    $("profile-saved").hidden = true;
    const problems = [];
    const hours = [];
    for (const day of DAYS) {
      const start = $(`start_${day}`).value;
      const end = $(`end_${day}`).value;
      if (start || end) hours.push({ day, start, end });
    }
    try {
      const person = await api("PATCH", "/api/me/profile", {
        ask_me_about: $("profile-ask").value,
        // All of them: the server refuses too many rather than the form dropping some.
        tags: $("profile-tags").value.split(",").map((s) => s.trim()).filter(Boolean),
        work_phone: $("profile-phone").value,
      });
      people.remember(person);
    } catch (e) {
      problems.push(e.message);
    }
    try {
      const view = await api("PATCH", "/api/me/presence", {
        note: $("profile-note").value,
        out_of_office_until: $("profile-ooo").value || null,
        out_of_office_note: $("profile-ooo-note").value,
        phone_hours: hours,
      });
      presence.fromFrame({ type: "presence_set", presence: view });
    } catch (e) {
      problems.push(e.message);
    }
    showErrors(problems);
    if (!problems.length) {
      $("profile-saved").hidden = false;
      $("profile-saved").focus?.();
    }
  }

  async function upload(event) {
    event.preventDefault();
    const file = $("photo").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("photo", file);
    try {
      await api("POST", "/api/me/photo", form);
      const me = await api("GET", "/api/me");
      people.remember(me.person);
      summary(me.person);
      $("profile-saved").hidden = false;
      showErrors([]);
    } catch (e) {
      showErrors([e.message]);
    }
  }

  $("profile-form").addEventListener("submit", save);
  $("photo-form").addEventListener("submit", upload);
  $("sound-toggle").addEventListener("change", (e) => attention.setSound(e.target.checked));
  $("chat-notify-toggle").addEventListener("change", (e) => attention.setChatNotifications(e.target.checked));
  $("test-sound-button").addEventListener("click", () => {
    attention.primeSound();
    attention.playSound(true);
  });
  $("permissions-button").addEventListener("click", async () => {
    await askPermissions();
    await renderAlerts();
  });

  return {
    async enter() {
      $("profile-saved").hidden = true;
      showErrors([]);
      const me = await api("GET", "/api/me");
      people.remember(me.person);
      summary(me.person);
      fill(me.person);
      await renderAlerts();
    },
    weekday: (d) => labels.weekdays[d],
  };
}
