"""A real OpenLDAP server for the directory sign-in tests: Debian's slapd on a free loopback port, with its own
config (slapd -f) and mdb database under the test var dir, loaded with a small directory by ldapadd.

Nothing here touches the system slapd (its config, its database or port 389).
"""
import shutil
import socket
import subprocess
import time
from pathlib import Path

import ldap

SUFFIX = "dc=example,dc=gov,dc=cn"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "slapd-test-root"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

CONFIG = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
pidfile {run}/slapd.pid
argsfile {run}/slapd.args
modulepath {modules}
moduleload back_mdb
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {data}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


def person(uid: str, agency_ou: str, full_name: str, password: str, **extra: str) -> str:
    lines = [
        f"dn: uid={uid},ou={agency_ou},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {full_name}",
        f"sn: {full_name[:1]}",
        f"mail: {uid}@example.gov.cn",
        f"userPassword: {password}",
    ]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    return "\n".join(lines) + "\n"


def group(cn: str, *member_uids: tuple[str, str]) -> str:
    lines = [f"dn: cn={cn},{GROUPS}", "objectClass: groupOfNames", f"cn: {cn}"]
    lines += [f"member: uid={uid},ou={ou},{PEOPLE}" for uid, ou in member_uids]
    return "\n".join(lines) + "\n"


def user_dn(uid: str, agency_ou: str) -> str:
    return f"uid={uid},ou={agency_ou},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Slapd:
    """One slapd process in the foreground (-d 0), stopped by its own pid."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / "data").mkdir(parents=True)
        (self.home / "run").mkdir()
        config = self.home / "slapd.conf"
        config.write_text(CONFIG.format(
            schema=SCHEMA_DIR, modules=MODULE_DIR, run=self.home / "run", data=self.home / "data",
            suffix=SUFFIX, rootdn=ROOT_DN, rootpw=ROOT_PASSWORD,
        ))
        log = open(self.home / "slapd.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            ["slapd", "-f", str(config), "-h", self.uri + "/", "-d", "0"], stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.home / 'slapd.log').read_text()}")
            try:
                self.connection().unbind_s()
                return
            except ldap.SERVER_DOWN:
                time.sleep(0.05)
        raise RuntimeError("slapd did not answer in 15 seconds")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def connection(self):
        conn = ldap.initialize(self.uri)
        conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
        return conn

    def load(self, ldif: str) -> None:
        """Add entries with ldapadd, as an operator would load a directory."""
        subprocess.run(
            ["ldapadd", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif, text=True, check=True, capture_output=True,
        )

    def delete(self, dn: str) -> None:
        conn = self.connection()
        try:
            conn.delete_s(dn)
        finally:
            conn.unbind_s()

    def set_members(self, cn: str, member_dns: list[str]) -> None:
        conn = self.connection()
        try:
            conn.modify_s(group_dn(cn), [(ldap.MOD_REPLACE, "member", [dn.encode() for dn in member_dns])])
        finally:
            conn.unbind_s()
