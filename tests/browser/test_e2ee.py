"""End-to-end encrypted attachments in a real browser: Debian's headless Chromium, driven
by Playwright, against a real daphne whose file store the test can reach.

What is shown here happens without anyone clicking anything about keys: each browser
makes its user's identity on the first visit, the first keyed member starts epoch 1,
an online member's browser delivers the share a newcomer waits for, and a moderator's
browser replaces a stale epoch. Files go up encrypted and come down decrypted and
verified, and what the browser wrote decrypts with Debian's `age` command too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Download,
    Locator,
    Page,
    Route,
    expect,
)

from channels_app.e2ee import ScryptIdentity, decrypt_bytes
from channels_app.models import Attachment, Channel
from permissions.membership.services import admission_remove, admission_set
from permissions.models import Institution, User
from tests import factories
from tests.browser.kit import (
    TIMEOUT_MS,
    argon2_password,
    off_the_browser_thread,
    require_chromium,
    sign_in_on,
    watch_csp,
)
from tests.channels_app.e2ee.tty import run_with_passphrase
from tests.conftest import World
from tests.live.servers import LiveServer, daphne_server
from tests.signing_in import totp_device

pytestmark = pytest.mark.browser

AGE = shutil.which("age")
# A name in several scripts, as people name their files.
NAME = "Informe pericial — São Paulo 北京 ✓.bin"
RECOVERY_CODE = re.compile(r"^([A-Z2-7]{4}-){7}[A-Z2-7]{4}$")
FINGERPRINT = re.compile(r"^([0-9a-f]{4} ){7}[0-9a-f]{4}$")


@dataclass
class Scene:
    """The standing world plus a participant of a second institution (gabriela) and a
    user of an institution admitted only later (lucia), and the server's file store."""

    world: World
    server: LiveServer
    media_root: Path
    latecomers: Institution
    tokens: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def scene(transactional_db: None, world: World, tmp_path: Path) -> Iterator[Scene]:
    require_chromium()
    prosecutors = factories.make_institution("fiscalia-peru", country="PE", kind="prosecution")
    factories.admit(world.channel, prosecutors, "participant")
    guest = factories.make_user("gabriela", institution=prosecutors)
    latecomers = factories.make_institution("policia-nacional", country="CO")
    lucia = factories.make_user("lucia", institution=latecomers)
    totp_device(world.owner)  # olivia moderates "ops": she signs in with a code
    people = [world.owner, world.member, world.observer, guest, lucia]
    User.objects.filter(pk__in=[user.pk for user in people]).update(password=argon2_password())
    tokens = {user.username: factories.token_for(user) for user in people}
    media_root = tmp_path / "media"
    media_root.mkdir()
    with daphne_server(debug=True, env={"EXCHANGE_MEDIA_ROOT": str(media_root)}) as server:
        yield Scene(
            world=world,
            server=server,
            media_root=media_root,
            latecomers=latecomers,
            tokens=tokens,
        )


def sign_in(browser: Browser, scene: Scene, username: str) -> tuple[BrowserContext, Page]:
    """A fresh browser (context: its own IndexedDB) signed in through the login form.
    Uncaught errors, and errors the modules log ("exchange: …"), fail the test."""
    context = browser.new_context(base_url=scene.server.http, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: scene.page_errors.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                scene.page_errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and message.text.startswith("exchange:")
                else None
            ),
        )

    context.on("page", watch)
    watch_csp(context, scene.page_errors)
    page = context.new_page()
    sign_in_on(page, username)
    expect(page.get_by_role("heading", name="Channels")).to_be_visible()
    return context, page


def open_channel(page: Page, slug: str = "ops") -> None:
    page.goto(f"/c/{slug}/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online")


def arrive(browser: Browser, scene: Scene, username: str) -> tuple[Page, str]:
    """Sign in on a fresh browser: the catalogue makes the user's key and shows its
    recovery code, which the user writes down. Returns the page and the code."""
    _, page = sign_in(browser, scene, username)
    code = page.get_by_test_id("recovery-code")
    expect(code).to_have_text(RECOVERY_CODE)
    written_down = code.inner_text()
    page.get_by_role("button", name="I have written it down").click()
    expect(code).to_be_hidden()
    expect(page.get_by_test_id("fingerprint")).to_have_text(FINGERPRINT)
    return page, written_down


