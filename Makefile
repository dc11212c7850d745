# Ustaz: the two commands of the README.
#   make run   set up everything, then serve the app on http://127.0.0.1:7860
#   make test  set up everything, then run the tests and the evaluation gate

.PHONY: setup run test lint eval-full

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/tutor serve

test: setup
	@scripts/install_browser.sh .venv
	@scripts/install_postgres.sh
	@scripts/install_nginx.sh
	.venv/bin/python -m pytest -q
	.venv/bin/tutor eval --suite quick --gate --no-progress --out eval/reports/ci

lint:
	.venv/bin/ruff check .

eval-full: setup
	.venv/bin/tutor eval --data ../shared/evaldata --gate --out eval/reports/latest
