"""An organisation's certificate authority made with the openssl command line (never with crypto/, the code under
test): a root, an intermediate, and server certificates they issue."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")


@dataclass
class Authority:
    """A root CA and an intermediate under it, in *folder*."""

    folder: Path

    @property
    def root(self) -> Path:
        return self.folder / "root.pem"

    @property
    def intermediate(self) -> Path:
        return self.folder / "intermediate.pem"

    def issue(self, name: str, hosts: list[str], *, days: int = 397, span: tuple[str, str] | None = None,
              key_kind: str = "ec", server_auth: bool = True) -> tuple[Path, Path]:
        """A server certificate for *hosts* (DNS names or IP addresses) signed by the intermediate; returns
        (certificate, key). *span*: its own notBefore and notAfter (YYYYMMDDHHMMSSZ), e.g. in the past."""
        key = self.folder / f"{name}.key"
        csr = self.folder / f"{name}.csr"
        cert = self.folder / f"{name}.pem"
        new_key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_kind == "ec" else
                   ["-newkey", f"rsa:{key_kind.removeprefix('rsa')}"])
        openssl("req", *new_key, "-nodes", "-keyout", key.name, "-out", csr.name, "-subj", f"/CN={hosts[0]}",
                cwd=self.folder)
        san = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}" for h in hosts)
        usage = "serverAuth" if server_auth else "clientAuth"
        (self.folder / f"{name}.ext").write_text(
            f"subjectAltName={san}\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n")
        args = ["x509", "-req", "-in", csr.name, "-CA", self.intermediate.name, "-CAkey", "intermediate.key",
                "-CAcreateserial", "-out", cert.name, "-days", str(days), "-extfile", f"{name}.ext", "-sha256"]
        if span:
            # `openssl ca` is the one that takes dates; x509 -req starts now. A backdated one:
            args = ["ca", "-batch", "-config", "ca.cnf", "-in", csr.name, "-out", cert.name, "-startdate", span[0],
                    "-enddate", span[1], "-extfile", f"{name}.ext", "-notext", "-md", "sha256"]
        openssl(*args, cwd=self.folder)
        return cert, key


def authority(folder: Path) -> Authority:
    """A fresh root and intermediate (ECDSA P-256) in *folder*, and the files `openssl ca` needs."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key",
            "-out", "root.pem", "-days", "3650", "-subj", "/CN=OCAM Test Root CA", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "intermediate.key",
            "-out", "intermediate.csr", "-subj", "/CN=OCAM Test Issuing CA", cwd=folder)
    openssl("x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
            "-out", "intermediate.pem", "-days", "1825", "-extfile", "root.ext", "-sha256", cwd=folder)
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("1000\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca = issuing\n[issuing]\ndir = .\ndatabase = index.txt\nserial = serial\n"
        "new_certs_dir = .\ncertificate = intermediate.pem\nprivate_key = intermediate.key\npolicy = any\n"
        "unique_subject = no\ncopy_extensions = none\n[any]\ncommonName = supplied\n")
    return Authority(folder)
