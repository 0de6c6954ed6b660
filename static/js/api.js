// The JSON API with the session cookie: every write echoes the CSRF cookie in its
// header, and errors become ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `request failed (${status})`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
    this.body = body;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )sb_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/// Answers the parsed JSON; throws ApiError for an error answer and TypeError when the
/// server could not be reached (the caller may try again later).
export async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/// Uploads one file for a message (multipart), reporting progress from 0 to 1.
/// XMLHttpRequest because fetch reports no upload progress.
export function upload(file, channel, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/messages/upload?channel=${encodeURIComponent(channel)}`);
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.responseType = "json";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) resolve(request.response);
      else reject(new ApiError(request.status, request.response));
    };
    request.onerror = () => reject(new TypeError("the upload could not reach the server"));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

/// Where the login page sends the operator back to afterwards.
export function loginUrl() {
  const here = location.pathname + location.search;
  return here.startsWith("/login") ? "/login" : `/login?next=${encodeURIComponent(here)}`;
}
