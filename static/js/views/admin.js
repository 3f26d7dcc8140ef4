// Administration (/admin): directory import with a dry run, accounts, login locks and the
// audit log, over the API.
import { el } from "../dom.js";
import { dateTime } from "../format.js";
import { api, csrfToken, t } from "../i18n.js";
import * as people from "../people.js";

const $ = (id) => document.getElementById(id);

export function createAdmin() {
  let accounts = [];
  let chosen = null;
  let timer = null;

  function notice(text) {
    $("account-notice").textContent = text;
    $("account-notice").hidden = !text;
    $("account-error").hidden = true;
  }

  function failure(text) {
    $("account-error").textContent = text;
    $("account-error").hidden = false;
    $("account-notice").hidden = true;
  }

  async function loadAccounts() {
    accounts = (await api("GET", "/api/admin/accounts")).accounts;
    $("account-list").replaceChildren(
      ...accounts.map((a) =>
        el("tr", {},
          el("td", {}, a.username, a.is_admin ? ` (${t("Administrator")})` : ""),
          el("td", {}, a.name),
          el("td", {}, a.disabled ? t("Disabled") : t("Active")),
          el("td", {},
            el("button", {
              type: "button",
              "aria-label": `${a.disabled ? t("Enable") : t("Disable")} ${a.username}`,
              onclick: () => setDisabled(a, !a.disabled),
            }, a.disabled ? t("Enable") : t("Disable")),
          ),
        ),
      ),
    );
  }

  async function setDisabled(account, disabled) {
    try {
      await api("PATCH", `/api/admin/accounts/${account.id}`, { disabled });
      notice(disabled ? t("Account disabled; its connections were closed.") : t("Account enabled."));
      await loadAccounts();
    } catch (e) {
      failure(e.message);
    }
  }

  // Login locks (docs/accounts.md): listed with the time each runs out, and lifted here.
  async function loadLocks() {
    const locks = (await api("GET", "/api/admin/locks")).locks;
    $("lock-empty").hidden = locks.length > 0;
    $("lock-table").hidden = locks.length === 0;
    $("lock-list").replaceChildren(
      ...locks.map((lock) =>
        el("tr", {},
          el("td", {}, lock.kind === "address" ? t("Address {key}", { key: lock.key }) : t("Username {key}", { key: lock.key })),
          el("td", {}, String(lock.failures)),
          el("td", {}, el("time", { datetime: lock.locked_until }, dateTime(lock.locked_until))),
          el("td", {},
            el("button", {
              type: "button",
              "aria-label": t("Lift the lock of {key}", { key: lock.key }),
              onclick: () => unlock(lock),
            }, t("Lift the lock")),
          ),
        ),
      ),
    );
  }

  async function unlock(lock) {
    try {
      await api("DELETE", `/api/admin/locks/${lock.id}`);
      $("lock-notice").textContent = t("The lock of {key} was lifted.", { key: lock.key });
    } catch (e) {
      $("lock-notice").textContent = e.message;
    }
    $("lock-notice").hidden = false;
    await Promise.all([loadLocks(), loadAudit(null)]);
  }

  const AUDIT_KINDS = {
    login_succeeded: () => t("Logged in"),
    login_failed: () => t("Failed login"),
    login_refused: () => t("Login refused (too many failures)"),
    locked: () => t("Locked"),
    unlocked: () => t("Lock lifted"),
    client_lookup: () => t("Client lookup by identity code"),
    people_search: () => t("Directory search by identity code"),
  };

  // The audit log a page at a time: `before` is the id the previous page ended at.
  async function loadAudit(before) {
    const query = before ? `?before=${before}` : "";
    const page = await api("GET", `/api/admin/audit${query}`);
    $("audit-list").replaceChildren(
      ...page.events.map((e) =>
        el("tr", {},
          el("td", {}, el("time", { datetime: e.at }, dateTime(e.at))),
          el("td", {}, (AUDIT_KINDS[e.kind] || (() => e.kind))()),
          el("td", {}, e.username),
          el("td", {}, e.address),
          el("td", {}, e.detail),
        ),
      ),
    );
    $("audit-older").hidden = page.next_before === null;
    $("audit-older").onclick = () => loadAudit(page.next_before);
  }

  async function searchPeople() {
    const q = $("new-person-search").value.trim();
    if (!q) {
      $("new-person-results").replaceChildren();
      return;
    }
    const data = await api("GET", `/api/people?q=${encodeURIComponent(q)}&limit=20`);
    const taken = new Set(accounts.map((a) => a.person_id));
    $("new-person-results").replaceChildren(
      ...data.people.filter((p) => !taken.has(p.id)).map((p) => {
        people.remember(p);
        return el("li", {},
          el("button", { type: "button", class: "link", onclick: () => choose(p) }, p.name),
          el("span", { class: "muted small" }, ` ${p.organisation.name}`),
        );
      }),
    );
  }

  function choose(person) {
    chosen = person;
    $("new-person-chosen").textContent = t("Chosen: {name}", { name: person.name });
    $("new-person-results").replaceChildren();
    $("new-username").focus();
  }

  async function createAccount(event) {
    event.preventDefault();
    if (!chosen) {
      failure(t("Choose the person first."));
      return;
    }
    try {
      await api("POST", "/api/admin/accounts", {
        username: $("new-username").value,
        password: $("new-password").value,
        person_id: chosen.id,
        is_admin: $("new-is-admin").checked,
      });
      $("account-form").reset();
      chosen = null;
      $("new-person-chosen").textContent = "";
      notice(t("Account created."));
      await loadAccounts();
    } catch (e) {
      failure(e.message);
    }
  }

  function report(data) {
    const counts = [
      [t("Rows"), data.rows],
      [t("New people"), data.created],
      [t("Updated people"), data.updated],
      [t("Unchanged"), data.unchanged],
      [t("New organisations"), data.organisations_created.join(", ") || "–"],
      [t("New units"), data.units_created.join(", ") || "–"],
    ];
    // What reading the file skipped or filled: the person importing should know.
    const notes = [];
    if (data.sheet) notes.push(t("Sheet read: {sheet}", { sheet: data.sheet }));
    if (data.hidden_sheets.length) notes.push(t("Hidden sheets not read: {sheets}", { sheets: data.hidden_sheets.join(", ") }));
    if (data.skipped_lines.length) notes.push(t("Header on line {line}; title lines skipped: {lines}", { line: data.header_line, lines: data.skipped_lines.join(", ") }));
    if (data.ignored_columns.length) notes.push(t("Unknown columns, not read: {columns}", { columns: data.ignored_columns.join(", ") }));
    if (data.merged_ranges) notes.push(t("Merged cell ranges filled: {count}", { count: data.merged_ranges }));
    $("import-report").replaceChildren(...[
      el("h2", {}, t("Import report")),
      notes.length ? el("ul", { class: "import-notes" }, ...notes.map((n) => el("li", {}, n))) : [],
      data.errors.length
        ? [
            el("p", { class: "error" }, t("The file has errors; nothing was changed.")),
            el("div", { class: "table-wrap" },
              el("table", {},
                el("caption", {}, t("Errors by line")),
                el("thead", {}, el("tr", {}, ...[t("Line"), t("Column"), t("Reason")].map((h) => el("th", { scope: "col" }, h)))),
                el("tbody", {}, ...data.errors.map((e) => el("tr", {}, el("td", {}, String(e.line)), el("td", {}, e.column || ""), el("td", {}, t(e.message, e.values))))),
              ),
            ),
          ]
        : el("p", { class: "notice" }, data.applied ? t("Imported.") : t("Dry run: no errors found; nothing was changed yet.")),
      el("dl", { class: "counts" }, ...counts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, String(value))])),
    ].flat());
  }

  async function importFile(event) {
    event.preventDefault();
    $("import-error").hidden = true;
    const file = $("import-file").files[0];
    if (!file) {
      $("import-error").textContent = t("Choose a file first.");
      $("import-error").hidden = false;
      return;
    }
    const form = new FormData();
    form.append("file", file);
    if ($("dry-run").checked) form.append("dry_run", "1");
    const sheet = $("import-sheet").value.trim();
    if (sheet) form.append("sheet", sheet);
    const response = await fetch("/api/admin/import", {
      method: "POST",
      body: form,
      headers: { "X-CSRF-Token": csrfToken() },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 200 || response.status === 422) report(data);
    else {
      $("import-error").textContent = response.status === 413 ? t("The file is too large.") : data.reason || response.statusText;
      $("import-error").hidden = false;
    }
  }

  $("import-form").addEventListener("submit", importFile);
  $("audit-newest").addEventListener("click", () => loadAudit(null));
  $("account-form").addEventListener("submit", createAccount);
  $("new-person-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(searchPeople, 150);
  });

  return {
    async enter() {
      await Promise.all([loadAccounts(), loadLocks(), loadAudit(null)]);
    },
  };
}
