"""The evaluation harness: tasks over the bundled QA set and external data sets,
a runner, reports and the CI gate (``tutor eval``)."""
