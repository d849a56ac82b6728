// A message's 4x4 evaluation on the channel page (SPEC §2): source reliability A, B, C or X
// and information assessment 1 to 4. The badge beside the handling code; the composer's two
// selects; the author's "Evaluate" form (PATCH /messages/{id}, the change reaches every open
// page as `message.updated`); and the "Evaluation history" (GET /messages/{id}/evaluations).
// Texts come translated from the template's json_script block; the DOM is built with
// textContent only.
import { ApiError, api, logProblem } from "./api.js";

const text = JSON.parse(document.getElementById("evaluation-text").textContent);
const formTemplate = document.getElementById("evaluate-template");
const historyTemplate = document.getElementById("evaluation-history-template");
const changeTemplate = document.getElementById("evaluation-change-template");
const TIME_FORMAT = { dateStyle: "medium", timeStyle: "short" };

const meaningOf = (grades, value) => grades.find((grade) => grade.value === String(value))?.meaning;

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole);
}

function problemOf(error) {
  return format(text.failed, { message: error instanceof ApiError ? error.message : String(error) });
}

// Fill a badge (an element with role="img") for `evaluation`: "B2" to see, both meanings
// in its title and accessible name.
function describe(badge, reliability, assessment) {
  const code = `${reliability ?? "–"}${assessment ?? "–"}`;
  const described = format(text.described, {
    code,
    reliability: reliability ?? "–",
    reliabilityMeaning: meaningOf(text.reliability, reliability) ?? text.unknown,
    assessment: assessment ?? "–",
    assessmentMeaning: meaningOf(text.assessment, assessment) ?? text.unknown,
  });
  badge.textContent = code;
  badge.title = described;
  badge.setAttribute("aria-label", described);
}

// The evaluation chosen in a pair of selects: `{ evaluation }` (an object, or null for
// "none" in both), or `{ half: true }` when only one of the two is chosen.
export function chosenEvaluation(container) {
  const reliability = container.querySelector("select[name=source_reliability]").value;
  const assessment = container.querySelector("select[name=information_assessment]").value;
  if (!reliability && !assessment) return { evaluation: null };
  if (!reliability || !assessment) return { half: true };
  return { evaluation: { source_reliability: reliability, information_assessment: Number(assessment) } };
}

export function choose(container, evaluation) {
  container.querySelector("select[name=source_reliability]").value = evaluation?.source_reliability ?? "";
  container.querySelector("select[name=information_assessment]").value =
    evaluation ? String(evaluation.information_assessment) : "";
}

const same = (a, b) =>
  (a?.source_reliability ?? null) === (b?.source_reliability ?? null) &&
  (a?.information_assessment ?? null) === (b?.information_assessment ?? null);

function current(element) {
  return element.evaluation ?? null;
}

// Show a message's evaluation and the actions on it. The author evaluates their own live
// message while they may post (as they delete it, static/js/message-actions.js); anyone who
// reads the channel sees the history of a message that has, or on this page had, one.
export function showEvaluation(element, message, { config, ended }) {
  const evaluation = message.deleted ? null : (message.evaluation ?? null);
  const before = element.evaluation;
  element.evaluation = evaluation;
  if (evaluation) element.dataset.evaluated = "";
  const badge = element.querySelector(":scope > .meta > .evaluation");
  badge.hidden = !evaluation;
  if (evaluation) describe(badge, evaluation.source_reliability, evaluation.information_assessment);
  else {
    badge.textContent = "";
    badge.removeAttribute("title");
    badge.removeAttribute("aria-label");
  }

  const live = !ended && !message.deleted;
  const own = message.author.username === config.username;
  element.querySelector(":scope > .actions > .evaluate").hidden = !(live && own && config.canPost);
  const history = element.querySelector(":scope > .actions > .evaluation-history");
  history.hidden = !live || !("evaluated" in element.dataset);
  if (element.querySelector(":scope > .evaluate-form") && !(live && own && config.canPost)) {
    element.querySelector(":scope > .evaluate-form").remove();
  }
  const log = element.querySelector(":scope > .evaluation-log");
  if (log && history.hidden) closeHistory(element);
  else if (log && before !== undefined && !same(before, evaluation)) loadHistory(element, log);
}

function closeHistory(element) {
  element.querySelector(":scope > .evaluation-log")?.remove();
  element.querySelector(":scope > .actions > .evaluation-history").setAttribute("aria-expanded", "false");
}

// The page lost its access: nothing more can be changed or fetched.
export function endEvaluation(list) {
  for (const button of list.querySelectorAll("button.evaluate, button.evaluation-history")) button.hidden = true;
  for (const form of list.querySelectorAll(".evaluate-form, .evaluation-log")) form.remove();
}

