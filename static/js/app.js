// The workspace: one page, one WebSocket, every view (docs/architecture.md "The workspace").
// Moving between views changes the URL and what is shown, never the connection, so a
// person stays online and in their rings while they read the log or the load view.
import { t } from "./i18n.js";
import * as attention from "./alert.js";
import * as idle from "./idle.js";
import * as presence from "./presence.js";
import * as people from "./people.js";
import { Router } from "./router.js";
import { LiaisonSocket } from "./socket.js";
import { createRings } from "./rings.js";
import { createChat } from "./views/chat.js";
import { createDirectory } from "./views/directory.js";
import { createLog } from "./views/log.js";
import { createLoad } from "./views/load.js";
import { createProfile } from "./views/profile.js";
import { createAdmin } from "./views/admin.js";

const $ = (id) => document.getElementById(id);
const workspace = document.querySelector(".workspace");
let me = null;

const socket = new LiaisonSocket(() => {
  const cursors = {};
  for (const [id, msgs] of chat.state.messages) {
    const seqs = [...msgs.keys()];
    if (seqs.length) cursors[id] = Math.max(...seqs);
  }
  return cursors;
}, presence.helloFields);
presence.connect(socket);
// Exposed for the browser tests and for support: which connection this page holds.
window.liaison = { connection: () => socket.connection };

const router = new Router(show);
const navigate = (path) => router.go(path);

// Asked once, from the click that signs into a ring (or from the settings): system
// notifications for ringing questions, and the idle state for being away.
async function askPermissions(onlyOnce = false) {
  if (onlyOnce && idle.asked()) return;
  idle.markAsked();
  await Promise.all([
    attention.askNotifications(),
    idle.ask((active) => socket.setActive(active), socket.config.idle_away_seconds),
  ]);
  rings.renderAlertLine();
}

const chat = createChat({ socket, me: () => me, navigate, pin: (id) => rings.renderPin(id) });
const rings = createRings({ socket, me: () => me, navigate, chat, askPermissions });
const directory = createDirectory({ me: () => me, openDirect: (id) => chat.openDirect(id), requestCallback: (id) => rings.requestCallback(id) });
const log = createLog({ rings: () => rings.rings() });
const load = createLoad({ socket });
const profile = createProfile({ askPermissions: () => askPermissions(false) });
const admin = $("view-admin") ? createAdmin() : null;

const views = {
  directory: { enter: () => directory.enter() },
  person: { enter: (route) => directory.showPerson(route.id) },
  conversations: chat,
  rings: { enter: () => $("rings-heading").focus?.() },
  log,
  load,
  profile,
  admin,
};
let current = null;

async function show(route) {
  const first = current === null;
  const view = views[route.view] ? route.view : "directory";
  if (current && current !== view) views[current]?.leave?.();
  const changed = current !== view;
  current = view;
  workspace.dataset.view = view;
  // The person view is part of the directory's navigation.
  const section = view === "person" ? "person" : view;
  for (const node of document.querySelectorAll("[data-view-section]")) node.hidden = node.dataset.viewSection !== section;
  const tab = view === "person" ? "directory" : view;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    if (link.dataset.viewLink === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("language-next").value = route.path;
  closeMenu();
  if (me || view !== "conversations") await views[view].enter(route);
  rings.viewChanged();
  if (changed && !first) {
    // Keyboard and screen reader users land on the new view's heading.
    const heading = document.querySelector(`[data-view-section="${section}"] h1`) || $("rings-heading");
    if (heading && view !== "conversations") {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
}

// ------------------------------------------------------------------ the menu on phones

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu-button").setAttribute("aria-expanded", "false");
}

$("menu-button").addEventListener("click", () => {
  const open = !document.body.classList.contains("menu-open");
  document.body.classList.toggle("menu-open", open);
  $("menu-button").setAttribute("aria-expanded", open ? "true" : "false");
});

// ------------------------------------------------------------------ my status

function syncMyStatus() {
  const view = me && presence.viewOf(me.id);
  if (!view) return;
  const select = $("my-status-select");
  const manual = view.status === "dnd" || view.status === "away" ? view.status : "available";
  if (document.activeElement !== select) select.value = manual;
  document.body.dataset.myStatus = view.status;
  syncDndControls();
}

function syncDndControls() {
  const dnd = $("my-status-select").value === "dnd";
  for (const node of document.querySelectorAll(".dnd-only")) node.hidden = !dnd;
}

function setMyStatus() {
  const status = $("my-status-select").value;
  syncDndControls();
  const frame = { type: "set_presence", status };
  const minutes = $("dnd-minutes").value;
  if (status === "dnd" && minutes) frame.dnd_until = new Date(Date.now() + Number(minutes) * 60000).toISOString();
  socket.raw(frame);
}

$("my-status-select").addEventListener("change", setMyStatus);
$("dnd-minutes").addEventListener("change", setMyStatus);
presence.onChange((personId) => {
  if (me && personId === me.id) syncMyStatus();
});

// ------------------------------------------------------------------ frames

socket.addEventListener("status", (event) => {
  if (event.detail === "offline") document.body.dataset.connection = "offline";
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
  if (presence.fromFrame(f)) return;
  if (f.type === "welcome") {
    me = f.me.person;
    people.remember(me);
    presence.fromWelcome(f);
    await chat.welcome(f);
    await rings.welcome(f);
    load.welcome();
    directory.render();
    syncMyStatus();
    // Away only when the computer is idle or locked, where the user allowed us to know.
    idle.start((active) => socket.setActive(active), f.config.idle_away_seconds);
    if (!router.current) await router.go(location.pathname, { replace: true });
    else if (current === "conversations") await chat.enter(router.current);
    // Everything the welcome brought is on screen.
    document.body.dataset.connection = "online";
    return;
  }
  if (await chat.frame(f)) return;
  if (await rings.frame(f)) return;
  if (load.frame(f)) return;
  if (f.type === "error") {
    if (f.request_type === "send") chat.sendError(f);
    else console.warn("server error", f.code, f.reason);
  }
});

// Views that need no socket come up at once; the conversation waits for the welcome.
router.go(location.pathname, { replace: true });
syncDndControls();
socket.connect();
