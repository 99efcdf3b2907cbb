"""Runs scim2-tester's check_server against a real scim-gateway.

Starts the gateway binary on a fresh SQLite file and an ephemeral port, signs in with the link it
prints, configures SAML, enables SCIM and generates an API key through GraphQL, then runs every
check. Exits non-zero when any check fails (ERROR or CRITICAL) or reports a deviation.
"""

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SCIM_GATEWAY_BIN", os.path.join(ROOT, "target", "debug", "scim-gateway"))
FAILING = {Status.ERROR, Status.CRITICAL, Status.DEVIATION}


def certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conformance IdP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def graphql(url: str, token: str, query: str, variables=None) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if body.get("errors"):
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]


def main() -> int:
    workdir = tempfile.mkdtemp(prefix="scimgw-conformance-")
    env = dict(os.environ, DATABASE_URL=f"sqlite://{workdir}/gw.db?mode=rwc", SCIM_GATEWAY_LOG="warn")
    server = subprocess.Popen(
        [BIN, "serve", "--bind", "127.0.0.1:0", "--web-dir", os.path.join(workdir, "no-web")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        token = url = None
        for line in server.stdout:
            if m := re.search(r"#token=(\S+)", line):
                token = m.group(1)
            if m := re.search(r"listening on (http://\S+)", line):
                url = m.group(1)
                break
        if not (token and url):
            raise SystemExit("the gateway did not start")
        graphql(
            url,
            token,
            "mutation($i: SamlInput!) { configureSaml(input: $i) { configured } }",
            {"i": {"idpEntityId": "https://idp.example.com", "ssoUrl": "https://idp.example.com/sso", "certificatePem": certificate_pem()}},
        )
        data = graphql(url, token, 'mutation { enableScim { baseUrl } generateApiKey(name: "scim2-tester") { secret } }')
        base = data["enableScim"]["baseUrl"]
        key = data["generateApiKey"]["secret"]

        http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        client = SyncSCIMClient(http)
        results = check_server(client)
        failures = 0
        for result in results:
            status = result.status
            mark = "FAIL" if status in FAILING else status.name
            line = f"[{mark:10}] {result.resource_type or '-':6} {result.title}"
            if status in FAILING or status not in (Status.SUCCESS, Status.SKIPPED):
                line += f" — {result.reason}"
            print(line)
            failures += status in FAILING
        passed = sum(1 for r in results if r.status not in FAILING and r.status != Status.SKIPPED)
        skipped = sum(1 for r in results if r.status == Status.SKIPPED)
        print(f"scim2-tester: {passed} passed, {failures} failed, {skipped} skipped")
        return 1 if failures or not results else 0
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
