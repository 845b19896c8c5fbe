// Projects and tasks: the project list (client, status, archived filters), a project's details, budget
// burn and task board (to do / in progress / done; a move is a PATCH with If-Match, so a card changed
// by someone else meanwhile is refused, not overwritten), and a task with its comments and attachments.
// Write controls follow the caller's permissions on that project (GET /me/permissions).

import { body, ORG, ME, $, ApiError, request, api, allPages, el, showInfo, showError, clearAlert, act, hours } from "./lib.js";

const PROJECT = body.dataset.project;
const TASK = body.dataset.task;
const STATUSES = [
  ["todo", "To do"],
  ["in_progress", "In progress"],
  ["done", "Done"],
];
const STATUS_LABEL = Object.fromEntries(STATUSES);
const PROJECT_STATUSES = ["planned", "active", "on_hold", "done"];
const label = (value) => String(value).replace("_", " ");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function hideAll(message) {
  const main = $("#main");
  for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
  main.append(el("p", { class: "note", text: message }));
}

// GET with the response's ETag, for If-Match on the change that follows.
async function getTagged(path) {
  const { payload, response } = await request("GET", path);
  return { data: payload, etag: response.headers.get("ETag") };
}

async function patchIfMatch(path, etag, data) {
  return (await request("PATCH", path, { data, headers: etag ? { "If-Match": etag } : {} })).payload;
}

async function upload(path, file) {
  const form = new FormData();
  form.append("file", file);
  return (await request("POST", path, { form })).payload;
}

async function peopleNames() {
  const members = await allPages(`/orgs/${ORG}/members`).catch(() => []);
  return new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id.slice(0, 8)]));
}

// --- the list -----------------------------------------------------------------------------------------

export async function projectsPage(perms) {
  if (!perms.has("project:list")) {
    hideAll("You cannot list this organization's projects.");
    return;
  }
  const clients = perms.has("client:list") ? await allPages(`/orgs/${ORG}/clients`) : [];
  const clientName = new Map(clients.map((c) => [c.id, c.name]));
  const query = new URLSearchParams(location.search);
  $("#f-client").replaceChildren(el("option", { value: "", text: "All clients" }), ...clients.map((c) => el("option", { value: c.id, text: c.name })));
  $("#f-status").replaceChildren(el("option", { value: "", text: "Any status" }), ...PROJECT_STATUSES.map((s) => el("option", { value: s, text: label(s) })));
  $("#f-client").value = query.get("client_id") || "";
  $("#f-status").value = query.get("status") || "";
  $("#f-archived").checked = query.get("include_archived") === "true";

  async function load() {
    const filters = new URLSearchParams();
    if ($("#f-client").value) filters.set("client_id", $("#f-client").value);
    if ($("#f-status").value) filters.set("status", $("#f-status").value);
    if ($("#f-archived").checked) filters.set("include_archived", "true");
    history.replaceState(null, "", filters.size ? `?${filters}` : location.pathname);
    const projects = await allPages(`/orgs/${ORG}/projects${filters.size ? `?${filters}` : ""}`);
    const rows = projects.map((p) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, el("a", { href: `/orgs/${ORG}/projects/${p.id}`, text: p.name })),
        el("td", {}, p.key ? el("code", { text: p.key }) : "—"),
        el("td", { text: p.client_id ? clientName.get(p.client_id) || "—" : "—" }),
        el("td", {}, el("span", { class: `badge ${p.status}`, text: label(p.status) }), p.archived_at ? el("span", { class: "badge", text: "archived" }) : ""),
        el("td", { text: p.my_role || "—" }),
        el("td", { text: p.due_date || "" }),
      ),
    );
    $("#projects tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No project matches." }))]));
  }
  for (const id of ["#f-client", "#f-status", "#f-archived"]) $(id).addEventListener("change", () => act(null, load));
  await load();
}

// --- one project: details, budget burn, task board -------------------------------------------------------

