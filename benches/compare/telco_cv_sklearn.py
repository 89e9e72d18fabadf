"""Anchor for RetentionAI's Telco quality figures: scikit-learn on the same protocol.

5-fold stratified cross-validation (shuffled, seed 42), one-hot encoding + standardisation,
median imputation of TotalCharges' blanks. Logistic regression with C=1 (RetentionAI's --l2 1) and
a decision tree of depth 6 with leaves of at least 20 rows (RetentionAI's tree defaults), and, when
lightgbm is installed (benches/compare/.venv has it), LightGBM and HistGradientBoosting with their
defaults.

Usage: python benches/compare/telco_cv_sklearn.py [data/telco_customer_churn.csv]
Needs scikit-learn and pandas.
"""

import sys

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from telco_prep import load, preprocessor

path = sys.argv[1] if len(sys.argv) > 1 else "data/telco_customer_churn.csv"
df, y = load(path)
prep = preprocessor(df)
models = {
    "logistic regression (C=1)": LogisticRegression(C=1.0, max_iter=5000),
    "decision tree (depth 6, leaves >= 20)": DecisionTreeClassifier(
        max_depth=6, min_samples_leaf=20, random_state=42
    ),
}
try:
    import lightgbm
    from sklearn.ensemble import HistGradientBoostingClassifier

    models["LightGBM (defaults)"] = lightgbm.LGBMClassifier(verbose=-1)
    models["HistGradientBoosting (defaults)"] = HistGradientBoostingClassifier(random_state=42)
except ImportError:
    print("(lightgbm not installed: boosting anchors skipped)")
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
print(f"scikit-learn {__import__('sklearn').__version__}, 5-fold stratified CV, seed 42")
for name, model in models.items():
    r = cross_validate(
        make_pipeline(prep, model), df, y, cv=cv, scoring=["roc_auc", "neg_log_loss"]
    )
    auc, ll = r["test_roc_auc"], -r["test_neg_log_loss"]
    print(f"{name:40s} ROC-AUC {auc.mean():.4f} ± {auc.std():.4f}  log-loss {ll.mean():.4f} ± {ll.std():.4f}")
