"""Bearer-key authentication: each key of ``RELUPDE_API_KEYS`` belongs to one tenant.

Keys are compared with ``hmac.compare_digest`` against every configured key (no early exit),
so the time taken does not reveal how much of a key was right.  With no keys configured
every caller is the tenant ``default`` (and ``relupde serve`` listens on loopback only).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from service.api.errors import ApiError

DEFAULT_TENANT = "default"


class Authenticator:
    """Maps the ``Authorization: Bearer <key>`` header of a request to its tenant."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = [(key.encode(), tenant) for key, tenant in keys.items()]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def tenant(self, authorization: str | None) -> str:
        if not self._keys:
            return DEFAULT_TENANT
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "unauthorized",
                "send the header 'Authorization: Bearer <key>' with a key from RELUPDE_API_KEYS",
                headers={"WWW-Authenticate": "Bearer"},
            )
        candidate = given.strip().encode()
        found: str | None = None
        for key, tenant in self._keys:
            if hmac.compare_digest(candidate, key):
                found = tenant
        if found is None:
            raise ApiError(
                401, "unauthorized", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
            )
        return found


async def tenant_of(request: Request) -> str:
    """FastAPI dependency: the caller's tenant (async: no I/O, so no worker-thread hop)."""
    auth: Authenticator = request.app.state.auth
    return auth.tenant(request.headers.get("authorization"))


Tenant = Annotated[str, Depends(tenant_of)]
