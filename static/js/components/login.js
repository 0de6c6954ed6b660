// /login: the operator signs in; a refusal is said next to the form, and the page they
// came from (?next=) opens afterwards.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";

function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site: never an open redirect.
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/messaging";
}

export function Login() {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const password = useRef(null);
  useEffect(() => {
    document.title = "Log in · Switchboard";
  }, []);

  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") });
      navigate(nextPage(), { replace: true });
    } catch (failure) {
      setError(failure.status === 401 ? "Wrong email or password." : failure.message);
      password.current.select();
      setBusy(false);
    }
  }

  return html`
    <main class="login-page">
      <form class="login card" onSubmit=${submit} aria-labelledby="login-title">
        <h1 id="login-title">Switchboard</h1>
        <p class="muted">Sign in to your organisation's workspace.</p>
        <label for="login-email">Email</label>
        <input id="login-email" name="email" type="email" autocomplete="username" required autofocus />
        <label for="login-password">Password</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          ref=${password}
          aria-invalid=${error ? "true" : undefined}
          aria-describedby="login-error"
        />
        <p id="login-error" class="form-error" role="alert">${error}</p>
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Signing in…" : "Log in"}</button>
      </form>
    </main>
  `;
}
