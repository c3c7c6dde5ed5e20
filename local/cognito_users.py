"""Cognito users on a user pool (moto's in the local system) and their real tokens through an app client
(ADMIN_USER_PASSWORD_AUTH): the local traders' API signs its traders and operators in with them, and so do
the tests of the API front and the CLI."""

from __future__ import annotations

from typing import Any

import boto3

PASSWORD = "Correct-Horse-9"
REGION = "us-east-1"


def cognito_client(endpoint: str, region: str = REGION) -> Any:
    return boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region)


def add_client(cognito: Any, pool_id: str, name: str) -> str:
    """An app client of the pool that may sign users in with their password; its id."""
    created = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )
    return str(created["UserPoolClient"]["ClientId"])


def add_user(cognito: Any, pool_id: str, username: str, groups: tuple[str, ...] = ()) -> None:
    """A confirmed user with PASSWORD, a member of `groups` (each created when missing)."""
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    for group in groups:
        existing = cognito.list_groups(UserPoolId=pool_id)["Groups"]
        if group not in {g["GroupName"] for g in existing}:
            cognito.create_group(UserPoolId=pool_id, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def user_tokens(cognito: Any, pool_id: str, client_id: str, username: str) -> dict[str, str]:
    """{"access": ..., "id": ...} of a sign-in of `username` through `client_id`."""
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return {"access": result["AccessToken"], "id": result["IdToken"]}
