"""retention.Store: registry, A/B, rollback, prediction log, backups, GDPR, maintenance."""

from __future__ import annotations

import polars as pl
import pytest

import retention


@pytest.fixture()
def store(tmp_path):
    return retention.Store(tmp_path / "ops.db", actor="pytest")


def test_registry_lifecycle(store, model, boosting, telco):
    v1 = store.register(model, notes="first")
    assert store.register(model) == v1  # same artifact, same version
    v2 = store.register(boosting, notes="second")
    versions = store.versions()
    assert versions["version"].to_list() == [v1, v2]
    assert versions["notes"].to_list() == ["first", "second"]

    holdout = telco.tail(2000)
    validation = store.validate(v1, holdout)
    assert validation["passed"] and validation["rows"] == 2000
    outcome = store.promote(v1)
    assert outcome["version"] == v1 and outcome["previous"] is None and not outcome["forced"]
    assert store.aliases() == {"champion": v1, "challenger": None, "split": 0.0}
    assert store.versions().filter(pl.col("version") == v1)["alias"].to_list() == ["champion"]
    assert store.load_model().score(telco.head(5)).equals(model.score(telco.head(5)))

    # An A/B test needs a passed validation of the challenger, as a promotion does.
    with pytest.raises(retention.RegistryError, match="never validated"):
        store.start_ab(v2, 0.5)
    with pytest.raises(retention.RegistryError, match="force= needs a reason="):
        store.start_ab(v2, 0.5, force=True)
    forced_ab = store.start_ab(v2, 0.5, force=True, reason="pytest: unvalidated challenger")
    assert forced_ab["forced"] and forced_ab["challenger"] == v2
    store.stop_ab()
    assert store.validate(v2, holdout)["passed"]
    ab = store.start_ab(v2, 0.5)
    assert ab == {**ab, "challenger": v2, "champion": v1, "split": 0.5, "forced": False}
    assert store.aliases()["challenger"] == v2
    routed = store.score(telco, log=False)
    assert set(routed["variant"].unique().to_list()) == {"champion", "challenger"}
    store.stop_ab()
    assert store.aliases()["challenger"] is None

    with pytest.raises(retention.RegistryError, match="force= needs a reason="):
        store.promote(v2, force=True)
    forced = store.promote(v2, holdout=holdout, force=True, reason="pytest override")
    assert forced["previous"] == v1
    assert store.rollback("pytest") == v1
    assert store.aliases()["champion"] == v1
    actions = [p["action"] for p in store.promotions()]
    assert actions == [
        "promote",
        "ab_start",
        "ab_stop",
        "ab_start",
        "ab_stop",
        "promote",
        "rollback",
    ]
    assert [p["forced"] for p in store.promotions() if p["action"] == "ab_start"] == [True, False]


def test_prediction_log_gdpr_and_audit(store, model, telco):
    v = store.register(model)
    store.validate(v, telco)
    store.promote(v)
    scores = store.score(telco.head(100), batch_id="b1")
    assert scores.columns[-2:] == ["model_version", "variant"]
    assert store.prediction_count() == 100
    store.score(telco.head(100), batch_id="b1")
    assert store.prediction_count() == 100  # the same batch is not logged twice
    store.score(telco.slice(100, 50))
    store.score(telco.slice(100, 50))
    assert store.prediction_count() == 150  # without a batch id: the same customers log once
    logged = store.predictions("7590-VHVEG")
    assert len(logged) == 1 and logged[0]["model_version"] == v
    export = store.gdpr_export("7590-VHVEG")
    assert export["predictions"][0]["customer_id"] == "7590-VHVEG"
    assert store.gdpr_delete("7590-VHVEG") == 1
    assert store.predictions("7590-VHVEG") == []
    actions = {e["action"] for e in store.audit()}
    assert {"gdpr_export", "gdpr_delete", "model_promote"} <= actions
    assert all("7590-VHVEG" not in str(e) for e in store.audit() if e["action"] == "gdpr_delete")


def test_backup_check_and_maintenance(store, model, tmp_path):
    store.register(model)
    manifest = store.backup(tmp_path / "backups", keep=2)
    folders = list((tmp_path / "backups").iterdir())
    assert len(folders) == 1
    assert retention.Store.verify_backup(folders[0]) == manifest
    assert store.check()["ok"] is True
    assert store.cleanup("90d") == 0
    before, after = store.optimize()
    assert before > 0 and after > 0
    with pytest.raises(retention.InvalidParameterError, match="older_than="):
        store.cleanup("soon")
    assert "ops.db" in repr(store)
