"""Project cfn-lint rules: service rules that AWS's API references state and the resource schemas do not.

cfn-lint loads every module of this directory whose name starts with a letter
(``cfn-lint --append-rules tools/cfn_lint_rules``, as ``make check-infra`` runs it, on every
template and on the translation of the root). One module per rule; each rule cites the API
reference sentence it enforces (``source_url``) and has a broken fixture it fails
(tests/infra/test_cfn_lint_rules.py). Shared evaluation lives in ``_scenarios.py``, imported as
``tools.cfn_lint_rules._scenarios`` (cfn-lint is run with the repository root on PYTHONPATH).

IDs: E91xx (errors) and W91xx (warnings); another project rule takes the next free number.
"""
