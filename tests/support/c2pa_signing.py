"""Throwaway C2PA signing for tests: a CA, an end-entity signing certificate and c2pa's own Builder.

The certificates follow the C2PA certificate profile that the c2pa SDK enforces when it signs
and when it validates: ES256 (P-256) keys, an end-entity certificate issued by a CA (self-signed
end-entity certificates are refused), ``digitalSignature`` key usage, an allowed extended key
usage (emailProtection and documentSigning), authority/subject key identifiers and
``CA:false``. Nothing here touches the network: no timestamp authority is configured.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class SigningIdentity:
    """A CA root and an end-entity certificate it issued, all PEM."""

    ca_pem: str
    cert_chain_pem: str  # end-entity first, then the CA (what the signer embeds in the manifest)
    key_pem: str
    organization: str

    def write_anchors(self, directory: Path) -> Path:
        """The CA as a trust-anchor PEM file, what ``C2PA_TRUST_ANCHORS`` names."""
        path = directory / "c2pa-anchors.pem"
        path.write_text(self.ca_pem)
        return path


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_identity(organization: str = "Gotong Royong Test Signer") -> SigningIdentity:
    """Generate a fresh CA and end-entity certificate (a few milliseconds; no files written)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organization} Root CA", organization)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organization} Signing", organization))
        .issuer_name(ca_name)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = ee_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningIdentity(
        ca_pem=_pem(ca_cert),
        cert_chain_pem=_pem(ee_cert) + _pem(ca_cert),
        key_pem=key_pem,
        organization=organization,
    )


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real image made with Pillow (a gradient, so edits change real pixel data)."""
    image = Image.new("RGB", size)
    image.putdata([(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


CLAIM_GENERATOR = {"name": "gotong-royong-tests", "version": "1.0"}


@dataclass(frozen=True)
class SignedAsset:
    data: bytes
    signature: bytes  # the claim signature our callback produced, to find and damage it in ``data``


def sign(identity: SigningIdentity, data: bytes, mime_type: str, title: str = "evidence") -> SignedAsset:
    """Embed a C2PA manifest signed by ``identity`` with c2pa's Builder and a callback Signer.

    Signing runs with thumbnails off and no timestamp authority (no network here); c2pa's own
    verify-after-sign still runs, with the test CA as a user anchor so signing itself never
    depends on the trust list under test.
    """
    manifest = {
        "claim_generator_info": [CLAIM_GENERATOR],
        "title": title,
        "format": mime_type,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ],
    }
    settings = {
        "builder": {"thumbnail": {"enabled": False}},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        "trust": {"user_anchors": identity.ca_pem},
    }
    key = serialization.load_pem_private_key(identity.key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signatures: list[bytes] = []

    def es256(payload: bytes) -> bytes:
        # COSE carries ECDSA signatures as fixed-size r || s, not DER.
        r, s = decode_dss_signature(key.sign(payload, ec.ECDSA(hashes.SHA256())))
        signatures.append(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return signatures[-1]

    with (
        c2pa.Context.from_dict(settings) as context,
        c2pa.Signer.from_callback(es256, c2pa.C2paSigningAlg.ES256, identity.cert_chain_pem, None) as signer,
        c2pa.Builder(json.dumps(manifest), context=context) as builder,
    ):
        source, dest = io.BytesIO(data), io.BytesIO()
        builder.sign(signer, mime_type, source, dest)
    return SignedAsset(dest.getvalue(), signatures[-1])
