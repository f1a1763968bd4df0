from typing import ClassVar

from services.common.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service: ClassVar[str] = "audit"
