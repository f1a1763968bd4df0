from typing import ClassVar

from services.common.settings import ServiceSettings


class ActivitiesSettings(ServiceSettings):
    service: ClassVar[str] = "activities"
