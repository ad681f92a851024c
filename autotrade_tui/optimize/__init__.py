"""`autotrade-tui optimize`: parameter search on Optuna (SPEC §15). Each trial is a backtest
through the backtest path; scale comes from Optuna's storage (a journal file, PostgreSQL),
not from a scheduler of ours."""