# What IndexedDB holds of the user's identity, as the page's own scripts can see it.
STORED_IDENTITY = """
async (username) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("exchange-e2ee");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const record = await new Promise((resolve, reject) => {
    const request = db.transaction("identities").objectStore("identities").get(username);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  let exported = "refused";
  try { await crypto.subtle.exportKey("pkcs8", record.key); exported = "allowed"; } catch {}
  return {
    cryptoKey: record.key instanceof CryptoKey,
    algorithm: record.key.algorithm?.name,
    extractable: record.key.extractable,
    exported,
    recipient: record.recipient,
  };
}
"""


def open_with_key(page: Page) -> None:
    open_channel(page)
    expect(page.get_by_test_id("e2ee-status")).to_have_attribute("data-state", "ready")


def attach(page: Page, content: bytes, name: str = NAME, body: str = "") -> None:
    page.locator("#attachment").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    if body:
        page.get_by_role("textbox", name="Message").fill(body)
    page.get_by_role("button", name="Send").click()


def attachment_item(page: Page, name: str = NAME) -> Locator:
    item = page.locator("li.attachment", has=page.locator(".file-name", has_text=name))
    expect(item).to_have_count(1)
    return item


def download(page: Page, name: str = NAME) -> tuple[Download, bytes]:
    item = attachment_item(page, name)
    with page.expect_download() as event:
        item.get_by_role("button", name="Download").click()
    saved = event.value
    return saved, Path(saved.path()).read_bytes()


def stored_files(scene: Scene) -> list[Path]:
    return sorted(scene.media_root.glob("attachments/*/*.age"))


# --- the tests -------------------------------------------------------------------------


