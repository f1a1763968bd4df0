"""Pydantic models at the edges of the accounts service."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from .domain import clean_name

Name = Annotated[str, AfterValidator(clean_name)]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    name: Name
