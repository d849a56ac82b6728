// Page wiring for one channel: render messages and threads, the composer, the status.
// Every text the user reads comes from the template (translated there), never from here.
import { setUpChannelEncryption } from "./channel-e2ee.js";
import { endEvaluation, setUpComposerEvaluation, setUpEvaluation, showEvaluation } from "./evaluation.js";
import { setUpMessageActions, showActions } from "./message-actions.js";
import { ChannelConnection } from "./socket.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const list = document.getElementById("messages");
const empty = document.getElementById("empty");
const template = document.getElementById("message-template");
const status = document.getElementById("status");
const notes = document.getElementById("notes");
const problem = document.getElementById("problem");
const composer = document.getElementById("composer");
const replying = document.getElementById("replying");
const pending = document.getElementById("pending");
const textarea = composer?.querySelector("textarea");
const TIME_FORMAT = { dateStyle: "medium", timeStyle: "short" }; // in the reader's own locale
let replyTo = null;
let ended = false;

const item = (id) => document.getElementById(`m-${id}`);
const camel = (name) => name.replace(/-(\w)/g, (_, letter) => letter.toUpperCase());

function render(message, { replace }) {
  const existing = item(message.id);
  if (existing && !replace) return;
  const element = existing ?? template.content.firstElementChild.cloneNode(true);
  fill(element, message);
  if (existing) return;
  const follow = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  const root = message.parent && item(message.parent);
  // A reply whose root is not here yet waits at the top level until the root comes.
  insertInOrder(root ? root.querySelector(".replies") : list, element);
  if (!message.parent) {
    for (const orphan of list.querySelectorAll(`:scope > li[data-parent="${message.id}"]`)) {
      insertInOrder(element.querySelector(".replies"), orphan);
    }
  }
  empty.hidden = true;
  if (follow) list.scrollTop = list.scrollHeight;
}

function fill(element, message) {
  element.id = `m-${message.id}`;
  element.dataset.id = message.id;
  element.dataset.seq = message.seq;
  if (message.parent) element.dataset.parent = message.parent;
  element.querySelector(".author").textContent = message.author.display_name;
  const institution = message.author.institution;
  element.querySelector(".institution").textContent = institution
    ? `${institution.name} (${institution.country})` : "";
  const time = element.querySelector("time");
  time.dateTime = message.created_at;
  time.textContent = new Date(message.created_at).toLocaleString(undefined, TIME_FORMAT);
  element.querySelector(".edited").hidden = !message.edited_at || message.deleted;
  const tlp = element.querySelector(".tlp");
  tlp.textContent = message.handling_code;
  tlp.dataset.code = message.handling_code;
  const body = element.querySelector(".body");
  // `html` is rendered and sanitised by the server (markdown-it + nh3 allow-list).
  body.innerHTML = message.deleted ? "" : message.html;
  for (const link of body.querySelectorAll("a[href]")) link.target = "_blank"; // keep the live page
  element.querySelector(".tombstone").hidden = !message.deleted;
  element.classList.toggle("deleted", message.deleted);
  element.querySelector(".reply").hidden = !canReplyTo(message);
  showActions(element, message, { config, ended });
  showEvaluation(element, message, { config, ended });
  e2ee.showAttachments(element, message);
}

function canReplyTo(message) {
  return config.canPost && !ended && !message.parent && !message.deleted;
}

function insertInOrder(container, element) {
  const seq = Number(element.dataset.seq);
  let next = null;
  for (let el = container.lastElementChild; el && Number(el.dataset.seq) > seq; el = el.previousElementSibling) {
    next = el;
  }
  container.insertBefore(element, next);
}

function startReply(root) {
  replyTo = Number(root.dataset.id);
  replying.querySelector(".reply-author").textContent = root.querySelector(".author").textContent;
  const text = root.querySelector(".body").textContent.replace(/\s+/g, " ").trim();
  replying.querySelector(".reply-excerpt").textContent = text.length > 90 ? `${text.slice(0, 90)}…` : text;
  replying.hidden = false;
  for (const el of list.querySelectorAll(".reply-target")) el.classList.remove("reply-target");
  root.classList.add("reply-target");
  textarea.focus();
}

