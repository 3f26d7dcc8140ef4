// The workspace's views by URL, with the history API: links and the back button move
// between views inside the one page, so its WebSocket stays open. The server serves the
// same page for every one of these paths, so a deep link or a reload shows the same view.
const ROUTES = [
  [/^\/$/, "directory"],
  [/^\/people\/(\d+)$/, "person"],
  [/^\/conversations$/, "conversations"],
  [/^\/conversations\/(\d+)$/, "conversations"],
  [/^\/rings$/, "rings"],
  [/^\/log$/, "log"],
  [/^\/load$/, "load"],
  [/^\/me$/, "profile"],
  [/^\/admin$/, "admin"],
];

export function match(path) {
  for (const [pattern, view] of ROUTES) {
    const found = pattern.exec(path);
    if (found) return { view, id: found[1] ? Number(found[1]) : null, path };
  }
  return null;
}

export class Router {
  constructor(show) {
    this.show = show; // async (route) => void
    this.current = null;
    window.addEventListener("popstate", () => this.go(location.pathname, { push: false }));
    document.addEventListener("click", (event) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const link = event.target.closest?.("a[href]");
      if (!link || link.target || link.hasAttribute("download")) return;
      const url = new URL(link.href, location.href);
      if (url.origin !== location.origin || !match(url.pathname)) return;
      event.preventDefault();
      this.go(url.pathname);
    });
  }

  async go(path, { push = true, replace = false } = {}) {
    const route = match(path) || match("/");
    if (replace) history.replaceState({}, "", route.path);
    else if (push && location.pathname !== route.path) history.pushState({}, "", route.path);
    this.current = route;
    await this.show(route);
  }
}
