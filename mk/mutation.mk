# Mutation testing of the C++ pure logic and AWS layer (tools/mutation): each mutant is built in a copy of
# the tree (build/mutation) and judged by the C++ unit tests. Not part of `make test`: it takes long.
# One file while working: make mutation MUTATION_FILES=lib/lambda/src/aws/retry_policy.cpp
MUTATION_FILES ?=
MUTATION_MAX   ?=
MUTATION_SEED  ?= 0
MUTATION_ARGS  := $(MUTATION_FILES) --seed $(MUTATION_SEED) $(if $(MUTATION_MAX),--max-mutants $(MUTATION_MAX))

.PHONY: mutation
mutation: $(VENV_STAMP) $(DEPS_STAMP) ## C++ mutants judged by the unit tests (MUTATION_FILES, MUTATION_MAX, MUTATION_SEED)
	@nice -n 10 $(PY) -m tools.mutation.run $(MUTATION_ARGS)

# Python mutants with mutmut, in a scratch copy (build/mutmut) whose pyproject gets the [tool.mutmut] section
# from these variables: the repository's files are never mutated. A survivor declared in
# tools/mutation/equivalents.toml (its `# mutmut show NAME` comment) counts as equivalent, not in the score.
# One file while working:
#   make mutation-py MUTMUT_PATHS=tools/mutation/mutants.py MUTMUT_TESTS=tests/unit/test_mutation.py
MUTMUT_DIR     := $(BUILD)/mutmut
MUTMUT_PATHS   ?= lib local
MUTMUT_TESTS   ?= tests/unit
MUTMUT_CHILDREN ?= 2
toml_list = [$(foreach item,$(1),"$(item)",)]

.PHONY: mutation-py
mutation-py: $(VENV_STAMP) ## Python mutants with mutmut (MUTMUT_PATHS, MUTMUT_TESTS; requirements/mutation.in); not in `make test`
	@rm -rf $(MUTMUT_DIR) && mkdir -p $(MUTMUT_DIR)
	@tar -C $(ROOT) --exclude='lib/lambda' --exclude='__pycache__' -cf - lib local ops tools tests config docs main.py cdktf.json pyproject.toml \
	  | tar -C $(MUTMUT_DIR) -xf -
	@mkdir -p $(MUTMUT_DIR)/lib/lambda/tests && cp -r $(LAMBDA_DIR)/src $(MUTMUT_DIR)/lib/lambda/
	@cp -r $(LAMBDA_DIR)/tests/data $(MUTMUT_DIR)/lib/lambda/tests/  # the event-time golden scenario
	@printf '\n[tool.mutmut]\nsource_paths = ["lib", "local"]\nonly_mutate = %s\ndo_not_mutate = ["lib/lambda/*"]\npytest_add_cli_args_test_selection = %s\npytest_add_cli_args = ["-m", "not integration", "-p", "no:cacheprovider"]\nalso_copy = ["config", "docs", "main.py", "cdktf.json", "lib/lambda", "ops", "tools"]\n' \
	  '$(call toml_list,$(MUTMUT_PATHS))' '$(call toml_list,$(MUTMUT_TESTS))' >> $(MUTMUT_DIR)/pyproject.toml
	@cd $(MUTMUT_DIR) && nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN) > mutmut-run.log 2>&1 \
	  || { tail -n 30 mutmut-run.log; exit 1; }
	@cd $(MUTMUT_DIR) && $(VENV)/bin/mutmut results --all true > results.txt; \
	  sed -n 's/.*# mutmut show \([^ ]*\).*/\1/p' $(ROOT)/tools/mutation/equivalents.toml > equivalents.txt; \
	  awk -F': ' 'NR == FNR {eq[$$1]; next} /: / {name = $$1; sub(/^ +/, "", name); s = ($$2 == "survived" && name in eq) ? "equivalent" : $$2; n[s]++} \
	    END {for (s in n) printf "  %-12s %d\n", s, n[s]; k=n["killed"]+n["timeout"]; v=k+n["survived"]; if (v) printf "  score        %.1f%% of %d valid non-equivalent mutants\n", 100*k/v, v}' equivalents.txt results.txt
	@echo "mutants: $(MUTMUT_DIR)/results.txt (browse: cd $(MUTMUT_DIR) && $(VENV)/bin/mutmut browse)"
