"""The Telco preprocessing every comparison script uses, so that all anchors see the same inputs:
TotalCharges' blank cells parsed as missing, target Churn == "Yes", customerID dropped, median
imputation + standardisation of the three numeric columns, one-hot encoding of the rest.
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]


def load(path):
    """Returns (features DataFrame, 0/1 target array)."""
    df = pd.read_csv(path)
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"].str.strip().replace("", np.nan))
    y = (df.pop("Churn") == "Yes").astype(int).to_numpy()
    df = df.drop(columns=["customerID"])
    categorical = [c for c in df.columns if c not in NUMERIC]
    df[categorical] = df[categorical].astype(str)
    return df, y


def preprocessor(df, dense=False):
    """Median imputation + scaling for numeric columns, one-hot for the others."""
    categorical = [c for c in df.columns if c not in NUMERIC]
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense), categorical),
        ]
    )
