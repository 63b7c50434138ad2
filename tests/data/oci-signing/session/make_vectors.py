"""Makes the session-token signing vectors in this folder with the official OCI Python SDK.

Run: python -m venv v && v/bin/pip install oci==2.189.0 && v/bin/python make_vectors.py
The token is a fixed fake JWT (its signature part is not a real signature: the SDK does not
check it). Signers: oci.auth.signers.SecurityTokenSigner (what `oci session authenticate`
profiles use) and oci.auth.signers.EphemeralResourcePrincipalSigner (resource principal 2.2,
given the token and key as inline values, as OCI_RESOURCE_PRINCIPAL_RPST/_PRIVATE_PEM can be).
"""
import base64
import json
import os

import oci
from oci._vendor import requests

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = os.path.join(HERE, "..", "TEST-ONLY-oci-api-key.pem")
DATE = "Wed, 15 Jan 2025 12:00:00 GMT"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(claims):
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return head + "." + body + ".c2lnbmF0dXJl"


TOKEN = token({"exp": 4102444800, "sub": "ocid1.user.oc1..aaaatest", "tenant": "ocid1.tenancy.oc1..aaaatest"})
RPST = token({"exp": 4102444800, "res_tenant": "ocid1.tenancy.oc1..aaaatest",
              "res_compartment": "ocid1.compartment.oc1..aaaatest"})

REQUESTS = [
    ("GET", "https://iaas.us-ashburn-1.oraclecloud.com/20160918/instances?compartmentId=ocid1.compartment.oc1..aaaatest", b""),
    ("POST", "https://iaas.us-ashburn-1.oraclecloud.com/20160918/instances/ocid1.instance.oc1..x?action=STOP", b'{"a":1}'),
]


def sign(signer, method, url, body):
    req = requests.Request(method, url, headers={"date": DATE}, data=body or None).prepare()
    signer(req)
    return {k.lower(): v for k, v in req.headers.items()}


def main():
    pem = open(KEY).read()
    key = oci.signer.load_private_key(pem, None)
    signers = {
        "security_token": (oci.auth.signers.SecurityTokenSigner(TOKEN, key), TOKEN),
        "resource_principal": (oci.auth.signers.EphemeralResourcePrincipalSigner(
            session_token=RPST, private_key=pem, region="us-ashburn-1"), RPST),
    }
    out = []
    for mode, (signer, tok) in signers.items():
        for method, url, body in REQUESTS:
            h = sign(signer, method, url, body)
            out.append({"mode": mode, "token": tok, "method": method, "url": url,
                        "body_base64": base64.b64encode(body).decode(), "date": DATE,
                        "headers_after_signing": h})
    with open(os.path.join(HERE, "vectors.json"), "w") as f:
        json.dump({"produced_by": "oci (Python SDK) " + oci.__version__, "vectors": out}, f, indent=1)
        f.write("\n")


main()
