"""Makes the instance-principal federation vector in this folder with the official OCI Python SDK.

Run: python -m venv v && v/bin/pip install oci==2.189.0 && v/bin/python make_vectors.py

Everything here is TEST-ONLY: a throwaway CA, intermediate and leaf certificate, the leaf's key and
a session key, with fake OCIDs. The script makes them only when their files are missing; with the
files present a re-run writes the same vectors.json byte for byte.

The SDK's own code makes the request: oci.auth.signers.InstancePrincipalsSecurityTokenSigner reads
the (fake) metadata service, builds the X509FederationClient, which builds the body and signs it
with AuthTokenRequestSigner. Nothing goes on the network: requests' Session.send is replaced by a
stand-in that answers the metadata URLs from the files here and records the auth service POST.
email.utils.formatdate is fixed to the vectors' date, and the SessionKeySupplier's key generator
returns the TEST-ONLY session key.
"""
import base64
import datetime
import email.utils
import hashlib
import io
import json
import os
import platform
import types

import cryptography
import oci
import oci.auth.federation_client as federation_client
import oci.auth.session_key_supplier as session_key_supplier
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from oci._vendor.requests import sessions
from oci._vendor.requests.adapters import HTTPAdapter
from urllib3.response import HTTPResponse

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = "Wed, 15 Jan 2025 12:00:00 GMT"
TENANCY = "ocid1.tenancy.oc1..aaaatest"
INSTANCE = "ocid1.instance.oc1.iad.aaaatest"
COMPARTMENT = "ocid1.compartment.oc1..aaaatest"
IMDS = "http://169.254.169.254/opc/v2"
# What /instance/region answers for Ashburn: the short code, which the SDK maps to us-ashburn-1.
IMDS_REGION = "iad"

CA = "TEST-ONLY-ca.pem"
INTERMEDIATE = "TEST-ONLY-intermediate.pem"
LEAF = "TEST-ONLY-leaf.pem"
LEAF_KEY = "TEST-ONLY-leaf-key.pem"
SESSION_KEY = "TEST-ONLY-session-key.pem"
SESSION_PUBLIC = "TEST-ONLY-session-key_public.pem"


def path(name):
    return os.path.join(HERE, name)


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(*parts):
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)]) for oid, value in parts])


