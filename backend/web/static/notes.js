// Notes: the notes you can see (yours, and those shared with you or your projects; row-level security
// decides), pinned first, 20 a page, full-text search; write, change, pin, delete; share yours with a
// member or a project's members (to read or to edit) and stop sharing. The API:
//   GET/POST /orgs/{org}/notes (q, scope)      PATCH/DELETE /orgs/{org}/notes/{id}
//   GET/POST /orgs/{org}/notes/{id}/shares      DELETE /orgs/{org}/notes/{id}/shares/{share}

import { ORG, ME, $, api, allPages, el, showInfo, act, denied, pager, confirmTwice } from "./lib.js";

const LIMIT = 20;
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
const ACCESS = { view: "can read", edit: "can edit" };

export async function notesPage(perms) {
  if (!perms.has("note:list")) {
    denied("You cannot see notes in this organization.");
    return;
  }
  const writable = !perms.readOnly;
  const can = (permission) => writable && perms.has(permission);
  const [members, projects, clients] = await Promise.all([
    perms.has("member:list") ? allPages(`/orgs/${ORG}/members`) : [],
    perms.has("project:list") ? allPages(`/orgs/${ORG}/projects`) : [],
    perms.has("client:list") ? allPages(`/orgs/${ORG}/clients`) : [],
  ]);
  const person = new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id.slice(0, 8)]));
  const projectName = new Map(projects.map((p) => [p.id, p.name]));
  const clientName = new Map(clients.map((c) => [c.id, c.name]));
  const form = $("#note-form");
  let editing = null;
  let opener = null;

  $("#n-project").append(...projects.filter((p) => !p.archived_at).map((p) => el("option", { value: p.id, text: p.name })));
  $("#n-client").append(...clients.filter((c) => !c.archived_at).map((c) => el("option", { value: c.id, text: c.name })));

  function reset() {
    editing = null;
    form.reset();
    form.hidden = !can("note:create");
    $("#note-form-h").textContent = "Write a note";
    $("#note-form-hint").hidden = false;
    $("#n-save").textContent = "Save note";
    $("#n-cancel").hidden = true;
  }

  // A linked project or client that is not offered (archived, or not visible) still shows as chosen.
  function choose(select, id, names) {
    if (id && ![...select.options].some((o) => o.value === id)) select.append(el("option", { value: id, text: names.get(id) || "(not listed)" }));
    select.value = id || "";
  }

  function edit(note, button) {
    editing = note;
    opener = button;
    form.hidden = false;
    $("#n-title").value = note.title;
    $("#n-body").value = note.body;
    choose($("#n-project"), note.project_id, projectName);
    choose($("#n-client"), note.client_id, clientName);
    $("#n-pinned").checked = note.pinned;
    $("#note-form-h").textContent = `Change “${note.title}”`;
    $("#note-form-hint").hidden = true;
    $("#n-save").textContent = "Save changes";
    $("#n-cancel").hidden = false;
    form.scrollIntoView({ block: "start" });
    $("#n-title").focus();
  }

  function shareName(share) {
    return share.user_id ? person.get(share.user_id) || "a member" : `${projectName.get(share.project_id) || "a project"}'s members`;
  }

  // The author's view of who sees the note, with "Stop sharing" and a form to share it further.
  function sharing(note, shares) {
    const box = el("div", { class: "sharing" });
    if (!shares.length) box.append(el("p", { class: "muted", text: "Private: only you see this note." }));
    else {
      const list = el("ul", { class: "plain shares", "aria-label": `Who “${note.title}” is shared with` });
      for (const share of shares) {
        const item = el("li", {}, el("span", { text: `${shareName(share)} ${ACCESS[share.permission]}` }));
        if (can("note:share")) {
          const stop = el("button", { type: "button", class: "small", text: "Stop sharing", "aria-label": `Stop sharing with ${shareName(share)}` });
          stop.addEventListener("click", () =>
            act(stop, async () => {
              await api("DELETE", `/orgs/${ORG}/notes/${note.id}/shares/${share.id}`);
              await list_.reload();
              showInfo(`“${note.title}” is no longer shared with ${shareName(share)}.`);
            }),
          );
          item.append(" ", stop);
        }
        list.append(item);
      }
      box.append(list);
    }
    if (!can("note:share")) return box;
    const targets = el(
      "select",
      { name: "target" },
      el("option", { value: "", text: "Choose…" }),
      el("optgroup", { label: "Project members" }, ...projects.filter((p) => !p.archived_at).map((p) => el("option", { value: `project:${p.id}`, text: p.name }))),
      el("optgroup", { label: "A member" }, ...members.filter((m) => m.user_id !== ME && m.status === "active").map((m) => el("option", { value: `user:${m.user_id}`, text: person.get(m.user_id) }))),
    );
    const permission = el("select", { name: "permission" }, el("option", { value: "view", text: "may read" }), el("option", { value: "edit", text: "may edit" }));
    const submit = el("button", { type: "submit", text: "Share" });
    const shareForm = el(
      "form",
      { class: "row wrap share-form", "aria-label": `Share “${note.title}”` },
      el("label", {}, "Share with", targets),
      el("label", {}, "Access", permission),
      submit,
    );
    shareForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(submit, async () => {
        const [kind, id] = targets.value.split(":");
        if (!id) throw new Error("Choose a project or a member to share with.");
        const data = { permission: permission.value, [kind === "user" ? "user_id" : "project_id"]: id };
        const share = await api("POST", `/orgs/${ORG}/notes/${note.id}/shares`, data);
        await list_.reload();
        showInfo(`“${note.title}” is shared with ${shareName(share)}.`);
      });
    });
    box.append(el("details", {}, el("summary", { text: "Share…" }), shareForm));
    return box;
  }

  function card(note, shares) {
    const mine = note.my_access === "author";
    const badges = el("span", { class: "badges" });
    if (note.pinned) badges.append(el("span", { class: "badge pinned", text: "pinned" }));
    if (!mine) badges.append(el("span", { class: "badge shared", text: `shared with you · ${ACCESS[note.my_access]}` }));
    else badges.append(el("span", { class: `badge${shares.length ? " shared" : ""}`, text: shares.length ? "shared" : "private" }));
    const meta = [mine ? "By you" : `By ${person.get(note.author_id) || "a colleague"}`, `changed ${when(note.updated_at)}`];
    if (note.project_id) meta.push(`project ${projectName.get(note.project_id) || "(not visible)"}`);
    if (note.client_id) meta.push(`client ${clientName.get(note.client_id) || "(not visible)"}`);
    const item = el(
      "li",
      { class: "card note", "data-note": note.id },
      el("div", { class: "n-head" }, el("h3", { text: note.title }), badges),
      el("p", { class: "muted n-meta", text: meta.join(" · ") }),
      note.body ? el("div", { class: "pre n-text", text: note.body }) : null,
    );
    if (mine) item.append(sharing(note, shares));
    const tools = el("div", { class: "row tools" });
    if (can("note:update") && note.my_access !== "view") {
      const change = el("button", { type: "button", text: "Edit", "aria-label": `Edit “${note.title}”` });
      change.addEventListener("click", () => edit(note, change));
      const pin = el("button", { type: "button", text: note.pinned ? "Unpin" : "Pin", "aria-label": `${note.pinned ? "Unpin" : "Pin"} “${note.title}”` });
      pin.addEventListener("click", () =>
        act(pin, async () => {
          await api("PATCH", `/orgs/${ORG}/notes/${note.id}`, { pinned: !note.pinned });
          await list_.reload();
          showInfo(note.pinned ? `“${note.title}” is no longer pinned.` : `“${note.title}” is pinned: it comes first.`);
        }),
      );
      tools.append(change, pin);
    }
    if (mine && can("note:delete")) {
      const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete “${note.title}”` });
      confirmTwice(del, "Really delete?", `“${note.title}”`, async () => {
        await api("DELETE", `/orgs/${ORG}/notes/${note.id}`);
        if (editing?.id === note.id) reset();
        await list_.reload();
        showInfo(`“${note.title}” deleted.`);
      });
      tools.append(del);
    }
    if (tools.childElementCount) item.append(tools);
    return item;
  }

  const list_ = pager($("#notes-pager"), LIMIT, async (offset, limit) => {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset), scope: $("#f-scope").value });
    const q = $("#f-q").value.trim();
    if (q) params.set("q", q);
    // Your own notes come with their shares: private, or shared with whom.
    const page = await api("GET", `/orgs/${ORG}/notes?${params}`);
    const items = page.items.map((note) => card(note, note.shares || []));
    $("#notes").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: q ? "No note matches." : "No notes yet." })]));
    return page;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#n-save"), async () => {
      const data = {
        title: $("#n-title").value.trim(),
        body: $("#n-body").value,
        project_id: $("#n-project").value || null,
        client_id: $("#n-client").value || null,
        pinned: $("#n-pinned").checked,
      };
      if (editing) {
        const saved = await api("PATCH", `/orgs/${ORG}/notes/${editing.id}`, data);
        reset();
        await list_.reload();
        showInfo(`“${saved.title}” saved.`);
      } else {
        const created = await api("POST", `/orgs/${ORG}/notes`, data);
        reset();
        await list_.reload(true);
        showInfo(`“${created.title}” saved. It is private until you share it.`);
      }
    });
  });
  $("#n-cancel").addEventListener("click", () => {
    reset();
    if (opener?.isConnected) opener.focus();
  });
  $("#note-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#f-apply"), () => list_.reload(true));
  });
  $("#f-scope").addEventListener("change", () => act(null, () => list_.reload(true)));
  reset();
  await list_.reload(true);
}
