from typing import ClassVar

from services.common.settings import ServiceSettings


class AccountsSettings(ServiceSettings):
    service: ClassVar[str] = "accounts"
