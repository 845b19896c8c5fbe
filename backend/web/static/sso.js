// Single sign-on settings (owners and admins change them, auditors read them): the organization's
// identity provider (connect, edit, test the connection, disconnect; the client secret is write-only),
// its email domains with their DNS TXT records and verification state, the sign-in rules (default role,
// enforced SSO, group-to-role mappings), and the SCIM secret (shown once, when it is created or rotated). The API checks every permission again.

import { ORG, $, api, el, showInfo, act, denied } from "./lib.js";

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");
const PROVIDERS = `/orgs/${ORG}/sso/providers`;
const DOMAINS = `/orgs/${ORG}/sso/domains`;
const SCIM = `/orgs/${ORG}/sso/scim-token`;

// A destructive button asks once more by changing its own label (no confirm(): it blocks the page).
function twoStep(button, label, action) {
  const original = button.textContent;
  button.addEventListener("click", () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = label;
      setTimeout(() => {
        button.dataset.armed = "false";
        button.textContent = original;
      }, 5000);
      return;
    }
    button.dataset.armed = "false";
    button.textContent = original;
    act(button, action);
  });
}

// --- provider -----------------------------------------------------------------------------------------

let current = null; // the connected provider, or null

function showKind(kind) {
  for (const node of document.querySelectorAll("#provider-form [data-kind]")) node.hidden = node.dataset.kind !== kind;
}

function openForm(provider) {
  const form = $("#provider-form");
  form.hidden = false;
  $("#provider-view").hidden = true;
  $("#provider-none").hidden = true;
  $("#f-kind").value = provider ? provider.kind : "oidc";
  $("#f-kind").disabled = Boolean(provider);
  $("#f-name").value = provider ? provider.display_name : "";
  $("#f-discovery").value = provider?.discovery_url || "";
  $("#f-client").value = provider?.client_id || "";
  $("#f-secret").value = "";
  $("#f-secret").required = !provider;
  $("#f-secret").placeholder = provider?.has_client_secret ? "•••••• (set; type to replace)" : "";
  $("#f-scopes").value = provider ? provider.scopes.join(" ") : "openid email profile";
  $("#f-metadata").value = provider?.metadata_url || "";
  $("#f-enabled-label").hidden = !provider;
  $("#f-enabled").checked = provider ? provider.enabled : true;
  $("#f-save").textContent = provider ? "Save changes" : "Connect provider";
  $("#f-cancel").hidden = !provider;
  showKind($("#f-kind").value);
}

function showProvider(provider, canManage) {
  current = provider;
  $("#provider-form").hidden = true;
  $("#provider-none").hidden = Boolean(provider);
  $("#provider-view").hidden = !provider;
  $("#p-test-result").hidden = true;
  if (!provider) {
    if (canManage) openForm(null);
    return;
  }
  $("#p-name").textContent = provider.display_name;
  $("#p-kind").textContent = provider.kind === "oidc" ? "OpenID Connect" : "SAML 2.0";
  $("#p-state").replaceChildren(
    el("span", { class: `badge ${provider.enabled ? "approved" : "rejected"}`, text: provider.enabled ? "enabled" : "disabled" }),
  );
  $("#p-source").textContent = provider.discovery_url || provider.metadata_url || (provider.has_metadata_xml ? "metadata pasted as XML" : "");
  $("#p-client").textContent = provider.client_id || "—";
  $("#p-secret").textContent = provider.kind === "oidc" ? (provider.has_client_secret ? "set (never shown)" : "not set") : "—";
  $("#p-redirect").textContent = provider.redirect_uri;
  const saml = provider.kind === "saml";
  $("#p-entity-t").hidden = !saml;
  $("#p-entity-d").hidden = !saml;
  $("#p-entity").textContent = provider.saml_entity_id || "";
  $("#provider-actions").hidden = !canManage;
}

function formData(provider) {
  const kind = $("#f-kind").value;
  const data = { display_name: $("#f-name").value.trim() };
  if (kind === "oidc") {
    data.discovery_url = $("#f-discovery").value.trim();
    data.client_id = $("#f-client").value.trim();
    data.scopes = $("#f-scopes").value.split(/[\s,]+/).filter(Boolean);
    const secret = $("#f-secret").value;
    if (secret) data.client_secret = secret;
  } else {
    data.metadata_url = $("#f-metadata").value.trim();
  }
  if (provider) {
    data.enabled = $("#f-enabled").checked;
    // Send only what changed: a changed URL or client makes the API fetch and check the provider again.
    for (const key of ["display_name", "discovery_url", "client_id", "metadata_url", "enabled"]) {
      if (key in data && data[key] === provider[key]) delete data[key];
    }
    if (data.scopes && data.scopes.join(" ") === provider.scopes.join(" ")) delete data.scopes;
  } else {
    data.kind = kind;
  }
  return data;
}

