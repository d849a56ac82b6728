// A message's "Report" and "Delete" actions on the channel page. Reports go to the
// channel's moderators (POST /messages/{id}/reports); a deletion is DELETE /messages/{id},
// and every open page then shows the tombstone from the `message.deleted` frame.
// Texts come translated from the template's json_script block.
import { ApiError, api, logProblem } from "./api.js";

const text = JSON.parse(document.getElementById("moderation-text").textContent);
const formTemplate = document.getElementById("report-template");

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole);
}

function problemOf(error) {
  return format(text.failed, { message: error instanceof ApiError ? error.message : String(error) });
}

// Which actions a message offers: members report other people's messages; authors who
// may post delete their own; moderators delete any.
export function showActions(element, message, { config, ended }) {
  const live = !ended && !message.deleted;
  const own = message.author.username === config.username;
  element.querySelector(":scope > .actions > .report").hidden = !live || own;
  element.querySelector(":scope > .actions > .delete").hidden =
    !live || !(config.isModerator || (own && config.canPost));
  if (!live) element.querySelector(":scope > .report-form")?.remove();
}

export function setUpMessageActions({ list, notes }) {
  function note(message, className = "error") {
    const p = document.createElement("p");
    p.className = className;
    p.setAttribute("role", className === "error" ? "alert" : "status");
    p.textContent = message;
    notes.append(p);
    setTimeout(() => p.remove(), 10000);
  }

  function openReport(element) {
    if (element.querySelector(":scope > .report-form")) return;
    const form = formTemplate.content.firstElementChild.cloneNode(true);
    element.querySelector(":scope > .actions").after(form);
    form.querySelector("input[name=reason]").focus();
    form.querySelector(".cancel").addEventListener("click", () => form.remove());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = form.querySelector("input[name=reason]").value.trim();
      if (!reason) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api("POST", `/messages/${element.dataset.id}/reports`, { reason });
        form.remove();
        note(text.reported, "reported");
      } catch (error) {
        logProblem("report", error);
        const problem = form.querySelector(".form-problem");
        problem.textContent = problemOf(error);
        problem.hidden = false;
        button.disabled = false;
      }
    });
  }

  async function remove(element) {
    if (!window.confirm(text.confirmDelete)) return;
    try {
      await api("DELETE", `/messages/${element.dataset.id}`);
    } catch (error) {
      logProblem("delete", error);
      note(problemOf(error));
    }
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.report, button.delete");
    if (!button) return;
    const element = button.closest("li.message");
    if (button.classList.contains("report")) openReport(element);
    else remove(element);
  });
}
