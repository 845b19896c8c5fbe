"""The clients, notes and decisions pages in headless Chromium, per role, against the real Keycloak login
page: what each role is offered, the main flows with the mouse, the two main creates with the keyboard
alone, and axe-core on the pages in their open states."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import ACME, Keycloak
from tests.web.conftest import sign_in

Axe = Callable[..., None]


def _tab_to(page: Any, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element with this id has the focus (the way a keyboard user gets there)."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def _answered(page: Any) -> None:
    """Wait for the page's answer in the alert box, and fail with it unless it is a success."""
    page.wait_for_selector("#alert.info, #alert:not(.info):not([hidden])")
    assert page.get_attribute("#alert", "class") == "alert info", page.text_content("#alert")


def _focused(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))


def test_an_admin_searches_adds_edits_and_archives_a_client(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    bob = new_page()
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/clients")
    assert bob.get_by_role("link", name="Clients", exact=True).get_attribute("aria-current") == "page"
    name = f"Globodyne {uuid.uuid4().hex[:6]}"

    # Not there yet: the search says so.
    bob.get_by_label("Search by name").fill(name)
    bob.get_by_role("button", name="Search").click()
    bob.locator("#clients", has_text="No client matches.").wait_for()

    bob.locator("#c-name").fill(name)
    bob.get_by_label("Contact person").fill("Hank Scorpio")
    bob.get_by_label("Contact email").fill("hank@globodyne.test")
    bob.locator("#c-notes").fill("Pays on time.")
    bob.get_by_role("button", name="Add client").click()
    bob.wait_for_selector("#alert.info")
    assert f"{name} added." in (bob.text_content("#alert") or "")
    row = bob.locator("#clients tbody tr", has_text=name)
    assert row.get_by_role("link", name="hank@globodyne.test").get_attribute("href") == "mailto:hank@globodyne.test"
    assert "active" in (row.text_content() or "") and "Pays on time." in (row.text_content() or "")

    # The same name again: the API's refusal in plain words.
    bob.locator("#c-name").fill(name)
    bob.get_by_role("button", name="Add client").click()
    bob.wait_for_selector("#alert:not(.info):not([hidden])")
    assert "already exists" in (bob.text_content("#alert") or "")

    row.get_by_role("button", name=f"Edit {name}").click()
    assert bob.text_content("#client-form-h") == f"Change {name}"
    assert bob.evaluate("() => document.activeElement.id") == "c-name"  # the form has the focus
    assert bob.input_value("#c-email") == "hank@globodyne.test"
    axe(bob, "the clients page, editing")
    bob.get_by_label("Contact person").fill("Mr. Scorpio")
    bob.get_by_role("button", name="Save client").click()
    bob.wait_for_selector("#alert.info")
    row.filter(has_text="Mr. Scorpio").wait_for()
    assert bob.text_content("#client-form-h") == "Add a client"

    archive = row.get_by_role("button", name=f"Archive {name}")
    archive.click()
    assert row.get_by_role("button", name=f"Really archive? {name}").text_content() == "Really archive?"
    row.get_by_role("button", name=f"Really archive? {name}").click()
    bob.wait_for_selector("#alert.info")
    assert "archived" in (bob.text_content("#alert") or "")
    row.wait_for(state="detached")  # archived clients are not listed by default
    bob.get_by_label("Include archived").check()
    archived = bob.locator("#clients tbody tr", has_text=name)
    archived.wait_for()
    assert "archived" in (archived.text_content() or "")
    assert archived.get_by_role("button", name=f"Archive {name}").count() == 0
    axe(bob, "the clients page with archived clients")


def test_members_and_auditors_read_clients_without_controls(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    for username in ("dave", "erin"):
        page = new_page()
        sign_in(page, web_url, username, keycloak.demo_password, f"/orgs/{org}/clients")
        page.get_by_label("Search by name").fill("Initech")
        page.get_by_role("button", name="Search").click()
        page.locator("#clients tbody tr", has_text="Initech").wait_for()
        assert page.locator("#client-form").is_hidden(), username
        assert page.locator("#clients button").count() == 0, username
        link = page.locator("#clients tbody tr", has_text="Initech").get_by_role("link", name="Projects for Initech")
        link.click()
        page.wait_for_selector("body[data-ready='true']")
        assert "client_id=" in page.url
        page.locator("#projects", has_text="Website relaunch").wait_for()


def test_a_manager_adds_a_client_with_the_keyboard_alone(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/clients")
    name = f"Keyboard client {uuid.uuid4().hex[:6]}"
    _tab_to(carol, "c-name")
    carol.keyboard.type(name)
    carol.keyboard.press("Tab")
    assert _focused(carol) == "c-contact"
    carol.keyboard.type("Kay Board")
    carol.keyboard.press("Tab")
    carol.keyboard.type("kay@keys.test")
    carol.keyboard.press("Tab")
    assert _focused(carol) == "c-notes"
    carol.keyboard.type("Typed, never clicked.")
    carol.keyboard.press("Tab")
    assert _focused(carol) == "c-save"
    assert carol.evaluate("() => document.activeElement.matches(':focus-visible')")  # the focus ring shows
    carol.keyboard.press("Enter")
    carol.wait_for_selector("#alert.info")
    assert f"{name} added." in (carol.text_content("#alert") or "")
    # And it is there: the search, by keyboard too.
    _tab_to(carol, "f-search")
    carol.keyboard.type(name)
    carol.keyboard.press("Enter")
    row = carol.locator("#clients tbody tr", has_text=name)
    row.wait_for()
    assert "kay@keys.test" in (row.text_content() or "")


def test_a_member_writes_shares_pins_edits_and_deletes_a_note(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    token = uuid.uuid4().hex[:10]
    title = f"Launch checklist {token}"
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/notes")
    dave.get_by_label("Title", exact=True).fill(title)
    dave.get_by_label("Text", exact=True).fill(f"DNS, redirects, analytics. {token}")
    dave.get_by_role("button", name="Save note").click()
    dave.wait_for_selector("#alert.info")
    assert "private until you share it" in (dave.text_content("#alert") or "")
    card = dave.locator("#notes li.note", has_text=title)
    assert "private" in (card.locator(".badges").text_content() or "")
    assert "Private: only you see this note." in (card.text_content() or "")

    # Full-text search finds it by a word of its text.
    dave.get_by_label("Search title and text").fill(token)
    dave.get_by_role("button", name="Search").click()
    dave.wait_for_function("() => document.querySelectorAll('#notes li.note').length === 1")

    # Shared with the website relaunch's members, to read.
    card.locator("summary", has_text="Share…").click()
    card.get_by_label("Share with").select_option(label="Website relaunch")
    card.get_by_role("button", name="Share", exact=True).click()
    card.filter(has_text="Website relaunch's members can read").wait_for()
    assert "shared" in (card.locator(".badges").text_content() or "")
    axe(dave, "the notes page, a shared note")

    # carol leads the project: she reads it, marked as shared with her, and cannot change it.
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/notes")
    carol.get_by_label("Search title and text").fill(token)
    carol.get_by_role("button", name="Search").click()
    theirs = carol.locator("#notes li.note", has_text=title)
    theirs.wait_for()
    assert "shared with you · can read" in (theirs.text_content() or "")
    assert theirs.get_by_role("button").count() == 0

    # Pinned: it comes first, before the seed's pinned kickoff note.
    card.get_by_role("button", name=f"Pin “{title}”").click()
    card.locator(".badge.pinned").wait_for()
    dave.get_by_label("Search title and text").fill("")
    dave.get_by_role("button", name="Search").click()
    dave.locator("#notes li.note").first.filter(has_text=title).wait_for()

    card.get_by_role("button", name=f"Edit “{title}”").click()
    assert dave.evaluate("() => document.activeElement.id") == "n-title"
    renamed = f"Go-live checklist {token}"
    dave.get_by_label("Title", exact=True).fill(renamed)
    dave.get_by_role("button", name="Save changes").click()
    card = dave.locator("#notes li.note", has_text=renamed)
    card.wait_for()

    card.get_by_role("button", name="Stop sharing with Website relaunch's members").click()
    card.filter(has_text="Private: only you see this note.").wait_for()
    carol.get_by_role("button", name="Search").click()
    carol.locator("#notes", has_text="No note matches.").wait_for()  # row-level security: gone for her

    card.get_by_role("button", name=f"Delete “{renamed}”").click()
    card.get_by_role("button", name=f"Really delete? “{renamed}”").click()
    card.wait_for(state="detached")
    assert "deleted" in (dave.text_content("#alert") or "")


def test_notes_stay_private_to_an_admin_and_an_auditor_cannot_write(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    bob = new_page()  # an admin, but alice's private note was shared with nobody
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/notes")
    bob.get_by_label("Search title and text").fill("Pricing ideas")
    bob.get_by_role("button", name="Search").click()
    bob.locator("#notes", has_text="No note matches.").wait_for()
    alice = new_page()
    sign_in(alice, web_url, "alice", keycloak.demo_password, f"/orgs/{org}/notes")
    alice.get_by_label("Show").select_option("mine")
    private = alice.locator("#notes li.note", has_text="Pricing ideas (private)")
    private.wait_for()
    assert "private" in (private.locator(".badges").text_content() or "")
    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/notes")
    assert erin.locator("#note-form").is_hidden()
    assert erin.locator("#notes button").count() == 0


def test_a_member_writes_a_pinned_note_with_the_keyboard_alone(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/notes")
    title = f"Typed note {uuid.uuid4().hex[:8]}"
    _tab_to(dave, "n-title")
    dave.keyboard.type(title)
    dave.keyboard.press("Tab")
    assert _focused(dave) == "n-body"
    dave.keyboard.type("First line.")
    dave.keyboard.press("Enter")  # a new line in the text, not a submit
    dave.keyboard.type("Second line.")
    _tab_to(dave, "n-pinned")
    dave.keyboard.press("Space")
    assert dave.is_checked("#n-pinned")
    dave.keyboard.press("Tab")
    assert _focused(dave) == "n-save"
    dave.keyboard.press("Enter")
    dave.wait_for_selector("#alert.info")
    card = dave.locator("#notes li.note", has_text=title)
    card.wait_for()
    assert "First line.\nSecond line." in (card.locator(".n-text").text_content() or "")
    assert "pinned" in (card.locator(".badges").text_content() or "")
    # Tidy up, by keyboard: the card's Delete, twice.
    card.get_by_role("button", name=f"Delete “{title}”").focus()
    dave.keyboard.press("Enter")
    dave.keyboard.press("Enter")
    card.wait_for(state="detached")


def test_a_member_proposes_an_admin_decides_and_supersedes_and_the_record_is_immutable(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    token = uuid.uuid4().hex[:8]
    first = f"Fridays are meeting-free {token}"
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/decisions")
    dave.get_by_label("Title", exact=True).fill(first)
    dave.get_by_label("Context").fill("Too many meetings.")
    dave.get_by_label("Decision", exact=True).fill("No meetings on Fridays.")
    dave.get_by_role("button", name="Propose decision").click()
    dave.wait_for_selector("#alert.info")
    mine = dave.locator("#decisions li.decision", has_text=first)
    assert "proposed" in (mine.locator(".badge").text_content() or "")
    assert "The whole organization" in (mine.text_content() or "")
    assert mine.get_by_role("button", name=f"Accept “{first}”").count() == 0  # members do not decide
    assert mine.get_by_role("button", name=f"Edit “{first}”").count() == 1

    bob = new_page()
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/decisions")
    bob.get_by_label("Search titles").fill(token)
    bob.get_by_role("button", name="Filter").click()
    card = bob.locator("#decisions li.decision", has_text=first)
    card.get_by_role("button", name=f"Accept “{first}”").click()
    card.locator(".badge.accepted").wait_for()
    assert "Accepted" in (card.text_content() or "") and "Bob" in (card.text_content() or "")
    assert card.get_by_role("button", name=f"Edit “{first}”").count() == 0  # decided: immutable

    # A later decision replaces it: proposed, accepted, then the first is marked superseded.
    second = f"Fridays are meeting-free until noon {token}"
    bob.get_by_label("Title", exact=True).fill(second)
    bob.get_by_role("button", name="Propose decision").click()
    bob.wait_for_selector("#alert.info")
    later = bob.locator("#decisions li.decision").filter(has=bob.get_by_role("heading", name=second, exact=True))
    later.get_by_role("button", name=f"Accept “{second}”").click()
    _answered(bob)
    later.locator(".badge.accepted").wait_for()
    card = bob.locator("#decisions li.decision").filter(has=bob.get_by_role("heading", name=first, exact=True))
    card.locator("summary", has_text="Supersede…").click()
    card.get_by_label("Superseded by").select_option(label=second)
    axe(bob, "the decisions page, superseding")
    card.get_by_role("button", name="Mark superseded").click()
    card.locator(".badge.superseded").wait_for()
    assert f"Superseded by{second}" in (card.locator("dl").text_content() or "")

    # dave sees its state; his proposal is no longer his to change.
    dave.reload()
    dave.wait_for_selector("body[data-ready='true']")
    mine = dave.locator("#decisions li.decision").filter(has=dave.get_by_role("heading", name=first, exact=True))
    assert "superseded" in (mine.locator(".badge").text_content() or "")
    assert mine.get_by_role("button").count() == 0
    dave.get_by_label("State").select_option("superseded")
    dave.wait_for_function(
        "() => [...document.querySelectorAll('#decisions .badge')].every((b) => b.textContent === 'superseded')"
    )
    assert dave.locator("#decisions li.decision", has_text=first).count() == 1


def test_a_lead_decides_for_the_project_only_and_an_auditor_reads(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    token = uuid.uuid4().hex[:8]
    carol = new_page()  # a manager, lead of the website relaunch
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/decisions")
    title = f"Ship the beta to staff first {token}"
    carol.get_by_label("Title", exact=True).fill(title)
    carol.get_by_label("For").select_option(label="Website relaunch")
    carol.get_by_role("button", name="Propose decision").click()
    card = carol.locator("#decisions li.decision", has_text=title)
    card.wait_for()
    assert "Project Website relaunch" in (card.text_content() or "")
    card.get_by_role("button", name=f"Reject “{title}”").click()
    card.locator(".badge.rejected").wait_for()
    # The organization-wide proposal of the seed is not hers to decide.
    carol.get_by_label("Search titles").fill("Core hours")
    carol.get_by_role("button", name="Filter").click()
    seeded = carol.locator("#decisions li.decision", has_text="Core hours")
    seeded.wait_for()
    assert seeded.get_by_role("button", name="Accept “Core hours 10-16”").count() == 0

    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/decisions")
    assert erin.locator("#decision-form").is_hidden()
    erin.get_by_label("Scope").select_option(label="Website relaunch")
    erin.locator("#decisions li.decision").filter(
        has=erin.get_by_role("heading", name="Keep pages in the repository")
    ).wait_for()
    assert erin.locator("#decisions button, #decisions summary").count() == 0
