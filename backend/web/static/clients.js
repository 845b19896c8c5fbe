// Clients: the organization's customers, 25 a page, searched by name, archived ones on request; add,
// change and archive for those who may (managers and up). The API:
//   GET /orgs/{org}/clients?search=&include_archived=&limit=&offset=    POST /orgs/{org}/clients
//   PATCH /orgs/{org}/clients/{id}                                       POST /orgs/{org}/clients/{id}/archive

import { ORG, $, api, el, showInfo, act, denied, pager, confirmTwice } from "./lib.js";

const LIMIT = 25;

export async function clientsPage(perms) {
  if (!perms.has("client:list")) {
    denied("You cannot see this organization's clients.");
    return;
  }
  const writable = !perms.readOnly;
  const canCreate = writable && perms.has("client:create");
  const canUpdate = writable && perms.has("client:update");
  const form = $("#client-form");
  let editing = null;
  let opener = null; // the Edit button that opened the form, to return to on Cancel

  const fields = { name: "#c-name", contact_name: "#c-contact", contact_email: "#c-email", notes: "#c-notes" };

  function reset() {
    editing = null;
    form.reset();
    form.hidden = !canCreate;
    $("#client-form-h").textContent = "Add a client";
    $("#c-save").textContent = "Add client";
    $("#c-cancel").hidden = true;
  }

  function edit(client, button) {
    editing = client;
    opener = button;
    form.hidden = false;
    for (const [name, selector] of Object.entries(fields)) $(selector).value = client[name] || "";
    $("#client-form-h").textContent = `Change ${client.name}`;
    $("#c-save").textContent = "Save client";
    $("#c-cancel").hidden = false;
    form.scrollIntoView({ block: "start" });
    $("#c-name").focus();
  }

  function row(client) {
    const actions = el("td", { class: "actions" });
    if (canUpdate) {
      const change = el("button", { type: "button", text: "Edit", "aria-label": `Edit ${client.name}` });
      change.addEventListener("click", () => edit(client, change));
      actions.append(change);
      if (!client.archived_at) {
        const archive = el("button", { type: "button", class: "danger", text: "Archive", "aria-label": `Archive ${client.name}` });
        confirmTwice(archive, "Really archive?", client.name, async () => {
          await api("POST", `/orgs/${ORG}/clients/${client.id}/archive`);
          if (editing?.id === client.id) reset();
          await list.reload();
          showInfo(`${client.name} is archived: it stays on its projects and notes, and is no longer offered for new work.`);
        });
        actions.append(archive);
      }
    }
    const contact = el("td", {});
    if (client.contact_name) contact.append(el("span", { text: client.contact_name }));
    if (client.contact_email) {
      if (client.contact_name) contact.append(el("br"));
      contact.append(el("a", { href: `mailto:${client.contact_email}`, text: client.contact_email }));
    }
    if (!contact.childNodes.length) contact.textContent = "—";
    return el(
      "tr",
      { "data-client": client.id },
      el(
        "th",
        { scope: "row" },
        el("span", { class: "client-name", text: client.name }),
        el("br"),
        el("a", { class: "small-link", href: `/orgs/${ORG}/projects?client_id=${client.id}${client.archived_at ? "&include_archived=true" : ""}`, text: "Projects", "aria-label": `Projects for ${client.name}` }),
      ),
      contact,
      el("td", { class: "pre clip", text: client.notes || "" }),
      el("td", {}, el("span", { class: `badge${client.archived_at ? "" : " active"}`, text: client.archived_at ? "archived" : "active" })),
      actions,
    );
  }

  const list = pager($("#clients-pager"), LIMIT, async (offset, limit) => {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    const search = $("#f-search").value.trim();
    if (search) params.set("search", search);
    if ($("#f-archived").checked) params.set("include_archived", "true");
    const page = await api("GET", `/orgs/${ORG}/clients?${params}`);
    const rows = page.items.map(row);
    $("#clients tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: search ? "No client matches." : "No clients yet." }))]));
    return page;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#c-save"), async () => {
      const data = {};
      for (const [name, selector] of Object.entries(fields)) {
        const value = $(selector).value.trim();
        data[name] = value || null;
      }
      if (editing) {
        const saved = await api("PATCH", `/orgs/${ORG}/clients/${editing.id}`, data);
        reset();
        await list.reload();
        showInfo(`${saved.name} saved.`);
      } else {
        for (const name of Object.keys(data)) if (data[name] === null) delete data[name];
        const created = await api("POST", `/orgs/${ORG}/clients`, data);
        reset();
        await list.reload(true);
        showInfo(`${created.name} added.`);
      }
    });
  });
  $("#c-cancel").addEventListener("click", () => {
    reset();
    if (opener?.isConnected) opener.focus();
  });
  $("#client-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#f-apply"), () => list.reload(true));
  });
  $("#f-archived").addEventListener("change", () => act(null, () => list.reload(true)));
  reset();
  await list.reload(true);
}
