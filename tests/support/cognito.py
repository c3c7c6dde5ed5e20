"""Cognito user pools, app clients and users on moto, and their real tokens (ADMIN_USER_PASSWORD_AUTH), for
the tests of the API front and the CLI (local/cognito_users.py does the work). Every moto pool signs with the
same key (kid `dummy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.cognito_users import PASSWORD, add_client, add_user, cognito_client, user_tokens

__all__ = ["PASSWORD", "Pool", "create_pool"]


@dataclass(frozen=True)
class Pool:
    endpoint: str
    pool_id: str
    client_id: str

    def client(self) -> Any:
        return cognito_client(self.endpoint)

    def add_client(self, name: str) -> str:
        return add_client(self.client(), self.pool_id, name)

    def add_user(self, username: str, groups: tuple[str, ...] = ()) -> None:
        add_user(self.client(), self.pool_id, username, groups)

    def tokens(self, username: str, client_id: str | None = None) -> dict[str, str]:
        """{"access": ..., "id": ...} of a sign-in of `username` through `client_id` (the pool's own)."""
        return user_tokens(self.client(), self.pool_id, client_id or self.client_id, username)


def create_pool(endpoint: str, name: str) -> Pool:
    cognito = cognito_client(endpoint)
    pool_id = str(cognito.create_user_pool(PoolName=name)["UserPool"]["Id"])
    return Pool(endpoint, pool_id, add_client(cognito, pool_id, f"{name}-app"))
