# Mutation testing of the C++ pure logic and AWS layer (local/mutation): each mutant is built in a copy of
# the tree (build/mutation) and judged by the C++ unit tests. Not part of `make test`: it takes long.
# One file while working: make mutation MUTATION_FILES=lib/lambda/src/aws/retry_policy.cpp
MUTATION_FILES ?=
MUTATION_MAX   ?=
MUTATION_SEED  ?= 0
MUTATION_ARGS  := $(MUTATION_FILES) --seed $(MUTATION_SEED) $(if $(MUTATION_MAX),--max-mutants $(MUTATION_MAX))

.PHONY: mutation
mutation: $(VENV_STAMP) $(DEPS_STAMP) ## C++ mutants judged by the unit tests (MUTATION_FILES, MUTATION_MAX, MUTATION_SEED)
	@nice -n 10 $(PY) -m local.mutation.run $(MUTATION_ARGS)
