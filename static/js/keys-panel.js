// The key panel (templates/_keys_panel.html): the user's key made on first visit with
// its recovery code shown once, restored from that code on another browser, and its
// fingerprint. Texts come from the page's translated `e2ee-text` block.
import { logProblem } from "./api.js";
import { RecoveryCodeError, acknowledgeCode, createIdentity, fingerprint, loadIdentity, restoreIdentity } from "./keys.js";

export const pageText = () => JSON.parse(document.getElementById("e2ee-text").textContent);
export const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

const PARTS = ["working", "created", "restore", "ready", "failed"];

// Returns { ready }: a promise of the identity record, kept once this browser holds the
// user's key (at once, once made, or once restored by the user). onMissing() is called
// when the user has to restore it first.
export function setUpKeyPanel(panel, text, { onMissing = () => {} } = {}) {
  const username = panel.dataset.username;
  const part = (name) => panel.querySelector(`[data-part="${name}"]`);
  const restoreForm = part("restore");
  const restoreError = part("restore-error");
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));

  function show(...visible) {
    for (const name of PARTS) part(name).hidden = !visible.includes(name);
    panel.dataset.state = visible[0];
  }

  function fail(message) {
    part("failed").textContent = message;
    show("failed");
    onMissing();
  }

  async function keep(record, code = null) {
    panel.querySelector(".fingerprint").textContent = await fingerprint(record.recipient);
    panel.querySelector(".fingerprint").title = record.recipient;
    if (code) {
      panel.querySelector(".recovery-code").textContent = code;
      show("created", "ready");
    } else {
      show("ready");
    }
    resolveReady(record);
  }

  async function start() {
    if (!window.indexedDB || !window.crypto?.subtle) return fail(text.unsupported);
    part("working").textContent = text.checking;
    try {
      const result = await loadIdentity(username);
      if (result.state === "restore") {
        show("restore");
        onMissing();
      } else {
        await keep(result.record, result.code);
      }
    } catch (error) {
      logProblem("identity", error);
      fail(format(text.failed, { message: error.message }));
    }
  }

  panel.querySelector('[data-action="saved"]').addEventListener("click", async () => {
    await acknowledgeCode(username);
    panel.querySelector(".recovery-code").textContent = ""; // from now on only on paper
    show("ready");
  });

  restoreForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = restoreForm.querySelector('button[type="submit"]');
    button.disabled = true;
    restoreError.hidden = true;
    try {
      await keep(await restoreIdentity(username, restoreForm.elements.code.value));
      restoreForm.reset();
    } catch (error) {
      restoreError.textContent =
        error instanceof RecoveryCodeError ? text.wrongCode : format(text.failed, { message: error.message });
      restoreError.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  panel.querySelector('[data-action="new-key"]').addEventListener("click", async (event) => {
    event.target.disabled = true;
    part("working").textContent = text.creating;
    show("working");
    try {
      const { record, code } = await createIdentity(username);
      await keep(record, code);
    } catch (error) {
      fail(format(text.failed, { message: error.message }));
    }
  });

  start();
  return { ready };
}
