"""The pipeline's stages: each a function from what it needs (config, run folder,
registry, environment) to a typed record (ci_ml/records.py). No printing, no
exit codes: commands/ says what happened and exits.

    validate  data -> ValidationRecord (file checks, schema rules, then drift)
    train     data -> the fitted challenger, written to challenger/
    evaluate  challenger, champion, eval rows -> EvaluationRecord
    gate      EvaluationRecord + rules -> DecisionRecord
    report    the records above -> Report (report.json, report.md, publishing)
    promote   Report + challenger -> a new champion version in the registry
"""
