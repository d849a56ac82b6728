// Page wiring for one channel: render messages and threads, the composer, the status.
import { ChannelConnection } from "./socket.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const list = document.getElementById("messages");
const template = document.getElementById("message-template");
const status = document.getElementById("status");
const composer = document.getElementById("composer");
const replying = document.getElementById("replying");
let replyTo = null;

function render(message, { replace }) {
  const existing = document.getElementById(`m-${message.id}`);
  if (existing && !replace) return;
  const item = existing ?? template.content.firstElementChild.cloneNode(true);
  item.id = `m-${message.id}`;
  item.dataset.id = message.id;
  item.dataset.seq = message.seq;
  item.querySelector(".author").textContent = message.author.display_name;
  item.querySelector(".institution").textContent = message.author.institution
    ? `${message.author.institution.name} (${message.author.institution.country})` : "";
  const time = item.querySelector("time");
  time.dateTime = message.created_at;
  time.textContent = new Date(message.created_at).toLocaleString();
  item.querySelector(".tlp").textContent = message.handling_code;
  // `html` is rendered and sanitised by the server (markdown-it + nh3 allow-list).
  item.querySelector(".body").innerHTML = message.deleted ? "" : message.html;
  item.classList.toggle("deleted", message.deleted);
  const replyButton = item.querySelector(".reply");
  replyButton.hidden = !config.canPost || message.parent !== null;
  replyButton.onclick = () => startReply(message.id);
  if (existing) return;
  const parent = message.parent && document.getElementById(`m-${message.parent}`);
  (parent ? parent.querySelector(".replies") : list).append(item);
}

function startReply(id) {
  replyTo = id;
  replying.hidden = false;
  composer.querySelector("textarea").focus();
}

function showStatus(state) {
  status.textContent = status.dataset[state] ?? state;
  status.dataset.state = state;
}

function showError(frame) {
  const note = document.createElement("p");
  note.className = "error";
  note.setAttribute("role", "alert");
  note.textContent = frame.message ?? frame.code;
  status.after(note);
  setTimeout(() => note.remove(), 8000);
}

const connection = new ChannelConnection({
  channel: config.channel, onMessage: render, onStatus: showStatus, onError: showError,
});
connection.open();

if (composer) {
  document.getElementById("cancel-reply").onclick = () => { replyTo = null; replying.hidden = true; };
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const textarea = composer.querySelector("textarea");
    const body = textarea.value.trim();
    if (!body) return;
    connection.send(body, replyTo);
    textarea.value = "";
    replyTo = null;
    replying.hidden = true;
  });
  composer.querySelector("textarea").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) composer.requestSubmit();
  });
}

window.exchangeConnection = connection; // for tests and debugging in the console
