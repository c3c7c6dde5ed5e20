"""Lambda's scaling of one function, for the local API front: each invocation runs in an idle execution
environment, or in a new one while fewer than `max_environments` exist (the function's concurrency), else
waits for one to be free. One environment is one runner of local/function_host.py (the Runtime API
emulator runs its invocations one at a time, as an execution environment does)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from local.runtime_api import InvocationResult


class Environment(Protocol):
    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult: ...

    def close(self) -> None: ...


class FunctionPool:
    """`start_environment` gives a started environment; the pool closes every one it started."""

    def __init__(self, start_environment: Callable[[], Environment], max_environments: int) -> None:
        if max_environments < 1:
            raise ValueError("a function needs at least one execution environment")
        self.start_environment = start_environment
        self.max_environments = max_environments
        self.environments: list[Environment] = []
        self._idle: list[Environment] = []
        self._starting = 0
        self._cond = threading.Condition()

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        environment = self._acquire()
        try:
            return environment.invoke(payload, timeout_s, trace_id)
        finally:
            with self._cond:
                self._idle.append(environment)
                self._cond.notify()

    def _acquire(self) -> Environment:
        with self._cond:
            while not self._idle and len(self.environments) + self._starting >= self.max_environments:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._starting += 1
        try:
            environment = self.start_environment()  # a cold start, outside the lock
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()  # the place it held is free again
            raise
        with self._cond:
            self._starting -= 1
            self.environments.append(environment)
        return environment

    def close(self) -> None:
        with self._cond:
            environments, self.environments, self._idle = self.environments, [], []
        for environment in environments:
            environment.close()

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
