"""A pytest plugin that runs policy test suites (``*_test.yaml``) with the project's tests.

Enable it with ``-p authzguard.pytest_plugin`` (in ``addopts``) and add the policy
directory to ``testpaths``. Each test of a suite is one pytest item; one more item per
policy directory checks rule coverage against the ``authzguard_min_coverage`` ini value
(percent, default 0). Suites under a ``tests/`` directory without the ``_test`` suffix
are run by ``authzguard test``, not collected here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from authzguard.exceptions import PolicyError
from authzguard.policy import suite_report
from authzguard.policy.compiler import CompiledPolicy, compile_policy
from authzguard.policy.loader import is_policy_test_file, load_policy
from authzguard.policy.suites import (
    PolicyTest,
    Suite,
    SuiteError,
    policy_dir_of,
    read_suite,
    run_suites,
    split_paths,
)

_POLICIES = pytest.StashKey[dict[Path, CompiledPolicy]]()


class PolicyTestFailure(Exception):
    """A suite that fails: the message lists every failing case or problem."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "authzguard_min_coverage",
        "fail when fewer than this percent of a policy's rules decide a case",
        default="0",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_policy_test_file(file_path):
        suite: SuiteFile = SuiteFile.from_parent(parent, path=file_path)
        return suite
    return None


def _policy(config: pytest.Config, directory: Path) -> CompiledPolicy:
    cache = config.stash.setdefault(_POLICIES, {})
    if directory not in cache:
        cache[directory] = compile_policy(load_policy([directory]))
    return cache[directory]


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        directory = policy_dir_of(self.path)
        try:
            compiled = _policy(self.config, directory)
            suite = read_suite(self.path, compiled)
        except (PolicyError, SuiteError) as exc:
            yield BrokenSuite.from_parent(self, name="suite", problem=str(exc))
            return
        for test in suite.tests:
            yield SuiteTest.from_parent(self, name=test.name, suite=suite, test=test)
        # One coverage item per policy directory, on its first suite file.
        _, files = split_paths([directory])
        collected = [f for f in files if is_policy_test_file(f)]
        if collected and collected[0].resolve() == self.path.resolve():
            yield CoverageCheck.from_parent(self, name="rule coverage", files=files)


class PolicyItem(pytest.Item):
    """An item whose policy failures read as the suite's own report, without a traceback."""

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: str | None = None,
    ) -> str:
        if isinstance(excinfo.value, PolicyTestFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class SuiteTest(PolicyItem):
    def __init__(self, *, suite: Suite, test: PolicyTest, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.suite = suite
        self.test = test

    def runtest(self) -> None:
        compiled = _policy(self.config, policy_dir_of(self.path))
        one = Suite(self.suite.file, self.suite.principals, self.suite.resources, (self.test,))
        failures = run_suites(compiled, [one]).failures
        if failures:
            lines = [f"{r.expectation.position}: {r.name}: {r.problem()}" for r in failures]
            raise PolicyTestFailure("\n".join(lines))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.test.position.line - 1, f"policy test: {self.test.name}"


class BrokenSuite(PolicyItem):
    def __init__(self, *, problem: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.problem = problem

    def runtest(self) -> None:
        raise PolicyTestFailure(self.problem)


class CoverageCheck(PolicyItem):
    def __init__(self, *, files: list[Path], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.files = files

    def runtest(self) -> None:
        compiled = _policy(self.config, policy_dir_of(self.path))
        report = run_suites(compiled, [read_suite(f, compiled) for f in self.files])
        wanted = float(str(self.config.getini("authzguard_min_coverage")))
        if report.coverage < wanted:
            lines = [*suite_report.summary(report), "rules that decided no case:"]
            lines += [f"  {r.id}  {r.position}" for r in report.uncovered]
            raise PolicyTestFailure(
                f"rule coverage {report.coverage:.1f}% is below {wanted:g}%\n" + "\n".join(lines)
            )
