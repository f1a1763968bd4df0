"""A render worker: fills Word templates in its own process, under its own limits.

Started by renderer.py as ``python -m services.documents.render_worker MEMORY CPU OUTPUT``
(bytes, seconds, bytes). It limits its address space once (RLIMIT_AS), and before each render
gives itself CPU seconds (RLIMIT_CPU's soft limit: SIGXCPU when reached). Request: two frames,
the context as JSON and the template. Answer: ``K`` and the document, ``R`` and the French reason
a template was refused, or ``L`` and the limit hit (``cpu``, ``memory``, ``output``), after which
the worker exits and is replaced.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import sys
from types import FrameType
from typing import BinaryIO

import orjson

from services.common.errors import ValidationFailed
from services.documents import merge
from services.documents.workers import READY, read_frame, write_frame

MEMORY_EXIT = 75  # out of memory, and unable even to say so


class CpuTimeExceeded(BaseException):
    """SIGXCPU: this render used its CPU seconds (a BaseException: templates cannot catch it)."""


def _on_sigxcpu(_signum: int, _frame: FrameType | None) -> None:
    raise CpuTimeExceeded


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _set_cpu_budget(seconds: int | None) -> None:
    soft = resource.RLIM_INFINITY if seconds is None else math.ceil(_cpu_used()) + seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def serve(source: BinaryIO, out: BinaryIO, memory: int, cpu: int, output: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    out.write(READY)
    out.flush()
    while (context_json := read_frame(source)) is not None:
        content = read_frame(source)
        if content is None:
            return
        try:
            _set_cpu_budget(cpu)
            try:
                document = merge.merge(content, orjson.loads(context_json), output)
            finally:
                _set_cpu_budget(None)
        except CpuTimeExceeded:
            write_frame(out, b"L", b"cpu")
            return
        except MemoryError:
            del context_json, content
            try:
                write_frame(out, b"L", b"memory")
            except MemoryError:
                os._exit(MEMORY_EXIT)
            return
        except merge.OutputTooLarge:
            write_frame(out, b"L", b"output")
            return
        except ValidationFailed as exc:
            message = exc.errors[0].message if exc.errors else str(exc)
            write_frame(out, b"R", message.encode())
            continue
        except Exception as exc:
            reason = f"Le modèle n'a pas pu être rempli : {type(exc).__name__}."
            write_frame(out, b"R", reason.encode())
            continue
        write_frame(out, b"K", document)


def main() -> None:
    memory, cpu, output = (int(arg) for arg in sys.argv[1:4])
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    serve(sys.stdin.buffer, out, memory, cpu, output)


if __name__ == "__main__":
    main()
