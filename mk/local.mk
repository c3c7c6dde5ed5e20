# The local system (emulator, Runtime API, event source, feed) and `make demo`.
# Stand-in demo until the function runs locally (a later issue): start moto, synthesize the stack for it,
# terraform apply, print the outputs, destroy, stop moto. The emulator stops even when a step fails.
DEMO_DIR   := $(BUILD)/demo
DEMO_STACK := $(DEMO_DIR)/cdktf.out/stacks/$(STACK)
DEMO_STATE := $(DEMO_DIR)/moto.json
LOCAL_AWS_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
                 AWS_DEFAULT_REGION=us-east-1 TF_STATE_PATH=terraform.tfstate

.PHONY: demo
demo: $(VENV_STAMP) $(ZIP) $(TF_RC) ## run the system locally: emulator, deploy, outputs, tear down
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@url=$$($(PY) -m local.emulator start --state-file $(DEMO_STATE) --log $(DEMO_DIR)/moto.log); \
	trap '$(PY) -m local.emulator stop --state-file $(DEMO_STATE)' EXIT; \
	echo "demo: local AWS emulator (moto) at $$url"; \
	export $(LOCAL_AWS_ENV) AWS_ENDPOINT_URL=$$url; \
	$(PY) -c 'import sys; from lib.app import main; sys.exit(main(outdir="$(DEMO_DIR)/cdktf.out"))'; \
	echo "demo: terraform apply (about a minute: the provider waits on each queue)"; \
	$(PY) -m local.terraform up --dir $(DEMO_STACK) || { $(PY) -m local.terraform down --dir $(DEMO_STACK); exit 1; }; \
	echo "demo: stack outputs"; \
	$(PY) -m local.terraform output --dir $(DEMO_STACK); \
	echo "demo: terraform destroy"; \
	$(PY) -m local.terraform down --dir $(DEMO_STACK); \
	echo "demo: done"