// What the composer sends along: `{ evaluation }` or, when only one select is chosen,
// `{ half: true }` after saying so beside the selects (and nothing is sent).
export function setUpComposerEvaluation(composer) {
  const fields = composer?.querySelector("#evaluation-fields");
  if (!fields) return { take: () => ({ evaluation: null }), restore() {} };
  const problem = fields.querySelector("#evaluation-problem");
  const clear = () => {
    problem.hidden = true;
    problem.textContent = "";
  };
  fields.addEventListener("change", clear);
  return {
    // Read the choice for a send about to go out; reset the selects when it goes.
    take() {
      const chosen = chosenEvaluation(fields);
      if (chosen.half) {
        problem.textContent = text.halfFilled;
        problem.hidden = false;
        for (const select of fields.querySelectorAll("select")) if (!select.value) select.focus();
        return chosen;
      }
      clear();
      choose(fields, null);
      return chosen;
    },
    // A refused or failed send: put its evaluation back unless a new one was chosen since.
    restore(evaluation) {
      const untouched = [...fields.querySelectorAll("select")].every((select) => !select.value);
      if (evaluation && untouched) choose(fields, evaluation);
    },
  };
}

function openForm(element) {
  if (element.querySelector(":scope > .evaluate-form")) return;
  const form = formTemplate.content.firstElementChild.cloneNode(true);
  const button = element.querySelector(":scope > .actions > .evaluate");
  element.querySelector(":scope > .actions").after(form);
  choose(form, current(element));
  form.querySelector("select").focus();
  const problem = form.querySelector(".form-problem");
  const close = () => {
    form.remove();
    button.focus();
  };
  form.querySelector(".cancel").addEventListener("click", close);
  form.addEventListener("change", () => {
    problem.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = chosenEvaluation(form);
    if (chosen.half) {
      problem.textContent = text.halfFilled;
      problem.hidden = false;
      return;
    }
    if (same(chosen.evaluation, current(element))) return close();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      // Only the evaluation: the body stays as it is. Every page (this one too) shows
      // the change when `message.updated` arrives.
      await api("PATCH", `/messages/${element.dataset.id}`, { evaluation: chosen.evaluation });
      close();
    } catch (error) {
      logProblem("evaluate", error);
      problem.textContent = problemOf(error);
      problem.hidden = false;
      submit.disabled = false;
    }
  });
}

async function loadHistory(element, log) {
  const loading = log.querySelector(".loading");
  const changes = log.querySelector(".changes");
  const problem = log.querySelector(".form-problem");
  const request = (log.request = Symbol("request")); // only the newest answer is shown
  loading.hidden = false;
  problem.hidden = true;
  let rows;
  try {
    rows = await api("GET", `/messages/${element.dataset.id}/evaluations`);
  } catch (error) {
    if (log.request !== request) return;
    logProblem("evaluation history", error);
    loading.hidden = true;
    problem.textContent = problemOf(error);
    problem.hidden = false;
    return;
  }
  if (log.request !== request) return;
  loading.hidden = true;
  changes.replaceChildren(...rows.map(change));
  if (!rows.length) {
    problem.textContent = text.noHistory;
    problem.hidden = false;
  }
}

function change(row) {
  const item = changeTemplate.content.firstElementChild.cloneNode(true);
  const badge = item.querySelector(".evaluation");
  if (row.source_reliability === null && row.information_assessment === null) {
    badge.removeAttribute("role");
    badge.classList.add("cleared");
    badge.textContent = text.cleared;
  } else {
    describe(badge, row.source_reliability, row.information_assessment);
  }
  item.querySelector(".who").textContent = row.changed_by.display_name || row.changed_by.username;
  const institution = row.changed_by.institution;
  item.querySelector(".institution").textContent = institution ? `${institution.name} (${institution.country})` : "";
  const time = item.querySelector("time");
  time.dateTime = row.changed_at;
  time.textContent = new Date(row.changed_at).toLocaleString(undefined, TIME_FORMAT);
  return item;
}

function toggleHistory(element) {
  if (element.querySelector(":scope > .evaluation-log")) return closeHistory(element);
  const log = historyTemplate.content.firstElementChild.cloneNode(true);
  const button = element.querySelector(":scope > .actions > .evaluation-history");
  (element.querySelector(":scope > .evaluate-form") ?? element.querySelector(":scope > .actions")).after(log);
  button.setAttribute("aria-expanded", "true");
  log.querySelector(".close").addEventListener("click", () => {
    closeHistory(element);
    button.focus();
  });
  loadHistory(element, log);
}

export function setUpEvaluation({ list }) {
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.evaluate, button.evaluation-history");
    if (!button) return;
    const element = button.closest("li.message");
    if (button.classList.contains("evaluate")) openForm(element);
    else toggleHistory(element);
  });
}
