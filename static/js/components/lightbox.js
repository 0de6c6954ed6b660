// The conversation's images, one at a time: ←/→ step through them, Esc closes.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { FocusGuard } from "./focus-guard.js";

export function Lightbox({ images, startId, onClose }) {
  const [index, setIndex] = useState(Math.max(0, images.findIndex((image) => image.id === startId)));
  const dialog = useRef(null);
  useEffect(() => {
    const opener = document.activeElement;
    dialog.current.showModal();
    return () => opener?.focus?.();
  }, []);
  const step = (by) => setIndex((at) => (at + by + images.length) % images.length);
  const image = images[index];
  return html`
    <dialog
      ref=${dialog}
      class="lightbox"
      aria-label="Images in this conversation"
      onClose=${onClose}
      onKeyDown=${(event) => {
        if (event.key === "ArrowRight") step(1);
        if (event.key === "ArrowLeft") step(-1);
      }}
    >
      <${FocusGuard} at="start" />
      <figure>
        <img src=${image.url} alt=${image.file_name} />
        <figcaption>${image.file_name} · ${index + 1} of ${images.length}</figcaption>
      </figure>
      <div class="lightbox-controls">
        <button type="button" onClick=${() => step(-1)} disabled=${images.length < 2}>← Previous</button>
        <button type="button" onClick=${() => step(1)} disabled=${images.length < 2}>Next →</button>
        <form method="dialog"><button autofocus>Close</button></form>
      </div>
      <${FocusGuard} at="end" />
    </dialog>
  `;
}
