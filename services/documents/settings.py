from typing import ClassVar

from services.common.settings import ServiceSettings


class DocumentsSettings(ServiceSettings):
    service: ClassVar[str] = "documents"