def test_two_members_exchange_an_encrypted_file_and_the_second_saves_the_same_bytes(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")
    open_with_key(olivia)  # the first keyed member: her browser starts epoch 1
    epochs = api("olivia").get("/api/v1/channels/ops/epochs").json()
    assert [e["number"] for e in epochs] == [1]
    # Her secret is a WebCrypto key that no script can read back out.
    assert olivia.evaluate(STORED_IDENTITY, "olivia") == {
        "cryptoKey": True,
        "algorithm": "X25519",
        "extractable": False,
        "exported": "refused",
        "recipient": api("olivia").get("/api/v1/keys/me").json()["public_key"],
    }

    # Gabriela's key is made after epoch 1: Olivia's open page delivers her share.
    gabriela, code = arrive(browser, scene, "gabriela")
    open_with_key(gabriela)
    share = api("gabriela").get("/api/v1/channels/ops/epochs/1/share")
    assert share.status == 200

    # The upload is held on its way to the server, so its progress bar can be seen.
    content = os.urandom(2 * 1024 * 1024 + 12345)
    held: list[Route] = []
    olivia.route("**/api/v1/channels/ops/attachments", lambda route: held.append(route))
    with olivia.expect_request("**/api/v1/channels/ops/attachments"):
        attach(olivia, content, body="the expert report")
    expect(olivia.locator("#upload-progress")).to_be_visible()
    expect(olivia.locator("#upload-status")).to_have_text(f"Uploading {NAME}…")
    expect(olivia.locator("#attachment")).to_be_disabled()  # one file at a time
    held.pop().continue_()
    expect(olivia.locator("#upload-progress")).to_be_hidden()

    item = attachment_item(gabriela)
    expect(item.locator(".file-size")).to_contain_text("MB")
    # And the download, held likewise, shows its own.
    gabriela.route("**/api/v1/attachments/*", lambda route: held.append(route))
    with gabriela.expect_download() as event:
        with gabriela.expect_request("**/api/v1/attachments/*"):
            item.get_by_role("button", name="Download").click()
        expect(item.locator("progress")).to_be_visible()
        held.pop().continue_()
    expect(item.locator("progress")).to_be_hidden()
    saved = event.value
    assert saved.suggested_filename == NAME
    assert Path(saved.path()).read_bytes() == content

    # The server holds ciphertext only, the name nowhere.
    (stored,) = stored_files(scene)
    on_disk = stored.read_bytes()
    assert on_disk.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert content[:4096] not in on_disk
    assert NAME.encode() not in on_disk

    # Debian's age decrypts what the browser wrote, with keys reached the honest way:
    # the recovery code opens the backup, the identity opens the share, the epoch key
    # opens the file and its meta.
    if AGE is None:
        pytest.skip("Debian's age is not installed (bash scripts/tools-up)")
    message = api("gabriela").get("/api/v1/channels/ops/messages").json()[-1]
    assert message["body"] == "the expert report"
    (attachment,) = message["attachments"]
    ciphertext = api("gabriela").get(f"/api/v1/attachments/{attachment['id']}").body()
    assert ciphertext == on_disk
    meta = api("gabriela").get(f"/api/v1/attachments/{attachment['id']}/meta").json()
    backup = base64.b64decode(api("gabriela").get("/api/v1/keys/me/backup").json()["backup"])
    work = stored.parent.parent.parent / "age-check"
    work.mkdir()
    (work / "backup.age").write_bytes(backup)
    status, screen = run_with_passphrase(
        [AGE, "-d", "-o", str(work / "identity.txt"), str(work / "backup.age")], code
    )
    assert status == 0, screen
    # The same backup opens in Python too (what a Python client would do).
    identity_text = decrypt_bytes(backup, [ScryptIdentity(code)]).decode()
    assert (work / "identity.txt").read_text().strip() == identity_text.strip()
    (work / "share.age").write_bytes(base64.b64decode(share.json()["ciphertext"]))
    epoch_file = age_decrypt(work / "identity.txt", work / "share.age")
    assert epoch_file.decode().startswith("# channel ops epoch 1\n")
    (work / "epoch1.txt").write_bytes(epoch_file)
    (work / "file.age").write_bytes(ciphertext)
    (work / "meta.age").write_bytes(base64.b64decode(meta["meta"]))
    assert age_decrypt(work / "epoch1.txt", work / "file.age") == content
    described = json.loads(age_decrypt(work / "epoch1.txt", work / "meta.age"))
    assert described == {
        "name": NAME,
        "type": "application/octet-stream",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def age_decrypt(identity: Path, source: Path) -> bytes:
    assert AGE is not None
    result = subprocess.run(
        [AGE, "-d", "-i", str(identity), str(source)], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def flip_a_byte(path: Path, offset_from_end: int) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - offset_from_end] ^= 0x01
    path.write_bytes(bytes(data))


def payload_start(data: bytes) -> int:
    """Where the STREAM chunks begin: after the header's MAC line and the 16-byte nonce."""
    return data.index(b"\n", data.index(b"\n---")) + 1 + 16


def test_an_altered_or_truncated_file_gives_an_error_and_no_file(
    scene: Scene, browser: Browser
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")
    open_with_key(olivia)
    gabriela, _ = arrive(browser, scene, "gabriela")
    open_with_key(gabriela)
    downloads: list[Download] = []
    gabriela.on("download", lambda download: downloads.append(download))

    altered = os.urandom(300_000)
    attach(olivia, altered, name="altered.bin")
    attachment_item(gabriela, "altered.bin")
    (stored,) = stored_files(scene)
    flip_a_byte(stored, offset_from_end=1000)  # inside the last chunk
    item = attachment_item(gabriela, "altered.bin")
    item.get_by_role("button", name="Download").click()
    expect(item.get_by_role("alert")).to_contain_text("altered or is incomplete")
    expect(item.locator("progress")).to_be_hidden()

    # A server that drops the final chunks (and says the file is that short) is caught
    # too: what is left ends in a chunk not marked final.
    truncated = os.urandom(300_000)
    attach(olivia, truncated, name="truncated.bin")
    attachment_item(gabriela, "truncated.bin")
    (newest,) = [path for path in stored_files(scene) if path != stored]
    data = newest.read_bytes()
    cut = payload_start(data) + 2 * (64 * 1024 + 16)
    newest.write_bytes(data[:cut])
    off_the_browser_thread(
        lambda: Attachment.objects.filter(storage_name__endswith=newest.name).update(size=cut)
    )
    item = attachment_item(gabriela, "truncated.bin")
    item.get_by_role("button", name="Download").click()
    expect(item.get_by_role("alert")).to_contain_text("altered or is incomplete")

    # An intact file still saves: the errors above were the files', not the page's.
    intact = os.urandom(1000)
    attach(olivia, intact, name="intact.txt")
    _, data = download(gabriela, "intact.txt")
    assert data == intact
    assert [d.suggested_filename for d in downloads] == ["intact.txt"]


def test_the_recovery_code_restores_the_key_on_another_browser(
    scene: Scene, browser: Browser
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")
    open_with_key(olivia)
    first, code = arrive(browser, scene, "gabriela")
    fingerprint = first.get_by_test_id("fingerprint").inner_text()
    open_with_key(first)
    content = os.urandom(50_000)
    attach(olivia, content, name="before.bin")
    attachment_item(first, "before.bin")

    # Another browser (a fresh context: nothing in IndexedDB) asks for the code.
    _, second = sign_in(browser, scene, "gabriela")
    code_box = second.get_by_role("textbox", name="Recovery code")
    expect(code_box).to_be_visible()
    expect(second.get_by_test_id("recovery-code")).to_be_hidden()  # never shown again
    code_box.fill("ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567")
    second.get_by_role("button", name="Restore my key").click()
    expect(second.get_by_role("alert")).to_contain_text("does not open your key backup")

    code_box.fill(code.lower().replace("-", " "))  # as a person might type it
    second.get_by_role("button", name="Restore my key").click()
    expect(second.get_by_test_id("fingerprint")).to_have_text(fingerprint)
    open_with_key(second)
    _, data = download(second, "before.bin")
    assert data == content


def test_a_member_who_joins_later_reads_old_files_through_the_back_links(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")  # moderates the channel
    open_with_key(olivia)
    first = os.urandom(100_000)
    attach(olivia, first, name="epoch-one.bin")
    attachment_item(olivia, "epoch-one.bin")

    # An institution leaves: epoch 1 goes stale. The server process does not hear of it
    # (another process, the in-memory layer); Olivia's page learns when it reconnects,
    # and her browser starts epoch 2 at once, with a back-link to epoch 1.
    world = scene.world
    off_the_browser_thread(
        lambda: admission_remove(
            actor=None, channel=world.channel, institution=world.observer_institution
        )
    )
    olivia.evaluate("window.exchangeConnection.ws.close()")
    olivia.wait_for_function(
        "() => window.exchangeKeys.epochs.length === 2 && window.exchangeKeys.state === 'ready'"
    )
    epochs = api("olivia").get("/api/v1/channels/ops/epochs").json()
    assert [(e["number"], e["stale"], e["back_link"] is not None) for e in epochs] == [
        (1, True, False),
        (2, False, True),
    ]
    expect(olivia.get_by_test_id("e2ee-status")).to_have_attribute("data-state", "ready")
    second = os.urandom(100_000)
    attach(olivia, second, name="epoch-two.bin")
    attachment_item(olivia, "epoch-two.bin")

    # Lucia's institution is admitted after both uploads.
    def admit_latecomers() -> None:
        channel = Channel.objects.get(slug="ops")
        admission_set(actor=None, channel=channel, institution=scene.latecomers, role="observer")

    off_the_browser_thread(admit_latecomers)
    lucia, _ = arrive(browser, scene, "lucia")
    open_with_key(lucia)  # Olivia's page delivered her share of epoch 2
    assert api("lucia").get("/api/v1/channels/ops/epochs/2/share").status == 200
    assert api("lucia").get("/api/v1/channels/ops/epochs/1/share").status == 404
    _, data = download(lucia, "epoch-one.bin")  # epoch 1, reached from 2 by its back-link
    assert data == first
    _, data = download(lucia, "epoch-two.bin")
    assert data == second


def test_a_member_without_a_share_is_told_to_wait(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")
    open_with_key(olivia)
    attach(olivia, b"for members", name="members.txt")
    attachment_item(olivia, "members.txt")
    olivia.close()  # nobody who holds the channel key is online any more

    gabriela, _ = arrive(browser, scene, "gabriela")
    open_channel(gabriela)
    status = gabriela.get_by_test_id("e2ee-status")
    expect(status).to_have_attribute("data-state", "waiting")
    expect(status).to_have_text("Waiting for a member to share the channel key.")
    item = gabriela.locator("li.attachment")
    expect(item.get_by_role("alert")).to_have_text("Waiting for a member to share the channel key.")
    expect(item.get_by_role("button", name="Download")).to_be_hidden()
    expect(gabriela.locator("#attachment")).to_be_disabled()

    assert api("gabriela").get("/api/v1/channels/ops/epochs/1/share").status == 404

    # Olivia comes back: her browser delivers the share, and Gabriela's page reads on.
    open_with_key(olivia.context.new_page())
    expect(status).to_have_attribute("data-state", "ready")
    expect(item.locator(".file-name")).to_have_text("members.txt")
    _, data = download(gabriela, "members.txt")
    assert data == b"for members"
