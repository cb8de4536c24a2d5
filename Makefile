# Odoo 18.0: importable by $(PYTHON), or ODOO_PATH pointing at an Odoo 18 checkout;
# otherwise `make demo` / `make test` get it once into .odoo/ and .venv/
# (tools/bootstrap_odoo.sh; ODOO_SOURCE=<folder, tarball or git URL> for offline machines).
.PHONY: demo test deps lint lint-deps dist check-dist check-readme bench bench-lab bench-api \
	bench-mailing bench-queue-job bench-preview bench-insight clean-odoo

# The addons: every top-level directory with a __manifest__.py.
ADDONS := $(patsubst %/__manifest__.py,%,$(wildcard */__manifest__.py))
PYTHON ?= python3
# The Python that runs Odoo: $(PYTHON), or the .venv the bootstrap makes.
ODOO_PYTHON = py=$$(PYTHON=$(PYTHON) tools/bootstrap_odoo.sh) && export PYTHON=$$py

## requirements.txt into Odoo's Python; the OCA addons (queue_job) into .oca-addons/
deps:
	$(ODOO_PYTHON) && tools/deps.sh

## Fresh database with the addon and demo data, Odoo on http://localhost:8069 (admin / admin)
demo:
	$(ODOO_PYTHON) && tools/deps.sh && tools/odoo.sh demo

## Fresh database, install the addon, run every test of the addon
test:
	$(ODOO_PYTHON) && tools/deps.sh && tools/odoo.sh test

## Remove the Odoo source and .venv the bootstrap made (not an Odoo of your own)
clean-odoo:
	rm -rf .odoo .venv

lint-deps:
	$(PYTHON) -m pip install -q -r requirements-dev.txt

## ruff, pylint-odoo on the addons, and their XML (well-formed, no idiom Odoo 18 refuses)
lint: lint-deps
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pylint --rcfile=.pylintrc $(ADDONS)
	$(PYTHON) tools/check_xml.py

## One wheel per addon (odoo-addon-<addon>, whool) into dist/
dist:
	$(PYTHON) tools/check_dist.py --build-only

## The wheels: names, versions, data files; installed with pip --target into a
## fresh database (tools/check_dist.py)
check-dist:
	$(ODOO_PYTHON) && $$PYTHON tools/check_dist.py

## README.rst and static/description/index.html of every addon up to date
check-readme:
	$(PYTHON) tools/gen_readme.py --check $(ADDONS)

bench:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_recompute.py

## The scoring lab on 200,000 closed opportunities (benchmarks/README.md)
bench-lab:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_lab.py

## The events API over HTTP, batches of 1,000 events
bench-api:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_api.py

## 1,000 mailing opens through the Email Marketing bridge
bench-mailing:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_mailing.py

## Preview and publish of a draft, then the sales rep's insight, at 1,000,000 contacts
bench-preview:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_preview.py

## Trend and percentile filters and the contact form at 1,000,000 contacts, alone
bench-insight:
	$(ODOO_PYTHON) && $$PYTHON benchmarks/bench_insight.py

## A cold run as queue_job jobs on an Odoo with 2 workers, channel capacity 1 then 2
bench-queue-job:
	$(ODOO_PYTHON) && tools/deps.sh && $$PYTHON benchmarks/bench_queue_job.py
