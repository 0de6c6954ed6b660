// Client-side navigation between the app's pages (the server answers the same shell
// for each, so a reload or a deep link lands on the same page).

export function navigate(path, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", path);
  dispatchEvent(new Event("navigate"));
}

/// A plain left click on an in-app link navigates without reloading.
export function followLink(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(event.currentTarget.getAttribute("href"));
}