export async function projectPage(perms) {
  const base = `/orgs/${ORG}/projects/${PROJECT}`;
  const can = (p) => perms.onProject(PROJECT, p) && !perms.readOnly;
  const [project, names] = await Promise.all([api("GET", base), peopleNames()]);
  document.title = `${project.name} · Worktime`;
  $("h1").textContent = project.name;
  const facts = [
    ["Key", project.key || "—"],
    ["Status", label(project.status) + (project.archived_at ? " (archived)" : "")],
    ["Priority", project.priority],
    ["Your role", project.my_role || "—"],
    ["Dates", [project.start_date, project.due_date].filter(Boolean).join(" to ") || "—"],
    ["Estimate", project.estimate_hours ? `${project.estimate_hours} h` : "—"],
    ["Budget", project.budget_kind ? `${project.budget_amount} ${project.budget_kind === "hours" ? "h" : project.currency || ""} (${project.budget_period})` : "—"],
    ["Billing", project.billable ? (project.fixed_fee ? `fixed fee ${project.fixed_fee}` : project.hourly_rate ? `${project.hourly_rate} ${project.currency || ""}/h` : "billable") : "not billable"],
    ["Tags", project.tags.join(", ") || "—"],
  ];
  $("#facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  if (project.description) $("#project-desc").textContent = project.description;

  // Budget burn from the projects report (only when the report counts everyone's time on it).
  if (perms.has("report:read") && project.budget_kind) {
    const report = await api("GET", `/orgs/${ORG}/reports/projects`).catch(() => null);
    const figures = report?.projects.find((p) => p.project_id === PROJECT);
    if (figures && report.scope !== "own") {
      const percent = Number(figures.burn_percent ?? 0);
      $("#burn").hidden = false;
      $("#burn-text").textContent = `${Number(figures.budget_used ?? 0).toFixed(1)} of ${figures.budget_amount} used (${percent.toFixed(0)} %)${figures.over_budget ? ", over budget" : ""}; ${hours(figures.duration_seconds)} h tracked.`;
      const fill = $("#burn .fill");
      fill.classList.toggle("over", figures.over_budget);
      fill.style.width = `${Math.min(100, percent)}%`;
    }
  }

  const manage = can("task:manage");
  const mayMove = (task) => manage || (can("task:update") && task.assignee_ids.includes(ME));
  $("#task-form").hidden = !can("task:create") || Boolean(project.archived_at);
  $("#t-assign-label").hidden = manage;
  let tasks = [];

  async function move(task, status, card) {
    clearAlert();
    card?.classList.add("busy");
    try {
      // Read the task with its ETag; if it differs from the card, someone changed it: show theirs.
      const { data, etag } = await getTagged(`${base}/tasks/${task.id}`);
      if (data.updated_at !== task.updated_at) {
        await load();
        throw new Error(`${task.ref} changed since the board was loaded; here it is as it is now.`);
      }
      await patchIfMatch(`${base}/tasks/${task.id}`, etag, { status });
      await load();
      showInfo(`${task.ref} moved to ${STATUS_LABEL[status]}.`);
      document.querySelector(`[data-task-id="${task.id}"] button`)?.focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        await load();
        showError(new Error(`${task.ref} changed meanwhile; the board shows it as it is now.`));
      } else showError(error);
    } finally {
      card?.classList.remove("busy");
    }
  }

  function card(task) {
    const node = el(
      "li",
      { class: `card task prio-${task.priority}`, "data-task-id": task.id, draggable: mayMove(task) ? "true" : null },
      el("a", { href: `${base}/tasks/${task.id}`, class: "ref", text: task.ref }),
      el("span", { class: "title", text: task.title }),
      el(
        "span",
        { class: "meta muted" },
        [task.priority !== "normal" ? task.priority : "", task.due_date ? `due ${task.due_date}` : "", task.assignee_ids.map((id) => names.get(id) || "someone").join(", ")].filter(Boolean).join(" · "),
      ),
    );
    if (mayMove(task)) {
      const moves = el("div", { class: "moves" });
      for (const [status, text] of STATUSES) {
        if (status === task.status) continue;
        const button = el("button", { type: "button" }, "Move ", el("span", { class: "sr", text: `${task.ref} ` }), `to ${text}`);
        button.addEventListener("click", () => move(task, status, node));
        moves.append(button);
      }
      node.append(moves);
      node.addEventListener("dragstart", (event) => event.dataTransfer.setData("text/plain", task.id));
    }
    return node;
  }

  async function load() {
    const q = $("#t-search").value.trim();
    const mine = $("#t-mine").checked;
    const params = new URLSearchParams({ sort: "number" });
    if (q) params.set("q", q);
    if (mine) params.set("assignee", "me");
    tasks = await allPages(`${base}/tasks?${params}`);
    for (const [status] of STATUSES) {
      const column = $(`#col-${status} ul`);
      const mineHere = tasks.filter((t) => t.status === status);
      column.replaceChildren(...(mineHere.length ? mineHere.map(card) : [el("li", { class: "muted empty", text: "Nothing here." })]));
      $(`#col-${status} .count`).textContent = String(mineHere.length);
    }
  }

  for (const [status] of STATUSES) {
    const column = $(`#col-${status}`);
    column.addEventListener("dragover", (event) => event.preventDefault());
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      const task = tasks.find((t) => t.id === event.dataTransfer.getData("text/plain"));
      if (task && task.status !== status) move(task, status, document.querySelector(`[data-task-id="${task.id}"]`));
    });
  }
  $("#t-search").addEventListener("input", () => act(null, load));
  $("#t-mine").addEventListener("change", () => act(null, load));
  $("#task-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#t-create"), async () => {
      const data = { title: $("#t-title").value.trim(), priority: $("#t-priority").value };
      if ($("#t-due").value) data.due_date = $("#t-due").value;
      // Contributors may change only the tasks assigned to them: assign yourself unless you manage tasks.
      if (!manage || $("#t-assign").checked) data.assignee_ids = [ME];
      const task = await api("POST", `${base}/tasks`, data);
      $("#t-title").value = "";
      await load();
      showInfo(`${task.ref} created.`);
    });
  });
  await load();
}

