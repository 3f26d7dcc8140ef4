// Translations for scripts: the page embeds the gettext catalog of the user's language.
const catalog = JSON.parse(document.getElementById("i18n-catalog")?.textContent || "{}");

export function t(message, values = {}) {
  const text = catalog[message] || message;
  return text.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

// Requests in flight, on the page for whoever needs to know the view has its data
// (the browser tests wait for body[data-pending="0"] instead of for the network to go quiet).
let pending = 0;
function track(change) {
  pending += change;
  document.body.dataset.pending = String(pending);
}
if (document.body) document.body.dataset.pending = "0";

export async function api(method, path, body) {
  track(1);
  try {
    return await request(method, path, body);
  } finally {
    track(-1);
  }
}

async function request(method, path, body) {
  const options = { method, headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin" };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401) {
    window.location.href = "/login?next=/";
    throw new Error("not logged in");
  }
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) {
    const error = new Error(data.reason || response.statusText);
    error.code = data.error;
    throw error;
  }
  return data;
}
