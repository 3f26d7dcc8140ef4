// The directory (/) with live presence, and one person's card (/people/{id}).
import { el } from "../dom.js";
import { api, t } from "../i18n.js";
import * as people from "../people.js";
import * as presence from "../presence.js";

const $ = (id) => document.getElementById(id);
const labels = JSON.parse($("labels").textContent);

export function createDirectory({ me, openDirect, requestCallback }) {
  let results = [];
  let serial = 0;
  let searched = false;
  let timer = null;

  async function search() {
    const params = new URLSearchParams();
    const q = $("search-input").value.trim();
    if (q) params.set("q", q);
    for (const [id, name] of [["filter-benefit", "benefit"], ["filter-organisation", "organisation"], ["filter-area", "area"]]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    const mine = ++serial;
    const data = await api("GET", `/api/people?${params}`);
    if (mine !== serial) return; // a newer search has started meanwhile
    for (const p of data.people) people.remember(p);
    results = data.people;
    searched = true;
    render();
  }

  function render() {
    const onlyReachable = $("filter-online").checked;
    const shown = results.filter((p) => !onlyReachable || presence.statusOf(p.id) === "available");
    presence.watch(results.map((p) => p.id), "directory");
    $("people-list").replaceChildren(
      ...shown.map((p) =>
        el(
          "li",
          { class: "person" },
          people.avatar(p),
          el(
            "div",
            { class: "person-main" },
            el("a", { href: `/people/${p.id}`, class: "person-name" }, p.name),
            el("span", { class: "muted small" }, [p.title, p.unit?.name || p.organisation.name].filter(Boolean).join(" · ")),
            presence.badge(p.id),
          ),
          p.id === me()?.id
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

  async function showPerson(personId) {
    await people.known([personId]);
    const p = people.get(personId);
    const card = $("person-card");
    if (!p) {
      card.replaceChildren(el("h1", { id: "person-name" }, t("Not found.")));
      return;
    }
    presence.watch([personId], "person");
    const view = presence.viewOf(personId);
    const hours = presence.phoneHoursText(view);
    card.replaceChildren(
      people.avatar(p, "large"),
      el("div", { class: "profile-card-main" },
        el("h1", { id: "person-name" }, p.name),
        el("p", {}, [p.title, p.organisation.name, p.unit?.name].filter(Boolean).join(" · ")),
        presence.badge(personId),
        view?.out_of_office_until && view.out_of_office_note ? el("p", { class: "ooo" }, view.out_of_office_note) : null,
        el(
          "dl",
          {},
          p.roles.length ? [el("dt", {}, t("Roles")), el("dd", {}, p.roles.map((r) => labels.roles[r] || r).join(", "))] : null,
          p.benefits.length ? [el("dt", {}, t("Benefits")), el("dd", {}, p.benefits.map((b) => labels.benefits[b] || b).join(", "))] : null,
          p.area ? [el("dt", {}, t("Area")), el("dd", {}, p.area)] : null,
          p.work_phone ? [el("dt", {}, t("Work phone")), el("dd", {}, people.telLink(p.work_phone))] : null,
          hours ? [el("dt", {}, t("Phone hours")), el("dd", {}, hours, presence.inPhoneHoursNow(view) ? ` (${t("now")})` : "")] : null,
          p.languages.length ? [el("dt", {}, t("Languages")), el("dd", {}, p.languages.join(", "))] : null,
          p.ask_me_about ? [el("dt", {}, t("Ask me about")), el("dd", {}, p.ask_me_about)] : null,
          p.tags.length ? [el("dt", {}, t("Expertise")), el("dd", {}, p.tags.join(", "))] : null,
        ),
      ),
    );
    const self = personId === me()?.id;
    $("person-chat").hidden = self;
    $("person-callback").hidden = self;
    $("person-chat").onclick = () => openDirect(personId);
    $("person-callback").onclick = () => requestCallback(personId);
  }

  $("search-input").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search();
  });
  for (const id of ["filter-benefit", "filter-organisation", "filter-area"]) $(id).addEventListener("change", search);
  $("filter-online").addEventListener("change", render);
  presence.onChange(() => {
    if ($("filter-online").checked) render();
  });

  return {
    async enter() {
      if (!searched) await search();
    },
    showPerson,
    search,
    render,
  };
}