// --- one task: details, comments, attachments ---------------------------------------------------------

export async function taskPage(perms) {
  const base = `/orgs/${ORG}/projects/${PROJECT}/tasks/${TASK}`;
  const can = (p) => perms.onProject(PROJECT, p) && !perms.readOnly;
  const [project, names] = await Promise.all([api("GET", `/orgs/${ORG}/projects/${PROJECT}`), peopleNames()]);
  const nameOf = (id) => (id === ME ? "you" : names.get(id) || "someone");
  $("#back").href = `/orgs/${ORG}/projects/${PROJECT}`;
  $("#back").textContent = `← ${project.name}`;
  let task = null;
  let etag = null;

  async function loadTask() {
    ({ data: task, etag } = await getTagged(base));
    document.title = `${task.ref} ${task.title} · Worktime`;
    $("h1").textContent = `${task.ref} · ${task.title}`;
    const mayEdit = can("task:manage") || (can("task:update") && task.assignee_ids.includes(ME));
    $("#task-facts").replaceChildren(
      ...[
        ["Status", STATUS_LABEL[task.status]],
        ["Priority", task.priority],
        ["Due", task.due_date || "—"],
        ["Estimate", task.estimate_hours ? `${task.estimate_hours} h` : "—"],
        ["Assignees", task.assignee_ids.map(nameOf).join(", ") || "nobody"],
        ["Labels", task.labels.join(", ") || "—"],
        ["Updated", when(task.updated_at)],
      ].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]),
    );
    $("#task-desc").textContent = task.description || "No description.";
    $("#task-edit").hidden = !mayEdit;
    $("#e-title").value = task.title;
    $("#e-status").value = task.status;
    $("#e-priority").value = task.priority;
    $("#e-due").value = task.due_date || "";
    $("#e-desc").value = task.description || "";
  }

  async function loadComments() {
    const comments = await allPages(`${base}/comments`);
    const items = comments.map((c) => {
      const own = c.author_id === ME;
      const text = el("div", { class: "comment-body", text: c.body });
      const item = el("li", { class: "comment" }, el("div", { class: "muted" }, el("strong", { text: nameOf(c.author_id) }), ` · ${when(c.created_at)}${c.edited_at ? " · edited" : ""}`), text);
      const tools = el("div", { class: "row" });
      if (own && can("comment:update")) {
        const edit = el("button", { type: "button", text: "Edit", "aria-label": `Edit your comment of ${when(c.created_at)}` });
        edit.addEventListener("click", () => {
          const area = el("textarea", { "aria-label": "Edit the comment", rows: "3", maxlength: "50000" });
          area.value = c.body;
          const save = el("button", { type: "button", class: "primary", text: "Save comment" });
          const cancel = el("button", { type: "button", text: "Cancel" });
          save.addEventListener("click", () =>
            act(save, async () => {
              await api("PATCH", `${base}/comments/${c.id}`, { body: area.value });
              await loadComments();
              showInfo("Comment saved.");
            }),
          );
          cancel.addEventListener("click", () => act(null, loadComments));
          text.replaceWith(el("div", { class: "stack" }, area, el("div", { class: "row" }, save, cancel)));
          tools.hidden = true;
          area.focus();
        });
        tools.append(edit);
      }
      if ((own && can("comment:delete")) || can("comment:moderate")) {
        const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the comment of ${when(c.created_at)}` });
        del.addEventListener("click", () =>
          act(del, async () => {
            await api("DELETE", `${base}/comments/${c.id}`);
            await Promise.all([loadComments(), loadAttachments()]);
            showInfo("Comment deleted.");
          }),
        );
        tools.append(del);
      }
      if (tools.childElementCount) item.append(tools);
      return item;
    });
    $("#comments").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No comments yet." })]));
  }

  async function loadAttachments() {
    const files = await allPages(`${base}/attachments`);
    const rows = files.map((a) => {
      const actions = el("td", { class: "actions" });
      if ((a.uploaded_by === ME && can("attachment:delete")) || can("task:manage")) {
        const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${a.filename}` });
        del.addEventListener("click", () =>
          act(del, async () => {
            await api("DELETE", `${base}/attachments/${a.id}`);
            await loadAttachments();
            showInfo(`${a.filename} deleted.`);
          }),
        );
        actions.append(del);
      }
      return el(
        "tr",
        {},
        el("td", {}, el("a", { href: `/api/v1${base}/attachments/${a.id}/content`, download: a.filename, text: a.filename })),
        el("td", { class: "num", text: bytes(a.size_bytes) }),
        el("td", { text: `${nameOf(a.uploaded_by)}, ${when(a.created_at)}` }),
        actions,
      );
    });
    $("#attachments tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No files." }))]));
  }

  $("#comment-form").hidden = !can("comment:create");
  $("#upload-form").hidden = !can("attachment:create");
  $("#comment-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#c-post"), async () => {
      await api("POST", `${base}/comments`, { body: $("#c-body").value });
      $("#c-body").value = "";
      await loadComments();
      showInfo("Comment added.");
    });
  });
  $("#upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#u-send"), async () => {
      const file = $("#u-file").files[0];
      if (!file) throw new Error("Choose a file first.");
      await upload(`${base}/attachments`, file);
      $("#u-file").value = "";
      await loadAttachments();
      showInfo(`${file.name} attached.`);
    });
  });
  $("#task-edit").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#e-save"), async () => {
      const data = {
        title: $("#e-title").value.trim(),
        status: $("#e-status").value,
        priority: $("#e-priority").value,
        due_date: $("#e-due").value || null,
        description: $("#e-desc").value || null,
      };
      try {
        await patchIfMatch(base, etag, data);
      } catch (error) {
        if (error instanceof ApiError && error.status === 412) {
          await loadTask();
          throw new Error("Someone changed this task while you edited it; it is shown as it is now. Reapply your change.");
        }
        throw error;
      }
      await loadTask();
      showInfo("Task saved.");
    });
  });
  await Promise.all([loadTask(), loadComments(), loadAttachments()]);
}