async function providerSection(perms) {
  const canManage = perms.has("sso:manage");
  $("#provider-panel").hidden = false;
  const providers = await api("GET", PROVIDERS);
  showProvider(providers[0] || null, canManage);
  if (!canManage) return;

  $("#f-kind").addEventListener("change", () => showKind($("#f-kind").value));
  $("#f-cancel").addEventListener("click", () => showProvider(current, canManage));
  $("#p-edit").addEventListener("click", () => openForm(current));
  $("#provider-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#f-save"), async () => {
      const editing = Boolean(current);
      const data = formData(current);
      const saved = editing
        ? await api("PATCH", `${PROVIDERS}/${current.id}`, data)
        : await api("POST", PROVIDERS, data);
      showProvider(saved, canManage);
      showInfo(editing ? "The provider was saved." : "The provider was connected.");
    });
  });
  $("#p-test").addEventListener("click", () =>
    act($("#p-test"), async () => {
      const result = await api("POST", `${PROVIDERS}/${current.id}/test`);
      const box = $("#p-test-result");
      box.className = "verdict";
      box.replaceChildren(
        el("span", { class: result.ok ? "ok" : "bad", text: result.ok ? "Connection works." : "Connection fails." }),
        ` ${result.detail}`,
      );
      box.hidden = false;
    }),
  );
  twoStep($("#p-delete"), "Click again to disconnect", async () => {
    await api("DELETE", `${PROVIDERS}/${current.id}`);
    showProvider(null, canManage);
    showInfo("The provider was disconnected. Its people sign in with a password again.");
  });
}

// --- domains ------------------------------------------------------------------------------------------

async function domainsSection(perms) {
  const canManage = perms.has("sso:manage");
  $("#domains-panel").hidden = false;
  $("#domain-form").hidden = !canManage;
  const tbody = $("#domains tbody");

  async function load() {
    const domains = await api("GET", DOMAINS);
    tbody.replaceChildren();
    if (!domains.length) {
      tbody.append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No domain claimed yet." })));
    }
    for (const d of domains) {
      const actions = el("td", { class: "actions" });
      if (canManage) {
        if (!d.verified) {
          const verify = el("button", { type: "button", class: "primary", text: "Verify" });
          verify.addEventListener("click", () =>
            act(verify, async () => {
              await api("POST", `${DOMAINS}/${encodeURIComponent(d.domain)}/verify`);
              await load();
              showInfo(`${d.domain} is verified: its people are sent to the identity provider.`);
            }),
          );
          actions.append(verify);
        }
        const release = el("button", { type: "button", class: "danger", text: "Release" });
        twoStep(release, "Click again to release", async () => {
          await api("DELETE", `${DOMAINS}/${encodeURIComponent(d.domain)}`);
          await load();
          showInfo(`${d.domain} was released.`);
        });
        actions.append(release);
      }
      tbody.append(
        el(
          "tr",
          { "data-domain": d.domain },
          el("td", {}, el("strong", { text: d.domain })),
          el(
            "td",
            {},
            el("span", { class: `badge ${d.verified ? "approved" : "submitted"}`, text: d.verified ? "verified" : "not verified" }),
            d.verified_at ? el("div", { class: "muted", text: when(d.verified_at) }) : null,
          ),
          el(
            "td",
            { class: "txt" },
            el("div", {}, el("span", { class: "muted", text: "Name " }), el("code", { text: d.txt_record_name })),
            el("div", {}, el("span", { class: "muted", text: "Value " }), el("code", { text: d.txt_record_value })),
          ),
          actions,
        ),
      );
    }
  }

  $("#domain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#d-claim"), async () => {
      const claimed = await api("POST", DOMAINS, { domain: $("#d-domain").value });
      $("#d-domain").value = "";
      await load();
      showInfo(`${claimed.domain} is claimed. Publish its TXT record, then verify it.`);
    });
  });
  await load();
}

// --- sign-in rules: default role, enforcement, role mappings -----------------------------------------------

const SETTINGS = `/orgs/${ORG}/sso/settings`;
const MAPPINGS = `/orgs/${ORG}/sso/role-mappings`;
// The roles single sign-on may give, highest first (the API refuses anything above its cap).
const SSO_ROLES = ["admin", "manager", "auditor", "member"];

