// The directory entries the page knows: names, avatars, and loading the ones it lacks.
import { el } from "./dom.js";
import { api, t } from "./i18n.js";
import * as presence from "./presence.js";

const people = new Map(); // person id -> directory entry

export function remember(person) {
  if (!person) return;
  people.set(person.id, person);
  presence.fromPerson(person);
}

export function get(personId) {
  return people.get(personId) || null;
}

export function name(personId) {
  const p = people.get(personId);
  return p ? p.name : t("Person {id}", { id: personId });
}

export async function known(ids) {
  const missing = [...new Set(ids)].filter((id) => id && !people.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        remember(await api("GET", `/api/people/${id}`));
      } catch (e) {
        /* a removed person keeps a generic name */
      }
    }),
  );
}

function initials(person) {
  return `${(person.first_name || "?")[0]}${(person.last_name || "")[0] || ""}`.toUpperCase();
}

export function avatar(person, size = "") {
  if (person.photo_url) return el("img", { class: `avatar ${size}`, src: person.photo_url, alt: "" });
  return el("span", { class: `avatar initials ${size}`, "aria-hidden": "true" }, initials(person));
}

export function telLink(phone) {
  return el("a", { href: `tel:${phone.replace(/[^\d+]/g, "")}` }, phone);
}
