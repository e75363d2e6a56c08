"""What a browser sees: GraphiQL served offline, and delegations signed with WebCrypto.

A real gateway (`datachannels serve`) on a loopback port and Debian's Chromium, driven by
Playwright given its path (nothing downloads a browser).  Every request the page makes to
anything but the gateway is blocked and recorded, and each test asserts there were none.
Without Chromium these tests skip locally and fail under CI (`CI` set): install it with
`apt-get install chromium`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from datachannels.chaincode import CHANNELS
from datachannels.chaincode.delegation import verify_delegation
from datachannels.channel_connectors.identities import CHANNEL_MEMBERS, IdentityStore

from tests.conftest import delegation_wallet_for, post_graphql, served, wallet_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and nothing a browser does on its own (updates, sync, metrics) may leave the machine.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
]

sync_api = pytest.importorskip("playwright.sync_api")


class Gateway:
    def __init__(self, url: str, data_dir: Path, log: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.log = log

    def post(self, query: str, wallet: str, variables: dict | None = None) -> dict:
        return post_graphql(self.url, query, wallet, variables)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, loaded_data_dir: Path) -> Iterator[Gateway]:
    """`datachannels serve` on its own copy of the demo data, on a free loopback port."""
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "data"
    shutil.copytree(loaded_data_dir, data_dir)
    log = root / "serve.log"
    with served(data_dir, log) as url:
        yield Gateway(url, data_dir, log)


class Browser:
    """One fresh Chromium context (empty profile) whose only reachable host is the gateway."""

    def __init__(self, context: Any, gateway: Gateway) -> None:
        self.context = context
        self.blocked: list[str] = []
        self.graphql_requests: list[dict[str, str]] = []
        origin = gateway.url + "/"

        def route(route: Any) -> None:
            request = route.request
            if request.url.startswith(origin):
                if request.url.startswith(origin + "graphql") and request.method == "POST":
                    self.graphql_requests.append(dict(request.headers))
                route.continue_()
            else:
                self.blocked.append(request.url)
                route.abort()

        context.route("**/*", route)
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The gateway's content security policy must not refuse anything its own page does.
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: CI installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: Any, gateway: Gateway) -> Iterator[Browser]:
    context = chromium.new_context()
    try:
        yield Browser(context, gateway)
    finally:
        context.close()


def _identity_pem(data_dir: Path, name: str) -> tuple[str, str, str]:
    msp_id, certificate, key = IdentityStore(data_dir).pem_pair(name)
    return msp_id, certificate.decode(), key.decode()


def _secret_parts(text: str) -> list[str]:
    """Pieces of a secret that must not appear anywhere: the whole and every long piece."""
    parts = [text]
    for separator in (".", "\n"):
        parts += [p for p in text.split(separator) if len(p) >= 16 and "-----" not in p]
    return parts


# ------------------------------------------------------------------ delegation.js


SIGN_IN_BROWSER = """async ({keyPem, certificatePem, mspId, audience, channels, actions, ttl}) => {
  const module = await import("/static/delegation.js");
  const key = await module.importSigningKey(keyPem);
  let exported = "refused";
  try {
    await crypto.subtle.exportKey("pkcs8", key);
    exported = "exported";
  } catch (error) {
    exported = error.name;
  }
  const token = await module.signDelegation({
    key, certificatePem, mspId, audience, channels, actions, ttlSeconds: ttl,
  });
  return {
    token,
    header: module.walletHeader(token, channels),
    extractable: key.extractable,
    exported,
    usages: key.usages,
  };
}"""


def _sign_in_browser(
    browser: Browser, gateway: Gateway, name: str, actions: list[str], ttl: int = 600
) -> dict[str, Any]:
    relay = httpx.get(f"{gateway.url}/healthz").json()["relay"]
    msp_id, certificate, key = _identity_pem(gateway.data_dir, name)
    browser.page.goto(f"{gateway.url}/healthz")  # any page of the gateway's origin
    return browser.page.evaluate(
        SIGN_IN_BROWSER,
        {
            "keyPem": key,
            "certificatePem": certificate,
            "mspId": msp_id,
            "audience": relay["fingerprint"],
            "channels": list(CHANNELS),
            "actions": actions,
            "ttl": ttl,
        },
    )


def test_a_delegation_signed_in_chromium_reads_what_acmes_own_identity_reads(
    browser: Browser, gateway: Gateway
):
    signed = _sign_in_browser(browser, gateway, "acme", ["read"], ttl=300)

    # The key is usable for signing only and cannot leave WebCrypto.
    assert signed["extractable"] is False
    assert signed["exported"] == "InvalidAccessError"
    assert signed["usages"] == ["sign"]
    # The contracts' own verifier accepts the browser's token and reads what it says.
    store = IdentityStore(gateway.data_dir)
    member_cas = {
        msp: [x509.load_pem_x509_certificate(store.organisation(msp).ca_certificate_pem)]
        for msp in CHANNEL_MEMBERS
    }
    delegation = verify_delegation(
        signed["token"],
        member_cas=member_cas,
        relay=store.relay().identity.certificate,
        channel="utility",
        action="read",
        now=int(time.time()),
    )
    assert delegation.msp_id == "AcmeMSP"
    assert sorted(delegation.channels) == sorted(CHANNELS)
    assert delegation.actions == ("read",)
    assert delegation.expires - delegation.not_before == 300

    by_browser = gateway.post(EXAMPLE["query"], signed["header"], EXAMPLE["variables"])
    by_identity = gateway.post(
        EXAMPLE["query"], wallet_for(gateway.data_dir, "acme"), EXAMPLE["variables"]
    )
    assert "errors" not in by_browser, by_browser
    assert by_browser == by_identity
    assert browser.blocked == [] and browser.errors == []


def test_a_browser_publish_delegation_publishes_once_as_acme(browser: Browser, gateway: Gateway):
    signed = _sign_in_browser(browser, gateway, "acme", ["read", "publish"])
    mutation = (
        "mutation($input: FootprintInput!) { publishFootprint(input: $input) { owner txId } }"
    )
    # The browser itself calls the gateway, with the header its module made.
    answers = browser.page.evaluate(
        """async ({url, header, query, variables}) => {
          const answers = [];
          for (const attempt of [1, 2]) {
            const response = await fetch(url, {
              method: "POST",
              headers: {"Content-Type": "application/json", "X-Wallet": header},
              body: JSON.stringify({query, variables}),
            });
            answers.push(await response.json());
          }
          return answers;
        }""",
        {
            "url": f"{gateway.url}/graphql",
            "header": signed["header"],
            "query": mutation,
            "variables": EXAMPLE["variables"],
        },
    )
    first, second = answers
    assert first["data"]["publishFootprint"]["owner"] == "AcmeMSP", first
    codes = [e["extensions"]["code"] for e in second["errors"]]
    assert codes == ["DELEGATION_REPLAYED"], second
    assert signed["token"] not in json.dumps(answers)


def test_signing_refuses_an_unknown_action_before_touching_the_key(
    browser: Browser, gateway: Gateway
):
    with pytest.raises(sync_api.Error, match="actions must be some of read, publish"):
        _sign_in_browser(browser, gateway, "acme", ["write"])


# ------------------------------------------------------------------------- GraphiQL


def _editor(page: Any, label: str) -> str:
    """A JS expression for the CodeMirror editor labelled `label` (Variables and Headers share
    one label and one place: the one not hidden is meant)."""
    return (
        f"[...document.querySelectorAll('[aria-label=\"{label}\"] .CodeMirror')]"
        ".find((e) => !e.closest('.hidden')).CodeMirror"
    )


def _open_graphiql(browser: Browser, gateway: Gateway) -> None:
    browser.page.goto(f"{gateway.url}/graphql")
    browser.page.wait_for_selector(".graphiql-container .graphiql-execute-button", timeout=30_000)
    browser.page.wait_for_function(
        f"() => {_editor(browser.page, 'Query Editor')}.getValue().length > 0", timeout=30_000
    )


def _run_query(browser: Browser, headers: dict[str, str]) -> dict:
    page = browser.page
    page.evaluate(f"(text) => {_editor(page, 'Headers')}.setValue(text)", json.dumps(headers))
    page.evaluate(f"(text) => {_editor(page, 'Query Editor')}.setValue(text)", EXAMPLE["query"])
    page.get_by_text("Variables", exact=True).click()
    page.evaluate(
        f"(text) => {_editor(page, 'Variables')}.setValue(text)",
        json.dumps(EXAMPLE["variables"]),
    )
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        f"() => {_editor(page, 'Result Window')}.getValue().includes('totalKgCO2e')",
        timeout=30_000,
    )
    return json.loads(page.evaluate(f"() => {_editor(page, 'Result Window')}.getValue()"))


def _storage(page: Any) -> dict[str, dict[str, str]]:
    return page.evaluate(
        """() => Object.fromEntries([["local", localStorage], ["session", sessionStorage]]
            .map(([name, s]) => [name, Object.fromEntries(Object.keys(s).map((k) =>
              [k, s.getItem(k)]))]))"""
    )


@pytest.mark.parametrize("kind", ["delegation", "identity"])
def test_graphiql_runs_offline_and_keeps_no_part_of_the_wallet_after_a_reload(
    browser: Browser, gateway: Gateway, tmp_path: Path, kind: str
):
    wallet = (
        delegation_wallet_for(gateway.data_dir, "acme")
        if kind == "delegation"
        else wallet_for(gateway.data_dir, "acme")
    )
    secrets = _secret_parts(wallet)
    for entry in json.loads(_unb64url(wallet)).values():
        for value in entry.values() if isinstance(entry, dict) else []:
            secrets += _secret_parts(value)
    _open_graphiql(browser, gateway)
    page = browser.page
    # The hint: the Headers tab shows X-Wallet, the query editor says how to make one.
    assert '"X-Wallet"' in page.evaluate(f"() => {_editor(page, 'Headers')}.getValue()")
    assert "datachannels wallet --identity acme --delegate" in page.evaluate(
        f"() => {_editor(page, 'Query Editor')}.getValue()"
    )

    answer = _run_query(browser, {"X-Wallet": wallet})
    expected = gateway.post(EXAMPLE["query"], wallet, EXAMPLE["variables"])
    assert answer == expected
    page.screenshot(path=str(tmp_path / f"graphiql-{kind}.png"))
    # GraphiQL sent the wallet as one header, and no junk headers with it.
    for headers in browser.graphql_requests:
        assert not [name for name in headers if name.isdigit()], headers
    # (The schema is fetched first, with the hint's empty X-Wallet: no wallet, no 400.)
    sent = [h["x-wallet"] for h in browser.graphql_requests if h.get("x-wallet")]
    assert sent and set(sent) == {wallet}

    page.wait_for_timeout(1_000)  # GraphiQL saves its tabs after a short debounce
    before_reload = json.dumps(_storage(page))
    assert [part for part in secrets if part in before_reload] == []

    page.reload()
    _open_graphiql(browser, gateway)
    stored = _storage(page)
    text = json.dumps(stored)
    # GraphiQL does keep its history (so this looks at real storage), without the headers.
    assert "totalKgCO2e" in stored["local"].get("graphiql:queries", ""), stored
    assert [part for part in secrets if part in text] == []
    assert "PRIVATE KEY" not in text and "CERTIFICATE" not in text
    # Nor does the page bring the wallet back: the Headers tab is as a new visitor sees it.
    headers_after = page.evaluate(f"() => {_editor(page, 'Headers')}.getValue()")
    assert [part for part in secrets if part in headers_after] == []
    assert browser.blocked == [], browser.blocked
    assert browser.errors == [], browser.errors


def test_graphiql_history_left_by_an_older_page_loses_its_headers(
    browser: Browser, gateway: Gateway
):
    _open_graphiql(browser, gateway)
    page = browser.page
    # What GraphiQL keeps without our storage: a history entry with the headers in it.
    page.evaluate(
        """() => localStorage.setItem("graphiql:queries", JSON.stringify({queries: [
            {query: "{ channels { name } }", headers: '{"X-Wallet": "secret-wallet-value"}'}]}))"""
    )
    page.reload()
    page.wait_for_selector(".graphiql-container .graphiql-execute-button", timeout=30_000)
    stored = _storage(page)["local"]
    assert "secret-wallet-value" not in json.dumps(stored)
    assert "channels" in stored["graphiql:queries"]


def test_graphiql_files_come_from_the_gateway_and_the_page_names_none_elsewhere(gateway: Gateway):
    html = httpx.get(f"{gateway.url}/graphql", headers={"Accept": "text/html"}).text
    assert "<script" in html and "http" not in html.replace(gateway.url, "")
    for path in ("vendor/graphiql.min.js", "vendor/graphiql.min.css", "graphiql.js"):
        assert httpx.get(f"{gateway.url}/static/{path}").status_code == 200
    assert httpx.get(f"{gateway.url}/static/../settings.py").status_code == 404


def _unb64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
