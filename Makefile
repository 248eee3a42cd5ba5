# Thin wrapper over scripts/dev.sh, which does the real work (and runs without make).
.PHONY: run test streamlit bench setup golden docs
run:
	bash scripts/dev.sh run
test:
	bash scripts/dev.sh test
streamlit:
	bash scripts/dev.sh streamlit
bench:
	bash scripts/dev.sh bench
docs:
	bash scripts/dev.sh docs
setup:
	bash scripts/dev.sh setup
# Re-take the committed screenshots after an intended visual change (then review the diff).
golden:
	GLASSBOX_UPDATE_GOLDEN=1 bash scripts/dev.sh test tests/browser
