# Prerequisite: Odoo 18.0 importable by python3, or ODOO_PATH pointing at an Odoo 18 checkout.
.PHONY: demo test lint lint-deps bench bench-lab bench-api bench-mailing bench-queue-job deps

# The addons: every top-level directory with a __manifest__.py.
ADDONS := $(patsubst %/__manifest__.py,%,$(wildcard */__manifest__.py))

deps:
	python3 -m pip install -q -r requirements.txt
	python3 -m pip install -q --no-deps -r requirements-odoo-addons.txt

## Fresh database with the addon and demo data, Odoo on http://localhost:8069 (admin / admin)
demo: deps
	tools/odoo.sh demo

## Fresh database, install the addon, run every test of the addon
test: deps
	tools/odoo.sh test

lint-deps:
	python3 -m pip install -q -r requirements-dev.txt

## ruff, pylint-odoo on the addons, and their XML (well-formed, no idiom Odoo 18 refuses)
lint: deps lint-deps
	python3 -m ruff check .
	python3 -m ruff format --check .
	python3 -m pylint --rcfile=.pylintrc $(ADDONS)
	python3 tools/check_xml.py

bench:
	python3 benchmarks/bench_recompute.py

## The scoring lab on 200,000 closed opportunities (benchmarks/README.md)
bench-lab:
	python3 benchmarks/bench_lab.py

## The events API over HTTP, batches of 1,000 events
bench-api:
	python3 benchmarks/bench_api.py

## 1,000 mailing opens through the Email Marketing bridge
bench-mailing:
	python3 benchmarks/bench_mailing.py

## A cold run as queue_job jobs on an Odoo with 2 workers, channel capacity 1 then 2
bench-queue-job: deps
	python3 benchmarks/bench_queue_job.py
