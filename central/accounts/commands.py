"""``triage-central users ...`` and ``triage-central spotcheck ...``: the accounts' and spot
checks' commands (parsers and runners; central/cli.py mounts them).

Passwords are read from a prompt (twice) or, with ``--password-stdin``, from the first line of
standard input; never from the command line, where other users of the machine could see them.
The first administrator is added the same way (``users add NAME --role admin``): the command line
of the machine is the bootstrap. Changes are recorded in the audit trail as the ``system`` actor
named after the operating-system user.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from central.accounts import sessions, spotcheck
from central.accounts import users as accounts
from central.accounts.roles import PARTIES, ROLES
from central.config import CentralSettings, ConfigError, zone
from central.report.days import parse_date
from central.store.db import open_db


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    u = sub.add_parser("users", help="accounts: add, list, set-role, lock, unlock, ...")
    us = u.add_subparsers(dest="users_command", required=True)
    add = us.add_parser("add", help="add an account (the first administrator too)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--party", choices=PARTIES, help="for role party")
    add.add_argument("--site", help="for role clinic: the clinic's id")
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--no-password", action="store_true", help="API tokens / SSO only")
    us.add_parser("list", help="every account")
    sr = us.add_parser("set-role", help="change an account's role and scope")
    sr.add_argument("name")
    sr.add_argument("--role", required=True, choices=ROLES)
    sr.add_argument("--party", choices=PARTIES)
    sr.add_argument("--site")
    for name in ("lock", "remove"):
        us.add_parser(name, help=f"{name} an account").add_argument("name")
    un = us.add_parser("unlock", help="unlock an account or lift an address's lock-out")
    un.add_argument("name", nargs="?")
    un.add_argument("--address", help="lift this client address's lock-out")
    rp = us.add_parser("reset-password", help="set a new password")
    rp.add_argument("name")
    rp.add_argument("--password-stdin", action="store_true")
    tk = us.add_parser("token", help="create an API token for an account (shown once)")
    tk.add_argument("name")
    tk.add_argument("--label", default="script")
    s = sub.add_parser("spotcheck", help="double-random spot checks: draw, verify, list")
    ss = s.add_subparsers(dest="spot_command", required=True)
    d = ss.add_parser("draw", help="draw N clinics and M inspectors")
    d.add_argument("--date", default="today")
    d.add_argument("-n", "--clinics", type=int, required=True)
    d.add_argument("-m", "--inspectors", type=int, required=True)
    v = ss.add_parser("verify", help="re-run a recorded draw from its seed and inputs")
    v.add_argument("id")
    ss.add_parser("list", help="recorded draws")
    for group in (us, ss):
        for leaf in group.choices.values():
            common(leaf)


def _password(a: argparse.Namespace) -> str:
    if a.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("password: the two entries differ")
    return first


def _actor() -> accounts.Actor:
    return accounts.Actor(f"system:{getpass.getuser()}"[:64], "admin")


def run_users(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    try:
        return _users(a, engine)
    except accounts.AccountError as exc:
        print(f"triage-central users: {exc}", file=sys.stderr)
        return 1


def _users(a: argparse.Namespace, engine: Engine) -> int:
    cmd, actor = a.users_command, _actor()
    if cmd == "list":
        with engine.connect() as conn:
            for acc in accounts.listing(conn):
                scope = acc.party or acc.site or ""
                state = "locked" if acc.locked else "active"
                print(f"{acc.username:<20} {acc.role:<8} {scope:<20} {state:<7} {acc.display_name}")
        return 0
    if cmd == "add":
        accounts.check_fields(a.name, a.role, a.party, a.site)
        pw = None if a.no_password else _password(a)
        with engine.begin() as conn:
            accounts.add(conn, actor, username=a.name, role=a.role, password=pw,
                         display_name=a.display_name, party=a.party, site=a.site)  # fmt: skip
        print(f"added {a.name} ({a.role})")
        return 0
    if cmd == "reset-password":
        pw = _password(a)
        with engine.begin() as conn:
            accounts.reset_password(conn, actor, a.name, pw)
        print(f"password of {a.name} reset; their sessions ended")
        return 0
    with engine.begin() as conn:
        if cmd == "set-role":
            accounts.set_role(conn, actor, a.name, a.role, a.party, a.site)
        elif cmd == "lock":
            accounts.lock(conn, actor, a.name)
        elif cmd == "remove":
            accounts.remove(conn, actor, a.name)
        elif cmd == "unlock":
            if a.address:
                accounts.unlock_address(conn, actor, a.address)
            if a.name:
                accounts.unlock(conn, actor, a.name)
            if not a.address and not a.name:
                raise accounts.AccountError("unlock: name an account or --address")
        elif cmd == "token":
            secret, _ = sessions.create_token(conn, actor, a.name, a.label)
            print(secret)
            return 0
    print(f"{cmd}: done")
    return 0


def run_spotcheck(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    try:
        if a.spot_command == "draw":
            day = parse_date(a.date, zone(settings.tz))
            with engine.begin() as conn:
                c = spotcheck.draw(conn, actor=_actor().name, role="admin", day=day,
                                   n=a.clinics, m=a.inspectors)  # fmt: skip
            print(f"{c.id}: clinics {', '.join(c.drawn.clinics)}; "
                  f"inspectors {', '.join(c.drawn.inspectors)}; seed {c.seed}; "
                  f"inputs sha256 {c.inputs_digest}")  # fmt: skip
            return 0
        if a.spot_command == "verify":
            with engine.connect() as conn:
                v = spotcheck.verify(conn, a.id)
            print(f"{v.check_id}: inputs digest {'matches' if v.digest_matches else 'DIFFERS'}; "
                  f"re-run {'gives the same result' if v.result_matches else 'DIFFERS'}: "
                  f"clinics {', '.join(v.drawn.clinics)}; "
                  f"inspectors {', '.join(v.drawn.inspectors)}")  # fmt: skip
            return 0 if v.ok else 1
        with engine.connect() as conn:
            for c in spotcheck.listing(conn):
                when = datetime.fromtimestamp(c.drawn_at).isoformat(timespec="seconds")
                print(f"{c.id}  {c.day}  {when}  {', '.join(c.drawn.clinics)}")
        return 0
    except spotcheck.SpotCheckError as exc:
        print(f"triage-central spotcheck: {exc}", file=sys.stderr)
        return 1
