// The channel page's encrypted attachments: the key panel, the channel key's status,
// the composer's file (encrypted, uploaded with a progress bar) and each message's
// files (name from the encrypted meta; downloaded, decrypted, verified, then saved).
// channel.js hands over socket frames, messages to show, and sends.
import { IntegrityError, MissingKeyError, fetchPlaintext, readMeta, save, uploadAttachment } from "./attachments.js";
import { logProblem } from "./api.js";
import { ChannelKeys } from "./epochs.js";
import { format, pageText, setUpKeyPanel } from "./keys-panel.js";

const UNITS = [
  [1e9, "gigabyte"],
  [1e6, "megabyte"],
  [1e3, "kilobyte"],
  [1, "byte"],
];

function formatSize(bytes) {
  const [scale, unit] = UNITS.find(([scale]) => bytes >= scale) ?? UNITS[UNITS.length - 1];
  return new Intl.NumberFormat(undefined, { style: "unit", unit, maximumFractionDigits: 1 }).format(bytes / scale);
}

export function setUpChannelEncryption({ config, notes }) {
  const text = pageText();
  const keys = new ChannelKeys({
    channel: config.channel,
    username: config.username,
    historyVisibility: config.historyVisibility,
    isModerator: config.isModerator,
  });
  const status = document.getElementById("e2ee-status");
  const template = document.getElementById("attachment-template");
  const metas = new WeakMap(); // attachment element -> decrypted meta
  const waiting = new Set(); // attachment elements whose epoch key is not here yet
  const composer = document.getElementById("composer");
  const input = composer?.querySelector("#attachment");
  const progress = composer?.querySelector("#upload-progress");
  const uploadStatus = composer?.querySelector("#upload-status");
  let uploading = false;

  const panel = setUpKeyPanel(document.getElementById("keys-panel"), text, {
    onMissing: () => keys.setIdentity(null),
  });
  panel.ready.then((record) => keys.setIdentity(record));

  function showKeyState() {
    status.dataset.state = keys.state;
    status.textContent = format(text.channel[keys.state] ?? "", { message: keys.error?.message ?? "" });
    status.hidden = !status.textContent;
    updateComposer();
  }
  keys.addEventListener("change", showKeyState);
  keys.addEventListener("keys", () => {
    for (const element of waiting) describe(element);
  });
  keys.addEventListener("peer-key-changed", (event) => note(format(text.peerKeyChanged, event.detail)));
  showKeyState();

  function note(message) {
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    notes.append(p);
  }

  // --- a message's files ---------------------------------------------------------------

  function showAttachments(element, message) {
    const list = element.querySelector(".attachments");
    const attachments = message.deleted ? [] : message.attachments ?? [];
    const ids = attachments.map((a) => a.id).join(",");
    if (!list || list.dataset.ids === ids) return;
    list.dataset.ids = ids;
    list.replaceChildren();
    for (const attachment of attachments) {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.id = attachment.id;
      item.attachment = attachment;
      item.querySelector(".file-name").textContent = text.encryptedFile;
      item.querySelector(".file-size").textContent = formatSize(attachment.size);
      item.querySelector(".download").addEventListener("click", () => download(item));
      list.append(item);
      describe(item);
    }
  }

  function problem(item, message) {
    const p = item.querySelector(".file-problem");
    p.textContent = message ?? "";
    p.hidden = !message;
  }

  async function describe(item) {
    waiting.delete(item);
    try {
      const meta = await readMeta({ keys, attachment: item.attachment });
      metas.set(item, meta);
      item.querySelector(".file-name").textContent = meta.name;
      item.querySelector(".file-size").textContent = formatSize(meta.size);
      item.querySelector(".download").hidden = false;
      problem(item, null);
    } catch (error) {
      if (error instanceof MissingKeyError) {
        waiting.add(item);
        if (keys.state === "starting") problem(item, null);
        else problem(item, keys.record ? text.waitingForKey : text.needIdentity);
      } else {
        problem(item, error instanceof IntegrityError ? text.metaAltered : format(text.failedToRead, { message: error.message }));
      }
    }
  }

  async function download(item) {
    const meta = metas.get(item);
    if (!meta || item.classList.contains("busy")) return;
    const progress = item.querySelector("progress");
    item.classList.add("busy");
    problem(item, null);
    progress.value = 0;
    progress.hidden = false;
    try {
      const blob = await fetchPlaintext({
        keys, attachment: item.attachment, meta, onProgress: (fraction) => (progress.value = fraction),
      });
      save(blob, meta.name);
      item.dataset.saved = "true";
    } catch (error) {
      logProblem("download", error);
      if (error instanceof IntegrityError) problem(item, text.altered);
      else if (error instanceof MissingKeyError) problem(item, text.waitingForKey);
      else problem(item, format(text.downloadFailed, { message: error.message }));
    } finally {
      progress.hidden = true;
      item.classList.remove("busy");
    }
  }

  // --- the composer's file -------------------------------------------------------------

  function updateComposer() {
    if (!input) return;
    input.disabled = uploading || keys.state !== "ready";
    composer.querySelector("textarea").required = !input.files.length;
  }
  input?.addEventListener("change", updateComposer);

  function hasFile() {
    return Boolean(input?.files.length);
  }

  // Encrypt and upload the chosen file, then send the message carrying it through
  // `send(body, parent, [id])`. On failure the body goes back into an empty composer.
  // Resolves to whether the message went out.
  async function sendWithFile(body, parent, send) {
    const file = input.files[0];
    const textarea = composer.querySelector("textarea");
    // The age file is a little larger than the plaintext: 16 bytes a 64 KiB chunk, and a header.
    if (file.size + Math.ceil(file.size / 65536) * 16 + 1024 > config.maxUpload) {
      if (!textarea.value) textarea.value = body;
      note(format(text.tooLarge, { size: formatSize(config.maxUpload) }));
      return false;
    }
    uploading = true;
    updateComposer();
    progress.value = 0;
    progress.hidden = false;
    uploadStatus.hidden = false;
    try {
      const uploaded = await uploadAttachment({
        keys,
        file,
        onProgress(phase, fraction) {
          uploadStatus.textContent = format(phase === "encrypt" ? text.encrypting : text.uploading, { name: file.name });
          progress.value = fraction;
        },
      });
      send(body, parent, [uploaded.id]);
      input.value = "";
      return true;
    } catch (error) {
      logProblem("upload", error);
      if (!textarea.value) textarea.value = body;
      note(error instanceof MissingKeyError ? text.noKeyToSend : format(text.uploadFailed, { message: error.message }));
      return false;
    } finally {
      uploading = false;
      progress.hidden = true;
      uploadStatus.hidden = true;
      updateComposer();
    }
  }

  return { keys, handleFrame: (frame) => keys.handleFrame(frame), showAttachments, hasFile, sendWithFile };
}
