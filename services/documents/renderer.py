"""Templates are filled by a small pool of render workers (render_worker.py), never inside the
service: a template that loops, allocates or writes without end costs a worker, which is
replaced, while the service goes on answering."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import orjson

from services.common.errors import FieldError, ValidationFailed

from .render_worker import MEMORY_EXIT
from .settings import DocumentsSettings
from .workers import WorkerLost, WorkerPool, WorkerTimedOut, environment

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


class RenderLimitExceeded(ValidationFailed):
    """422 naming the limit a template exceeded (and the field ``file``, like every other
    reason a template cannot be used)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__([FieldError("file", message)], detail=message)
        self.limit = limit


class Renderer:
    def __init__(self, settings: DocumentsSettings) -> None:
        self.settings = settings
        command = [
            sys.executable,
            "-m",
            "services.documents.render_worker",
            str(settings.merge_memory_bytes),
            str(settings.merge_cpu_seconds),
            str(settings.merge_output_bytes),
        ]
        self.pool = WorkerPool(
            "render",
            lambda _n: command,
            size=settings.merge_workers,
            queue_seconds=settings.merge_queue_seconds,
            busy_message="Trop de fusions en cours ; réessayez dans quelques secondes.",
            env=environment(PYTHONPATH=str(ROOT)),
        )
        self.limits_hit: dict[str, int] = {}

    def hits(self, limit: str) -> int:
        return self.limits_hit.get(limit, 0)

    def _limit(self, limit: str) -> RenderLimitExceeded:
        s = self.settings
        what = {
            "cpu": f"la limite de temps de calcul ({s.merge_cpu_seconds} s)",
            "memory": f"la limite de mémoire ({s.merge_memory_bytes // MIB} Mo)",
            "output": f"la limite de taille du document produit ({s.merge_output_bytes // MIB} Mo)",
            "wall": f"la limite de durée ({s.merge_wall_seconds:g} s)",
        }[limit]
        self.limits_hit[limit] = self.limits_hit.get(limit, 0) + 1
        return RenderLimitExceeded(
            limit, f"Le modèle dépasse {what} : sa fusion a été arrêtée. Simplifiez le modèle."
        )

    async def render(self, content: bytes, context: dict[str, Any]) -> bytes:
        """The merged .docx; 422 when the template is refused or exceeds a limit."""
        frames = (orjson.dumps(context, default=str), content)
        try:
            status, payload, worker = await self.pool.call(frames, self.settings.merge_wall_seconds)
        except WorkerTimedOut:
            raise self._limit("wall") from None
        except WorkerLost as exc:
            if exc.returncode == -signal.SIGXCPU:  # past its CPU seconds inside C code
                raise self._limit("cpu") from exc
            if exc.returncode in (MEMORY_EXIT, -signal.SIGKILL):  # no memory left, OOM killer
                raise self._limit("memory") from exc
            message = f"Le rendu du modèle s'est interrompu (code {exc.returncode})."
            raise ValidationFailed([FieldError("file", message)], detail=message) from exc
        if status == b"K":
            return payload
        if status == b"L":
            await self.pool.retire(worker)
            raise self._limit(payload.decode())
        message = payload.decode()
        raise ValidationFailed([FieldError("file", message)], detail=message)
