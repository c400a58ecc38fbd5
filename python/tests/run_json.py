"""Runs the SDK's unittest suite and prints one JSON line per test on stdout, for
test/integration/python-sdk.test.ts to report each as a tap assertion:
``{"test": "tests.test_orders.OrderTypes.test_market", "status": "pass" | "fail" | "error" | "skip", "details": "…"}``,
then ``{"summary": {...}}``. Usage: python3 tests/run_json.py [pattern] (from python/)."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import unittest
from typing import Any


class JsonResult(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self._started = 0.0

    def _line(self, test: unittest.TestCase, status: str, details: str = "") -> None:
        sys.__stdout__.write(json.dumps({"test": test.id(), "status": status, "details": details,
                                         "ms": round((time.perf_counter() - self._started) * 1000)}) + "\n")
        sys.__stdout__.flush()

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._started = time.perf_counter()

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._line(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._line(test, "fail", "".join(traceback.format_exception(*err)))

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._line(test, "error", "".join(traceback.format_exception(*err)))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._line(test, "skip", reason)


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    sys.path.insert(0, root)
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=root)
    result = JsonResult()
    suite.run(result)
    summary = {"run": result.testsRun, "failures": len(result.failures), "errors": len(result.errors), "skipped": len(result.skipped)}
    sys.__stdout__.write(json.dumps({"summary": summary}) + "\n")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