function roleOptions(select, chosen) {
  select.replaceChildren(...SSO_ROLES.map((role) => el("option", { value: role, text: role, selected: role === chosen })));
}

async function rulesSection(perms) {
  if (!perms.has("sso_settings:read")) return;
  const canUpdate = perms.has("sso_settings:update");
  const canMap = perms.has("sso_role_mapping:manage");
  $("#rules-panel").hidden = false;
  const settings = await api("GET", SETTINGS);
  $("#r-cap").textContent = settings.role_cap;
  roleOptions($("#r-default"), settings.default_role);
  $("#r-enforce").checked = settings.enforce_sso;
  for (const input of [$("#r-default"), $("#r-enforce")]) input.disabled = !canUpdate;
  $("#r-save").hidden = !canUpdate;
  if (canUpdate) {
    $("#rules-form").addEventListener("submit", (event) => {
      event.preventDefault();
      act($("#r-save"), async () => {
        const saved = await api("PATCH", SETTINGS, {
          default_role: $("#r-default").value,
          enforce_sso: $("#r-enforce").checked,
        });
        $("#r-enforce").checked = saved.enforce_sso;
        showInfo(saved.enforce_sso ? "Saved: the verified domains must sign in through the provider." : "Saved.");
      });
    });
  }

  async function load() {
    const tbody = $("#mappings tbody");
    if (!perms.has("sso_role_mapping:read")) {
      $("#mappings").hidden = true;
      return;
    }
    const page = await api("GET", `${MAPPINGS}?limit=100`);
    tbody.replaceChildren();
    if (!page.items.length) {
      tbody.append(el("tr", {}, el("td", { colspan: "3", class: "muted", text: "No mappings: everyone joins with the default role." })));
    }
    for (const mapping of page.items) {
      const actions = el("td", { class: "actions" });
      if (canMap) {
        const remove = el("button", { type: "button", class: "danger", text: "Remove" });
        twoStep(remove, "Click again to remove", async () => {
          await api("DELETE", `${MAPPINGS}/${mapping.id}`);
          await load();
          showInfo(`The mapping of ${mapping.value} was removed.`);
        });
        actions.append(remove);
      }
      tbody.append(
        el("tr", { "data-mapping": mapping.value }, el("td", {}, el("code", { text: mapping.value })), el("td", { text: mapping.role }), actions),
      );
    }
  }

  if (canMap) {
    $("#mapping-form").hidden = false;
    roleOptions($("#m-role"), "member");
    $("#mapping-form").addEventListener("submit", (event) => {
      event.preventDefault();
      act($("#m-add"), async () => {
        const made = await api("POST", MAPPINGS, { claim: "groups", value: $("#m-value").value, role: $("#m-role").value });
        $("#m-value").value = "";
        await load();
        showInfo(`People in ${made.value} now get the role ${made.role}.`);
      });
    });
  }
  await load();
}

// --- SCIM -----------------------------------------------------------------------------------------------

async function scimSection(perms) {
  if (!perms.has("scim_token:read")) return;
  const canManage = perms.has("scim_token:manage");
  $("#scim-panel").hidden = false;
  $("#scim-url").textContent = `${location.origin}/scim/v2/orgs/${ORG}`;
  const rotate = $("#scim-rotate");
  const revoke = $("#scim-revoke");

  function show(token) {
    $("#scim-state").textContent = token.enabled
      ? `SCIM is on. Secret ending in …${token.hint}, created ${when(token.created_at)}, last used ${when(token.last_used_at)}.`
      : "SCIM is off: no secret exists.";
    rotate.textContent = token.enabled ? "Rotate secret" : "Create secret";
    rotate.hidden = !canManage;
    revoke.hidden = !canManage || !token.enabled;
  }

  show(await api("GET", SCIM));
  if (!canManage) return;
  rotate.addEventListener("click", () =>
    act(rotate, async () => {
      const created = await api("POST", SCIM);
      $("#scim-secret-value").textContent = created.token;
      $("#scim-secret").hidden = false;
      show(created);
    }),
  );
  twoStep(revoke, "Click again to switch SCIM off", async () => {
    await api("DELETE", SCIM);
    $("#scim-secret").hidden = true;
    show({ enabled: false });
    showInfo("SCIM is off: the secret stopped working.");
  });
}

export async function ssoPage(perms) {
  if (!perms.has("sso:read")) {
    denied("Single sign-on settings are for the organization's owners, admins and auditors.");
    return;
  }
  await providerSection(perms);
  await domainsSection(perms);
  await rulesSection(perms);
  await scimSection(perms);
}