function cancelReply() {
  replyTo = null;
  if (!replying) return;
  replying.hidden = true;
  for (const el of list.querySelectorAll(".reply-target")) el.classList.remove("reply-target");
}

function showStatus(state) {
  status.dataset.state = state;
  status.textContent = status.dataset[camel(state)] ?? state;
  if (state === "online") empty.hidden = list.childElementCount > 0;
  showPending(connection?.outbox.size ?? 0);
}

// Only worth saying while the socket is away: online, the ack comes within moments.
function showPending(count) {
  if (pending) pending.hidden = ended || count === 0 || status.dataset.state === "online";
}

function showError(frame, refused) {
  // A refused message goes back into an empty composer rather than being lost.
  if (refused && textarea && !textarea.value) {
    textarea.value = refused.body;
    composerEvaluation.restore(refused.evaluation);
    if (refused.parent && item(refused.parent)) startReply(item(refused.parent));
  }
  const note = document.createElement("p");
  note.className = "error";
  note.setAttribute("role", "alert");
  note.textContent = frame.message ?? frame.code;
  notes.append(note);
  setTimeout(() => note.remove(), 10000);
}

function end(reason) {
  ended = true;
  showStatus(reason);
  problem.querySelector(".problem-text").textContent = problem.dataset[camel(reason)];
  problem.querySelector(".sign-in").hidden = reason !== "signed-out";
  problem.hidden = false;
  cancelReply();
  for (const button of list.querySelectorAll("button.reply, button.report, button.delete")) button.hidden = true;
  for (const form of list.querySelectorAll(".report-form")) form.remove();
  endEvaluation(list);
  if (composer) for (const control of composer.elements) control.disabled = true;
}

// The server says this user's role here changed (say, their institution became an
// observer): the page is rendered for a role, so render it again for the new one.
function handleRole(frame) {
  if (frame.type === "channel.role" && frame.channel === config.channel && !ended) location.reload();
}

const e2ee = setUpChannelEncryption({ config, notes });
setUpMessageActions({ list, notes });
setUpEvaluation({ list });
const composerEvaluation = setUpComposerEvaluation(composer);
const connection = new ChannelConnection({
  channel: config.channel,
  onMessage: render,
  onStatus: showStatus,
  onError: showError,
  onEnd: end,
  onOutbox: showPending,
  onFrame: (frame) => {
    e2ee.handleFrame(frame);
    handleRole(frame);
  },
});
connection.open();

// Keep the newest message in view while the reader is at the bottom, also when the list
// shrinks or grows because something above it (a notice, the key panel) came or went.
let atBottom = true;
list.addEventListener("scroll", () => {
  atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
});
new ResizeObserver(() => {
  if (atBottom) list.scrollTop = list.scrollHeight;
}).observe(list);

list.addEventListener("click", (event) => {
  const button = event.target.closest("button.reply");
  if (button && !ended) startReply(button.closest("li.message"));
});

if (composer) {
  document.getElementById("cancel-reply").addEventListener("click", cancelReply);
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = textarea.value.trim();
    const withFile = e2ee.hasFile();
    if (ended || !(withFile || body)) return;
    // Half an evaluation is no evaluation: say so beside the selects and send nothing.
    const { evaluation, half } = composerEvaluation.take();
    if (half) return;
    if (withFile) {
      // Encrypted and uploaded first; the message goes out once the file is stored.
      const send = (text, parent, attachments) => connection.send(text, parent, attachments, evaluation);
      e2ee.sendWithFile(body, replyTo, send).then((sent) => sent || composerEvaluation.restore(evaluation));
    } else {
      connection.send(body, replyTo, [], evaluation);
    }
    textarea.value = "";
    cancelReply();
    list.scrollTop = list.scrollHeight;
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) composer.requestSubmit();
    if (event.key === "Escape" && replyTo !== null) cancelReply();
  });
}

window.exchangeConnection = connection; // for tests and debugging in the console
window.exchangeKeys = e2ee.keys; // likewise: the channel's epochs and this client's state
