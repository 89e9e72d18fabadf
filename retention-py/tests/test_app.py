"""The Streamlit app, headless (streamlit.testing.v1.AppTest): every page renders without an
exception, the inspector explains a known customer, batch scoring returns a file, the Models page
promotes and rolls back only after confirmation, and errors are messages."""

from __future__ import annotations

import io

import polars as pl
import pytest

import retention

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

from retention.app import SCRIPT  # noqa: E402

from conftest import ROOT  # noqa: E402

APP = str(SCRIPT)
TIMEOUT = 120


@pytest.fixture()
def app_env(monkeypatch, tmp_path, model, boosting, telco):
    """A model file and a registry with two versions (v1 champion, v2 validated)."""
    path = tmp_path / "churn.model"
    model.save(path)
    store = retention.Store(tmp_path / "ops.db")
    v1 = store.register(model, notes="first")
    store.validate(v1, telco)
    store.promote(v1)
    v2 = store.register(boosting, notes="second")
    store.validate(v2, telco)
    monkeypatch.setenv("RETENTIONAI_MODEL", str(path))
    monkeypatch.setenv("RETENTIONAI_DB", str(tmp_path / "ops.db"))
    monkeypatch.setenv("RETENTIONAI_DATA", str(ROOT / "data" / "telco_customer_churn.csv"))
    return store


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    # The Drift page shows an ALERT verdict as an error box; anything else is a failure.
    assert not [e.value for e in at.error if not e.value.startswith("ALERT")]
    return at


def test_every_page_renders(app_env):
    for page in ["Overview", "Customer inspector", "Batch scoring", "Models", "Drift"]:
        at = open_page(page)
        assert at.header[0].value == page


def test_overview_figures(app_env):
    at = open_page("Overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers scored"] == "7,043"
    assert metrics["Churn rate (observed)"] == "26.5%"
    assert int(metrics["High-risk customers"].replace(",", "")) > 0


def test_inspector_shows_reasons_and_what_if(app_env):
    at = open_page("Customer inspector")
    at.text_input(key="customer_id").set_value("7590-VHVEG").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) == 5
    assert any(" = " in r for r in frame["reason"])
    assert {m.label for m in at.metric} >= {"Churn probability", "Risk tier"}
    at.multiselect(key="what_if_fields").set_value(["Contract"]).run()
    at.selectbox(key="set_Contract").set_value("Two year").run()
    assert not at.exception
    labels = {m.label: m for m in at.metric}
    assert "Churn probability with the changes" in labels
    assert labels["Churn probability with the changes"].delta.startswith("-")


def test_inspector_unknown_customer_is_a_message(app_env):
    at = open_page("Customer inspector")
    at.text_input(key="customer_id").set_value("NOPE").run()
    assert not at.exception
    assert "No customer 'NOPE'" in at.warning[0].value


def test_batch_scoring_returns_a_file(app_env, telco):
    at = open_page("Batch scoring")
    data = io.BytesIO()
    telco.head(300).write_csv(data)
    at.file_uploader(key="batch_upload").upload("customers.csv", data.getvalue(), "text/csv").run()
    assert not at.exception and not at.error
    scored = pl.read_csv(io.BytesIO(at.session_state["scored_csv"]))
    assert scored.height == 300
    assert scored.columns == ["customerID", "churn_probability", "churn_prediction", "risk_tier"]
    assert len(at.get("download_button")) == 1


def test_batch_scoring_bad_file_is_a_message(app_env, telco):
    at = open_page("Batch scoring")
    data = io.BytesIO()
    telco.head(10).drop("tenure").write_csv(data)
    at.file_uploader(key="batch_upload").upload("bad.csv", data.getvalue(), "text/csv").run()
    assert not at.exception
    assert "ColumnNotFoundError" in at.error[0].value and "tenure" in at.error[0].value


def test_models_promote_and_rollback_need_a_key_and_confirmation(app_env):
    key = app_env.create_api_key("ops-team")
    at = open_page("Models")
    assert at.metric[0].value == "v1"
    # No key: no registry change is offered.
    assert not [b for b in at.button if b.key in ("promote", "rollback")]
    at.text_input(key="api_key").input("rai_not_a_key").run()
    assert "unknown or revoked" in at.warning[0].value
    assert not [b for b in at.button if b.key in ("promote", "rollback")]
    at.text_input(key="api_key").input(key).run()
    assert at.button(key="promote").disabled
    at.selectbox(key="promote_version").set_value(2).run()
    at.checkbox(key="promote_confirm").check().run()
    at.button(key="promote").click().run()
    assert not at.exception
    # v2 (boosting) beats v1 on the same validation table, so the gate passes.
    assert "Version 2 is the champion" in at.success[0].value
    assert app_env.aliases()["champion"] == 2
    at.checkbox(key="rollback_confirm").check().run()
    at.button(key="rollback").click().run()
    assert "Version 1 is the champion again" in at.success[-1].value
    assert app_env.aliases()["champion"] == 1
    # The audit log names the key, not the process's user.
    actors = {e["action"]: e["actor"] for e in app_env.audit()}
    assert actors["model_promote"] == "api-key:ops-team"
    assert actors["model_rollback"] == "api-key:ops-team"


def test_drift_page_reports_the_shift(app_env):
    at = open_page("Drift")
    assert "MonthlyCharges" in at.dataframe[0].value["column"].to_list()
    assert at.error[0].value.startswith("ALERT")  # the demonstration copy drifts
    at.selectbox(key="drift_feature").set_value("MonthlyCharges").run()
    assert not at.exception


def test_pages_show_the_notebooks_charts_and_tables_for_people(app_env):
    charts = {"Overview": 1, "Customer inspector": 1, "Models": 4, "Drift": 1}
    for page, count in charts.items():
        at = open_page(page)
        images = at.get("image")
        assert len(images) == count, (page, len(images))
    at = open_page("Models")
    assert not at.json, "raw JSON on the Models page"
    (metrics,) = [d.value for d in at.dataframe if list(d.value.columns) == ["metric", "value"]]
    shown = dict(zip(metrics["metric"], metrics["value"]))
    assert float(shown["ROC-AUC"]) > 0.8 and shown["churn rate"].endswith("%")
    at = open_page("Drift")
    table = at.dataframe[0].value
    values = [v for v in table["p_value"].to_list() if v]
    assert values and all(v == "< 1e-300" or "e-" in v or v.startswith("0.") or v == "1.000" for v in values), values
    assert not any(set(v) <= set("0.") for v in values), values


def test_a_fresh_install_opens_on_the_bundled_table(monkeypatch, tmp_path, model):
    """No data/ folder in the working folder and no RETENTIONAI_DATA: the Telco table built into
    the module is shown, and says so."""
    for name in ("DATA", "MODEL", "DB", "CONFIG"):
        monkeypatch.delenv(f"RETENTIONAI_{name}", raising=False)
    path = tmp_path / "churn.model"
    model.save(path)
    monkeypatch.setenv("RETENTIONAI_MODEL", str(path))
    monkeypatch.chdir(tmp_path)
    at = open_page("Overview")
    assert {m.label: m.value for m in at.metric}["Customers scored"] == "7,043"
    at = open_page("Drift")
    assert any("the bundled Telco table" in m.value for m in at.markdown)


def test_python_m_retention_app_help():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "retention.app", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "python -m retention.app" in done.stdout and "retentionai[app]" in done.stdout
