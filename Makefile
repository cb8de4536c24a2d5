# Prerequisite: Odoo 18.0 importable by python3, or ODOO_PATH pointing at an Odoo 18 checkout.
.PHONY: demo test lint bench bench-lab deps

deps:
	python3 -m pip install -q -r requirements.txt

## Fresh database with the addon and demo data, Odoo on http://localhost:8069 (admin / admin)
demo: deps
	tools/odoo.sh demo

## Fresh database, install the addon, run every test of the addon
test: deps
	tools/odoo.sh test

lint:
	ruff check lead_scoring benchmarks tools
	ruff format --check lead_scoring benchmarks tools

bench:
	python3 benchmarks/bench_recompute.py

## The scoring lab on 200,000 closed opportunities (benchmarks/README.md)
bench-lab:
	python3 benchmarks/bench_lab.py
