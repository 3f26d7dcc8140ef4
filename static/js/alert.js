// Getting attention when it matters: a ringing question changes the tab's title and icon,
// sounds, and shows a system notification while the page is hidden; a callback request
// or a reminder does the same once. Everything here is a courtesy: if the browser refuses
// (no permission, no sound before a click), the page still shows it all.
import { t } from "./i18n.js";

const SOUND = "liaison-sound";
const CHAT = "liaison-notify";
const favicon = document.getElementById("favicon");
const icons = {
  normal: favicon?.getAttribute("href") || "/static/img/favicon.svg",
  ringing: "/static/img/favicon-ringing.svg",
  alert: "/static/img/favicon-alert.svg",
};

let baseTitle = document.title;
let ringing = null; // {title, timer, notification, sound}
let pendingNotice = null; // a one-time alert shown in the title until the page is seen
let audio = null;

export function soundOn() {
  return localStorage.getItem(SOUND) !== "off";
}

export function setSound(on) {
  localStorage.setItem(SOUND, on ? "on" : "off");
}

export function chatNotificationsOn() {
  return localStorage.getItem(CHAT) === "on";
}

export function setChatNotifications(on) {
  localStorage.setItem(CHAT, on ? "on" : "off");
}

export function notificationPermission() {
  return window.Notification ? Notification.permission : "unsupported";
}

export async function askNotifications() {
  if (!window.Notification || Notification.permission !== "default") return notificationPermission();
  try {
    return await Notification.requestPermission();
  } catch (e) {
    return "denied";
  }
}

// Browsers allow sound only after a user gesture: the first click or key primes it.
export function primeSound() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch (e) {
    /* sound is a courtesy */
  }
}

export function playSound(force = false) {
  if (!force && !soundOn()) return;
  try {
    audio = audio || new AudioContext();
    for (const [at, frequency] of [[0, 880], [0.18, 1175]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.18, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + 0.35);
    }
  } catch (e) {
    /* sound is a courtesy */
  }
}

function setIcon(kind) {
  if (favicon && favicon.getAttribute("href") !== icons[kind]) favicon.setAttribute("href", icons[kind]);
}

function render() {
  if (ringing) return; // the ringing title owns the tab while it rings
  if (pendingNotice) {
    document.title = `(!) ${pendingNotice} – ${baseTitle}`;
    setIcon("alert");
  } else {
    document.title = baseTitle;
    setIcon("normal");
  }
}

// "(2) Liaison": the title without any alert.
export function setBaseTitle(text) {
  baseTitle = text;
  render();
}

function systemNotification(title, body, tag, sticky) {
  if (!document.hidden || notificationPermission() !== "granted") return null;
  try {
    const n = new Notification(title, { body: body.slice(0, 160), tag, requireInteraction: sticky });
    n.onclick = () => {
      window.focus();
      n.close();
    };
    return n;
  } catch (e) {
    return null;
  }
}

// A question rings: until stop(), the title alternates and the sound repeats.
export function startRinging(title, body, tag) {
  if (ringing) return;
  ringing = { title, flip: false, notification: systemNotification(title, body, tag, true) };
  const step = () => {
    ringing.flip = !ringing.flip;
    document.title = ringing.flip ? `🔔 ${title}` : `${t("Ringing")} – ${baseTitle}`;
    setIcon("ringing");
  };
  step();
  playSound();
  ringing.timer = setInterval(() => {
    step();
    if (ringing.flip) playSound();
  }, 1500);
}

export function stopRinging() {
  if (!ringing) return;
  clearInterval(ringing.timer);
  ringing.notification?.close();
  ringing = null;
  render();
}

export function isRinging() {
  return Boolean(ringing);
}

// Something reached the user (a callback request, a reminder, a missed question): said
// once, kept in the title until the page is in view.
export function notify(title, body, tag) {
  playSound();
  systemNotification(title, body, tag, false);
  if (document.hidden) {
    pendingNotice = title;
    render();
  }
}

// A chat message while the tab is hidden, when the user asked for those too.
export function notifyMessage(title, body, tag) {
  if (!chatNotificationsOn() || !document.hidden) return;
  playSound();
  systemNotification(title, body, tag, false);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && pendingNotice) {
    pendingNotice = null;
    render();
  }
});
document.addEventListener("pointerdown", primeSound, { once: true, capture: true });
document.addEventListener("keydown", primeSound, { once: true, capture: true });
