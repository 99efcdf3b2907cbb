"""Runs scim2-tester's check_server against a real scim-gateway.

Starts the gateway binary on an ephemeral port over a fresh database (a SQLite file, or the
PostgreSQL database named by SCIMGW_CONFORMANCE_DATABASE_URL, which must be empty), signs in with
the link it prints, configures SAML, enables SCIM and generates an API key through GraphQL, then
runs every check. Exits non-zero when any check fails (ERROR or CRITICAL) or reports a deviation,
when a check is skipped that EXPECTED_SKIPS does not list (or one listed there ran), or when fewer
checks ran than EXPECTED_CHECKS names: a server that stops advertising a feature, or a tester
that finds nothing to try, must not pass by doing less.
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

# Checks the tester may skip here, by (resource type, title), with why. None today: every check
# scim2-tester 0.5.2 has finds something to try on this server (PATCH is advertised, every
# attribute it picks is writable).
EXPECTED_SKIPS: dict[tuple[str, str], str] = {}

# How many times each check ran (not skipped) against this server with scim2-tester 0.5.2: the
# discovery checks once per endpoint or schema, the PATCH checks once per attribute they picked.
EXPECTED_CHECKS: dict[tuple[str, str], int] = {
    ("-", "access_invalid_resource_type"): 1,
    ("-", "access_invalid_schema"): 1,
    ("-", "access_schema_by_id"): 4,
    ("-", "query_all_resource_types"): 1,
    ("-", "query_all_schemas"): 1,
    ("-", "query_resource_type_by_id"): 2,
    ("-", "random_url"): 1,
    ("-", "resource_types_endpoint_methods"): 4,
    ("-", "resource_types_schema_validation"): 2,
    ("-", "schemas_endpoint_methods"): 4,
    ("-", "service_provider_config_endpoint"): 1,
    ("-", "service_provider_config_endpoint_methods"): 4,
    **{
        (resource, title): count
        for resource in ("User", "Group")
        for title, count in {
            "object_creation": 1,
            "object_deletion": 1,
            "object_list_with_attributes": 2,
            "object_query": 1,
            "object_query_with_attributes": 2,
            "object_query_without_id": 1,
            "object_replacement": 1,
            "search_with_attributes": 2,
        }.items()
    },
    ("User", "check_add_attribute"): 20,
    ("User", "check_remove_attribute"): 19,
    ("User", "check_replace_attribute"): 22,
    ("Group", "check_add_attribute"): 2,
    ("Group", "check_remove_attribute"): 2,
    ("Group", "check_replace_attribute"): 3,
}


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
    database_url = os.environ.get("SCIMGW_CONFORMANCE_DATABASE_URL") or f"sqlite://{workdir}/gw.db?mode=rwc"
    if not database_url.startswith(("sqlite:", "postgres://", "postgresql://")):
        raise SystemExit(f"SCIMGW_CONFORMANCE_DATABASE_URL is not a SQLite or PostgreSQL URL: {database_url}")
    print(f"scim2-tester against a gateway on {database_url.split(':', 1)[0]}")
    env = dict(os.environ, DATABASE_URL=database_url, SCIM_GATEWAY_LOG="warn")
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
        ran: dict[tuple[str, str], int] = {}
        skipped: set[tuple[str, str]] = set()
        for result in results:
            status = result.status
            check = (result.resource_type or "-", result.title)
            mark = "FAIL" if status in FAILING else status.name
            line = f"[{mark:10}] {check[0]:6} {check[1]}"
            if status in FAILING or status not in (Status.SUCCESS, Status.SKIPPED):
                line += f" — {result.reason}"
            if status == Status.SKIPPED:
                skipped.add(check)
                if check not in EXPECTED_SKIPS:
                    line += f" — unexpected skip: {result.reason}"
                    failures += 1
            else:
                ran[check] = ran.get(check, 0) + 1
            print(line)
            failures += status in FAILING
        for check, why in EXPECTED_SKIPS.items():
            if check not in skipped:
                print(f"[FAIL      ] {check[0]:6} {check[1]} — listed as skipped ({why}) but not skipped")
                failures += 1
        for check, count in EXPECTED_CHECKS.items():
            if ran.get(check, 0) < count:
                print(f"[FAIL      ] {check[0]:6} {check[1]} — ran {ran.get(check, 0)} times, expected {count}")
                failures += 1
        passed = sum(1 for r in results if r.status not in FAILING and r.status != Status.SKIPPED)
        print(f"scim2-tester: {passed} passed, {failures} failed, {len(skipped)} kinds skipped")
        return 1 if failures or not results else 0
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
