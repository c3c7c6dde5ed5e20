# AWS layer of the function (lib/lambda/src/aws): AWS's SigV4 test suite, taken from botocore's source
# distribution on PyPI (the wheel does not carry tests), for tests/unit/test_sigv4.py.
BOTOCORE_VERSION := 1.44.8
BOTOCORE_SDIST   := $(BUILD)/botocore-sdist/botocore-$(BOTOCORE_VERSION).tar.gz
AWS4_TESTSUITE   := $(BUILD)/aws4_testsuite

$(BOTOCORE_SDIST): | $(VENV_STAMP)
	@mkdir -p $(dir $@)
	@$(VENV)/bin/pip download -q --disable-pip-version-check --no-binary :all: --no-deps \
	  botocore==$(BOTOCORE_VERSION) -d $(BUILD)/botocore-sdist 2>&1 | $(PIP_QUIET)

$(AWS4_TESTSUITE)/.unpacked: $(BOTOCORE_SDIST)
	@rm -rf $(AWS4_TESTSUITE) && mkdir -p $(AWS4_TESTSUITE)
	@tar -xzf $< -C $(AWS4_TESTSUITE) --strip-components=5 \
	  botocore-$(BOTOCORE_VERSION)/tests/unit/auth/aws4_testsuite
	@touch $@

.PHONY: aws-testsuite aws-test
aws-testsuite: $(AWS4_TESTSUITE)/.unpacked ## AWS's SigV4 test suite from botocore's sdist (build/aws4_testsuite)

# Not in TEST_TARGETS: ctest (test-cpp) runs the GoogleTests and pytest runs tests/unit/test_sigv4.py.
aws-test: aws-testsuite cpp-build ## the AWS layer only: its GoogleTests and tests/unit/test_sigv4.py
	@$(BUILD)/cpp/tests/aws/tap_aws_tests --gtest_brief=1
	@$(PY) -m pytest -q tests/unit/test_sigv4.py
