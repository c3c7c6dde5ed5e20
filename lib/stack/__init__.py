"""The alerting stack as small constructs, one file each; `lib/tap_stack.py` composes them.

Only `bindings.py` imports cdktf, constructs and the AWS provider bindings.
"""
