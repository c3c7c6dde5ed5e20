"""I14 / A1: who may call the API. By default a Cognito user pool, its app client and the operators' group,
created here; with an external issuer from configuration, that issuer and audience and no pool.

Traders are provisioned by the platform (no self sign-up). The client has no secret (the platform's apps and
the CLI are public clients) and signs in with a password (USER_PASSWORD_AUTH; ADMIN_USER_PASSWORD_AUTH for
the platform's back end and tests) and refresh tokens. API Gateway's authorizer checks an access token's
`client_id` against the audience: the client id.
"""

from __future__ import annotations

from lib.config import StackConfig
from lib.stack.bindings import (
    CognitoUserGroup,
    CognitoUserPool,
    CognitoUserPoolAdminCreateUserConfig,
    CognitoUserPoolClient,
    CognitoUserPoolPasswordPolicy,
    Construct,
)

AUTH_FLOWS = ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH")
MIN_PASSWORD_LENGTH = 12


class Identity(Construct):
    """`issuer` and `audience` for the JWT authorizer; `user_pool_id`, `client_id` when the pool is ours."""

    def __init__(self, scope: Construct, construct_id: str, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        settings = config.api
        self.user_pool_id: str | None = None
        self.client_id: str | None = None
        if settings.jwt_issuer is not None:  # external: ApiSettings holds that it comes with its audience
            self.issuer, self.audience = settings.jwt_issuer, list(settings.jwt_audience)
            return
        pool = CognitoUserPool(
            self,
            "user_pool",
            name=config.name("alert-traders"),
            admin_create_user_config=CognitoUserPoolAdminCreateUserConfig(allow_admin_create_user_only=True),
            password_policy=CognitoUserPoolPasswordPolicy(
                minimum_length=MIN_PASSWORD_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
            ),
            deletion_protection="INACTIVE",  # I10: destroyable
            tags=config.tags,
        )
        client = CognitoUserPoolClient(
            self,
            "user_pool_client",
            name=config.name("alert-api-client"),
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=list(AUTH_FLOWS),
            prevent_user_existence_errors="ENABLED",
        )
        # The group's name is the API function's OPERATOR_GROUP: members get the operator routes (A1).
        CognitoUserGroup(
            self,
            "operators_group",
            name=settings.operator_group,
            user_pool_id=pool.id,
            description="Operators: symbol controls and every trader's rules and alerts (read)",
        )
        # The token's `iss`: https://cognito-idp.<region>.amazonaws.com/<pool id> (`endpoint` has no scheme).
        self.issuer, self.audience = f"https://{pool.endpoint}", [client.id]
        self.user_pool_id, self.client_id = pool.id, client.id
