// Away from the computer, not from the tab: the system's idle state and screen lock through
// the Idle Detection API, where the user has allowed it. Input in the Liaison tab alone
// never makes anyone away: experts work in other programs all day with the tab behind.
const ASKED = "liaison-permissions-asked";

export function supported() {
  return "IdleDetector" in window;
}

export async function permission() {
  if (!supported()) return "unsupported";
  try {
    const state = await navigator.permissions.query({ name: "idle-detection" });
    return state.state; // granted, denied, prompt
  } catch (e) {
    return "prompt";
  }
}

export function asked() {
  return localStorage.getItem(ASKED) === "yes";
}

let detector = null;
let controller = null;

// Starts reporting when permission is there; `report(active)` tells the socket.
export async function start(report, thresholdSeconds) {
  if (!supported() || detector || (await permission()) !== "granted") return false;
  try {
    controller = new AbortController();
    detector = new window.IdleDetector();
    detector.addEventListener("change", () => {
      report(detector.userState === "active" && detector.screenState === "unlocked");
    });
    // The API's shortest threshold is a minute.
    await detector.start({ threshold: Math.max(60, thresholdSeconds) * 1000, signal: controller.signal });
    return true;
  } catch (e) {
    detector = null;
    return false;
  }
}

// Asks once (from a click: signing into a ring, or the settings), then starts.
export async function ask(report, thresholdSeconds) {
  localStorage.setItem(ASKED, "yes");
  if (!supported()) return "unsupported";
  try {
    const state = await window.IdleDetector.requestPermission();
    if (state === "granted") await start(report, thresholdSeconds);
    return state;
  } catch (e) {
    return "denied";
  }
}

export function markAsked() {
  localStorage.setItem(ASKED, "yes");
}
