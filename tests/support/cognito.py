"""Cognito user pools, app clients and users on moto, and their real tokens (ADMIN_USER_PASSWORD_AUTH), for
the tests of the API front and the CLI. Every moto pool signs with the same key (kid `dummy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

PASSWORD = "Correct-Horse-9"


@dataclass(frozen=True)
class Pool:
    endpoint: str
    pool_id: str
    client_id: str

    def client(self) -> Any:
        return boto3.client("cognito-idp", endpoint_url=self.endpoint, region_name="us-east-1")

    def add_client(self, name: str) -> str:
        created = self.client().create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName=name,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        )
        return str(created["UserPoolClient"]["ClientId"])

    def add_user(self, username: str, groups: tuple[str, ...] = ()) -> None:
        cognito = self.client()
        cognito.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        for group in groups:
            existing = cognito.list_groups(UserPoolId=self.pool_id)["Groups"]
            if group not in {g["GroupName"] for g in existing}:
                cognito.create_group(UserPoolId=self.pool_id, GroupName=group)
            cognito.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)

    def tokens(self, username: str, client_id: str | None = None) -> dict[str, str]:
        """{"access": ..., "id": ...} of a sign-in of `username` through `client_id` (the pool's own)."""
        result = self.client().admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return {"access": result["AccessToken"], "id": result["IdToken"]}


def create_pool(endpoint: str, name: str) -> Pool:
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    pool = Pool(endpoint, str(pool_id), "")
    return Pool(endpoint, pool.pool_id, pool.add_client(f"{name}-app"))
