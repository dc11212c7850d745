"""The ``tutor school``, ``tutor class`` and ``tutor teacher add`` commands: the schools, classes
and teacher accounts of a data folder. A refused request prints why and writes nothing."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

from tutor.directory import Directory, DirectoryError, class_link, qr_png
from tutor.store import Store


def _directory(settings) -> Directory:
    return Directory(Store(settings.db_path), settings.teachers_upload_to_school)


def _refused(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _print(rows: list[dict], as_json: bool, columns: list[str]) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        print("  ".join(str(row[c]) for c in columns))


def cmd_school(settings, args) -> int:
    directory = _directory(settings)
    try:
        if args.action == "add":
            school = directory.add_school(args.name)
            print(f"school '{school.name}' added (id {school.id})")
            return 0
    except DirectoryError as exc:
        return _refused(exc)
    rows = [{"id": s.id, "name": s.name, "classes": len(directory.classes(school_id=s.id)),
             "teachers": len(directory.teachers(school_id=s.id))} for s in directory.schools()]
    _print(rows, args.json, ["id", "name", "classes", "teachers"])
    return 0


def cmd_class(settings, args) -> int:
    directory = _directory(settings)
    try:
        if args.action == "add":
            school = directory.school_by_name(args.school)
            teacher_id = None
            if args.teacher:
                match = [r for r in directory.teachers(school.id) if r["username"] == args.teacher]
                if not match:
                    raise DirectoryError("dir_no_user", name=args.teacher)
                teacher_id = match[0]["id"]
            klass = directory.add_class(school, args.name, teacher_id)
            row = {"id": klass.id, "school": school.name, "name": klass.name, "code": klass.code,
                   "link": class_link(settings, klass.code)}
            if args.json:
                print(json.dumps(row, ensure_ascii=False, indent=2))
            else:
                print(f"class '{klass.name}' of '{school.name}': code {klass.code}\n{row['link']}")
            return 0
        if args.action == "qr":
            klass = directory.class_by_code(args.code)
            if klass is None:
                raise DirectoryError("dir_no_class", code=args.code)
            link = class_link(settings, klass.code)
            Path(args.out).write_bytes(qr_png(link))
            print(f"{args.out}: QR code of {link}")
            return 0
        school = directory.school_by_name(args.school) if args.school else None
    except DirectoryError as exc:
        return _refused(exc)
    names = {s.id: s.name for s in directory.schools()}
    rows = [{"id": k.id, "school": names[k.school_id], "name": k.name, "code": k.code,
             "default": k.is_default, "link": class_link(settings, k.code)}
            for k in directory.classes(school_id=school.id if school else None)]
    _print(rows, args.json, ["code", "school", "name", "link"])
    return 0


def read_password(from_stdin: bool) -> str | None:
    """A new password, from one stdin line or typed twice at a prompt (None: they differ)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password for the new account: ")
    return password if getpass.getpass("Again: ") == password else None


def cmd_teacher_add(settings, args) -> int:
    directory = _directory(settings)
    try:
        # every check that needs no password first, so a refusal does not ask for one
        if args.role != "region-admin":
            if not args.school:
                raise DirectoryError("dir_school_required")
            directory.school_by_name(args.school)
        if any(r["username"] == args.username.strip() for r in directory.teachers()):
            raise DirectoryError("dir_user_exists", name=args.username)
        password = read_password(args.password_stdin)
        if password is None:
            print("error: the passwords differ", file=sys.stderr)
            return 2
        first = not directory.has_accounts()
        account = directory.add_teacher(args.school, args.username, password, args.role)
        for code in args.klass or []:
            klass = directory.class_by_code(code)
            if klass is None or klass.school_id != account.school_id:
                raise DirectoryError("dir_no_class", code=code)
            directory.assign(klass.id, account.id)
    except DirectoryError as exc:
        return _refused(exc)
    print(f"{account.role} '{account.username}' added")
    if first:
        print("the shared teacher password no longer logs in: every teacher uses an account now")
    return 0
