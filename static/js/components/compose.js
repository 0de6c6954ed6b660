// The compose box: SMS, email or private note; who it goes to and from; attachments and
// voice notes; the SMS segment count; the PHI check as the operator types, which holds
// Send back (with the reason said and linked) while a blocking finding stands. A reply
// started from a suggestion carries its `ai_origin` when sent, edited or not.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, upload } from "../api.js";
import { holds, PHI_OVERRIDE } from "../operator.js";
import { segments } from "../sms.js";
import { CannedList, cannedQuery, useCanned } from "./canned.js";

const PHI_DEBOUNCE_MS = 400;
/// A draft is saved on the server this long after the operator stops typing.
const DRAFT_SAVE_MS = 800;
/// Typing is announced at most this often, and counts as stopped after the idle time.
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
const ATTACHMENT_TYPES = "image/*,audio/*,video/*,application/pdf,text/vcard,text/plain";

const ACRONYMS = { ssn: "SSN", url: "URL", ip_address: "IP address", zip_code: "ZIP code" };

function kindName(kind) {
  return ACRONYMS[kind] ?? kind.replaceAll("_", " ");
}

function methodLabel(value, label) {
  return label ? `${value} (${label})` : value;
}

/// The draft with its PHI findings marked, laid exactly under the textarea's text.
function Highlights({ text, findings }) {
  const parts = [];
  let at = 0;
  for (const finding of [...findings].sort((a, b) => a.start - b.start)) {
    if (finding.start < at) continue;
    parts.push(text.slice(at, finding.start));
    parts.push(html`<mark class=${finding.action}>${text.slice(finding.start, finding.end)}</mark>`);
    at = finding.end;
  }
  parts.push(text.slice(at));
  // A trailing newline needs a character after it to take up its line.
  return html`${parts}${text.endsWith("\n") ? " " : ""}`;
}

function Chooser({ id, label, options, value, onChange }) {
  if (options.length === 0) return html`<span class="field"><span class="field-label">${label}</span><span class="muted">none</span></span>`;
  if (options.length === 1) {
    return html`<span class="field"><span class="field-label">${label}</span><span class="readonly">${options[0].text}</span></span>`;
  }
  return html`
    <span class="field">
      <label class="field-label" for=${id}>${label}</label>
      <select id=${id} value=${value} onChange=${(event) => onChange(event.currentTarget.value)}>
        ${options.map((option) => html`<option value=${option.value}>${option.text}</option>`)}
      </select>
    </span>
  `;
}

const ALL_CHANNELS = ["sms", "email", "note"];

