"""A kept-alive LibreOffice converter (.docx -> PDF), run by LibreOffice's own Python.

Run as ``/usr/bin/python3 uno_worker.py SOFFICE PROFILE_DIR`` (Debian's python3-uno; the project's
virtualenv cannot import ``uno``), possibly under ``unshare -n`` so that neither it nor the
LibreOffice it starts has a network. It starts one headless soffice with its own profile
(macros disabled, untrusted links blocked) listening on a private UNO pipe, writes ``!`` when
ready, then converts one document per request: a frame with the .docx in, ``K`` and the PDF out
(or ``E`` and a reason). Documents are opened read-only, hidden, without updating links and
without running macros. It exits when soffice dies, so that its pool replaces it.

Standard library and ``uno`` only: it does not import the project.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import uno  # type: ignore[import-not-found]

LENGTH = struct.Struct(">I")
NO_UPDATE = 0  # com.sun.star.document.UpdateDocMode.NO_UPDATE
NEVER_EXECUTE = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""


def _prop(name: str, value: Any) -> Any:
    prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    prop.Name, prop.Value = name, value
    return prop


def _read(source: BinaryIO) -> bytes | None:
    header = source.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None
    data = source.read(LENGTH.unpack(header)[0])
    return data


def _write(out: BinaryIO, status: bytes, payload: bytes) -> None:
    out.write(status + LENGTH.pack(len(payload)) + payload)
    out.flush()


def _start_office(soffice: str, profile: Path, pipe: str) -> subprocess.Popen[bytes]:
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(PROFILE_SETTINGS, encoding="utf-8")
    return subprocess.Popen(  # noqa: S603 (our own pool's arguments)
        [
            soffice,
            "--headless",
            "--invisible",
            "--nocrashreport",
            "--nodefault",
            "--nologo",
            "--nofirststartwizard",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _connect(office: subprocess.Popen[bytes], pipe: str) -> Any:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return context.ServiceManager.createInstanceWithContext(
                "com.sun.star.frame.Desktop", context
            )
        except Exception:
            if office.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _convert(desktop: Any, work: Path, document: bytes) -> bytes:
    source, target = work / "document.docx", work / "document.pdf"
    source.write_bytes(document)
    target.unlink(missing_ok=True)
    loaded = desktop.loadComponentFromURL(
        source.as_uri(),
        "_blank",
        0,
        (
            _prop("Hidden", True),
            _prop("ReadOnly", True),
            _prop("UpdateDocMode", NO_UPDATE),
            _prop("MacroExecutionMode", NEVER_EXECUTE),
            _prop("FilterName", "MS Word 2007 XML"),
        ),
    )
    if loaded is None:
        raise RuntimeError("document illisible")
    try:
        loaded.storeToURL(target.as_uri(), (_prop("FilterName", "writer_pdf_Export"),))
    finally:
        loaded.close(True)
    return target.read_bytes()


def main() -> None:
    soffice, base = sys.argv[1], Path(sys.argv[2])
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    with tempfile.TemporaryDirectory(prefix="converter-", dir=base) as directory:
        work = Path(directory)
        pipe = f"crm-{os.getpid()}-{work.name}"
        office = _start_office(soffice, work / "profile", pipe)

        def exit_with_office() -> None:
            office.wait()
            os._exit(3)  # the pool sees its converter gone and starts another

        threading.Thread(target=exit_with_office, daemon=True).start()
        desktop = _connect(office, pipe)
        out.write(b"!")
        out.flush()
        while (document := _read(sys.stdin.buffer)) is not None:
            try:
                _write(out, b"K", _convert(desktop, work, document))
            except Exception as exc:
                _write(out, b"E", f"{type(exc).__name__}: {exc}"[:500].encode())
        office.terminate()
        office.wait(10)


if __name__ == "__main__":
    main()
