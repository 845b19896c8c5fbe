// Decisions: a lightweight decision record per project or for the whole organization, newest first, 20 a
// page, filtered by state, scope and title. Members propose (and change or withdraw a proposal); admins
// decide, and project leads for their project: accept, reject, and mark an accepted decision superseded
// by a later accepted one. A decided record never changes (the API refuses it). The API:
//   GET/POST /orgs/{org}/decisions            PATCH/DELETE /orgs/{org}/decisions/{id} (proposals only)
//   POST /orgs/{org}/decisions/{id}/accept|reject|supersede

import { ORG, $, api, allPages, el, showInfo, act, denied, pager, confirmTwice } from "./lib.js";

const LIMIT = 20;
const when = (iso) => new Date(iso).toLocaleDateString([], { dateStyle: "medium" });
const STATE = { proposed: "proposed", accepted: "accepted", rejected: "rejected", superseded: "superseded" };

export async function decisionsPage(perms) {
  if (!perms.has("decision:list")) {
    denied("You cannot see this organization's decisions.");
    return;
  }
  const writable = !perms.readOnly;
  const [members, projects] = await Promise.all([
    perms.has("member:list") ? allPages(`/orgs/${ORG}/members`) : [],
    perms.has("project:list") ? allPages(`/orgs/${ORG}/projects`) : [],
  ]);
  const person = new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id.slice(0, 8)]));
  const readable = projects.filter((p) => perms.onProject(p.id, "project:read"));
  const projectName = new Map(projects.map((p) => [p.id, p.name]));
  const canPropose = writable && perms.has("decision:create");
  const canUpdate = writable && perms.has("decision:update");
  // decision:decide is a project permission: an org role that grants it (admin) grants it everywhere
  // (project_defaults), which is what an organization-wide decision asks; a lead has it on the project.
  const canDecide = (d) =>
    writable && (d.project_id ? perms.onProject(d.project_id, "decision:decide") : perms.defaults.has("decision:decide"));
  const form = $("#decision-form");
  let editing = null;
  let opener = null;

  $("#d-scope").append(...readable.filter((p) => !p.archived_at).map((p) => el("option", { value: p.id, text: p.name })));
  $("#f-scope").append(...readable.map((p) => el("option", { value: p.id, text: p.name })));

  function reset() {
    editing = null;
    form.reset();
    form.hidden = !canPropose;
    $("#d-scope").disabled = false;
    $("#decision-form-h").textContent = "Record a decision";
    $("#d-save").textContent = "Propose decision";
    $("#d-cancel").hidden = true;
  }

  function edit(decision, button) {
    editing = decision;
    opener = button;
    form.hidden = false;
    $("#d-title").value = decision.title;
    $("#d-scope").value = decision.project_id || "";
    $("#d-scope").disabled = true; // a proposal keeps its scope
    $("#d-context").value = decision.context;
    $("#d-decision").value = decision.decision;
    $("#decision-form-h").textContent = `Change the proposal “${decision.title}”`;
    $("#d-save").textContent = "Save proposal";
    $("#d-cancel").hidden = false;
    form.scrollIntoView({ block: "start" });
    $("#d-title").focus();
  }

  const scopeOf = (d) => (d.project_id ? `Project ${projectName.get(d.project_id) || "(not visible)"}` : "The whole organization");

  // "Accept" / "Reject" for a proposal, "Superseded by…" for an accepted decision (another accepted one
  // of the same scope), for the people who decide here.
  function decide(decision, accepted) {
    const box = el("div", { class: "row wrap tools" });
    if (!canDecide(decision)) return box;
    if (decision.status === "proposed") {
      for (const [verb, outcome] of [["Accept", "accept"], ["Reject", "reject"]]) {
        const button = el("button", { type: "button", class: outcome === "accept" ? "primary" : "danger", text: verb, "aria-label": `${verb} “${decision.title}”` });
        button.addEventListener("click", () =>
          act(button, async () => {
            await api("POST", `/orgs/${ORG}/decisions/${decision.id}/${outcome}`);
            await list.reload();
            showInfo(`“${decision.title}” is ${outcome}ed.`);
          }),
        );
        box.append(button);
      }
    } else if (decision.status === "accepted") {
      const later = accepted.filter((d) => d.id !== decision.id && d.project_id === decision.project_id);
      if (!later.length) return box;
      const select = el("select", {}, ...later.map((d) => el("option", { value: d.id, text: d.title })));
      const submit = el("button", { type: "submit", text: "Mark superseded" });
      const supersede = el("form", { class: "row wrap", "aria-label": `Supersede “${decision.title}”` }, el("label", {}, "Superseded by", select), submit);
      supersede.addEventListener("submit", (event) => {
        event.preventDefault();
        act(submit, async () => {
          await api("POST", `/orgs/${ORG}/decisions/${decision.id}/supersede`, { superseded_by: select.value });
          await list.reload();
          showInfo(`“${decision.title}” is superseded.`);
        });
      });
      box.append(el("details", {}, el("summary", { text: "Supersede…" }), supersede));
    }
    return box;
  }

  function card(decision, accepted, titles) {
    const facts = el("dl", { class: "facts" }, el("dt", { text: "For" }), el("dd", { text: scopeOf(decision) }));
    const by = (id) => (id ? person.get(id) || "a former member" : "someone");
    facts.append(el("dt", { text: "Proposed" }), el("dd", { text: `${when(decision.created_at)} by ${by(decision.created_by)}` }));
    if (decision.decided_at) {
      const verb = decision.status === "rejected" ? "Rejected" : "Accepted";
      facts.append(el("dt", { text: verb }), el("dd", { text: `${when(decision.decided_at)} by ${by(decision.decided_by)}` }));
    }
    if (decision.superseded_by_id) {
      facts.append(el("dt", { text: "Superseded by" }), el("dd", { text: titles.get(decision.superseded_by_id) || "a later decision" }));
    }
    const item = el(
      "li",
      { class: `card decision state-${decision.status}`, "data-decision": decision.id },
      el("div", { class: "n-head" }, el("h3", { text: decision.title }), el("span", { class: `badge ${decision.status}`, text: STATE[decision.status] })),
      facts,
    );
    if (decision.context) item.append(el("h4", { text: "Context" }), el("div", { class: "pre", text: decision.context }));
    if (decision.decision) item.append(el("h4", { text: "Decision" }), el("div", { class: "pre", text: decision.decision }));
    const tools = decide(decision, accepted);
    if (decision.status === "proposed" && canUpdate) {
      const change = el("button", { type: "button", text: "Edit", "aria-label": `Edit “${decision.title}”` });
      change.addEventListener("click", () => edit(decision, change));
      const withdraw = el("button", { type: "button", class: "danger", text: "Withdraw", "aria-label": `Withdraw “${decision.title}”` });
      confirmTwice(withdraw, "Really withdraw?", `“${decision.title}”`, async () => {
        await api("DELETE", `/orgs/${ORG}/decisions/${decision.id}`);
        if (editing?.id === decision.id) reset();
        await list.reload();
        showInfo(`“${decision.title}” withdrawn.`);
      });
      tools.append(change, withdraw);
    }
    if (tools.childElementCount) item.append(tools);
    return item;
  }

  const list = pager($("#decisions-pager"), LIMIT, async (offset, limit) => {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    const q = $("#f-q").value.trim();
    if (q) params.set("q", q);
    if ($("#f-status").value) params.set("status", $("#f-status").value);
    const scope = $("#f-scope").value;
    if (scope === "org") params.set("org_wide", "true");
    else if (scope) params.set("project_id", scope);
    const deciding = writable && perms.has("decision:decide");
    const [page, accepted] = await Promise.all([
      api("GET", `/orgs/${ORG}/decisions?${params}`),
      deciding ? allPages(`/orgs/${ORG}/decisions?status=accepted`) : [],
    ]);
    // The titles of the decisions that superseded these (not always on this page).
    const titles = new Map([...accepted, ...page.items].map((d) => [d.id, d.title]));
    const missing = [...new Set(page.items.map((d) => d.superseded_by_id).filter((id) => id && !titles.has(id)))];
    for (const found of await Promise.all(missing.map((id) => api("GET", `/orgs/${ORG}/decisions/${id}`).catch(() => null)))) {
      if (found) titles.set(found.id, found.title);
    }
    const items = page.items.map((d) => card(d, accepted, titles));
    $("#decisions").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No decision matches." })]));
    return page;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#d-save"), async () => {
      const data = { title: $("#d-title").value.trim(), context: $("#d-context").value, decision: $("#d-decision").value };
      if (editing) {
        const saved = await api("PATCH", `/orgs/${ORG}/decisions/${editing.id}`, data);
        reset();
        await list.reload();
        showInfo(`“${saved.title}” saved.`);
      } else {
        if ($("#d-scope").value) data.project_id = $("#d-scope").value;
        const created = await api("POST", `/orgs/${ORG}/decisions`, data);
        reset();
        await list.reload(true);
        showInfo(`“${created.title}” is proposed.`);
      }
    });
  });
  $("#d-cancel").addEventListener("click", () => {
    reset();
    if (opener?.isConnected) opener.focus();
  });
  $("#decision-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#f-apply"), () => list.reload(true));
  });
  for (const id of ["#f-status", "#f-scope"]) $(id).addEventListener("change", () => act(null, () => list.reload(true)));
  reset();
  await list.reload(true);
}