/// `channels` limits what may be written (the SMS queue: texts only), `toPhoneId` picks
/// the contact's number to text, `sendLabel` names the button, and `onSchedule(payload)`
/// (a promise of whether it was scheduled) adds a Schedule button beside Send. `restored`
/// (`{channel, body, subject?, ai_origin?, nonce}`, a new nonce each time) replaces the
/// draft: a send taken back, or a suggested reply picked.
export function Compose({ contact, me, lines, lastInboundLine, lastChannel, optOuts, live, waiting, inboundWhileWriting, restored, onTyping, onDraft, onSend, channels = ALL_CHANNELS, toPhoneId, sendLabel = "Send", onSchedule }) {
  // The conversation goes on where it was (an email thread by email), else by text.
  const reachable = { sms: contact.phones.length > 0, email: contact.emails.length > 0 };
  const open = (kind) => channels.includes(kind) && reachable[kind];
  const [channel, setChannel] = useState(
    open(lastChannel) ? lastChannel : open("sms") || channels.length === 1 ? channels[0] : open("email") ? "email" : "note",
  );
  const [body, setBody] = useState("");
  const [subject, setSubject] = useState("");
  const [toPhone, setToPhone] = useState(toPhoneId ?? (contact.phones.find((p) => p.is_preferred) ?? contact.phones[0])?.id ?? "");
  const [toEmail, setToEmail] = useState((contact.emails.find((e) => e.is_preferred) ?? contact.emails[0])?.id ?? "");
  const [fromPhone, setFromPhone] = useState(null);
  const [fromEmail, setFromEmail] = useState(null);
  const [phi, setPhi] = useState({ findings: [], blocked: false });
  const [override, setOverride] = useState({ on: false, reason: "" });
  const [attachments, setAttachments] = useState([]);
  const [confirming, setConfirming] = useState(false);
  const [recording, setRecording] = useState(null);
  const [problem, setProblem] = useState("");
  // Where the reply started (a suggestion), until it is sent or emptied.
  const [origin, setOrigin] = useState(null);
  const textarea = useRef(null);
  const backdrop = useRef(null);
  const fileInput = useRef(null);
  const typing = useRef({ on: false, last: 0, idle: null });
  const phiRequest = useRef(0);
  const [slash, setSlash] = useState(null);
  const canned = useCanned(contact.id, slash);
  const choosing = slash !== null && canned.options.length > 0;

  const canOverride = holds(me, PHI_OVERRIDE);
  const fromPhoneId = fromPhone ?? lastInboundLine ?? lines.phones[0]?.id ?? "";
  const fromEmailId = fromEmail ?? lines.emails[0]?.id ?? "";
  const toNumber = contact.phones.find((p) => p.id === toPhone)?.phone_number;
  const fromNumber = lines.phones.find((p) => p.id === fromPhoneId)?.phone_number;

  // The draft is the server's (it follows the operator to a reload or another browser):
  // fetched when the conversation opens, saved a moment after each change, and saved at
  // once when the operator leaves the conversation.
  const draftPath = `/api/contacts/${contact.id}/draft`;
  // State, not a ref: what the operator typed before the stored draft arrived is saved
  // once it has (the save below waits for the load, and runs again when it ends).
  const [draftLoaded, setDraftLoaded] = useState(false);
  const typed = useRef(false);
  const pendingSave = useRef(null);
  useEffect(() => {
    api("GET", draftPath)
      .then((draft) => {
        // What the operator typed meanwhile wins over the stored draft.
        if (typed.current) return;
        if (channels.includes(draft.channel)) setChannel(draft.channel);
        setBody(draft.body);
        setSubject(draft.subject ?? "");
      })
      .catch(() => {})
      .finally(() => setDraftLoaded(true));
    return () => {
      clearTimeout(pendingSave.current?.timer);
      pendingSave.current?.save();
    };
  }, []);

  useEffect(() => {
    onDraft(body.trim().length > 0);
    if (!draftLoaded) return;
    const draft = { channel, body, subject: channel === "email" ? subject : undefined };
    const save = () => {
      pendingSave.current = null;
      const request = body.trim() || subject.trim() ? api("PUT", draftPath, draft) : api("DELETE", draftPath);
      request.catch(() => {});
    };
    clearTimeout(pendingSave.current?.timer);
    pendingSave.current = { save, timer: setTimeout(save, DRAFT_SAVE_MS) };
  }, [channel, body, subject, draftLoaded]);

  useEffect(() => {
    if (!restored) return;
    // What is put back wins over a stored draft still on its way.
    typed.current = true;
    setChannel(restored.channel ?? "note");
    setBody(restored.body ?? "");
    setSubject(restored.subject ?? "");
    setOrigin(restored.ai_origin ?? null);
    textarea.current?.focus();
  }, [restored?.nonce]);

  // Stop saying "typing" when the operator leaves the conversation.
  useEffect(() => () => typing.current.on && onTyping(false), []);

  // The PHI check of the text and the uploaded files (images are flagged for a look),
  // debounced; an answer to an older draft is ignored.
  const uploadedIds = attachments.filter((a) => a.view).map((a) => a.view.id);
  useEffect(() => {
    if (channel === "note" || (!body.trim() && !uploadedIds.length)) {
      phiRequest.current += 1;
      setPhi({ findings: [], blocked: false });
      return;
    }
    const timer = setTimeout(async () => {
      const mine = ++phiRequest.current;
      try {
        const verdict = await api("POST", "/api/phi/check", { body, contact_id: contact.id, attachment_ids: uploadedIds });
        if (mine === phiRequest.current) setPhi(verdict);
      } catch {
        // The send itself is vetted again by the server; a failed check only loses the hint.
      }
    }, PHI_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [body, channel, uploadedIds.join()]);

  function stopTyping() {
    clearTimeout(typing.current.idle);
    if (typing.current.on) onTyping(false);
    typing.current.on = false;
  }

  function onInput(event) {
    typed.current = true;
    setBody(event.currentTarget.value);
    // Edited, the reply still started from the suggestion; emptied, it starts afresh.
    if (!event.currentTarget.value.trim()) setOrigin(null);
    setSlash(cannedQuery(event.currentTarget.value, event.currentTarget.selectionStart));
    setConfirming(false);
    const now = Date.now();
    if (!typing.current.on || now - typing.current.last > TYPING_REPEAT_MS) {
      onTyping(true);
      typing.current.on = true;
      typing.current.last = now;
    }
    clearTimeout(typing.current.idle);
    typing.current.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  const optedOut =
    channel === "sms" && toNumber && optOuts.some((stop) => stop.contact_number === toNumber && (!fromNumber || stop.org_number === fromNumber));
  const uploading = attachments.some((a) => !a.view && !a.error);
  const blockedKinds = [...new Set(phi.findings.filter((f) => f.action === "block").map((f) => kindName(f.kind)))];
  const phiHolds = phi.blocked && !(override.on && override.reason.trim());
  let reason = null;
  if (channel === "sms" && !contact.phones.length) reason = "This contact has no phone number.";
  else if (channel === "email" && !contact.emails.length) reason = "This contact has no email address.";
  else if (optedOut) reason = `${toNumber} opted out of texts from ${fromNumber ?? "this number"}: sending is disabled.`;
  else if (phiHolds) reason = `Protected health information (${blockedKinds.join(", ")}) must be removed before sending.`;
  else if (uploading) reason = "Waiting for the attachments to finish uploading.";
  else if (channel === "email" && !subject.trim() && body.trim()) reason = "An email needs a subject.";
  const empty = !body.trim() && !attachments.some((a) => a.view);
  const disabled = empty || reason !== null;

  function payloadFor() {
    const attachmentIds = attachments.filter((a) => a.view).map((a) => a.view.id);
    let payload;
    if (channel === "note") payload = { body };
    else {
      payload = { channel, body };
      if (attachmentIds.length) payload.attachment_ids = attachmentIds;
      if (channel === "sms") {
        if (fromPhone) payload.phone_number_id = fromPhone;
        if (toPhone) payload.contact_phone_id = toPhone;
      } else {
        payload.subject = subject;
        if (fromEmail) payload.email_address_id = fromEmail;
        if (toEmail) payload.contact_email_id = toEmail;
      }
      if (phi.blocked && override.on) payload.phi_override = { reason: override.reason.trim() };
    }
    return payload;
  }

  function submit() {
    if (disabled) return;
    if (inboundWhileWriting && !confirming) {
      setConfirming(true);
      return;
    }
    const payload = payloadFor();
    // A note has no origin to keep, nor does a scheduled message (the API takes none).
    if (origin && payload.channel) payload.ai_origin = origin;
    onSend(payload, attachments.filter((a) => a.view).map((a) => a.view));
    clear();
  }

  async function schedule() {
    if (disabled) return;
    if (await onSchedule(payloadFor())) clear();
  }

  function clear() {
    stopTyping();
    setBody("");
    setSubject("");
    setAttachments([]);
    setOverride({ on: false, reason: "" });
    setConfirming(false);
    setPhi({ findings: [], blocked: false });
    setOrigin(null);
    textarea.current?.focus();
  }

  async function insertCanned() {
    const { start } = slash;
    const cursor = textarea.current.selectionStart;
    const content = await canned.render();
    setSlash(null);
    const next = body.slice(0, start) + content + body.slice(cursor);
    setBody(next);
    requestAnimationFrame(() => textarea.current?.setSelectionRange(start + content.length, start + content.length));
  }

  function onKeyDown(event) {
    if (choosing && ["ArrowDown", "ArrowUp", "Enter", "Tab", "Escape"].includes(event.key) && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      // Esc closes the list here, not the panels around it.
      event.stopPropagation();
      if (event.key === "ArrowDown") canned.move(1);
      else if (event.key === "ArrowUp") canned.move(-1);
      else if (event.key === "Escape") setSlash(null);
      else insertCanned();
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  }

  function attach(files) {
    setProblem("");
    for (const file of files) {
      const key = crypto.randomUUID();
      const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
      setAttachments((now) => [...now, { key, name: file.name, type: file.type, preview, progress: 0 }]);
      const change = (fields) => setAttachments((now) => now.map((a) => (a.key === key ? { ...a, ...fields } : a)));
      upload(file, channel === "email" ? "email" : "sms", (progress) => change({ progress }))
        .then((answer) => change({ view: answer.attachments[0], progress: 1 }))
        .catch((error) => change({ error: error.message }));
    }
  }

  async function toggleRecording() {
    if (recording) {
      recording.recorder.stop();
      return;
    }
    setProblem("");
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const recorder = new MediaRecorder(stream);
      const chunks = [];
      recorder.ondataavailable = (event) => chunks.push(event.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        setRecording(null);
        const type = recorder.mimeType.split(";")[0] || "audio/webm";
        const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
        attach([new File(chunks, `voice-note-${stamp}.${type.split("/")[1]}`, { type })]);
      };
      recorder.start();
      setRecording({ recorder });
    } catch (error) {
      setProblem(`The microphone could not be used: ${error.message}`);
    }
  }

  const count = channel === "sms" ? segments(body) : null;
  const phoneOptions = contact.phones.map((p) => ({ value: p.id, text: methodLabel(p.phone_number, p.label) }));
  const emailOptions = contact.emails.map((e) => ({ value: e.id, text: methodLabel(e.email, e.label) }));
  const linePhones = lines.phones.map((p) => ({ value: p.id, text: methodLabel(p.phone_number, p.label) }));
  const lineEmails = lines.emails.map((e) => ({ value: e.id, text: e.display_name ? `${e.display_name} <${e.address}>` : e.address }));

  return html`
    <form class=${`compose ${channel}`} onSubmit=${(event) => (event.preventDefault(), submit())} aria-label="Compose">
      <div class="compose-head">
        ${channels.length > 1 &&
        html`<div class="channels" role="radiogroup" aria-label="Channel">
          ${[
            ["sms", "SMS"],
            ["email", "Email"],
            ["note", "Note"],
          ].filter(([value]) => channels.includes(value)).map(
            ([value, label]) => html`
              <label class=${`channel${channel === value ? " on" : ""}`}>
                <input type="radio" name="channel" value=${value} checked=${channel === value} onChange=${() => setChannel(value)} />
                ${label}
              </label>
            `,
          )}
        </div>`}
        ${channel === "sms" &&
        html`
          <${Chooser} id="compose-to" label="To" options=${phoneOptions} value=${toPhone} onChange=${setToPhone} />
          <${Chooser} id="compose-from" label="From" options=${linePhones} value=${fromPhoneId} onChange=${setFromPhone} />
        `}
        ${channel === "email" &&
        html`
          <${Chooser} id="compose-to" label="To" options=${emailOptions} value=${toEmail} onChange=${setToEmail} />
          <${Chooser} id="compose-from" label="From" options=${lineEmails} value=${fromEmailId} onChange=${setFromEmail} />
        `}
        ${channel === "note" && html`<span class="muted">Only your team sees notes.</span>`}
      </div>
      ${channel === "email" &&
      html`<input class="subject-input" aria-label="Subject" placeholder="Subject" value=${subject} onInput=${(event) => setSubject(event.currentTarget.value)} onKeyDown=${onKeyDown} />`}
      <div class="editor">
        <div class="backdrop" ref=${backdrop} aria-hidden="true"><${Highlights} text=${body} findings=${phi.findings.filter((f) => !f.attachment_id)} /></div>
        <textarea
          ref=${textarea}
          aria-label=${channel === "note" ? "Private note" : "Message"}
          placeholder=${channel === "note" ? "Write a private note for your team…" : `Write ${channel === "sms" ? "a text" : "an email"} to ${contact.name}…`}
          value=${body}
          onInput=${onInput}
          onKeyDown=${onKeyDown}
          onBlur=${() => (stopTyping(), setSlash(null))}
          role="combobox"
          aria-autocomplete="list"
          aria-expanded=${choosing ? "true" : "false"}
          aria-controls=${choosing ? "canned-list" : undefined}
          aria-activedescendant=${choosing ? `canned-${canned.active}` : undefined}
          onScroll=${(event) => (backdrop.current.scrollTop = event.currentTarget.scrollTop)}
          aria-describedby="compose-hint"
        ></textarea>
      </div>
      ${choosing && html`<${CannedList} canned=${canned} />`}
      ${attachments.length > 0 &&
      html`<ul class="pending-attachments" aria-label="Attachments">
        ${attachments.map(
          (a) => html`
            <li key=${a.key} class=${`chip${a.error ? " error" : ""}`}>
              ${a.preview && html`<img src=${a.preview} alt="" />`}
              <span>${a.name}</span>
              ${!a.view && !a.error && html`<progress max="1" value=${a.progress} aria-label=${`Uploading ${a.name}`}></progress>`}
              ${a.error && html`<span class="reason">${a.error}</span>`}
              <button type="button" class="icon-button" aria-label=${`Remove ${a.name}`} onClick=${() => setAttachments((now) => now.filter((x) => x.key !== a.key))}>×</button>
            </li>
          `,
        )}
      </ul>`}
      ${phi.findings.length > 0 &&
      html`<div id="phi-findings" class=${`phi ${phi.blocked ? "blocked" : "warn"}`} tabindex="-1">
        <strong>${phi.blocked ? "Protected health information found" : "Check before sending"}</strong>
        <ul>
          ${phi.findings.map(
            (f) =>
              html`<li><span class="kind">${kindName(f.kind)}</span> <code>${f.excerpt}</code> ${f.action === "block" ? "(blocks sending)" : "(warning)"}<span class="why">${f.reason}</span></li>`,
          )}
        </ul>
        ${phi.blocked &&
        canOverride &&
        html`<div class="override">
          <label><input type="checkbox" checked=${override.on} onChange=${(event) => setOverride({ ...override, on: event.currentTarget.checked })} /> Send anyway</label>
          ${override.on &&
          html`<input aria-label="Reason for sending anyway" placeholder="Reason (kept in the audit log)" value=${override.reason} onInput=${(event) => setOverride({ ...override, reason: event.currentTarget.value })} />`}
        </div>`}
      </div>`}
      ${confirming &&
      html`<div class="confirm" role="alert">
        ${contact.name} wrote while you were typing.
        <button type="button" class="primary" onClick=${submit}>Send anyway</button>
        <button type="button" onClick=${() => (setConfirming(false), textarea.current.focus())}>Keep editing</button>
      </div>`}
      ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
      <div class="compose-foot">
        ${channel !== "note" &&
        html`
          <button type="button" class="icon-button" aria-label="Attach files" title="Attach files" onClick=${() => fileInput.current.click()}>
            <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l8-8a4 4 0 0 0-5.6-5.6l-8.2 8.2a6 6 0 0 0 8.5 8.5l6.3-6.3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
          </button>
          <input ref=${fileInput} type="file" multiple accept=${ATTACHMENT_TYPES} hidden onChange=${(event) => (attach([...event.currentTarget.files]), (event.currentTarget.value = ""))} />
          <button type="button" class=${`icon-button${recording ? " recording" : ""}`} aria-pressed=${recording ? "true" : "false"} aria-label=${recording ? "Stop recording the voice note" : "Record a voice note"} title="Voice note" onClick=${toggleRecording}>
            <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><rect x="9" y="3" width="6" height="11" rx="3" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
          </button>
          ${recording && html`<span class="recording-label" role="status">Recording…</span>`}
        `}
        <span id="compose-hint" class="hint">
          ${origin && channel !== "note" && html`<span class="origin">From a suggested reply</span>`}
          ${count && html`<span class="segments">${count.encoding} · ${count.segments} ${count.segments === 1 ? "segment" : "segments"} · ${count.remaining} left</span>`}
          ${waiting > 0 && html`<span class="queued" role="status">${waiting} waiting for the connection</span>`}
          ${!live && !waiting && html`<span class="queued">Offline: what you send waits and goes when the connection is back</span>`}
        </span>
        ${reason && html`<span id="send-reason" class="send-reason">${reason}${phiHolds && html` <a href="#phi-findings">See the findings</a>`}</span>`}
        ${onSchedule &&
        html`<button type="button" class="schedule" aria-disabled=${disabled ? "true" : "false"} aria-describedby=${reason ? "send-reason" : undefined} onClick=${schedule}>
          Schedule…
        </button>`}
        <button type="submit" class="primary send" aria-disabled=${disabled ? "true" : "false"} aria-describedby=${reason ? "send-reason" : undefined} aria-keyshortcuts="Control+Enter Meta+Enter">
          ${channel === "note" ? "Add note" : sendLabel}
        </button>
      </div>
    </form>
  `;
}