def issue(subject, subject_key, issuer, issuer_key, ca):
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer)
         .public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start)
         .not_valid_after(start + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(issuer_key, hashes.SHA256())


def make_pki():
    """The TEST-ONLY chain, only when its files are missing (the CA and intermediate keys are not kept)."""
    if all(os.path.exists(path(n)) for n in (CA, INTERMEDIATE, LEAF, LEAF_KEY, SESSION_KEY, SESSION_PUBLIC)):
        return
    pem = serialization.Encoding.PEM
    ca_key, int_key, leaf_key, session_key = new_key(), new_key(), new_key(), new_key()
    ca_name = name((NameOID.ORGANIZATION_NAME, "TEST-ONLY"), (NameOID.COMMON_NAME, "TEST-ONLY fake root CA"))
    int_name = name((NameOID.ORGANIZATION_NAME, "TEST-ONLY"),
                    (NameOID.COMMON_NAME, "TEST-ONLY fake PKISVC Identity Intermediate"))
    # As instance-principal leaf certificates are: the OCIDs in OU attributes, the tenancy as opc-tenant:.
    leaf_name = name((NameOID.COMMON_NAME, INSTANCE),
                     (NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-certtype:instance"),
                     (NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-compartment:" + COMPARTMENT),
                     (NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-instance:" + INSTANCE),
                     (NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-tenant:" + TENANCY))
    ca = issue(ca_name, ca_key, ca_name, ca_key, True)
    intermediate = issue(int_name, int_key, ca_name, ca_key, True)
    leaf = issue(leaf_name, leaf_key, int_name, int_key, False)
    write(CA, ca.public_bytes(pem))
    write(INTERMEDIATE, intermediate.public_bytes(pem))
    write(LEAF, leaf.public_bytes(pem))
    # The metadata service's /identity/key.pem is PKCS#1 (BEGIN RSA PRIVATE KEY).
    write(LEAF_KEY, leaf_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    write(SESSION_KEY, session_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write(SESSION_PUBLIC, session_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# A fake JWT (the signature part is not a real signature: the SDK does not check it).
TOKEN = ".".join([
    b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode()),
    b64url(json.dumps({"exp": 4102444800, "iat": 1736942400, "sub": INSTANCE, "tenant": TENANCY},
                      separators=(",", ":")).encode()),
    "c2lnbmF0dXJl",
])


class Stand_in:
    """Stands in for the network under requests' Session.send and records the auth service POST."""

    def __init__(self):
        self.posts = []
        self.metadata = {
            IMDS + "/instance/region": IMDS_REGION.encode(),
            IMDS + "/identity/cert.pem": read(LEAF),
            IMDS + "/identity/key.pem": read(LEAF_KEY),
            IMDS + "/identity/intermediate.pem": read(INTERMEDIATE),
        }

    def send(self, session, request, **kwargs):
        if request.method == "GET" and request.url in self.metadata:
            assert request.headers.get("Authorization") == "Bearer Oracle", request.headers
            return self.answer(request, 200, self.metadata[request.url], "text/plain")
        assert request.method == "POST" and request.url.endswith("/v1/x509"), (request.method, request.url)
        self.posts.append(request)
        return self.answer(request, 200, json.dumps({"token": TOKEN}).encode(), "application/json")

    @staticmethod
    def answer(request, status, body, content_type):
        raw = HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False,
                           headers={"content-type": content_type, "content-length": str(len(body))})
        return HTTPAdapter().build_response(request, raw)


def federate(stand_in, key_id_override=None, extra_body=None):
    """Runs InstancePrincipalsSecurityTokenSigner once and returns the recorded federation request.

    key_id_override / extra_body make the Go SDK's variant (see README.md): the SDK's own signer
    gets another keyId through its reset_signer, and the SDK's own payload gets one more field.
    """
    real_signer, real_post = federation_client.AuthTokenRequestSigner, sessions.Session.post

    class Signer(real_signer):
        def __init__(self, tenancy_id, fingerprint, retriever):
            super().__init__(tenancy_id, fingerprint, retriever)
            if key_id_override:
                self.api_key = key_id_override
                for s in (self._basic_signer, self._body_signer):
                    s.reset_signer(key_id_override, retriever.get_private_key())

    def post(self, url, data=None, json=None, **kwargs):
        if extra_body and url.endswith("/v1/x509"):
            json = dict(json, **extra_body)
        return real_post(self, url, data=data, json=json, **kwargs)

    federation_client.AuthTokenRequestSigner, sessions.Session.post = Signer, post
    try:
        before = len(stand_in.posts)
        signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
            retry_strategy=oci.retry.NoneRetryStrategy(),
            federation_client_retry_strategy=oci.retry.NoneRetryStrategy(),
            federation_client_circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy())
        assert signer.federation_client.get_security_token() == TOKEN
        assert len(stand_in.posts) == before + 1, "one federation POST"
        return stand_in.posts[-1]
    finally:
        federation_client.AuthTokenRequestSigner, sessions.Session.post = real_signer, real_post


def record(req, leaf_public):
    h = {k.lower(): v for k, v in req.headers.items()}
    auth = h["authorization"]
    fields = dict(part.split("=", 1) for part in auth[len("Signature "):].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    signed = fields["headers"].split(" ")
    path_url = req.path_url
    lines = []
    for n in signed:
        lines.append("(request-target): " + req.method.lower() + " " + path_url if n == "(request-target)"
                     else n + ": " + h[n])
    signing_string = "\n".join(lines)
    signature = base64.b64decode(fields["signature"])
    # Verifies the SDK's signature over the rebuilt signing string (raises if it does not).
    leaf_public.verify(signature, signing_string.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    body = req.body
    assert h["x-content-sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert h["content-length"] == str(len(body))
    return {
        "method": req.method,
        "url": req.url,
        "request_target": req.method.lower() + " " + path_url,
        "body": body.decode("utf-8"),
        "body_base64": base64.b64encode(body).decode(),
        "body_fields": list(json.loads(body)),
        "key_id": fields["keyId"],
        "signed_headers": signed,
        "signing_string": signing_string,
        "signature": fields["signature"],
        "headers_after_signing": h,
    }


def colon_hex(digest, upper):
    return ":".join(("{:02X}" if upper else "{:02x}").format(b) for b in digest)


def main():
    make_pki()
    os.environ["OCI_METADATA_BASE_URL"] = IMDS
    email.utils.formatdate = lambda *a, **k: DATE
    session_key = serialization.load_pem_private_key(read(SESSION_KEY), None)
    session_key_supplier.rsa = types.SimpleNamespace(generate_private_key=lambda **kw: session_key)
    stand_in = Stand_in()
    sessions.Session.send = lambda session, request, **kwargs: stand_in.send(session, request, **kwargs)

    leaf = x509.load_pem_x509_certificate(read(LEAF))
    der = leaf.public_bytes(serialization.Encoding.DER)
    sha1 = colon_hex(hashlib.sha1(der).digest(), True)
    sha256 = colon_hex(hashlib.sha256(der).digest(), False)

    sdk = record(federate(stand_in), leaf.public_key())
    assert sdk["key_id"] == TENANCY + "/fed-x509/" + sha1, sdk["key_id"]
    go_key_id = TENANCY + "/fed-x509-sha256/" + sha256
    go = record(federate(stand_in, go_key_id, {"fingerprintAlgorithm": "SHA256"}), leaf.public_key())
    assert go["key_id"] == go_key_id

    out = {
        "produced_by": "oci (Python SDK) " + oci.__version__,
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "date": DATE,
        "imds_base": IMDS,
        "imds_region": IMDS_REGION,
        "tenancy": TENANCY,
        "leaf_certificate_pem": read(LEAF).decode(),
        "leaf_key_pem": read(LEAF_KEY).decode(),
        "intermediate_certificate_pem": read(INTERMEDIATE).decode(),
        "session_public_key_pem": session_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "leaf_fingerprint_sha1": sha1,
        "leaf_fingerprint_sha256": sha256,
        "sdk": sdk,
        "sha256_key_id_variant": go,
    }
    assert out["session_public_key_pem"].encode() == read(SESSION_PUBLIC)
    with open(path("vectors.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


main()
