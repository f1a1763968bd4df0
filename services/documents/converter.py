"""Merged Word documents to PDF with a pool of kept-alive LibreOffice converters.

Each converter is uno_worker.py run by the system's Python (which has LibreOffice's ``uno``),
holding one headless soffice with its own profile. At most ``CRM_PDF_CONVERTERS`` conversions
run at once; a request waits at most ``CRM_PDF_QUEUE_SECONDS`` for a converter (then 503 with
Retry-After) and a conversion lasts at most ``CRM_PDF_TIMEOUT_SECONDS`` (then the converter is
killed and replaced). Converters run in a network namespace of their own (``unshare -n``) when
the system allows it (docs/mail-merge.md says what is and is not enforced).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from services.common.errors import FieldError, ServiceUnavailable, ValidationFailed

from .settings import DocumentsSettings
from .workers import WorkerLost, WorkerPool, WorkerTimedOut, environment

log = logging.getLogger(__name__)
UNO_WORKER = Path(__file__).with_name("uno_worker.py")


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def uno_available(python: str) -> bool:
    try:
        result = subprocess.run(  # noqa: S603 (a configured interpreter, fixed arguments)
            [python, "-c", "import uno"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def network_isolation() -> list[str] | None:
    """The command prefix that gives a converter no network, or None when it cannot here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 (fixed arguments)
            [unshare, "-n", "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return [unshare, "-n", "--"] if result.returncode == 0 else None


def _remove_stale_profiles() -> None:
    """Profiles left by a service that was killed (its process is gone)."""
    for directory in Path(tempfile.gettempdir()).glob("crm-converters-*-*"):
        pid = directory.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(directory, ignore_errors=True)


class Converters:
    """The converter pool, or why there is none (``unavailable``)."""

    def __init__(self, settings: DocumentsSettings) -> None:
        self.settings = settings
        self.pool: WorkerPool | None = None
        self.isolated = False
        self.unavailable: str | None = None
        self._base: Path | None = None

    async def start(self) -> None:
        s = self.settings
        executable = soffice()
        if executable is None:
            self.unavailable = "LibreOffice (soffice) absent"
        elif not await asyncio.to_thread(uno_available, s.uno_python):
            self.unavailable = f"{s.uno_python} ne peut pas importer uno (paquet python3-uno)"
        if self.unavailable is not None or executable is None:
            log.warning("PDF conversion unavailable: %s", self.unavailable)
            return
        prefix = [] if s.pdf_isolation == "none" else await asyncio.to_thread(network_isolation)
        if prefix is None:
            if s.pdf_isolation == "netns":
                raise RuntimeError("CRM_PDF_ISOLATION=netns but unshare -n is not permitted here")
            log.warning("PDF converters run WITH network access: unshare -n is not permitted")
            prefix = []
        self.isolated = bool(prefix)
        await asyncio.to_thread(_remove_stale_profiles)
        self._base = Path(tempfile.mkdtemp(prefix=f"crm-converters-{os.getpid()}-"))
        command = [*prefix, s.uno_python, str(UNO_WORKER), executable, str(self._base)]
        self.pool = WorkerPool(
            "pdf",
            lambda _n: command,
            size=s.pdf_converters,
            queue_seconds=s.pdf_queue_seconds,
            busy_message="Trop de conversions PDF en cours ; réessayez dans quelques secondes.",
            env=environment(),
        )
        await self.pool.start()
        log.info(
            "%d PDF converters started (%s network)",
            s.pdf_converters,
            "without" if self.isolated else "WITH",
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self._base is not None:
            await asyncio.to_thread(shutil.rmtree, self._base, True)

    async def readiness(self) -> str | None:
        if self.unavailable is not None:
            return None  # documented: .docx merges still work, PDF answers 422 saying why
        if self.pool is None or self.pool.alive == 0:
            return "conversion PDF : aucun convertisseur LibreOffice en marche"
        return None

    async def to_pdf(self, document: bytes) -> bytes:
        if self.pool is None:
            reason = self.unavailable or "convertisseurs arrêtés"
            raise ValidationFailed(
                [FieldError("format", f"La conversion en PDF est indisponible : {reason}.")]
            )
        for attempt in (1, 2):  # a converter that died under us: once more on another
            try:
                status, payload, _ = await self.pool.call(
                    (document,), self.settings.pdf_timeout_seconds
                )
            except WorkerTimedOut:
                raise ValidationFailed(
                    [
                        FieldError(
                            "format",
                            "La conversion en PDF a dépassé "
                            f"{self.settings.pdf_timeout_seconds:g} s et a été arrêtée.",
                        )
                    ]
                ) from None
            except WorkerLost:
                if attempt == 2:
                    raise ServiceUnavailable(
                        "Le convertisseur PDF s'est arrêté ; réessayez.", retry_after=5
                    ) from None
                continue
            if status == b"K":
                return payload
            log.warning("PDF conversion failed: %s", payload.decode(errors="replace"))
            break
        raise ValidationFailed([FieldError("format", "La conversion en PDF a échoué.")])
